import type { Handshake } from './nodeConnection.js';
import { NodeList } from './NodeList.js';
import { BackoffReconnectPolicy, type ReconnectPolicy } from './ReconnectPolicy.js';
import type { TimingListener } from './timing.js';

export interface ConnectOptions {
  /** How long one request may take before it fails with TIMEOUT (ms). */
  requestTimeoutMs?: number;
  /** socket.io path on the server. */
  path?: string;
  /** Publish the allowed microphone and camera as soon as a host brings this client on stage. */
  autoPublishOnStage?: boolean;
  /** When and how often to retry after the connection drops (default: backoff with jitter). */
  reconnectPolicy?: ReconnectPolicy;
  /** Diagnostics: called at each step of the join (see JoinStep); nothing is measured without it. */
  onTiming?: TimingListener;
}

/** Everything needed to open (and reopen) the connection. */
export interface Session extends Handshake {
  nodes: NodeList;
  autoPublishOnStage: boolean;
  reconnectPolicy: ReconnectPolicy;
}

/** connect()'s arguments with the defaults filled in. */
export function sessionOf(
  url: string | readonly string[],
  token: string,
  options: ConnectOptions,
): Session {
  return {
    nodes: new NodeList(url),
    token,
    path: options.path ?? '/socket.io',
    timeoutMs: options.requestTimeoutMs ?? 10_000,
    autoPublishOnStage: options.autoPublishOnStage ?? true,
    reconnectPolicy: options.reconnectPolicy ?? new BackoffReconnectPolicy(),
    onTiming: options.onTiming,
  };
}
