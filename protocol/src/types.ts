// Payloads of the signaling contract: what requests answer and what the server sends.
import type { types as mediasoupTypes } from 'mediasoup-client';
import type { ErrorBody } from './errors.js';
import type { ChatState, Speaker } from './interaction.js';

export type RtpCapabilities = mediasoupTypes.RtpCapabilities;
export type RtpParameters = mediasoupTypes.RtpParameters;
export type DtlsParameters = mediasoupTypes.DtlsParameters;
export type IceParameters = mediasoupTypes.IceParameters;
export type IceCandidate = mediasoupTypes.IceCandidate;
export type MediaKind = mediasoupTypes.MediaKind;

export type Role = 'host' | 'guest' | 'audience';
export type TrackSource = 'camera' | 'microphone' | 'screen' | 'screen-audio';

export interface TrackInfo {
  /** The producer id on the server; stable for the life of the track. */
  id: string;
  kind: MediaKind;
  source: TrackSource;
  /** Number of simulcast spatial layers (1 when not simulcast). */
  spatialLayers: number;
  paused: boolean;
}

export interface ParticipantInfo {
  identity: string;
  name: string;
  role: Role;
  metadata: string;
  tracks: TrackInfo[];
}

export interface TransportOptions {
  id: string;
  iceParameters: IceParameters;
  iceCandidates: IceCandidate[];
  dtlsParameters: DtlsParameters;
}

export interface Welcome {
  routerRtpCapabilities: RtpCapabilities;
  identity: string;
  role: Role;
  roomName: string;
  /** True when this connection took an existing participant back (resume after a drop). */
  resumed: boolean;
  /** Send as `auth.resume` when reconnecting to resume instead of rejoining; changes each time. */
  resumeCredential: string;
}

/** What the client sends in the socket.io handshake `auth`. */
export interface HandshakeAuth {
  token: string;
  resume?: string;
}

export interface JoinRequest {
  rtpCapabilities: RtpCapabilities;
}

export interface JoinResponse {
  self: ParticipantInfo;
  participants: ParticipantInfo[];
  /** Who is on stage now. */
  stage: StageInfo;
  /** Raised hands waiting for a decision; filled for hosts only (empty for everyone else). */
  handQueue: HandRequest[];
  /** Created at join for everyone who may subscribe, so consumers can follow at once. */
  recvTransport: TransportOptions | null;
  /** Created at join for everyone who may publish. */
  sendTransport: TransportOptions | null;
  /** How many watch the room now (see ViewerCount); updated by `viewerCount` events. */
  viewerCount: number;
  /** The room's recent chat and whether this participant may write in it. */
  chat: ChatState;
  /** Who speaks now, loudest first (then `activeSpeakersChanged` events). */
  speakers: Speaker[];
}

export interface ConnectTransportRequest {
  transportId: string;
  dtlsParameters: DtlsParameters;
}

export interface ProduceRequest {
  transportId: string;
  kind: MediaKind;
  rtpParameters: RtpParameters;
  source: TrackSource;
}

export interface ProduceResponse {
  trackId: string;
}

export interface ConsumerRequest {
  consumerId: string;
}

export type QualityPreference = 'low' | 'medium' | 'high' | 'auto';

/** A consumer the server created for this participant; it starts paused until resumed. */
export interface ConsumerInfo {
  consumerId: string;
  trackId: string;
  identity: string;
  kind: MediaKind;
  source: TrackSource;
  rtpParameters: RtpParameters;
  producerPaused: boolean;
}

export interface LayersInfo {
  consumerId: string;
  /** null when no layer is being forwarded (not enough bandwidth, or paused). */
  spatialLayer: number | null;
  temporalLayer: number | null;
}

export interface ScoreInfo {
  consumerId: string;
  score: number;
  producerScore: number;
}

/** What a guest may publish while on stage; hosts choose it when they approve or invite. */
export type StageSource = 'microphone' | 'camera' | 'screen';

export interface StageMember {
  identity: string;
  name: string;
  role: 'host' | 'guest';
  /** What the member may publish (hosts: everything their token allows). */
  sources: StageSource[];
  /** Sources a host has muted; the member cannot unmute them. */
  mutedByHost: StageSource[];
}

export interface StageInfo {
  /** Hosts first, then guests in the order they came on stage. */
  members: StageMember[];
  /** How many guests the stage holds (hosts do not count). */
  maxGuests: number;
}

export interface HandRequest {
  identity: string;
  name: string;
  message: string;
  /** Epoch milliseconds. */
  raisedAt: number;
  /** Epoch milliseconds after which the request lapses. */
  expiresAt: number;
}

