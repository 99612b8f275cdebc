import { z } from 'zod';

/** A participant's identity (the token's subject). */
export const identitySchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\w.@:-]+$/);
const identity = identitySchema;

// Shapes of what clients send, strict all the way down: an object with a field not listed here is
// refused (INVALID_PAYLOAD), at any depth. Every field the real client sends is listed: the types
// of mediasoup-client 3.18 (lib/RtpParameters.d.ts, lib/Transport.d.ts), which is a superset of
// mediasoup 3.12's (node/lib/RtpParameters.d.ts, node/lib/WebRtcTransport.d.ts). Fields mediasoup
// 3.12 does not know (msid, active, maxFramerate, adaptivePtime, priority, networkPriority) are
// accepted and passed on to mediasoup, which ignores them. Every string, array, record
// and number is bounded; mediasoup then validates the RTP structures in depth.
const id = z.string().min(1).max(64);
const kind = z.enum(['audio', 'video']);
const mimeType = z
  .string()
  .max(64)
  .regex(/^(audio|video)\/[\w.+-]{1,48}$/i, 'expected audio/… or video/…');
const uri = z.string().min(1).max(256);
const payloadType = z.number().int().min(0).max(127);
const clockRate = z.number().int().positive().max(1_000_000);
const channels = z.number().int().positive().max(8);
const ssrc = z.number().int().min(0).max(0xffff_ffff);
/** RTP header extension ids: 1-14 one-byte, up to 255 two-byte. */
const extensionId = z.number().int().min(1).max(255);
const priority = z.enum(['very-low', 'low', 'medium', 'high']);

/** Codec or header extension parameters (e.g. packetization-mode, apt, useinbandfec). */
const MAX_PARAMETERS = 32;
const parameters = z
  .record(z.string().min(1).max(64), z.union([z.string().max(256), z.number(), z.boolean()]))
  .refine((record) => Object.keys(record).length <= MAX_PARAMETERS, {
    message: `at most ${MAX_PARAMETERS} parameters`,
  });

const rtcpFeedback = z.strictObject({
  type: z.string().min(1).max(64),
  parameter: z.string().max(64).optional(),
});
const rtcpFeedbackList = z.array(rtcpFeedback).max(32);

/** RtpCodecCapability. */
const codecCapability = z.strictObject({
  kind,
  mimeType,
  // Always sent by mediasoup-client; optional in mediasoup's own type.
  preferredPayloadType: payloadType.optional(),
  clockRate,
  channels: channels.optional(),
  parameters: parameters.optional(),
  rtcpFeedback: rtcpFeedbackList.optional(),
});

/** RtpHeaderExtension (a capability). */
const headerExtensionCapability = z.strictObject({
  kind,
  uri,
  preferredId: extensionId,
  preferredEncrypt: z.boolean().optional(),
  direction: z.enum(['sendrecv', 'sendonly', 'recvonly', 'inactive']).optional(),
});

export const rtpCapabilitiesSchema = z.strictObject({
  codecs: z.array(codecCapability).max(128).optional(),
  headerExtensions: z.array(headerExtensionCapability).max(64).optional(),
});

/** RtpCodecParameters. */
const codecParameters = z.strictObject({
  mimeType,
  payloadType,
  clockRate,
  channels: channels.optional(),
  parameters: parameters.optional(),
  rtcpFeedback: rtcpFeedbackList.optional(),
});

/** RtpHeaderExtensionParameters. */
const headerExtensionParameters = z.strictObject({
  uri,
  id: extensionId,
  encrypt: z.boolean().optional(),
  parameters: parameters.optional(),
});

/** RtpEncodingParameters. */
const encoding = z.strictObject({
  active: z.boolean().optional(),
  ssrc: ssrc.optional(),
  // RFC 8851: rid-id = 1*(alpha-numeric / "-" / "_").
  rid: z
    .string()
    .regex(/^[\w-]{1,32}$/)
    .optional(),
  codecPayloadType: payloadType.optional(),
  rtx: z.strictObject({ ssrc }).optional(),
  dtx: z.boolean().optional(),
  // L1T3, L3T3_KEY, S2T1h, … (mediasoup reads the leading [LS]<spatial>T<temporal>).
  scalabilityMode: z
    .string()
    .regex(/^[LS][1-9]\d?T[1-9]\d?\w{0,12}$/)
    .optional(),
  scaleResolutionDownBy: z.number().min(1).max(1024).optional(),
  maxBitrate: z.number().positive().max(1_000_000_000).optional(),
  maxFramerate: z.number().positive().max(1000).optional(),
  adaptivePtime: z.boolean().optional(),
  priority: priority.optional(),
  networkPriority: priority.optional(),
});

/** RtcpParameters. */
const rtcpParameters = z.strictObject({
  cname: z.string().max(256).optional(),
  reducedSize: z.boolean().optional(),
  mux: z.boolean().optional(),
});

export const rtpParametersSchema = z.strictObject({
  mid: z.string().min(1).max(32).optional(),
  codecs: z.array(codecParameters).min(1).max(32),
  headerExtensions: z.array(headerExtensionParameters).max(32).optional(),
  encodings: z.array(encoding).min(1).max(4).optional(),
  rtcp: rtcpParameters.optional(),
  // "<stream id> <track id>" (RFC 8830: each 1-64 characters); mediasoup-client 3.18 sets it.
  msid: z.string().max(129).optional(),
});

export const dtlsParametersSchema = z.strictObject({
  role: z.enum(['auto', 'client', 'server']).optional(),
  fingerprints: z
    .array(
      z.strictObject({
        algorithm: z.enum(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']),
        // Hex pairs separated by colons: 64 bytes (sha-512) is 191 characters.
        value: z
          .string()
          .max(191)
          .regex(/^[\da-f]{2}(:[\da-f]{2})*$/i, 'expected hex pairs separated by colons'),
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
    /** Explicit cap chosen by the viewer; 'auto' lets the viewport decide. */
    quality: z.enum(['low', 'medium', 'high', 'auto']).optional(),
    /** Rendered size of the element the video is attached to, in CSS pixels × devicePixelRatio. */
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
