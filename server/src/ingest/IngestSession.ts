import { randomUUID } from 'node:crypto';
import type { types } from 'mediasoup';
import type { Logger } from '../logging/logger.js';

export type IngestKind = 'whip' | 'whep';

/**
 * One WHIP publication or WHEP playback: a WebRTC transport reached by HTTP (no socket). Ends
 * on DELETE, when its transport closes or fails (ICE/DTLS), or when what it carries ends; `close`
 * is idempotent and runs `onClose` once.
 */
export class IngestSession {
  readonly id = randomUUID();
  readonly createdAt = Date.now();
  #etag = newEtag();
  #closed = false;
  readonly #onClose: (() => void)[] = [];

  constructor(
    readonly kind: IngestKind,
    readonly room: string,
    readonly identity: string,
    readonly transport: types.WebRtcTransport,
    /** The m= sections negotiated (mid and kind), for ICE restart answers. */
    readonly sections: readonly { mid: string; kind: string }[],
    /** The client's ICE username fragment; a PATCH with another one is an ICE restart. */
    public remoteUfrag: string,
    readonly log: Logger,
  ) {
    transport.observer.once('close', () => this.close('transport closed'));
    transport.on('dtlsstatechange', (state) => {
      if (state === 'failed' || state === 'closed') this.close(`DTLS ${state}`);
    });
    transport.on('icestatechange', (state) => {
      if (state === 'disconnected') log.info(`${kind} session: ICE disconnected`);
    });
  }

  /** Path of the session resource, as given in Location. */
  get location(): string {
    return `/${this.kind}/${encodeURIComponent(this.room)}/${this.id}`;
  }

  get etag(): string {
    return this.#etag;
  }

  get closed(): boolean {
    return this.#closed;
  }

  onClose(listener: () => void): void {
    if (this.#closed) listener();
    else this.#onClose.push(listener);
  }

  /** New server credentials for an ICE restart, and a new entity tag for the session. */
  async restartIce(remoteUfrag: string): Promise<types.IceParameters> {
    const iceParameters = await this.transport.restartIce();
    this.remoteUfrag = remoteUfrag;
    this.#etag = newEtag();
    return iceParameters;
  }

  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.log.info(`${this.kind} session ended`, { reason, sessionId: this.id });
    this.transport.close();
    for (const listener of this.#onClose.splice(0)) listener();
  }
}

function newEtag(): string {
  return `"${randomUUID()}"`;
}

/** The node's WHIP and WHEP sessions by id. */
export class IngestSessions {
  readonly #sessions = new Map<string, IngestSession>();

  add(session: IngestSession): void {
    this.#sessions.set(session.id, session);
    session.onClose(() => this.#sessions.delete(session.id));
  }

  /** The session of that kind in that room, or undefined: ids never resolve across rooms. */
  get(kind: IngestKind, room: string, id: string): IngestSession | undefined {
    const session = this.#sessions.get(id);
    return session && session.kind === kind && session.room === room ? session : undefined;
  }

  count(kind: IngestKind): number {
    let count = 0;
    for (const session of this.#sessions.values()) if (session.kind === kind) count += 1;
    return count;
  }

  inRoom(room: string): IngestSession[] {
    return [...this.#sessions.values()].filter((session) => session.room === room);
  }

  closeAll(reason: string): void {
    for (const session of [...this.#sessions.values()]) session.close(reason);
  }
}
