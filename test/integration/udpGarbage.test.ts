/**
 * Hostile traffic at a worker's WebRtcServer ports while real media flows. NEEDS CHROMIUM (like
 * test/e2e): a real host page publishes, a real viewer page decodes, and meanwhile Node's dgram
 * and net throw garbage at the worker's one UDP and one TCP port:
 *
 *  - phase A, an off-path attacker (unknown 5-tuple): random bytes, malformed STUN (also carrying
 *    the live transports' ufrags, so the worker's ICE authentication runs), malformed RTP/RTCP and
 *    DTLS-looking records. The WebRtcServer drops non-STUN data from unknown tuples at once, so
 *    this mostly exercises STUN parsing and ICE authentication.
 *  - phase B, a hostile participant: a raw socket.io client that joined the room completes ICE
 *    with its own transport's credentials from its own UDP socket and "connects" DTLS with a fake
 *    fingerprint, so its garbage reaches the transport itself (STUN on a known tuple, DTLS records
 *    into OpenSSL, RTP/RTCP up to the DTLS-not-connected check).
 *  - TCP: garbage and absurd RFC 4571 framing on a few connections.
 *
 * Afterwards the worker must be the same live process, the viewer must still decode new frames,
 * a new viewer must get media, and /healthz must be 200. Figures are printed with
 * FLOOD_REPORT=1; FLOOD_SEED=<n> replays one run's random traffic.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import zlib from 'node:zlib';
import type { types } from 'mediasoup';
import type { Browser, Page } from 'playwright-core';
import type { JoinResponse, TransportOptions } from '@livestage/protocol';
import { goLive, waitForDecodedFrames } from '../e2e/pages.js';
import { launchChromium } from '../helpers/browser.js';
import { connectRaw, request, tokenFor, type TestSocket } from '../helpers/client.js';
import { eventually, startTestServer, type TestServer } from '../helpers/server.js';

const SEED = Number(process.env.FLOOD_SEED ?? Date.now() % 2 ** 31);
const REPORT = process.env.FLOOD_REPORT === '1';
const FLOOD_PACKETS_PER_SECOND = Number(process.env.FLOOD_PPS ?? 20_000);

/** mulberry32: small, seeded, good enough to make garbage reproducible. */
function seeded(seed: number): () => number {
  let state = seed | 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = seeded(SEED);
const int = (min: number, max: number): number => min + Math.floor(random() * (max - min + 1));
const chance = (p: number): boolean => random() < p;
function pick<T>(items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}
function bytes(length: number): Buffer {
  const buffer = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i += 1) buffer[i] = Math.floor(random() * 256);
  return buffer;
}
const u32 = (value: number): Buffer => {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value >>> 0);
  return buffer;
};

// ---------------------------------------------------------------------------------------------
// STUN (RFC 5389 / 8445), well-formed and not

const MAGIC_COOKIE = 0x2112a442;
const ATTR = {
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  XOR_MAPPED_ADDRESS: 0x0020,
  PRIORITY: 0x0024,
  USE_CANDIDATE: 0x0025,
  FINGERPRINT: 0x8028,
  ICE_CONTROLLED: 0x8029,
  ICE_CONTROLLING: 0x802a,
};

function stunHeader(type: number, length: number, txid: Buffer, cookie = MAGIC_COOKIE): Buffer {
  const header = Buffer.alloc(20);
  header.writeUInt16BE(type & 0xffff, 0);
  header.writeUInt16BE(length & 0xffff, 2);
  header.writeUInt32BE(cookie >>> 0, 4);
  txid.copy(header, 8, 0, 12);
  return header;
}

function stunAttr(type: number, value: Buffer, declaredLength = value.length): Buffer {
  const attr = Buffer.alloc(4 + Math.ceil(value.length / 4) * 4);
  attr.writeUInt16BE(type, 0);
  attr.writeUInt16BE(declaredLength & 0xffff, 2);
  value.copy(attr, 4);
  return attr;
}

