import { LiveStageError } from './errors.js';
import { nodeCannotServe, reachNode, type LiveSocket, type Reached } from './nodeConnection.js';
import type { JoinResponse, Kicked, TransportOptions } from './protocol.js';
import type { Publishing } from './Publishing.js';
import { runReconnectLoop, type ReconnectOutcome } from './ReconnectPolicy.js';
import type { RoomContext } from './roomContext.js';
import type { DisconnectReason } from './roomEvents.js';
import type { Roster } from './Roster.js';
import type { Session } from './session.js';
import type { Subscriptions } from './Subscriptions.js';
import type { Transports } from './Transports.js';

/** The parts a recovery takes apart and puts back together, and the room's own join and end. */
export interface RecoveryParts {
  roster: Roster;
  subscriptions: Subscriptions;
  publishing: Publishing;
  transports: Transports;
  /** Joins on the current connection and applies the answer (LiveRoom's join). */
  join(takeParticipants: (joined: JoinResponse) => void): Promise<void>;
  /** Ends the room for good. */
  teardown(reason: DisconnectReason, error?: LiveStageError): void;
}

/** Retrying cannot help with these: the token is no good, or the room will not have us. */
const FATAL_ON_RECONNECT = new Set(['UNAUTHORIZED', 'FORBIDDEN', 'ROOM_FULL']);

/** A draining node's clients move within this long (at most a quarter of its deadline). */
const MOVE_SPREAD_MS = 2000;

/**
 * Getting back after the connection drops (resume the same participant, else rejoin), moving
 * off a node that drains, following a node that sends this client elsewhere, and a media reset
 * (the room moved to another media worker). It owns the connection's lifecycle events.
 */
export class Reconnection {
  readonly #context: RoomContext;
  readonly #session: Session;
  readonly #parts: RecoveryParts;
  #resumeCredential: string;
  #reconnecting = false;
  /** Moving to another node because this one drains. */
  #moving = false;
  /** Cuts the current backoff wait short (the browser says the network is back). */
  #wakeReconnect: (() => void) | undefined;

  constructor(
    context: RoomContext,
    session: Session,
    resumeCredential: string,
    parts: RecoveryParts,
  ) {
    this.#context = context;
    this.#session = session;
    this.#resumeCredential = resumeCredential;
    this.#parts = parts;
    const { signaling, emit } = context;
    signaling.on('mediaReset', ({ recvTransport, sendTransport }) =>
      this.#onMediaReset(recvTransport, sendTransport),
    );
    signaling.onEachSocket((socket) => {
      /** This node said it drains: when it closes the connection, another node takes over. */
      let draining = false;
      socket.on('serverDraining', ({ deadlineMs, moveTo }) => {
        draining = true;
        emit('serverDraining', deadlineMs);
        this.#moveAway(socket, deadlineMs, moveTo);
      });
      socket.on('kicked', (body) => this.#onKicked(socket, body));
      socket.on('disconnect', (reason) => {
        if (socket !== signaling.socket || signaling.ended) return;
        if (reason === 'io client disconnect') parts.teardown('client');
        else if (reason === 'io server disconnect' && !(draining && session.nodes.leave())) {
          parts.teardown('server');
        } else this.#start();
      });
    });
  }

  /** Trying to get back after the connection dropped. */
  get reconnecting(): boolean {
    return this.#reconnecting;
  }

  /**
   * A node refusing this client with UNAVAILABLE (over its budget, draining) sends it to the
   * node it names, or to the next listed one; anything else ends the room as before.
   */
  #onKicked(socket: LiveSocket, body: Kicked): void {
    const { signaling } = this.#context;
    if (socket !== signaling.socket || signaling.ended) return;
    if (body.code === 'UNAVAILABLE' && !this.#reconnecting && this.#sentElsewhere(body.node)) {
      signaling.abandonCurrent();
      this.#start();
      return;
    }
    this.#parts.teardown(body.reason ?? 'kicked', LiveStageError.from(body));
  }

