import type { ParticipantInfo, Role, TrackInfo } from './protocol.js';
import type { LocalTrack } from './tracks/LocalTrack.js';
import type { RemoteTrack } from './tracks/RemoteTrack.js';

/** Another participant in the room, as this client sees it. */
export class RemoteParticipant {
  readonly identity: string;
  name: string;
  role: Role;
  metadata: string;
  /** Every track the participant publishes, by track id. */
  readonly publications = new Map<string, TrackInfo>();
  /** The tracks this client receives from the participant, by track id. */
  readonly tracks = new Map<string, RemoteTrack>();

  constructor(info: ParticipantInfo) {
    this.identity = info.identity;
    this.name = info.name;
    this.role = info.role;
    this.metadata = info.metadata;
    for (const track of info.tracks) this.publications.set(track.id, track);
  }
}

/** This client in the room. */
export class LocalParticipant {
  readonly identity: string;
  role: Role;
  readonly tracks = new Map<string, LocalTrack>();

  constructor(identity: string, role: Role) {
    this.identity = identity;
    this.role = role;
  }
}
