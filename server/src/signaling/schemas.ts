import { z } from 'zod';
import { identitySchema } from '../auth/tokens.js';

// Shapes of what clients send. mediasoup validates RTP structures in depth; these schemas make
// sure nothing absurd (wrong types, huge arrays, unknown fields at the top level) gets that far.
const id = z.string().min(1).max(64);
const shortString = z.string().max(256);
const smallRecord = z.record(
  z.string().max(64),
  z.union([z.string().max(256), z.number(), z.boolean()]),
);

const rtcpFeedback = z.looseObject({ type: shortString, parameter: shortString.optional() });

const codecCapability = z.looseObject({
  kind: z.enum(['audio', 'video']),
  mimeType: shortString,
  preferredPayloadType: z.number().int().min(0).max(127).optional(),
  clockRate: z.number().int().positive(),
  channels: z.number().int().positive().max(8).optional(),
  parameters: smallRecord.optional(),
  rtcpFeedback: z.array(rtcpFeedback).max(32).optional(),
});

const headerExtensionCapability = z.looseObject({
  kind: z.enum(['audio', 'video']),
  uri: shortString,
  preferredId: z.number().int().min(1).max(255),
});

export const rtpCapabilitiesSchema = z.looseObject({
  codecs: z.array(codecCapability).max(128).optional(),
  headerExtensions: z.array(headerExtensionCapability).max(64).optional(),
});

const codecParameters = z.looseObject({
  mimeType: shortString,
  payloadType: z.number().int().min(0).max(127),
  clockRate: z.number().int().positive(),
  channels: z.number().int().positive().max(8).optional(),
  parameters: smallRecord.optional(),
  rtcpFeedback: z.array(rtcpFeedback).max(32).optional(),
});

const encoding = z.looseObject({
  ssrc: z.number().int().nonnegative().optional(),
  rid: shortString.optional(),
  scalabilityMode: shortString.optional(),
  maxBitrate: z.number().positive().optional(),
  scaleResolutionDownBy: z.number().min(1).optional(),
  dtx: z.boolean().optional(),
});

export const rtpParametersSchema = z.looseObject({
  mid: shortString.optional(),
  codecs: z.array(codecParameters).min(1).max(32),
  headerExtensions: z
    .array(z.looseObject({ uri: shortString, id: z.number().int().min(1).max(255) }))
    .max(32)
    .optional(),
  encodings: z.array(encoding).min(1).max(4).optional(),
  rtcp: z
    .looseObject({ cname: shortString.optional(), reducedSize: z.boolean().optional() })
    .optional(),
});

export const dtlsParametersSchema = z.object({
  role: z.enum(['auto', 'client', 'server']).optional(),
  fingerprints: z
    .array(
      z.object({
        algorithm: z.enum(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']),
        value: shortString,
      }),
    )
    .min(1)
    .max(8),
});

export const joinSchema = z.object({ rtpCapabilities: rtpCapabilitiesSchema }).strict();
export const connectTransportSchema = z
  .object({ transportId: id, dtlsParameters: dtlsParametersSchema })
  .strict();
export const produceSchema = z
  .object({
    transportId: id,
    kind: z.enum(['audio', 'video']),
    rtpParameters: rtpParametersSchema,
    source: z.enum(['camera', 'microphone', 'screen', 'screen-audio']),
  })
  .strict();
export const trackSchema = z.object({ trackId: id }).strict();
export const consumerSchema = z.object({ consumerId: id }).strict();
export const consumerPreferencesSchema = z
  .object({
    consumerId: id,
    quality: z.enum(['low', 'medium', 'high', 'auto']).optional(),
    viewport: z
      .object({
        width: z.number().int().min(0).max(16384),
        height: z.number().int().min(0).max(16384),
      })
      .strict()
      .optional(),
  })
  .strict();
export const emptySchema = z.object({}).strict();

const identity = identitySchema;
const stageSource = z.enum(['microphone', 'camera', 'screen']);
export const raiseHandSchema = z.object({ message: z.string().max(280).optional() }).strict();
export const stageTargetSchema = z.object({ identity }).strict();
export const stageSeatSchema = z
  .object({ identity, sources: z.array(stageSource).min(1).max(3).optional() })
  .strict();
export const muteParticipantSchema = z
  .object({ identity, source: stageSource, muted: z.boolean() })
  .strict();
export const restartIceSchema = z.object({ transportId: id }).strict();
