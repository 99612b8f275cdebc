import type { LiveStageError } from './errors.js';
import type { RemoteParticipant } from './participants.js';
import type {
  HandLowered,
  HandRequest,
  InviteEnded,
  QualityReport,
  Role,
  RoleChanged,
  StageInfo,
  StageInvite,
  StageSource,
  TrackInfo,
} from './protocol.js';
import type { ReconnectOutcome } from './ReconnectPolicy.js';
import type { LocalTrack } from './tracks/LocalTrack.js';
import type { Layer, RemoteTrack } from './tracks/RemoteTrack.js';

/**
 * Why the room ended for this client: it left; the server ended the connection; it was refused
 * (kicked, with the error); an operator removed it or closed the room (admin API); the network.
 */
export type DisconnectReason =
  'client' | 'server' | 'kicked' | 'removed' | 'room-closed' | 'transport';

export interface LiveRoomEvents {
  participantJoined: [participant: RemoteParticipant];
  participantLeft: [participant: RemoteParticipant];
  /** A participant's metadata changed (admin API). */
  participantUpdated: [participant: RemoteParticipant];
  trackPublished: [track: TrackInfo, participant: RemoteParticipant];
  trackSubscribed: [track: RemoteTrack, participant: RemoteParticipant];
  trackUnsubscribed: [track: RemoteTrack, participant: RemoteParticipant];
  qualityChanged: [track: RemoteTrack, layer: Layer];
  disconnected: [reason: DisconnectReason, error?: LiveStageError];
  /** The connection dropped; the SDK is trying to get back (same participant first). */
  reconnecting: [];
  /**
   * Back: 'resumed' (same participant, ICE restarted, nobody noticed), 'rejoined' (the server
   * had let go; joined again and republished) or 'media-reset' (the server moved the room to a
   * healthy media worker; transports were remade and tracks republished).
   */
  reconnected: [how: ReconnectOutcome | 'media-reset'];
  /** A remote track's media stopped reaching the server (stalled) or came back. */
  trackStalled: [track: RemoteTrack, participant: RemoteParticipant, stalled: boolean];
  /**
   * The server is shutting down and will close this connection within deadlineMs. In a cluster
   * the SDK moves to another node by itself (no reconnecting, no leave and join; tracks are
   * republished and resubscribed as after a media reset).
   */
  serverDraining: [deadlineMs: number];
  /** Hosts: a viewer raised (or re-raised) a hand. */
  handRaised: [hand: HandRequest];
  /** Hosts, and the viewer whose hand it was (reason 'denied' tells a viewer it was refused). */
  handLowered: [event: HandLowered];
  stageChanged: [stage: StageInfo];
  /** This client's own role changed (brought on stage, taken off); the connection stays. */
  roleChanged: [role: Role, event: RoleChanged];
  inviteReceived: [invite: StageInvite];
  inviteEnded: [event: InviteEnded];
  /** A host muted or unmuted one of this client's sources. */
  mutedByHost: [source: StageSource, muted: boolean];
  /** A track of this client went out (also the ones published on stage and after a reset). */
  localTrackPublished: [track: LocalTrack];
  /** How many watch the room changed (see LiveRoom.viewerCount). */
  viewerCountChanged: [count: number];
  /**
   * Hosts only: the room's quality every few seconds (QUALITY_REPORT_INTERVAL_MS): each track's
   * bitrate, loss and score, and each viewer's layer, bitrate, loss, RTT and score.
   */
  qualityReport: [report: QualityReport];
  /** Something went wrong outside any call the app made (e.g. publishing on stage). */
  error: [error: Error];
}

/** How a part of the room tells the app: LiveRoom's own emit. */
export type EmitRoomEvent = <K extends keyof LiveRoomEvents>(
  event: K,
  ...args: LiveRoomEvents[K]
) => boolean;