/** Appends MESSAGE-INTEGRITY (keyed with `password`, or random bytes) and FINGERPRINT. */
function stunSealed(
  type: number,
  attrs: Buffer[],
  integrity: { password: string } | 'garbage' | 'none',
  fingerprint: 'valid' | 'garbage' | 'none' = 'valid',
): Buffer {
  const txid = bytes(12);
  let body = Buffer.concat(attrs);
  if (integrity !== 'none') {
    const mi =
      integrity === 'garbage'
        ? bytes(20)
        : crypto
            .createHmac('sha1', integrity.password)
            .update(Buffer.concat([stunHeader(type, body.length + 24, txid), body]))
            .digest();
    body = Buffer.concat([body, stunAttr(ATTR.MESSAGE_INTEGRITY, mi)]);
  }
  if (fingerprint !== 'none') {
    const crc = zlib.crc32(Buffer.concat([stunHeader(type, body.length + 8, txid), body]));
    const value = fingerprint === 'valid' ? (crc ^ 0x5354554e) >>> 0 : int(0, 2 ** 32 - 1);
    body = Buffer.concat([body, stunAttr(ATTR.FINGERPRINT, u32(value))]);
  }
  return Buffer.concat([stunHeader(type, body.length, txid), body]);
}

/** The binding request a real ICE agent sends to nominate its candidate pair. */
function bindingRequest(serverUfrag: string, password: string, useCandidate = true): Buffer {
  return stunSealed(
    0x0001,
    [
      stunAttr(ATTR.USERNAME, Buffer.from(`${serverUfrag}:attacker`)),
      stunAttr(ATTR.PRIORITY, u32(0x6e7f1eff)),
      stunAttr(ATTR.ICE_CONTROLLING, bytes(8)),
      ...(useCandidate ? [stunAttr(ATTR.USE_CANDIDATE, Buffer.alloc(0))] : []),
    ],
    { password },
  );
}

const randomUfrag = (): string =>
  bytes(int(0, 40))
    .toString('base64')
    .replace(/[^a-z0-9]/gi, '');