  /** True when there is a node to go to after the current one sent this client away. */
  #sentElsewhere(named: string | undefined): boolean {
    const nodes = this.#session.nodes;
    if (named === undefined) return nodes.leave();
    if (!nodes.follow(named)) return false;
    nodes.use(named);
    return true;
  }

  #start(): void {
    this.#reconnect().catch((error: unknown) =>
      this.#parts.teardown('transport', asLiveStageError(error, 'could not reconnect')),
    );
  }

  async #reconnect(): Promise<void> {
    const { signaling, emit } = this.#context;
    if (this.#reconnecting || signaling.ended) return;
    this.#reconnecting = true;
    emit('reconnecting');
    const onOnline = () => this.#wakeReconnect?.();
    if (typeof window !== 'undefined') window.addEventListener('online', onOnline);
    let result: Awaited<ReturnType<typeof runReconnectLoop>>;
    try {
      result = await runReconnectLoop({
        policy: this.#session.reconnectPolicy,
        attempt: () => this.#reestablish(),
        isFatal: (error) => error instanceof LiveStageError && FATAL_ON_RECONNECT.has(error.code),
        isClosed: () => signaling.ended,
        sleep: (ms) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, ms);
            this.#wakeReconnect = () => {
              clearTimeout(timer);
              resolve();
            };
          }),
      });
    } finally {
      if (typeof window !== 'undefined') window.removeEventListener('online', onOnline);
      this.#wakeReconnect = undefined;
      this.#reconnecting = false;
    }
    if (signaling.ended) return;
    if ('outcome' in result) emit('reconnected', result.outcome);
    else this.#parts.teardown('transport', asLiveStageError(result.error, 'could not reconnect'));
  }

  /**
   * One attempt: resume the same participant if the server still has it, else join afresh. A
   * node that does not know this participant (another node of a cluster) welcomes it as new.
   */
  async #reestablish(): Promise<ReconnectOutcome> {
    const { socket, welcome, url } = await this.#reachForReconnect();
    this.#session.nodes.use(url);
    this.#context.signaling.adopt(socket).disconnect();
    if (welcome.resumed) {
      this.#resumeCredential = welcome.resumeCredential;
      await this.#parts.transports.restartIce();
      return 'resumed';
    }
    await this.#rejoin(welcome.resumeCredential);
    return 'rejoined';
  }

  /**
   * The node in use first: it still holds this participant for a resume, and when every node
   * fails alike it is this client's network that is down, not the node. When it cannot serve
   * (no answer, UNAVAILABLE), the next listed node is tried at once; the next attempt goes on
   * from there.
   */
  async #reachForReconnect(): Promise<Reached> {
    const { nodes } = this.#session;
    try {
      return await reachNode(nodes, nodes.current, this.#session, this.#resumeCredential);
    } catch (error) {
      const other = nodeCannotServe(error) ? nodes.alternative() : undefined;
      if (other === undefined) throw error;
      return reachNode(nodes, other, this.#session, this.#resumeCredential);
    }
  }

  /**
   * The server no longer had this participant: start over on the new connection. The resume
   * credential is taken once the join is done: should the join fail, the next attempt must not
   * resume a participant that never joined.
   */
  async #rejoin(resumeCredential: string): Promise<void> {
    const { roster, subscriptions, publishing, join } = this.#parts;
    // Consumers of the participant the server let go of: none of them exists any more.
    subscriptions.forgetAnnounced();
    subscriptions.dropAll();
    roster.leaveAll();
    publishing.holdForRepublish();
    await join((joined) => roster.addAll(joined.participants));
    this.#resumeCredential = resumeCredential;
    roster.announceAll();
    await publishing.republishInOrder();
  }

  /**
   * The node drains: move to another before it closes. After a short random wait (a node's
   * whole audience must not arrive at once), a new connection joins there while media still
   * flows here; on its answer the media switches as after a media reset (remote tracks are
   * resubscribed, local ones republished), then the old connection closes. Nobody, the app
   * included, sees this participant leave or join. Until the new node's join answer, chat, data
   * and chat mutes are heard from both connections (Signaling.onPreviousDuringMove). If the
   * other node cannot be reached, this one is used until it closes, and reconnecting takes over
   * as usual.
   */
  #moveAway(socket: LiveSocket, deadlineMs: number, moveTo: string | undefined): void {
    if (this.#moving || this.#reconnecting || socket !== this.#context.signaling.socket) return;
    const target = this.#session.nodes.moveTarget(moveTo);
    if (target === undefined) return;
    this.#moving = true;
    const spreadMs = Math.random() * Math.min(MOVE_SPREAD_MS, deadlineMs / 4);
    setTimeout(() => {
      this.#move(socket, target)
        .catch((error: unknown) => this.#context.reportError(error))
        .finally(() => {
          this.#moving = false;
        });
    }, spreadMs);
  }

  async #move(from: LiveSocket, target: string): Promise<void> {
    const { signaling } = this.#context;
    const { roster, subscriptions, publishing, join } = this.#parts;
    const stillHere = () => from === signaling.socket && !signaling.ended && !this.#reconnecting;
    if (!stillHere()) return;
    let reached: Reached;
    try {
      // No resume credential: that participant lives on the old node; this one joins anew.
      reached = await reachNode(this.#session.nodes, target, this.#session);
    } catch {
      return; // stay: when this node closes, reconnecting takes over
    }
    if (!stillHere()) {
      reached.socket.disconnect();
      return;
    }
    this.#session.nodes.use(reached.url);
    signaling.adoptKeepingPrevious(reached.socket);
    try {
      subscriptions.forgetAnnounced();
      publishing.holdForRepublish();
      // Until this answer, the previous node's chat and data still count (onPreviousDuringMove):
      // this participant was not in the new node's room before its join.
      await join((joined) => {
        signaling.hearPreviousNoMore();
        roster.keep(joined.participants);
      });
      this.#resumeCredential = reached.welcome.resumeCredential;
      await publishing.republishInOrder();
    } catch (error) {
      // Half-way through: start over the ordinary way (this connection, if it drops, already has).
      if (signaling.socket === reached.socket && !signaling.ended && !this.#reconnecting) {
        signaling.abandonCurrent();
        this.#start();
      }
      throw error;
    } finally {
      signaling.releasePrevious();
    }
  }

  /** The room moved to another media worker: new transports, same captures on new producers. */
  #onMediaReset(recv: TransportOptions | null, send: TransportOptions | null): void {
    const { subscriptions, publishing, transports } = this.#parts;
    subscriptions.dropAll();
    publishing.holdForRepublish();
    transports.open(recv, send);
    publishing.republishInOrder().then(
      () => this.#context.emit('reconnected', 'media-reset'),
      (error: unknown) => this.#context.reportError(error),
    );
  }
}

function asLiveStageError(error: unknown, message: string): LiveStageError {
  return error instanceof LiveStageError ? error : new LiveStageError('TIMEOUT', message);
}
