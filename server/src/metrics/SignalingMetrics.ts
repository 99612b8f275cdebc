import type { ErrorBody } from '@livestage/protocol';

/** What the signaling server reports to metrics; kept free of prom-client. */
export interface SignalingMetrics {
  /** A request or a connection was refused with this error code. */
  refused(code: string): void;
  /** A participant's join was acknowledged this long after its socket connected. */
  joined(seconds: number): void;
}

export const NO_SIGNALING_METRICS: SignalingMetrics = {
  refused: () => undefined,
  joined: () => undefined,
};

/** Counts a connection refusal on its way out. */
export function countedRefusal(metrics: SignalingMetrics, refusal: ErrorBody): ErrorBody {
  metrics.refused(refusal.code);
  return refusal;
}

/**
 * Wraps a request's ack (anything else is returned as it is) so that a refusal is counted by
 * its code and, for a join (`connectedAt` set: the socket's handshake time, ms since the
 * epoch), an acceptance is timed from the connection.
 */
export function meterAck(ack: unknown, metrics: SignalingMetrics, connectedAt?: number): unknown {
  if (typeof ack !== 'function') return ack;
  return (response: unknown) => {
    const answer = response as { ok?: boolean; error?: { code?: unknown } } | undefined;
    if (answer?.ok === false) metrics.refused(String(answer.error?.code ?? 'INTERNAL'));
    else if (answer?.ok === true && connectedAt !== undefined) {
      metrics.joined(Math.max(0, Date.now() - connectedAt) / 1000);
    }
    (ack as (response: unknown) => void)(response);
  };
}
