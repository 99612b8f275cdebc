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
