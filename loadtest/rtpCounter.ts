// Counts received RTP from the clear part of SRTP packets (RFC 3711 encrypts only the payload):
// SSRC, sequence number and size are enough for bitrate, loss and stalls, so nothing is
// decrypted and no frame is decoded.

/** A gap in video longer than this (after the first packet) is a stall. */
export const STALL_GAP_MS = 500;

/** RTCP packet types (200..207) share the first bytes with RTP; RFC 5761 §4. */
function isRtcp(packet: Buffer): boolean {
  const type = packet[1] ?? 0;
  return type >= 192 && type <= 223;
}

export type MediaKind = 'audio' | 'video';

interface StreamCounter {
  kind: MediaKind;
  packets: number;
  bytes: number;
  /** Extended (wrap-counted) sequence numbers. */
  firstSeq: number;
  highestSeq: number;
}

export interface RtpTotals {
  /** performance.now() of the first video RTP packet, if any came. */
  firstVideoAt: number | undefined;
  videoPackets: number;
  videoBytes: number;
  audioPackets: number;
  audioBytes: number;
  /** Packets of SSRCs no consumer announced (probation, RTX, a consumer already closed). */
  otherPackets: number;
  /** Expected minus received, summed over streams, from the sequence numbers. */
  lostPackets: number;
  expectedPackets: number;
  /** Gaps in video longer than STALL_GAP_MS, counting one still open at the end. */
  stalls: number;
  longestVideoGapMs: number;
}

export class RtpCounter {
  readonly #kinds = new Map<number, MediaKind>();
  readonly #streams = new Map<number, StreamCounter>();
  #firstVideoAt: number | undefined;
  #lastVideoAt = 0;
  #stalls = 0;
  #longestGap = 0;
  #otherPackets = 0;

  get hasVideo(): boolean {
    return this.#firstVideoAt !== undefined;
  }

  /** Called with each consumer's SSRC (its first encoding) as the server announces it. */
  expect(ssrc: number, kind: MediaKind): void {
    this.#kinds.set(ssrc, kind);
  }

  /** One SRTP/SRTCP packet as it arrived; `now` is performance.now(). */
  onPacket(packet: Buffer, now: number): void {
    if (packet.length < 12 || isRtcp(packet)) return;
    const ssrc = packet.readUInt32BE(8);
    let stream = this.#streams.get(ssrc);
    if (!stream) {
      const kind = this.#kinds.get(ssrc);
      if (!kind) {
        this.#otherPackets++;
        return;
      }
      const seq = packet.readUInt16BE(2);
      stream = { kind, packets: 0, bytes: 0, firstSeq: seq, highestSeq: seq };
      this.#streams.set(ssrc, stream);
    }
    stream.packets++;
    stream.bytes += packet.length;
    stream.highestSeq = extend(packet.readUInt16BE(2), stream.highestSeq);
    if (stream.kind !== 'video') return;
    if (this.#firstVideoAt === undefined) {
      this.#firstVideoAt = now;
    } else {
      this.#noteGap(now - this.#lastVideoAt);
    }
    this.#lastVideoAt = now;
  }

  /** The counts so far; `now` closes a gap still open (a viewer whose video stopped). */
  totals(now: number): RtpTotals {
    const totals: RtpTotals = {
      firstVideoAt: this.#firstVideoAt,
      videoPackets: 0,
      videoBytes: 0,
      audioPackets: 0,
      audioBytes: 0,
      otherPackets: this.#otherPackets,
      lostPackets: 0,
      expectedPackets: 0,
      stalls: this.#stalls,
      longestVideoGapMs: this.#longestGap,
    };
    if (this.#firstVideoAt !== undefined) {
      const openGap = now - this.#lastVideoAt;
      if (openGap > STALL_GAP_MS) totals.stalls++;
      totals.longestVideoGapMs = Math.max(totals.longestVideoGapMs, openGap);
    }
    for (const stream of this.#streams.values()) {
      const expected = stream.highestSeq - stream.firstSeq + 1;
      totals.expectedPackets += expected;
      totals.lostPackets += Math.max(0, expected - stream.packets);
      if (stream.kind === 'video') {
        totals.videoPackets += stream.packets;
        totals.videoBytes += stream.bytes;
      } else {
        totals.audioPackets += stream.packets;
        totals.audioBytes += stream.bytes;
      }
    }
    return totals;
  }

  #noteGap(gap: number): void {
    if (gap > STALL_GAP_MS) this.#stalls++;
    if (gap > this.#longestGap) this.#longestGap = gap;
  }
}

/** The extended sequence number closest to `highest` with these low 16 bits, if it is newer. */
function extend(seq: number, highest: number): number {
  const cycles = highest - (highest & 0xffff);
  let candidate = cycles + seq;
  if (candidate - highest > 0x8000) candidate -= 0x10000;
  else if (highest - candidate > 0x8000) candidate += 0x10000;
  return Math.max(candidate, highest);
}
