export { LiveRoom } from './LiveRoom.js';
export type {
  ConnectOptions,
  DisconnectReason,
  LiveRoomEvents,
  PublishCameraOptions,
  SendChatOptions,
  SendDataOptions,
  StageSeatOptions,
} from './LiveRoom.js';
export { DELETED_WHILE_AWAY } from './Chat.js';
export { LiveStageError } from './errors.js';
export { BackoffReconnectPolicy } from './ReconnectPolicy.js';
export type {
  BackoffOptions,
  ReconnectContext,
  ReconnectOutcome,
  ReconnectPolicy,
} from './ReconnectPolicy.js';
export { LocalParticipant, Participant, RemoteParticipant } from './participants.js';
export type { ParticipantEvents } from './participants.js';
export { LocalTrack } from './tracks/LocalTrack.js';
export { RemoteTrack } from './tracks/RemoteTrack.js';
export type { Layer } from './tracks/RemoteTrack.js';
export type { VideoResolution } from './video.js';
export type { JoinStep, TimingListener, TimingMark } from './timing.js';
export type * from './protocol.js';
export {
  DEFAULT_CHAT_HISTORY_SIZE,
  ERROR_CODES,
  MAX_CHAT_TEXT_LENGTH,
  MAX_DATA_PAYLOAD_BYTES,
  MAX_DATA_TOPIC_LENGTH,
  REACTIONS,
} from './protocol.js';
