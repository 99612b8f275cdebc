import { randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * A secret handed to one participant at join, so that the same client can take its seat back
 * after a dropped connection. It is bound to that participant object, replaced on every resume
 * and worthless once the participant is gone (after the reconnect grace period). The access
 * token is still verified in full on every reconnect; this only proves "same client as before".
 */
export class ResumeCredential {
  #secret: Buffer = randomBytes(32);

  get value(): string {
    return this.#secret.toString('base64url');
  }

  matches(candidate: unknown): boolean {
    if (typeof candidate !== 'string' || candidate.length > 128) return false;
    const given = Buffer.from(candidate, 'base64url');
    return given.length === this.#secret.length && timingSafeEqual(given, this.#secret);
  }

  rotate(): string {
    this.#secret = randomBytes(32);
    return this.value;
  }
}
