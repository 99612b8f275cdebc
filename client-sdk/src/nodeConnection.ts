import { io, type Socket } from 'socket.io-client';
import { LiveStageError } from './errors.js';
import type { NodeList } from './NodeList.js';
import type {
  ClientToServerEvents,
  ErrorBody,
  HandshakeAuth,
  ServerToClientEvents,
  Welcome,
} from './protocol.js';
import { markStep, type TimingListener } from './timing.js';

export type LiveSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** What every connection to a node is opened with. */
export interface Handshake {
  token: string;
  path: string;
  /** How long a node may take to welcome this client (ms). */
  timeoutMs: number;
  onTiming: TimingListener | undefined;
}

/** A node that welcomed this client. */
export interface Reached {
  socket: LiveSocket;
  welcome: Welcome;
  url: string;
}

/** Why a handshake failed, beyond the error the app sees (kept out of the error object). */
interface Failure {
  /** No answer at all: nothing listens there, or the node did not welcome in time. */
  unreachable: boolean;
  /** A node that refused with UNAVAILABLE and named another to use instead. */
  node: string | undefined;
}

const failures = new WeakMap<LiveStageError, Failure>();

/** The node could not take this client (no answer, or UNAVAILABLE): another one may. */
export function nodeCannotServe(error: unknown): boolean {
  if (!(error instanceof LiveStageError)) return false;
  return error.code === 'UNAVAILABLE' || failures.get(error)?.unreachable === true;
}

export function openSocket(handshake: Handshake, url: string, resume?: string): LiveSocket {
  const auth: HandshakeAuth = resume
    ? { token: handshake.token, resume }
    : { token: handshake.token };
  const socket: LiveSocket = io(url, {
    path: handshake.path,
    auth,
    transports: ['websocket'],
    // Reconnection is the SDK's own (resume first, see LiveRoom), not socket.io's.
    reconnection: false,
    forceNew: true,
  });
  const { onTiming } = handshake;
  if (onTiming) socket.once('connect', () => markStep(onTiming, 'socketConnected'));
  return socket;
}

/**
 * Connects to `url` and waits for its welcome. A refusal naming a better node is followed at
 * once, as long as `nodes` allows it (its ping-pong guard); the URL that answered comes back.
 * Does not change which node `nodes` considers current: the caller does once it settles there.
 */
export async function reachNode(
  nodes: NodeList,
  url: string,
  handshake: Handshake,
  resume?: string,
): Promise<Reached> {
  for (let target = url; ;) {
    const socket = openSocket(handshake, target, resume);
    try {
      return { socket, welcome: await waitForWelcome(socket, handshake.timeoutMs), url: target };
    } catch (error) {
      socket.disconnect();
      const named = error instanceof LiveStageError ? failures.get(error)?.node : undefined;
      if (named === undefined || !nodes.follow(named)) throw error;
      target = named;
    }
  }
}

/**
 * The first connection: the current node, then each other listed node in turn while the ones
 * tried cannot serve (see nodeCannotServe); any other refusal is the answer.
 */
export async function connectToAny(nodes: NodeList, handshake: Handshake): Promise<Reached> {
  let url = nodes.current;
  for (let tried = 1; ; tried += 1) {
    try {
      const reached = await reachNode(nodes, url, handshake);
      nodes.use(reached.url);
      return reached;
    } catch (error) {
      const next = tried < nodes.size && nodeCannotServe(error) ? nodes.alternative() : undefined;
      if (next === undefined) throw error;
      url = next;
    }
  }
}

export function waitForWelcome(socket: LiveSocket, timeoutMs: number): Promise<Welcome> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => finish(failed('TIMEOUT', 'no answer from the server', { unreachable: true })),
      timeoutMs,
    );
    const finish = (result: Welcome | LiveStageError) => {
      clearTimeout(timer);
      socket.off('welcome', onWelcome);
      socket.off('kicked', onKicked);
      socket.off('connect_error', onConnectError);
      if (result instanceof LiveStageError) reject(result);
      else resolve(result);
    };
    const onWelcome = (welcome: Welcome) => finish(welcome);
    const onKicked = (body: ErrorBody) => finish(refused(body));
    const onConnectError = (error: Error & { data?: ErrorBody }) =>
      finish(
        error.data
          ? refused(error.data)
          : failed('INTERNAL', `cannot reach the server: ${error.message}`, { unreachable: true }),
      );
    socket.on('welcome', onWelcome);
    socket.on('kicked', onKicked);
    socket.on('connect_error', onConnectError);
  });
}

function refused(body: ErrorBody): LiveStageError {
  const node = body.code === 'UNAVAILABLE' && typeof body.node === 'string' ? body.node : undefined;
  return failed(body.code, body.message, { unreachable: false, node });
}

function failed(
  code: LiveStageError['code'],
  message: string,
  failure: { unreachable: boolean; node?: string },
): LiveStageError {
  const error = new LiveStageError(code, message);
  failures.set(error, { unreachable: failure.unreachable, node: failure.node });
  return error;
}
