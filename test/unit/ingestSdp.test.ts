import assert from 'node:assert/strict';
import type { types } from 'mediasoup';
import { loadConfig } from '../../server/src/config/config.js';
import { MEDIA_CODECS } from '../../server/src/media/codecs.js';
import { parseIceFragment, restartFragment } from '../../server/src/ingest/iceFragment.js';
import { iceServerLinks } from '../../server/src/ingest/iceServerLinks.js';
import { IngestError } from '../../server/src/ingest/IngestError.js';
import { offererDtlsParameters, parseOffer } from '../../server/src/ingest/offer.js';
import { publishedSections } from '../../server/src/ingest/whipSdp.js';
import { whepCapabilities } from '../../server/src/ingest/whepSdp.js';

/** What OBS 30 (libdatachannel) sends: no candidates, no extensions, SSRCs, H.264 42e01f. */
const OBS_OFFER = [
  'v=0',
  'o=rtc 3767197920 0 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1',
  'a=msid-semantic:WMS *',
  'a=setup:actpass',
  'a=ice-ufrag:PXbL',
  'a=ice-pwd:fT+VJa8Yl3nHAqGMyzmqPE',
  'a=ice-options:ice2,trickle',
  'a=fingerprint:sha-256 28:1C:A2:4A:09:2F:CF:6E:5E:BD:7F:5C:B5:8B:2D:87:E6:43:57:86:5D:7F:AA:9D:C0:E4:C1:8A:69:AC:1D:5C',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'c=IN IP4 0.0.0.0',
  'a=mid:0',
  'a=sendonly',
  'a=ssrc:2219412712 cname:obs',
  'a=rtcp-mux',
  'a=rtpmap:111 opus/48000/2',
  'm=video 9 UDP/TLS/RTP/SAVPF 96',
  'c=IN IP4 0.0.0.0',
  'a=mid:1',
  'a=sendonly',
  'a=ssrc:2219412713 cname:obs',
  'a=rtcp-mux',
  'a=rtpmap:96 H264/90000',
  'a=rtcp-fb:96 nack',
  'a=rtcp-fb:96 nack pli',
  'a=fmtp:96 profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1',
  '',
].join('\r\n');

/** Chromium's video section with three RFC 8853 simulcast layers (sendEncodings q, h, f). */
const SIMULCAST_VIDEO = [
  'm=video 9 UDP/TLS/RTP/SAVPF 96',
  'c=IN IP4 0.0.0.0',
  'a=mid:1',
  'a=sendonly',
  'a=rtcp-mux',
  'a=rtpmap:96 VP8/90000',
  'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
  'a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
  'a=rid:q send',
  'a=rid:h send',
  'a=rid:f send',
  'a=simulcast:send q;h;f',
  '',
].join('\r\n');

