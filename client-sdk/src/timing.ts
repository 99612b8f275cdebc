/**
 * The steps of a join that `ConnectOptions.onTiming` reports, roughly in the order they happen.
 * The consumer steps come once per consumer (audio and video); after a reconnect they come again.
 */
export type JoinStep =
  /** The signaling socket is open. */
  | 'socketConnected'
  | 'welcome'
  /** The mediasoup Device knows the router's and the browser's codecs. */
  | 'deviceLoaded'
  | 'joinSent'
  | 'joinAnswered'
  /** The server announced a consumer (newConsumer). */
  | 'consumerAnnounced'
  /** The receiving transport's DTLS parameters went to the server (connectTransport). */
  | 'transportConnectSent'
  | 'transportConnectAnswered'
  /** mediasoup-client made the consumer: its track exists. */
  | 'consumerCreated'
  | 'resumeSent'
  | 'resumeAnswered'
  | 'trackSubscribed';

export interface TimingMark {
  step: JoinStep;
  /** performance.now() when the step happened. */
  at: number;
  kind?: 'audio' | 'video';
  consumerId?: string;
  transportId?: string;
}

/** Diagnostics only: called synchronously, so it should return at once. */
export type TimingListener = (mark: TimingMark) => void;

/** Calls `listener` (if any) with a mark for `step`; a listener that throws is ignored. */
export function markStep(
  listener: TimingListener | undefined,
  step: JoinStep,
  detail: Omit<TimingMark, 'step' | 'at'> = {},
): void {
  if (!listener) return;
  try {
    listener({ step, at: performance.now(), ...detail });
  } catch {
    // A diagnostic hook must never break the join it watches.
  }
}
