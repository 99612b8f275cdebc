import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { parseCli, UsageError } from '../../loadtest/args.js';
import { receiveOnlyCapabilities } from '../../loadtest/capabilities.js';
import { keyframeRequests } from '../../loadtest/rtcp.js';
import { RtpCounter, STALL_GAP_MS } from '../../loadtest/rtpCounter.js';
import { percentiles } from '../../loadtest/stats.js';
import { bindingRequest, bindingSuccessTransaction } from '../../loadtest/stun.js';
import type { RtpCapabilities } from '@livestage/protocol';

/** An SRTP-like packet: a clear 12-byte RTP header and an opaque payload. */
function rtp(ssrc: number, seq: number, size = 100, payloadType = 96): Buffer {
  const packet = Buffer.alloc(size);
  packet[0] = 0x80;
  packet[1] = payloadType;
  packet.writeUInt16BE(seq & 0xffff, 2);
  packet.writeUInt32BE(ssrc, 8);
  return packet;
}

describe('load tester', function () {
  describe('RtpCounter', function () {
    it('counts bytes, loss from sequence gaps across a wrap, and the first video packet', function () {
      const counter = new RtpCounter();
      counter.expect(1, 'video');
      counter.expect(2, 'audio');
      let now = 1000;
      for (const seq of [65533, 65534, 65535, 0, 2, 3]) counter.onPacket(rtp(1, seq), (now += 10));
      counter.onPacket(rtp(2, 7, 50, 111), now);
      counter.onPacket(rtp(99, 1), now); // an SSRC nobody announced
      const totals = counter.totals(now);
      assert.equal(totals.firstVideoAt, 1010);
      assert.equal(totals.videoPackets, 6);
      assert.equal(totals.videoBytes, 600);
      assert.equal(totals.audioBytes, 50);
      assert.equal(totals.expectedPackets, 8); // 65533..3 is 7, plus one audio packet
      assert.equal(totals.lostPackets, 1); // seq 1
      assert.equal(totals.otherPackets, 1);
      assert.equal(totals.stalls, 0);
    });

    it('takes a late (reordered) packet without counting it as a wrap', function () {
      const counter = new RtpCounter();
      counter.expect(1, 'video');
      for (const seq of [10, 12, 11, 13]) counter.onPacket(rtp(1, seq), 0);
      const totals = counter.totals(0);
      assert.equal(totals.expectedPackets, 4);
      assert.equal(totals.lostPackets, 0);
    });

    it('counts a video gap over the stall threshold, and one still open at the end', function () {
      const counter = new RtpCounter();
      counter.expect(1, 'video');
      counter.onPacket(rtp(1, 1), 0);
      counter.onPacket(rtp(1, 2), STALL_GAP_MS + 100);
      counter.onPacket(rtp(1, 3), STALL_GAP_MS + 200);
      assert.equal(counter.totals(STALL_GAP_MS + 300).stalls, 1);
      const later = counter.totals(3 * STALL_GAP_MS);
      assert.equal(later.stalls, 2);
      assert.equal(Math.round(later.longestVideoGapMs), 3 * STALL_GAP_MS - (STALL_GAP_MS + 200));
    });

    it('ignores RTCP', function () {
      const counter = new RtpCounter();
      counter.expect(1, 'video');
      counter.onPacket(rtp(1, 1, 40, 200), 0); // a sender report
      assert.equal(counter.totals(0).videoPackets, 0);
      assert.equal(counter.hasVideo, false);
    });
  });

  it('finds PLIs and FIRs for one SSRC in a compound RTCP packet', function () {
    const rr = Buffer.from([0x80, 201, 0, 1, 0, 0, 0, 9]);
    const pli = (ssrc: number) => {
      const b = Buffer.alloc(12);
      b[0] = 0x81;
      b[1] = 206;
      b.writeUInt16BE(2, 2);
      b.writeUInt32BE(ssrc, 8);
      return b;
    };
    const fir = Buffer.alloc(20);
    fir[0] = 0x84;
    fir[1] = 206;
    fir.writeUInt16BE(4, 2);
    fir.writeUInt32BE(42, 12);
    const found = keyframeRequests(Buffer.concat([rr, pli(42), pli(7), fir, pli(42)]), 42);
    assert.deepEqual(found, { pli: 2, fir: 1 });
  });

  it('signs a STUN Binding Request that an ICE-lite server can check', function () {
    const { bytes, transactionId } = bindingRequest('server:client', 'password');
    assert.equal(bytes.readUInt16BE(0), 0x0001);
    assert.equal(bytes.readUInt16BE(2), bytes.length - 20);
    // FINGERPRINT is last: CRC-32 of everything before it, xor "STUN".
    const fingerprint = bytes.readUInt32BE(bytes.length - 4);
    assert.equal(fingerprint, (crc32(bytes.subarray(0, bytes.length - 8)) ^ 0x5354554e) >>> 0);
    // MESSAGE-INTEGRITY before it: HMAC-SHA1 with the length field counting up to itself.
    const integrityAt = bytes.length - 8 - 24;
    assert.equal(bytes.readUInt16BE(integrityAt), 0x0008);
    const signed = Buffer.from(bytes.subarray(0, integrityAt));
    signed.writeUInt16BE(integrityAt + 24 - 20, 2);
    const expected = createHmac('sha1', 'password').update(signed).digest();
    assert.deepEqual(bytes.subarray(integrityAt + 4, integrityAt + 24), expected);

    const answer = Buffer.alloc(20);
    answer.writeUInt16BE(0x0101, 0);
    answer.writeUInt32BE(0x2112a442, 4);
    transactionId.copy(answer, 8);
    assert.deepEqual(bindingSuccessTransaction(answer), transactionId);
    assert.equal(bindingSuccessTransaction(bytes), undefined);
  });

  it('advertises no bandwidth estimation, so the server does not manage its bitrate', function () {
    const router = {
      codecs: [
        {
          kind: 'video',
          mimeType: 'video/VP8',
          clockRate: 90000,
          preferredPayloadType: 96,
          rtcpFeedback: [{ type: 'nack' }, { type: 'transport-cc' }, { type: 'goog-remb' }],
        },
      ],
      headerExtensions: [
        {
          kind: 'video',
          uri: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
          preferredId: 5,
        },
        { kind: 'video', uri: 'urn:3gpp:video-orientation', preferredId: 4 },
      ],
    } as RtpCapabilities;
    const caps = receiveOnlyCapabilities(router);
    assert.deepEqual(caps.codecs?.[0]?.rtcpFeedback, [{ type: 'nack' }]);
    assert.deepEqual(
      caps.headerExtensions?.map((e) => e.uri),
      ['urn:3gpp:video-orientation'],
    );
  });

  it('reports nearest-rank percentiles of the viewers that have a figure', function () {
    assert.deepEqual(percentiles([5, undefined, 1, 3, 2, 4]), { n: 5, p50: 3, p95: 5, max: 5 });
    assert.deepEqual(percentiles([]), { n: 0, p50: null, p95: null, max: null });
  });

  it('parses its command line, with keys from the environment', function () {
    const cli = parseCli(
      ['--url', 'http://h:1/x', '--viewers', '100', '--rate', '20', '--publish'],
      {
        LIVESTAGE_API_KEY: 'k',
        LIVESTAGE_API_SECRET: 's',
      },
    );
    assert.ok(!cli.help);
    assert.equal(cli.loadTest.url, 'http://h:1');
    assert.equal(cli.loadTest.count, 100);
    assert.equal(cli.loadTest.rate, 20);
    assert.equal(cli.loadTest.publish?.width, 1280);
    assert.deepEqual(cli.loadTest.credentials, { apiKey: 'k', apiSecret: 's' });
    assert.throws(() => parseCli(['--viewers', '2'], {}), UsageError);
    assert.throws(
      () => parseCli(['--viewers', '0'], { LIVESTAGE_API_KEY: 'k', LIVESTAGE_API_SECRET: 's' }),
      UsageError,
    );
    assert.throws(() => parseCli(['--bogus'], {}), UsageError);
  });
});
