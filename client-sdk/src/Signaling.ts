import { LiveStageError } from './errors.js';
import type { LiveSocket } from './nodeConnection.js';
import type { Ack, ClientToServerEvents, ResponseOf, ServerToClientEvents } from './protocol.js';

export type RequestEvent = keyof ClientToServerEvents;
export type RequestOf<E extends RequestEvent> = Parameters<ClientToServerEvents[E]>[0];
export type ServerEvent = keyof ServerToClientEvents;

/**
 * The signaling connection: typed requests, and the server's events on whichever socket is
 * current. Each part of a room subscribes once to the events it owns; a socket adopted later (a
 * reconnect, a move to another node) is wired the same way, and the one it replaces goes deaf.
 */
export class Signaling {
  #socket: LiveSocket;
  /** The previous node's connection during a move, closed once the move is done. */
  #leaving: LiveSocket | undefined;
  readonly #timeoutMs: number;
  readonly #wirings: ((socket: LiveSocket) => void)[] = [];
  /** What the previous node's connection is still heard for during a move. */
  readonly #previousWirings: ((socket: LiveSocket) => void)[] = [];
  #ended = false;

  constructor(socket: LiveSocket, timeoutMs: number) {
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
  }

  /** The connection whose events count. */
  get socket(): LiveSocket {
    return this.#socket;
  }

  /** The room is over (left, kicked, gave up): nothing reconnects any more. */
  get ended(): boolean {
    return this.#ended;
  }

  get connected(): boolean {
    return !this.#ended && this.#socket.connected;
  }

  /** `listener` hears `event` from the current connection and from every one adopted later. */
  on<E extends ServerEvent>(event: E, listener: ServerToClientEvents[E]): void {
    this.onEachSocket((socket) => socket.on(event, listener as never));
  }

  /**
   * `wire` runs for the current connection and for every one adopted later: for listeners that
   * must know which connection spoke (its lifecycle: disconnect, kicked, draining).
   */
  onEachSocket(wire: (socket: LiveSocket) => void): void {
    this.#wirings.push(wire);
    wire(this.#socket);
  }

  /**
   * During a move, `listener` hears `event` from the previous node's connection too, from the
   * moment the new connection takes over until hearPreviousNoMore() (the new node's join answer):
   * what the previous node sends meanwhile (to a participant the new node did not have yet) is
   * not lost. What happens after the new node's join comes from both nodes: dedupe it.
   */
  onPreviousDuringMove<E extends ServerEvent>(event: E, listener: ServerToClientEvents[E]): void {
    this.#previousWirings.push((socket) => socket.on(event, listener as never));
  }

  async request<E extends RequestEvent>(event: E, payload: RequestOf<E>): Promise<ResponseOf<E>> {
    let response: Ack<ResponseOf<E>>;
    try {
      const emitter = this.#socket.timeout(this.#timeoutMs) as unknown as {
        emitWithAck(event: E, payload: RequestOf<E>): Promise<Ack<ResponseOf<E>>>;
      };
      response = await emitter.emitWithAck(event, payload);
    } catch {
      throw new LiveStageError('TIMEOUT', `${event} got no answer in ${this.#timeoutMs} ms`);
    }
    if (!response.ok) throw LiveStageError.from(response.error);
    return response.data;
  }

  /** `socket` becomes the connection whose events count; the previous one is returned, deaf. */
  adopt(socket: LiveSocket): LiveSocket {
    const previous = this.#socket;
    previous.removeAllListeners();
    this.#socket = socket;
    for (const wire of this.#wirings) wire(socket);
    return previous;
  }

  /**
   * A move: `socket` takes over; the previous connection stays open until released, heard only
   * for what onPreviousDuringMove asked, until hearPreviousNoMore().
   */
  adoptKeepingPrevious(socket: LiveSocket): void {
    const previous = this.adopt(socket);
    this.#leaving = previous;
    for (const wire of this.#previousWirings) wire(previous);
  }

  /** The new node answered the join: from now on it tells everything, the previous one nothing. */
  hearPreviousNoMore(): void {
    this.#leaving?.removeAllListeners();
  }

  /** The move is done (or given up): the previous node's connection closes. */
  releasePrevious(): void {
    this.#leaving?.removeAllListeners();
    this.#leaving?.disconnect();
    this.#leaving = undefined;
  }

  /** The current connection goes deaf and closes; reconnecting brings the next one. */
  abandonCurrent(): void {
    this.#socket.removeAllListeners();
    this.#socket.disconnect();
  }

  /** Marks the room over; false when it already was. The sockets close with disconnect(). */
  end(): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    return true;
  }

  disconnect(): void {
    this.#socket.disconnect();
    this.#leaving?.disconnect();
  }
}
