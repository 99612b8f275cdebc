import type { LiveStageError } from './errors.js';
import type { RemoteParticipant } from './participants.js';
import type {
  ChatMessage,
  DataMessage,
  HandLowered,
  HandRequest,
  InviteEnded,
  QualityReport,
  ReactionCounts,
  Role,
  RoleChanged,
  StageInfo,
  StageInvite,
  Speaker,
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
  /**
   * A chat message, once each, as they arrive (the room's order, the same for everyone): the
   * room's, and private ones to or from this client (its own too, as soon as either the server's
   * copy or the send's answer comes). After a rejoin or a move, the ones missed while away. The
   * join's history is in LiveRoom.chatHistory instead.
   */
  chatMessage: [message: ChatMessage];
  /**
   * A message was deleted: take it off the screen. `by` is the host's identity, 'admin' (the
   * REST API), or '' (DELETED_WHILE_AWAY) when after a rejoin or a move the server's history no
   * longer has a message this client had (deleted while it was away; by whom is not known).
   */
  chatMessageDeleted: [id: string, by: string];
  /** A host muted or unmuted someone's chat: told to that participant and to hosts. */
  chatMuted: [identity: string, muted: boolean];
  /** Reactions the room sent in the last `windowMs`, about once a second while any arrive. */
  reactions: [counts: ReactionCounts['counts'], windowMs: number];
  /** Who speaks now, loudest first (empty: nobody); see also participant.isSpeaking. */
  activeSpeakersChanged: [speakers: Speaker[]];
  /** An application's data message from another participant (see LiveRoom.sendData). */
  dataReceived: [message: DataMessage];
  /** Something went wrong outside any call the app made (e.g. publishing on stage). */
  error: [error: Error];
}

/** How a part of the room tells the app: LiveRoom's own emit. */
export type EmitRoomEvent = <K extends keyof LiveRoomEvents>(
  event: K,
  ...args: LiveRoomEvents[K]
) => boolean;
