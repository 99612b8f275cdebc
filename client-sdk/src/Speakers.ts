import type { Participant, RemoteParticipant } from './participants.js';
import type { Speaker } from './protocol.js';
import type { RoomContext } from './roomContext.js';

/**
 * Who speaks, from the join reply and the server's reports: the room's list (loudest first) and
 * each participant's `isSpeaking` and `audioLevel`.
 */
export class Speakers {
  readonly #context: RoomContext;
  readonly #participants: ReadonlyMap<string, RemoteParticipant>;
  #speakers: Speaker[] = [];

  constructor(context: RoomContext, participants: ReadonlyMap<string, RemoteParticipant>) {
    this.#context = context;
    this.#participants = participants;
    context.signaling.on('activeSpeakersChanged', ({ speakers }) => this.#update(speakers));
    // The roster heard it first (its listener came first) and has the participant by now.
    context.signaling.on('participantJoined', ({ identity }) => {
      const speaker = this.#speakers.find((s) => s.identity === identity);
      if (speaker) participants.get(identity)?.updateSpeaking(speaker.level);
    });
  }

  /** Loudest first; empty when nobody speaks. */
  get current(): Speaker[] {
    return [...this.#speakers];
  }

  /**
   * A join's answer (the first, or after a rejoin or a move): who speaks now. The app hears
   * `activeSpeakersChanged` only if that is not who it was last told.
   */
  reset(speakers: Speaker[]): void {
    const known = this.#speakers;
    const same =
      speakers.length === known.length &&
      speakers.every((speaker, i) => speaker.identity === known[i]?.identity);
    if (same) this.#apply(speakers);
    else this.#update(speakers);
  }

  #update(speakers: Speaker[]): void {
    this.#apply(speakers);
    this.#context.emit('activeSpeakersChanged', this.current);
  }

  /** Each participant's isSpeaking and audioLevel (a participant tells its own changes). */
  #apply(speakers: Speaker[]): void {
    this.#speakers = speakers;
    const levels = new Map(speakers.map((speaker) => [speaker.identity, speaker.level]));
    const everyone: Participant[] = [
      this.#context.localParticipant,
      ...this.#participants.values(),
    ];
    for (const participant of everyone) {
      participant.updateSpeaking(levels.get(participant.identity));
    }
  }
}
