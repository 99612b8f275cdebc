import { z } from 'zod';
import { ROLES, grantsSchema } from '../auth/grants.js';
import { identitySchema } from '../auth/tokens.js';

/** The schemas the HTTP API shares: path parameters and what it says about participants. */
export const roomNameSchema = grantsSchema.shape.room;

export const roomParams = z.object({ room: roomNameSchema });
export const participantParams = z.object({ room: roomNameSchema, identity: identitySchema });
export const trackParams = participantParams.extend({ trackId: z.string().min(1).max(64) });

export const stageSourceSchema = z.enum(['microphone', 'camera', 'screen']);

export const trackSchema = z.object({
  id: z.string().meta({ description: 'the track (producer) id' }),
  kind: z.enum(['audio', 'video']),
  source: z.enum(['camera', 'microphone', 'screen', 'screen-audio']),
  spatialLayers: z.number().int(),
  paused: z.boolean(),
});

export const participantSchema = z.object({
  identity: z.string(),
  name: z.string(),
  role: z.enum(ROLES),
  metadata: z.string(),
  joined: z.boolean().meta({ description: 'false between connecting and joining' }),
  hidden: z.boolean(),
  /** In a cluster, the node it is connected to when that is another one. */
  node: z.string().nullable().meta({ description: 'another node it is connected to, or null' }),
  stageSources: z.array(stageSourceSchema),
  mutedByHost: z.array(stageSourceSchema),
  handRaised: z.boolean(),
  maxOutgoingBitrate: z.number().int().nullable(),
  tracks: z.array(trackSchema),
});
