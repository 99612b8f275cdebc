export { LiveRoom } from './LiveRoom.js';
export type {
  ConnectOptions,
  DisconnectReason,
  LiveRoomEvents,
  PublishCameraOptions,
  StageSeatOptions,
} from './LiveRoom.js';
export { LiveStageError } from './errors.js';
export { BackoffReconnectPolicy } from './ReconnectPolicy.js';
export type {
  BackoffOptions,
  ReconnectContext,
  ReconnectOutcome,
  ReconnectPolicy,
} from './ReconnectPolicy.js';
export { LocalParticipant, RemoteParticipant } from './participants.js';
export { LocalTrack } from './tracks/LocalTrack.js';
export { RemoteTrack } from './tracks/RemoteTrack.js';
export type { Layer } from './tracks/RemoteTrack.js';
export type { VideoResolution } from './video.js';
export type { JoinStep, TimingListener, TimingMark } from './timing.js';
export type * from './protocol.js';
export { ERROR_CODES } from './protocol.js';
