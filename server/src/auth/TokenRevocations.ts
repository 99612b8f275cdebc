import type { VerifiedToken } from './tokens.js';

/** The longest a token minted over the REST API lives (POST /api/tokens caps ttlSeconds). */
const DEFAULT_MAX_TTL_SECONDS = 86_400;
/** Expired entries are swept after this many additions, so neither map grows without bound. */
const SWEEP_EVERY = 1000;

interface AdmittedToken {
  jti: string;
  expiresAt: number;
}

/**
 * Tokens the handshake refuses until they expire: revoked by id (`jti`), or the token a removed
 * participant was admitted with. In memory, so one node's knowledge only: a cluster needs it in
 * Redis (a key per jti with the token's expiry as TTL) for a revocation to hold on every node.
 */
export class TokenRevocations {
  /** jti → until when it is refused (seconds since the epoch, like `exp`). */
  readonly #revoked = new Map<string, number>();
  /** room + identity → the token it was last admitted with. */
  readonly #lastAdmitted = new Map<string, AdmittedToken>();
  readonly #maxTtlSeconds: number;
  readonly #now: () => number;
  #additions = 0;

  constructor(options: { maxTtlSeconds?: number; now?: () => number } = {}) {
    this.#maxTtlSeconds = options.maxTtlSeconds ?? DEFAULT_MAX_TTL_SECONDS;
    this.#now = options.now ?? Date.now;
  }

  isRevoked(token: VerifiedToken): boolean {
    if (token.jti === undefined) return false;
    const until = this.#revoked.get(token.jti);
    return until !== undefined && until >= this.#nowSeconds();
  }

  /** The handshake let this token in: remembered so that its holder's removal can refuse it. */
  admitted(token: VerifiedToken): void {
    if (token.jti === undefined) return;
    this.#lastAdmitted.set(holderKey(token.grants.room, token.identity), {
      jti: token.jti,
      expiresAt: token.expiresAt,
    });
    this.#added();
  }

  /** Refuses this token id until the token expires (when unknown here: the longest a token lives). */
  revoke(jti: string): void {
    const known = [...this.#lastAdmitted.values()].find((token) => token.jti === jti);
    this.#revoked.set(jti, known?.expiresAt ?? this.#nowSeconds() + this.#maxTtlSeconds);
    this.#added();
  }

  /** Refuses the token `identity` was last admitted to `room` with; false when none is known. */
  revokeHolder(room: string, identity: string): boolean {
    const token = this.#lastAdmitted.get(holderKey(room, identity));
    if (!token) return false;
    this.#revoked.set(token.jti, token.expiresAt);
    this.#added();
    return true;
  }

  #added(): void {
    this.#additions += 1;
    if (this.#additions % SWEEP_EVERY !== 0) return;
    const now = this.#nowSeconds();
    for (const [jti, until] of this.#revoked) if (until < now) this.#revoked.delete(jti);
    for (const [key, token] of this.#lastAdmitted) {
      if (token.expiresAt < now) this.#lastAdmitted.delete(key);
    }
  }

  #nowSeconds(): number {
    return Math.floor(this.#now() / 1000);
  }
}

function holderKey(room: string, identity: string): string {
  return `${room}\u0000${identity}`;
}
