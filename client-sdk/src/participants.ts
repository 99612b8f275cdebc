import { TypedEmitter } from './events.js';
import type { ParticipantInfo, Role, TrackInfo } from './protocol.js';
import type { LocalTrack } from './tracks/LocalTrack.js';
import type { RemoteTrack } from './tracks/RemoteTrack.js';

export interface ParticipantEvents {
  /** The participant started or stopped speaking (the server's active-speaker reports). */
  speakingChanged: [speaking: boolean];
}

/** What every participant has: whether it speaks, from the server's active-speaker reports. */
export abstract class Participant extends TypedEmitter<ParticipantEvents> {
  readonly identity: string;
  #isSpeaking = false;
  #audioLevel = 0;

  constructor(identity: string) {
    super();
    this.identity = identity;
  }

  /** Among the room's active speakers now. */
  get isSpeaking(): boolean {
    return this.#isSpeaking;
  }

  /** 0 (silent) to 1 (full scale), as the server last measured it; 0 while not speaking. */
  get audioLevel(): number {
    return this.#audioLevel;
  }

  /** For the SDK: the level the server reported for this participant (undefined: silent). */
  updateSpeaking(level: number | undefined): void {
    const speaking = level !== undefined;
    this.#audioLevel = level ?? 0;
    if (speaking === this.#isSpeaking) return;
    this.#isSpeaking = speaking;
    this.emit('speakingChanged', speaking);
  }
}

/** Another participant in the room, as this client sees it. */
export class RemoteParticipant extends Participant {
  name: string;
  role: Role;
  metadata: string;
  /** Every track the participant publishes, by track id. */
  readonly publications = new Map<string, TrackInfo>();
  /** The tracks this client receives from the participant, by track id. */
  readonly tracks = new Map<string, RemoteTrack>();

  constructor(info: ParticipantInfo) {
    super(info.identity);
    this.name = info.name;
    this.role = info.role;
    this.metadata = info.metadata;
    for (const track of info.tracks) this.publications.set(track.id, track);
  }
}

/** This client in the room. */
export class LocalParticipant extends Participant {
  role: Role;
  readonly tracks = new Map<string, LocalTrack>();

  constructor(identity: string, role: Role) {
    super(identity);
    this.role = role;
  }
}
