import { RemoteParticipant } from './participants.js';
import type { ParticipantInfo } from './protocol.js';
import type { RoomContext } from './roomContext.js';

/** Who else is in the room (and what they publish), and how many watch it. */
export class Roster {
  readonly participants = new Map<string, RemoteParticipant>();
  readonly #context: RoomContext;
  #viewerCount = 0;

  /** `participantLeaving` runs before a participant that left is taken off and announced. */
  constructor(context: RoomContext, participantLeaving: (identity: string) => void) {
    this.#context = context;
    const { signaling, emit } = context;
    signaling.on('participantJoined', (info) => emit('participantJoined', this.add(info)));
    signaling.on('participantUpdated', (info) => {
      const participant = this.participants.get(info.identity);
      if (!participant) return;
      participant.name = info.name;
      participant.metadata = info.metadata;
      emit('participantUpdated', participant);
    });
    signaling.on('participantLeft', ({ identity }) => {
      const participant = this.participants.get(identity);
      if (!participant) return;
      participantLeaving(identity);
      this.participants.delete(identity);
      emit('participantLeft', participant);
    });
    signaling.on('trackPublished', ({ identity, track }) => {
      const participant = this.participants.get(identity);
      if (!participant) return;
      participant.publications.set(track.id, track);
      emit('trackPublished', track, participant);
    });
    signaling.on('trackUnpublished', ({ identity, trackId }) => {
      this.participants.get(identity)?.publications.delete(trackId);
    });
    signaling.on('viewerCount', ({ count }) => this.setViewerCount(count));
  }

  /** How many watch the room (the audience); the server updates it every few seconds. */
  get viewerCount(): number {
    return this.#viewerCount;
  }

  setViewerCount(count: number): void {
    if (!Number.isInteger(count) || count < 0 || count === this.#viewerCount) return;
    this.#viewerCount = count;
    this.#context.emit('viewerCountChanged', count);
  }

  /** A join's participants, taken without telling the app (they were there before it looked). */
  addAll(infos: readonly ParticipantInfo[]): void {
    for (const info of infos) this.add(info);
  }

  /** The server let go of this client: everyone it knew leaves, as far as the app can tell. */
  leaveAll(): void {
    for (const participant of [...this.participants.values()]) {
      this.participants.delete(participant.identity);
      this.#context.emit('participantLeft', participant);
    }
  }

  /** Everyone present joined (after a rejoin made them new). */
  announceAll(): void {
    for (const participant of this.participants.values()) {
      this.#context.emit('participantJoined', participant);
    }
  }

  /** After a move: the same people keep their objects; only real comings and goings are told. */
  keep(infos: readonly ParticipantInfo[]): void {
    const { emit } = this.#context;
    const present = new Set(infos.map((info) => info.identity));
    for (const participant of [...this.participants.values()]) {
      if (present.has(participant.identity)) continue;
      this.participants.delete(participant.identity);
      emit('participantLeft', participant);
    }
    for (const info of infos) {
      const known = this.participants.get(info.identity);
      if (!known) {
        emit('participantJoined', this.add(info));
        continue;
      }
      known.name = info.name;
      known.role = info.role;
      known.metadata = info.metadata;
      known.publications.clear();
      for (const track of info.tracks) known.publications.set(track.id, track);
    }
  }

  add(info: ParticipantInfo): RemoteParticipant {
    const participant = new RemoteParticipant(info);
    this.participants.set(info.identity, participant);
    return participant;
  }
}
