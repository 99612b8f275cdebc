import type { Handler, HandlerTable } from '../handler.js';
import { connectTransport } from './connectTransport.js';
import { pauseConsumer, resumeConsumer, setConsumerPreferences } from './consumers.js';
import { INTERACTION_HANDLERS } from './interaction.js';
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

export const HANDLER_TABLE: HandlerTable = {
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
  ...INTERACTION_HANDLERS,
};

export const HANDLERS = Object.values(HANDLER_TABLE) as readonly Handler[];
