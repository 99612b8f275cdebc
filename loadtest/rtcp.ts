// Keyframe requests in a decrypted compound RTCP packet (RFC 4585 PLI, RFC 5104 FIR).
const PAYLOAD_SPECIFIC_FEEDBACK = 206;
const PLI = 1;
const FIR = 4;

export interface KeyframeRequests {
  pli: number;
  fir: number;
}

/** Counts the PLIs and FIRs in `compound` that name `mediaSsrc`. */
export function keyframeRequests(compound: Buffer, mediaSsrc: number): KeyframeRequests {
  const found = { pli: 0, fir: 0 };
  let offset = 0;
  while (offset + 4 <= compound.length) {
    const format = (compound[offset] ?? 0) & 0x1f;
    const type = compound[offset + 1] ?? 0;
    const length = (compound.readUInt16BE(offset + 2) + 1) * 4;
    if (length < 4 || offset + length > compound.length) break;
    if (type === PAYLOAD_SPECIFIC_FEEDBACK && length >= 12) {
      if (format === PLI && compound.readUInt32BE(offset + 8) === mediaSsrc) found.pli++;
      // A FIR names its targets in its FCI entries (8 bytes each), not in the media SSRC field.
      if (format === FIR) {
        for (let fci = offset + 12; fci + 8 <= offset + length; fci += 8) {
          if (compound.readUInt32BE(fci) === mediaSsrc) found.fir++;
        }
      }
    }
    offset += length;
  }
  return found;
}