const ROUTER_CAPABILITIES: types.RtpCapabilities = {
  codecs: MEDIA_CODECS.map((codec, index) => ({
    ...codec,
    preferredPayloadType: codec.preferredPayloadType ?? 100 + index,
  })),
  headerExtensions: [
    { kind: 'video', uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', preferredId: 1 },
    { kind: 'video', uri: 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id', preferredId: 2 },
  ],
};

function refusedWith(status: number): (error: unknown) => boolean {
  return (error) => error instanceof IngestError && error.status === status;
}

describe('WHIP/WHEP SDP handling', function () {
  it('takes an OBS offer: two sections, the offerer as DTLS client', function () {
    const offer = parseOffer(OBS_OFFER, 'sendonly');
    assert.deepEqual(
      offer.media.map((m) => [m.type, m.mid]),
      [
        ['audio', '0'],
        ['video', '1'],
      ],
    );
    assert.equal(offererDtlsParameters(offer).role, 'client');
  });

  it("maps an OBS offer to producer parameters: the offer's payload types and SSRCs", function () {
    const sections = publishedSections(parseOffer(OBS_OFFER, 'sendonly'), ROUTER_CAPABILITIES);
    const [audio, video] = sections.map((section) => section.rtpParameters);
    assert.equal(audio?.codecs[0]?.payloadType, 111);
    assert.equal(video?.codecs[0]?.mimeType, 'video/H264');
    assert.equal(video?.codecs[0]?.payloadType, 96);
    assert.deepEqual(video?.encodings, [{ ssrc: 2219412713 }]);
    assert.equal(video?.mid, '1');
  });

  it("maps RFC 8853 simulcast to one encoding per rid, lowest first, with the offer's extension ids", function () {
    const offer = OBS_OFFER.slice(0, OBS_OFFER.indexOf('m=video')) + SIMULCAST_VIDEO;
    const [, video] = publishedSections(parseOffer(offer, 'sendonly'), ROUTER_CAPABILITIES);
    assert.deepEqual(video?.rtpParameters.encodings, [{ rid: 'q' }, { rid: 'h' }, { rid: 'f' }]);
    assert.deepEqual(
      video?.rtpParameters.headerExtensions?.map((extension) => extension.id).sort(),
      [10, 4],
    );
  });

  it('refuses what it cannot parse (400) and what it cannot serve (422)', function () {
    assert.throws(() => parseOffer('nonsense', 'sendonly'), refusedWith(400));
    assert.throws(
      () => parseOffer(OBS_OFFER.replace(/a=fingerprint.*\r\n/, ''), 'sendonly'),
      refusedWith(400),
    );
    assert.throws(
      () => parseOffer(OBS_OFFER.replace(/a=ice-pwd.*\r\n/, ''), 'sendonly'),
      refusedWith(400),
    );
    assert.throws(
      () => parseOffer(OBS_OFFER.replace(/a=rtcp-mux\r\n/g, ''), 'sendonly'),
      refusedWith(422),
    );
    assert.throws(() => parseOffer(OBS_OFFER, 'recvonly'), refusedWith(422));
    const passive = parseOffer(OBS_OFFER.replace('a=setup:actpass', 'a=setup:passive'), 'sendonly');
    assert.throws(() => offererDtlsParameters(passive), refusedWith(422));
  });

  it('gives a WHEP player only the codecs whose router payload type is the offered one, without extensions or RTX', function () {
    const offer = parseOffer(
      OBS_OFFER.replace(/a=sendonly/g, 'a=recvonly')
        .replace('m=video 9 UDP/TLS/RTP/SAVPF 96', 'm=video 9 UDP/TLS/RTP/SAVPF 96 97')
        .replace(
          'a=rtpmap:96 H264/90000',
          'a=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96',
        ),
      'recvonly',
    );
    const capabilities = whepCapabilities(offer, ROUTER_CAPABILITIES);
    assert.deepEqual(
      capabilities.codecs?.map((codec) => `${codec.mimeType}/${codec.preferredPayloadType}`),
      ['audio/opus/111', 'video/VP8/96'],
    );
    assert.deepEqual(capabilities.headerExtensions, []);
  });

  it('reads trickle and restart fragments, and answers a restart with credentials and candidates', function () {
    assert.deepEqual(
      parseIceFragment('a=mid:0\r\na=candidate:1 1 udp 1 192.0.2.1 5000 typ host\r\n'),
      {
        ufrag: undefined,
        pwd: undefined,
        candidates: 1,
      },
    );
    assert.equal(parseIceFragment('a=ice-ufrag:abc\r\na=ice-pwd:def\r\n').ufrag, 'abc');
    assert.throws(() => parseIceFragment('{"json": true}'), refusedWith(400));
    const answer = restartFragment(
      { usernameFragment: 'u', password: 'p', iceLite: true },
      [
        {
          foundation: 'f',
          priority: 1,
          ip: '127.0.0.1',
          protocol: 'udp',
          port: 40000,
          type: 'host',
          tcpType: undefined,
        },
      ],
      [{ mid: '0', kind: 'audio' }],
    );
    assert.match(
      answer,
      /a=ice-ufrag:u\r\na=ice-pwd:p\r\nm=audio 9 UDP\/TLS\/RTP\/SAVPF 0\r\na=mid:0\r\na=candidate:f 1 udp 1 127.0.0.1 40000 typ host\r\n/,
    );
  });

  it('names ICE servers in Link headers, TURN with its credentials', function () {
    const config = loadConfig({
      ICE_SERVERS: 'stun:s.example:3478, turn:t.example:3478?transport=udp',
      ICE_USERNAME: 'u',
      ICE_CREDENTIAL: 'p"q',
    });
    assert.deepEqual(iceServerLinks(config.whip), [
      '<stun:s.example:3478>; rel="ice-server"',
      '<turn:t.example:3478?transport=udp>; rel="ice-server"; username="u"; credential="p\\"q"; credential-type="password"',
    ]);
  });
});
