import type {
  ActiveSpeakers,
  ChatMessage,
  ChatMessageDeleted,
  ChatMuted,
  DataMessage,
  ReactionCounts,
} from './interaction.js';
import type {
  ConsumerInfo,
  ConsumerRequest,
  HandLowered,
  HandRequest,
  InviteEnded,
  Kicked,
  LayersInfo,
  MediaReset,
  MutedByHost,
  ParticipantInfo,
  PublisherLayers,
  QualityReport,
  RoleChanged,
  ScoreInfo,
  ServerDraining,
  StageInfo,
  StageInvite,
  TrackInfo,
  TrackStalled,
  ViewerCount,
  Welcome,
} from './types.js';

export interface ServerToClientEvents {
  welcome: (welcome: Welcome) => void;
  participantJoined: (participant: ParticipantInfo) => void;
  participantLeft: (event: { identity: string }) => void;
  trackPublished: (event: { identity: string; track: TrackInfo }) => void;
  trackUnpublished: (event: { identity: string; trackId: string }) => void;
  newConsumer: (consumer: ConsumerInfo) => void;
  consumerClosed: (event: ConsumerRequest) => void;
  consumerPaused: (event: ConsumerRequest) => void;
  consumerResumed: (event: ConsumerRequest) => void;
  consumerLayersChanged: (event: LayersInfo) => void;
  consumerScore: (event: ScoreInfo) => void;
  /** To hosts: a new (or updated) raised hand. */
  handRaised: (hand: HandRequest) => void;
  /** To hosts and to the participant whose hand it was. */
  handLowered: (event: HandLowered) => void;
  /** To everyone: the stage after any change. */
  stageChanged: (stage: StageInfo) => void;
  /** To the participant whose role changed; the connection stays as it is. */
  roleChanged: (event: RoleChanged) => void;
  /** To the invited participant. */
  inviteReceived: (invite: StageInvite) => void;
  /** To hosts and to the invited participant. */
  inviteEnded: (event: InviteEnded) => void;
  /** To a guest whose track a host muted or unmuted. */
  mutedByHost: (event: MutedByHost) => void;
  /** Media moved to another worker; consumers and producers are gone until re-established. */
  mediaReset: (event: MediaReset) => void;
  /** A track's media stopped (or started again) arriving at the server. */
  trackStalled: (event: TrackStalled) => void;
  /** Every few seconds while it changes: how many watch (the join reply has the first figure). */
  viewerCount: (event: ViewerCount) => void;
  /** To a publisher: which simulcast layers of its track anyone needs (dynacast). */
  publisherLayers: (event: PublisherLayers) => void;
  /** The server is shutting down; it takes no new joins and exits by the deadline. */
  serverDraining: (event: ServerDraining) => void;
  /** To hosts: the room's quality report, every few seconds (see QualityReport). */
  qualityReport: (report: QualityReport) => void;
  /** A participant's details changed (metadata, set over the admin API). */
  participantUpdated: (participant: ParticipantInfo) => void;
  /** Sent before the server closes the connection on its side. */
  kicked: (event: Kicked) => void;
  /** Chat: new messages, oldest first (one at a time in a small room, in batches in a large one). */
  chatMessages: (messages: ChatMessage[]) => void;
  /** A host (or the admin API) deleted a message; drop it from the screen and the history. */
  chatMessageDeleted: (event: ChatMessageDeleted) => void;
  /** To the participant concerned and to hosts. */
  chatMuted: (event: ChatMuted) => void;
  /** Reaction counts since the last event, about once a second while reactions arrive. */
  reactions: (event: ReactionCounts) => void;
  /** Who speaks now, loudest first, when it changes (at most every ACTIVE_SPEAKER_INTERVAL_MS). */
  activeSpeakersChanged: (event: ActiveSpeakers) => void;
  /** An application's data message (see sendData). */
  dataReceived: (message: DataMessage) => void;
}