/** One malformed or unauthenticated STUN message; `ufrags` are live server ufrags to aim at. */
function hostileStun(ufrags: readonly string[]): Buffer {
  const target = (): string => (ufrags.length > 0 && chance(0.7) ? pick(ufrags) : randomUfrag());
  const username = (): Buffer =>
    stunAttr(ATTR.USERNAME, Buffer.from(`${target()}:${randomUfrag()}`));
  switch (int(0, 11)) {
    case 0: {
      // Binding request header with a bogus length and random attribute bytes.
      const body = bytes(int(0, 200));
      return Buffer.concat([stunHeader(0x0001, int(0, 0xffff), bytes(12)), body]);
    }
    case 1: {
      // Wrong magic cookie: not STUN for the worker, so it is non-STUN data from an unknown tuple.
      const message = stunSealed(0x0001, [username()], 'garbage');
      message.writeUInt32BE(int(0, 2 ** 32 - 1), 4);
      return message;
    }
    case 2:
      // Well-formed, a ufrag (live or random), random MESSAGE-INTEGRITY: 401 or ignored.
      return stunSealed(
        0x0001,
        [username(), stunAttr(ATTR.PRIORITY, u32(int(1, 2 ** 31)))],
        'garbage',
      );
    case 3:
      // No MESSAGE-INTEGRITY, or no FINGERPRINT, or a wrong FINGERPRINT.
      return stunSealed(
        0x0001,
        [username(), stunAttr(ATTR.USE_CANDIDATE, Buffer.alloc(0))],
        pick(['none', 'garbage'] as const),
        pick(['none', 'garbage', 'valid'] as const),
      );
    case 4: {
      // An attribute declaring a huge length inside a message whose header length is right.
      const attrs = [username(), stunAttr(int(0, 0xffff), bytes(int(0, 16)), int(0xff00, 0xffff))];
      const body = Buffer.concat(attrs);
      return Buffer.concat([stunHeader(0x0001, body.length, bytes(12)), body]);
    }
    case 5:
      // Random method and class (the two top bits zero, as STUN requires).
      return stunSealed(int(0, 0x3fff), [username()], 'garbage');
    case 6: {
      // Attributes after FINGERPRINT, a duplicated MESSAGE-INTEGRITY, odd-sized MI/FINGERPRINT.
      const sealed = stunSealed(0x0001, [username()], 'garbage');
      const extra = pick([
        stunAttr(ATTR.USERNAME, Buffer.from(target())),
        stunAttr(ATTR.MESSAGE_INTEGRITY, bytes(20)),
        stunAttr(ATTR.MESSAGE_INTEGRITY, bytes(int(0, 40))),
        stunAttr(ATTR.FINGERPRINT, bytes(int(0, 12))),
      ]);
      const message = Buffer.concat([sealed, extra]);
      message.writeUInt16BE(message.length - 20, 2);
      return message;
    }
    case 7: {
      // USERNAME empty, a bare colon, 600 bytes, NULs or invalid UTF-8.
      const value = pick([
        Buffer.alloc(0),
        Buffer.from(':'),
        Buffer.from(`${target()}:`),
        Buffer.from('u'.repeat(600)),
        Buffer.concat([Buffer.from(target()), Buffer.from([0, 0xff, 0xfe, 0x3a, 0xc0])]),
      ]);
      return stunSealed(0x0001, [stunAttr(ATTR.USERNAME, value)], 'garbage');
    }
    case 8:
      // Header only, or a truncated header.
      return chance(0.5)
        ? stunHeader(0x0001, 0, bytes(12))
        : stunHeader(0x0001, 0, bytes(12)).subarray(0, int(0, 19));
    case 9:
      // Success and error responses nobody asked for, with garbage address and error attributes.
      return stunSealed(
        pick([0x0101, 0x0111, 0x0011]),
        [
          username(),
          stunAttr(ATTR.XOR_MAPPED_ADDRESS, bytes(int(0, 20))),
          stunAttr(ATTR.ERROR_CODE, bytes(int(0, 30))),
        ],
        'garbage',
      );
    case 10:
      // PRIORITY zero, ICE-CONTROLLED, both roles at once.
      return stunSealed(
        0x0001,
        [
          username(),
          stunAttr(ATTR.PRIORITY, u32(0)),
          stunAttr(ATTR.ICE_CONTROLLED, bytes(8)),
          stunAttr(ATTR.ICE_CONTROLLING, bytes(int(0, 12))),
        ],
        'garbage',
      );
    default: {
      // Many tiny unknown attributes (comprehension-required and optional ranges).
      const attrs = Array.from({ length: int(1, 120) }, () =>
        stunAttr(int(0, 0xffff), bytes(int(0, 8))),
      );
      return stunSealed(0x0001, [username(), ...attrs], 'garbage');
    }
  }
}

// ---------------------------------------------------------------------------------------------
// RTP / RTCP / DTLS / random

/** Version-2 RTP or RTCP headers over garbage: truncated, random PT, SSRC, CSRC, extension, padding. */
function hostileRtp(liveSsrcs: readonly number[]): Buffer {
  const rtcp = chance(0.35);
  const length = pick([int(0, 11), int(12, 40), int(12, 1500)]);
  const packet = bytes(length);
  if (length > 0) packet[0] = 0x80 | int(0, 0x3f);
  if (length > 1) packet[1] = rtcp ? int(200, 204) : int(0, 127) | (chance(0.5) ? 0x80 : 0);
  if (length >= 4 && rtcp) packet.writeUInt16BE(pick([0, 1, int(0, 0xffff), 0xffff]), 2);
  if (length >= 12 && liveSsrcs.length > 0 && chance(0.3)) {
    packet.writeUInt32BE(pick(liveSsrcs), rtcp ? 4 : 8);
  }
  if (length >= 16 && !rtcp && chance(0.3)) {
    // Extension bit with an absurd extension length right after a zero CSRC list.
    packet[0] = ((packet[0] as number) & 0xe0) | 0x10;
    packet.writeUInt16BE(pick([0xbede, 0x1000, int(0, 0xffff)]), 12);
    packet.writeUInt16BE(pick([0xffff, int(0, 0xffff)]), 14);
  }
  if (length >= 13 && chance(0.2)) {
    packet[0] = (packet[0] as number) | 0x20; // padding, with a padding count past the payload
    packet[length - 1] = 0xff;
  }
  return packet;
}

