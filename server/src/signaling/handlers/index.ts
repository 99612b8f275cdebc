import type { Handler } from '../handler.js';
import { connectTransport } from './connectTransport.js';
import { pauseConsumer, resumeConsumer, setConsumerPreferences } from './consumers.js';
import { join } from './join.js';
import { leave } from './leave.js';
import { produce } from './produce.js';
import { restartIce } from './restartIce.js';
import {
  acceptInvite,
  approveHand,
  declineInvite,
  denyHand,
  inviteToStage,
  leaveStage,
  lowerHand,
  muteParticipant,
  raiseHand,
  removeFromStage,
} from './stage.js';
import { closeTrack, pauseTrack, resumeTrack } from './tracks.js';

export const HANDLERS: readonly Handler[] = [
  join,
  connectTransport,
  produce,
  closeTrack,
  pauseTrack,
  resumeTrack,
  resumeConsumer,
  pauseConsumer,
  setConsumerPreferences,
  leave,
  raiseHand,
  lowerHand,
  approveHand,
  denyHand,
  inviteToStage,
  acceptInvite,
  declineInvite,
  removeFromStage,
  leaveStage,
  muteParticipant,
  restartIce,
] as unknown as readonly Handler[];
