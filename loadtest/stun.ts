// The one STUN message an ICE client needs against an ICE-lite server (mediasoup): a Binding
// Request that nominates the pair, and recognising the answer to it (RFC 5389, RFC 8445).
import { createHmac, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

const MAGIC_COOKIE = 0x2112a442;
const BINDING_REQUEST = 0x0001;
const BINDING_SUCCESS = 0x0101;
const HEADER_LENGTH = 20;

const USERNAME = 0x0006;
const MESSAGE_INTEGRITY = 0x0008;
const PRIORITY = 0x0024;
const USE_CANDIDATE = 0x0025;
const FINGERPRINT = 0x8028;
const ICE_CONTROLLING = 0x802a;

const FINGERPRINT_XOR = 0x5354554e;
const MESSAGE_INTEGRITY_LENGTH = 20;
const FINGERPRINT_LENGTH = 4;

/** The priority a host candidate gets (RFC 8445 §5.1.2.1, type preference 126). */
const HOST_PRIORITY = (126 << 24) | (65535 << 8) | 255;

export interface BindingRequest {
  bytes: Buffer;
  transactionId: Buffer;
}

/**
 * A Binding Request from the controlling agent that nominates this pair (USE-CANDIDATE), signed
 * with the server's ICE password. `username` is "<server ufrag>:<our ufrag>".
 */
export function bindingRequest(username: string, password: string): BindingRequest {
  const transactionId = randomBytes(12);
  const tieBreaker = randomBytes(8);
  const priority = Buffer.alloc(4);
  priority.writeUInt32BE(HOST_PRIORITY >>> 0);
  const body = Buffer.concat([
    attribute(USERNAME, Buffer.from(username, 'utf8')),
    attribute(PRIORITY, priority),
    attribute(ICE_CONTROLLING, tieBreaker),
    attribute(USE_CANDIDATE, Buffer.alloc(0)),
  ]);

  // MESSAGE-INTEGRITY covers the message up to itself, with the length already counting it.
  const withIntegrity = header(transactionId, body.length + 4 + MESSAGE_INTEGRITY_LENGTH);
  const hmac = createHmac('sha1', password)
    .update(Buffer.concat([withIntegrity, body]))
    .digest();
  const signed = Buffer.concat([body, attribute(MESSAGE_INTEGRITY, hmac)]);

  // FINGERPRINT covers everything before it, with the length counting the fingerprint too.
  const withFingerprint = header(transactionId, signed.length + 4 + FINGERPRINT_LENGTH);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE((crc32(Buffer.concat([withFingerprint, signed])) ^ FINGERPRINT_XOR) >>> 0);
  const bytes = Buffer.concat([withFingerprint, signed, attribute(FINGERPRINT, crc)]);
  return { bytes, transactionId };
}

/** The transaction id of a Binding Success Response, or undefined for anything else. */
export function bindingSuccessTransaction(packet: Buffer): Buffer | undefined {
  if (packet.length < HEADER_LENGTH) return undefined;
  if (packet.readUInt16BE(0) !== BINDING_SUCCESS) return undefined;
  if (packet.readUInt32BE(4) !== MAGIC_COOKIE) return undefined;
  return packet.subarray(8, 20);
}

/** RFC 7983 demultiplexing by the first byte. */
export function isStun(packet: Buffer): boolean {
  const first = packet[0] ?? 255;
  return first <= 3;
}

function header(transactionId: Buffer, length: number): Buffer {
  const out = Buffer.alloc(HEADER_LENGTH);
  out.writeUInt16BE(BINDING_REQUEST, 0);
  out.writeUInt16BE(length, 2);
  out.writeUInt32BE(MAGIC_COOKIE, 4);
  transactionId.copy(out, 8);
  return out;
}

function attribute(type: number, value: Buffer): Buffer {
  const padded = Math.ceil(value.length / 4) * 4;
  const out = Buffer.alloc(4 + padded);
  out.writeUInt16BE(type, 0);
  out.writeUInt16BE(value.length, 2);
  value.copy(out, 4);
  return out;
}