/** DTLS-looking records (first byte 20..63): bogus versions, epochs, lengths, handshakes. */
function hostileDtls(): Buffer {
  const length = chance(0.15) ? int(0, 12) : int(13, 1500);
  const record = bytes(length);
  if (length > 0) record[0] = chance(0.7) ? int(20, 23) : int(24, 63);
  if (length >= 3) {
    const [major, minor] = pick([
      [0xfe, 0xfd],
      [0xfe, 0xff],
      [0x03, 0x03],
      [int(0, 255), int(0, 255)],
    ]) as [number, number];
    record[1] = major;
    record[2] = minor;
  }
  if (length >= 13) {
    if (chance(0.5)) record.writeUInt16BE(0, 3); // epoch 0, where a ClientHello lives
    record.writeUInt16BE(pick([length - 13, 0, 0xffff, int(0, 0xffff)]) & 0xffff, 11);
    if (record[0] === 22 && length >= 25) {
      // Handshake: ClientHello or others, with bogus message and fragment lengths.
      record[13] = pick([1, 2, 3, 11, 12, 14, 16, 20, int(0, 255)]);
      record.writeUIntBE(pick([length - 25, 0xffffff, int(0, 0xffffff)]), 14, 3);
      record.writeUInt16BE(int(0, 3), 17);
      record.writeUIntBE(pick([0, int(0, 0xffffff)]), 19, 3);
      record.writeUIntBE(pick([length - 25, 0xffffff, int(0, 0xffffff)]), 22, 3);
    }
  }
  return record;
}

const randomDatagram = (): Buffer => bytes(int(0, 1500));

type Category = 'random' | 'stun' | 'rtpRtcp' | 'dtls';

/** Sends `plan` as fast as the socket takes it, in small batches; counts by category. */
async function flood(
  socket: dgram.Socket,
  port: number,
  host: string,
  plan: Record<Category, number>,
  make: Record<Category, () => Buffer>,
): Promise<{ sent: Record<Category, number>; bytes: number; errors: number; ms: number }> {
  const sent: Record<Category, number> = { random: 0, stun: 0, rtpRtcp: 0, dtls: 0 };
  const queue: Category[] = [];
  for (const [category, count] of Object.entries(plan) as [Category, number][]) {
    for (let i = 0; i < count; i += 1) queue.push(category);
  }
  // Shuffle so categories interleave, as a real flood would.
  for (let i = queue.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [queue[i], queue[j]] = [queue[j] as Category, queue[i] as Category];
  }
  let total = 0;
  let errors = 0;
  const started = performance.now();
  for (let offset = 0; offset < queue.length; offset += 64) {
    // Paced, so that the worker's socket buffer, not just the kernel, sees most of the flood.
    const due = (offset / FLOOD_PACKETS_PER_SECOND) * 1000 - (performance.now() - started);
    if (due > 1) await new Promise((resolve) => setTimeout(resolve, due));
    await Promise.all(
      queue.slice(offset, offset + 64).map((category) => {
        const datagram = make[category]();
        return new Promise<void>((resolve) =>
          socket.send(datagram, port, host, (error) => {
            if (error) errors += 1;
            else {
              sent[category] += 1;
              total += datagram.length;
            }
            resolve();
          }),
        );
      }),
    );
  }
  return { sent, bytes: total, errors, ms: Math.round(performance.now() - started) };
}

