import type { LocalParticipant } from './participants.js';
import type { EmitRoomEvent } from './roomEvents.js';
import type { Signaling } from './Signaling.js';
import type { JoinStep, TimingMark } from './timing.js';

/** What every part of a LiveRoom is given: the connection, this client, and ways to tell the app. */
export interface RoomContext {
  readonly signaling: Signaling;
  readonly localParticipant: LocalParticipant;
  /** One of LiveRoom's events (LiveRoomEvents), to the app. */
  readonly emit: EmitRoomEvent;
  /** Something failed that no caller awaits: the app hears of it through 'error'. */
  readonly reportError: (error: unknown) => void;
  /** Diagnostics: a step of the join (ConnectOptions.onTiming); nothing happens without it. */
  readonly mark: (step: JoinStep, detail?: Omit<TimingMark, 'step' | 'at'>) => void;
}