export type HandLoweredReason = 'lowered' | 'approved' | 'denied' | 'expired' | 'left';

export interface HandLowered {
  identity: string;
  reason: HandLoweredReason;
}

export interface StageInvite {
  from: string;
  sources: StageSource[];
  expiresAt: number;
}

export type InviteEndedReason = 'accepted' | 'declined' | 'expired' | 'left' | 'cancelled';

export interface InviteEnded {
  identity: string;
  reason: InviteEndedReason;
}

export type RoleChangeReason =
  'approved' | 'invite-accepted' | 'removed-by-host' | 'left-stage' | 'token';

export interface RoleChanged {
  role: Role;
  /** What this participant may publish now (empty when back in the audience). */
  sources: StageSource[];
  /** A send transport for a participant that just came on stage, so it can publish at once. */
  sendTransport: TransportOptions | null;
  reason: RoleChangeReason;
}

export interface MutedByHost {
  source: StageSource;
  muted: boolean;
}

export interface RestartIceResponse {
  iceParameters: IceParameters;
}

/** After a media worker died: the room moved; make new transports and publish again. */
export interface MediaReset {
  routerRtpCapabilities: RtpCapabilities;
  recvTransport: TransportOptions | null;
  sendTransport: TransportOptions | null;
}

export interface TrackStalled {
  identity: string;
  trackId: string;
  /** true: no media has arrived at the server for a while; false: it flows again. */
  stalled: boolean;
}

/**
 * Sent to everyone every few seconds while it changes. In a large room the audience does not
 * hear of each other's joins and leaves (presence would cost N² messages); this is how they
 * know how many watch. Counts the audience (joined, not hidden, not on stage).
 */
export interface ViewerCount {
  count: number;
}

/**
 * Dynacast, to a publisher: encode the simulcast layers 0..maxSpatialLayer of this track; nobody
 * watches the ones above. Sent when the need changes; a new track starts with every layer on.
 */
export interface PublisherLayers {
  trackId: string;
  maxSpatialLayer: number;
}

export interface ServerDraining {
  /** The server exits at the latest this many ms from now. */
  deadlineMs: number;
  /**
   * In a cluster: the node to move to. A client that joins there keeps its place in the room
   * (others see no leave and no join; a guest keeps its seat) and should republish its tracks.
   */
  moveTo?: string;
}

/** One simulcast layer (or the single stream) of a published track, as the server receives it. */
export interface LayerQuality {
  /** The layer's RID, or null for a track without simulcast. */
  rid: string | null;
  /** Bits per second. */
  bitrate: number;
  /** mediasoup's 0–10 score of the stream. */
  score: number;
}

/** A published track's health as it reaches the server. */
export interface TrackQuality {
  trackId: string;
  identity: string;
  kind: MediaKind;
  source: TrackSource;
  paused: boolean;
  /** Bits per second, every layer together. */
  bitrate: number;
  layers: LayerQuality[];
  /** Packets lost on the way to the server (cumulative) and the last fraction lost (0–1). */
  packetsLost: number;
  fractionLost: number;
  /** Interarrival jitter, in ms. */
  jitterMs: number;
  /** The worst layer's score, 0–10. */
  score: number;
}

/** One viewer's subscription to one track, as the server sends it. */
export interface SubscriptionQuality {
  /** The subscriber. */
  identity: string;
  trackId: string;
  /** The publisher. */
  publisher: string;
  kind: MediaKind;
  /** The simulcast layer it receives now (null: none, or no simulcast). */
  spatialLayer: number | null;
  temporalLayer: number | null;
  paused: boolean;
  bitrate: number;
  /** Packets the subscriber reports lost (cumulative) and the last fraction lost (0–1). */
  packetsLost: number;
  fractionLost: number;
  /** Round-trip time to the subscriber, in ms, when the worker knows it. */
  rttMs: number | null;
  /** How well this subscriber receives (0–10), and how well the publisher sends. */
  score: number;
  producerScore: number;
}

/** A room's quality every QUALITY_REPORT_INTERVAL_MS: to hosts, webhooks and the REST API. */
export interface QualityReport {
  room: string;
  /** When it was taken (ms since the epoch). */
  at: number;
  viewerCount: number;
  tracks: TrackQuality[];
  subscriptions: SubscriptionQuality[];
}

/** Why the server ended a participant's session on purpose (over the admin API). */
export type KickReason = 'removed' | 'room-closed';

/** The last word before the server closes the connection; `reason` when it was on purpose. */
export interface Kicked extends ErrorBody {
  reason?: KickReason;
}