/** Names a datagram the worker sent back: STUN class, method and error code, or DTLS record. */
function describeReply(message: Buffer): string {
  if (message.length >= 20 && message.readUInt32BE(4) === MAGIC_COOKIE) {
    const type = message.readUInt16BE(0);
    const stunClass = ((type >> 7) & 2) | ((type >> 4) & 1);
    const method = (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2);
    const name =
      ['request', 'indication', 'success', 'error'][stunClass] +
      (method === 1 ? '' : ` (method 0x${method.toString(16)})`);
    if (stunClass !== 3) return name;
    for (let at = 20; at + 8 <= message.length;) {
      const attrType = message.readUInt16BE(at);
      const attrLength = message.readUInt16BE(at + 2);
      if (attrType === ATTR.ERROR_CODE) {
        const code = ((message[at + 6] as number) & 7) * 100 + (message[at + 7] as number);
        return name.replace('error', `error ${code}`);
      }
      at += 4 + Math.ceil(attrLength / 4) * 4;
    }
    return name;
  }
  const first = message[0] ?? -1;
  return first >= 20 && first <= 63
    ? `dtls record type ${first} (${message.length}B)`
    : `other (${message.length}B)`;
}

/** Counts what the worker sends back to `socket`, by kind. */
function countReplies(socket: dgram.Socket): Map<string, number> {
  const replies = new Map<string, number>();
  socket.on('message', (message) => {
    const key = describeReply(message);
    replies.set(key, (replies.get(key) ?? 0) + 1);
  });
  return replies;
}

/** The kernel's drop counter for a local UDP port on 127.0.0.1 (Linux only). */
function kernelUdpDrops(port: number): number | undefined {
  try {
    const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
    for (const line of fs.readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[1]?.endsWith(`:${hexPort}`)) return Number(fields[fields.length - 1]);
    }
  } catch {
    // not Linux
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// TCP

interface TcpOutcome {
  name: string;
  written: number;
  received: number;
  closedByServer: boolean;
}

/** Connects, writes `chunks` (pausing `gapMs` between), lingers, then closes from our side. */
function tcpGarbage(
  port: number,
  name: string,
  chunks: Buffer[],
  { gapMs = 0, lingerMs = 100 } = {},
): Promise<TcpOutcome> {
  return new Promise((resolve, reject) => {
    const outcome: TcpOutcome = { name, written: 0, received: 0, closedByServer: false };
    let closingOurselves = false;
    const socket = net.connect(port, '127.0.0.1');
    socket.on('data', (data) => (outcome.received += data.length));
    socket.on('error', () => undefined); // resets after the server closes are expected
    socket.on('end', () => {
      if (!closingOurselves) outcome.closedByServer = true;
    });
    socket.on('close', () => {
      if (!closingOurselves) outcome.closedByServer = true;
      resolve(outcome);
    });
    const feed = async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) break;
        await new Promise<void>((done) => socket.write(chunk, () => done()));
        outcome.written += chunk.length;
        if (gapMs > 0) await new Promise((done) => setTimeout(done, gapMs));
      }
      await new Promise((done) => setTimeout(done, lingerMs));
      closingOurselves = true;
      socket.destroy();
    };
    socket.once('connect', () => {
      feed().catch((error: unknown) => {
        socket.destroy();
        reject(error as Error);
      });
    });
  });
}

const frame = (payload: Buffer, declared = payload.length): Buffer => {
  const header = Buffer.alloc(2);
  header.writeUInt16BE(declared & 0xffff);
  return Buffer.concat([header, payload]);
};

// ---------------------------------------------------------------------------------------------
// In-page frame counter (plain JavaScript text: see test/e2e/pages.ts)

/** (Re)sets the counter of frames the viewer's stage video presents; installs it once. */
const START_COUNTING = `() => {
  window.__framesSeen = 0;
  if (window.__counting) return;
  window.__counting = true;
  const video = document.querySelector('#stage video');
  const onFrame = () => { window.__framesSeen += 1; video.requestVideoFrameCallback(onFrame); };
  video.requestVideoFrameCallback(onFrame);
}`;
const framesSeen = (page: Page): Promise<number> =>
  page.evaluate('window.__framesSeen') as Promise<number>;

async function cpuSeconds(server: TestServer): Promise<{ pid: number; cpu: number }[]> {
  return (await server.pool.health()).map((w) => ({
    pid: w.pid,
    cpu: Math.round((w.cpuUserSeconds + w.cpuSystemSeconds) * 1000) / 1000,
  }));
}

describe('hostile UDP and TCP at the worker ports while media flows (needs Chromium)', function () {
  this.timeout(120_000);
  let server: TestServer;
  let browser: Browser;
  const rawSockets: TestSocket[] = [];
  const udpSockets: dgram.Socket[] = [];

  before(async function () {
    server = await startTestServer();
    browser = await launchChromium();
  });

  after(async function () {
    for (const socket of rawSockets) socket.disconnect();
    for (const socket of udpSockets) socket.close();
    await browser?.close();
    await server?.close();
  });

  it('survives ≥ 20 000 hostile datagrams and TCP garbage; media keeps flowing', async function () {
    const room = `udp-garbage-${Date.now()}`;
    const [worker] = server.pool.workers;
    assert.ok(worker, 'one media worker');
    const died: string[] = [];
    server.pool.on('workerDied', (index, pid) => died.push(`worker ${index} (pid ${pid}) died`));

    // Every transport the worker handles from now on: their ufrags and producers' SSRCs.
    const transports = new Map<string, types.WebRtcTransport>();
    const liveSsrcs: number[] = [];
    worker.webRtcServer.observer.on('webrtctransporthandled', (transport) => {
      transports.set(transport.id, transport);
      transport.observer.on('newproducer', (producer) => {
        for (const encoding of producer.rtpParameters.encodings ?? []) {
          if (encoding.ssrc) liveSsrcs.push(encoding.ssrc);
        }
      });
    });

    // Real media: a host page publishes, a viewer page decodes.
    const hostPage = await browser.newPage();
    await goLive(hostPage, server.url, room);
    const viewerPage = await browser.newPage();
    await viewerPage.goto(`${server.url}/viewer.html?room=${room}`);
    await viewerPage.click('#watch');
    await waitForDecodedFrames(viewerPage, '#stage video', 10);

    // The worker's ports, as any participant learns them: from a raw join's ICE candidates. This
    // participant (audience) stays, and in phase B turns hostile with its own credentials.
    const { socket: raw, welcome } = await connectRaw(
      server.url,
      tokenFor(room, 'mallory', 'audience'),
    );
    rawSockets.push(raw);
    const joinAck = await request(raw, 'join', { rtpCapabilities: welcome.routerRtpCapabilities });
    assert.ok(joinAck.ok, `raw join failed: ${JSON.stringify(joinAck)}`);
    const recv = (joinAck.data as JoinResponse).recvTransport as TransportOptions;
    assert.ok(recv, 'the audience gets a receive transport');
    const udpCandidate = recv.iceCandidates.find((c) => c.protocol === 'udp');
    const tcpCandidate = recv.iceCandidates.find((c) => c.protocol === 'tcp');
    assert.ok(
      udpCandidate && tcpCandidate,
      `udp and tcp candidates: ${JSON.stringify(recv.iceCandidates)}`,
    );
    const { ip, port: udpPort } = udpCandidate;
    const tcpPort = tcpCandidate.port;
    const ufrags = [...transports.values()]
      .filter((t) => !t.closed)
      .map((t) => t.iceParameters.usernameFragment);
    assert.ok(ufrags.length >= 3, `live transports: ${ufrags.length}`);
    assert.ok(liveSsrcs.length >= 1, `live SSRCs: ${liveSsrcs.length}`);

    // Baseline: frames the viewer decodes in a quiet second.
    await viewerPage.evaluate(`(${START_COUNTING})()`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const framesPerQuietSecond = await framesSeen(viewerPage);

    const before = await cpuSeconds(server);
    const dropsBefore = kernelUdpDrops(udpPort);
    await viewerPage.evaluate(`(${START_COUNTING})()`);
    const floodStarted = performance.now();

    // Phase A: an off-path attacker on a fresh socket (a 5-tuple the worker has never seen).
    const outsider = dgram.createSocket('udp4');
    udpSockets.push(outsider);
    await new Promise<void>((resolve) => outsider.bind(0, '127.0.0.1', resolve));
    const outsiderReplies = countReplies(outsider);
    const make: Record<Category, () => Buffer> = {
      random: randomDatagram,
      stun: () => hostileStun(ufrags),
      rtpRtcp: () => hostileRtp(liveSsrcs),
      dtls: hostileDtls,
    };
    const phaseA = await flood(
      outsider,
      udpPort,
      ip,
      { random: 6000, stun: 7000, rtpRtcp: 5000, dtls: 3000 },
      make,
    );

    // Phase B: the participant authenticates its own UDP tuple, "connects" DTLS, then floods.
    const insider = dgram.createSocket('udp4');
    udpSockets.push(insider);
    await new Promise<void>((resolve) => insider.bind(0, '127.0.0.1', resolve));
    const insiderReplies = countReplies(insider);
    const ownTransport = transports.get(recv.id);
    assert.ok(ownTransport, 'the raw participant transport is known');
    // Right after phase A's flood the worker's socket buffer may still be full and drop one
    // request, as UDP may: a real ICE agent retransmits, and so does this one (every 200 ms,
    // bounded by the 10 s below), until the worker has selected this tuple.
    const selected = () => ownTransport.iceSelectedTuple?.remotePort === insider.address().port;
    let bindingRequests = 0;
    await eventually(
      async () => {
        if (!selected()) {
          bindingRequests += 1;
          insider.send(
            bindingRequest(recv.iceParameters.usernameFragment, recv.iceParameters.password),
            udpPort,
            ip,
          );
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        assert.ok(selected(), `not selected after ${bindingRequests} binding request(s)`);
      },
      10_000,
      'the hostile participant tuple selected',
    );
    const connectAck = await request(raw, 'connectTransport', {
      transportId: recv.id,
      dtlsParameters: {
        role: 'client',
        fingerprints: [
          {
            algorithm: 'sha-256',
            value: bytes(32)
              .toString('hex')
              .replace(/(..)(?!$)/g, '$1:')
              .toUpperCase(),
          },
        ],
      },
    });
    assert.ok(connectAck.ok, `connectTransport: ${JSON.stringify(connectAck)}`);
    await eventually(
      () => assert.equal(ownTransport.dtlsState, 'connecting'),
      5000,
      'DTLS of the hostile participant running',
    );
    const phaseB = await flood(
      insider,
      udpPort,
      ip,
      { random: 1500, stun: 1500, rtpRtcp: 2000, dtls: 3000 },
      { ...make, stun: () => hostileStun([recv.iceParameters.usernameFragment]) },
    );
    const insiderDtlsState = ownTransport.closed ? 'transport closed' : ownTransport.dtlsState;

    // TCP: garbage, absurd RFC 4571 framing, and a framed binding request, on a few connections.
    const tcp = await Promise.all([
      tcpGarbage(tcpPort, 'random 64 KiB', [bytes(65536)]),
      tcpGarbage(tcpPort, 'length 0xffff then 10 bytes', [frame(bytes(10), 0xffff)]),
      tcpGarbage(tcpPort, 'complete 65535-byte frame', [frame(bytes(65535))]),
      tcpGarbage(tcpPort, 'length 0xfffe + full frame', [frame(bytes(65534))]),
      tcpGarbage(tcpPort, '2000 null frames', [Buffer.alloc(4000)]),
      tcpGarbage(
        tcpPort,
        '500 framed hostile STUN',
        Array.from({ length: 500 }, () => frame(hostileStun(ufrags))),
      ),
      tcpGarbage(
        tcpPort,
        'framed DTLS/RTP garbage',
        Array.from({ length: 500 }, () =>
          frame(chance(0.5) ? hostileDtls() : hostileRtp(liveSsrcs)),
        ),
      ),
      tcpGarbage(
        tcpPort,
        'drip 200 bytes',
        Array.from({ length: 200 }, () => bytes(1)),
        {
          gapMs: 1,
        },
      ),
      tcpGarbage(tcpPort, 'half a length, then silence', [Buffer.from([0x7f])], { lingerMs: 500 }),
      tcpGarbage(tcpPort, 'authenticated binding, then DTLS garbage', [
        frame(
          bindingRequest(recv.iceParameters.usernameFragment, recv.iceParameters.password, false),
        ),
        ...Array.from({ length: 200 }, () => frame(hostileDtls())),
      ]),
    ]);

    const floodMs = Math.round(performance.now() - floodStarted);
    const framesDuringFlood = await framesSeen(viewerPage);
    const after = await cpuSeconds(server);
    const dropsAfter = kernelUdpDrops(udpPort);

    // The worker: same live process, nothing died.
    const health = await server.pool.health();
    assert.deepEqual(died, [], `MEDIASOUP WORKER DIED during the flood (seed ${SEED})`);
    assert.equal(health.length, 1);
    assert.ok(
      health.every((w) => w.alive),
      `worker not alive: ${JSON.stringify(health)}`,
    );
    assert.equal(health[0]?.pid, before[0]?.pid, 'the worker process is the same one');

    // Media: the viewer keeps decoding new frames; a new viewer gets media; health is fine.
    const decodedAfter = await waitForDecodedFrames(viewerPage, '#stage video', 20, 20_000);
    const lateViewer = await browser.newPage();
    await lateViewer.goto(`${server.url}/viewer.html?room=${room}`);
    await lateViewer.click('#watch');
    await waitForDecodedFrames(lateViewer, '#stage video', 10, 20_000);
    const healthz = await fetch(`${server.url}/healthz`);
    assert.equal(healthz.status, 200);
    await hostPage.locator('#status', { hasText: /^live/ }).waitFor({ timeout: 5000 });

    const figures = {
      seed: SEED,
      ports: { udp: udpPort, tcp: tcpPort },
      phaseA: { ...phaseA, replies: Object.fromEntries(outsiderReplies) },
      phaseB: {
        ...phaseB,
        replies: Object.fromEntries(insiderReplies),
        bindingRequestsUntilSelected: bindingRequests,
        dtlsStateAfter: insiderDtlsState,
      },
      totalDatagrams:
        Object.values(phaseA.sent).reduce((a, b) => a + b, 0) +
        Object.values(phaseB.sent).reduce((a, b) => a + b, 0),
      tcp,
      floodMs,
      workerCpuSeconds: { before: before[0]?.cpu, after: after[0]?.cpu },
      workerPid: { before: before[0]?.pid, after: health[0]?.pid },
      kernelUdpDrops: { before: dropsBefore, after: dropsAfter },
      viewerFramesInAQuietSecond: framesPerQuietSecond,
      viewerFramesDuringFlood: framesDuringFlood,
      viewerFramesAfter: decodedAfter,
    };
    if (REPORT) console.log(JSON.stringify(figures, null, 2));

    assert.ok(figures.totalDatagrams >= 20_000, `sent ${figures.totalDatagrams}`);
    assert.ok(framesDuringFlood > 0, 'the viewer decoded frames during the flood');
    await lateViewer.close();
  });
});
