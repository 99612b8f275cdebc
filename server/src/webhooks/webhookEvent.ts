import { randomUUID } from 'node:crypto';
import type { ParticipantInfo, TrackInfo, TrackSource } from '@livestage/protocol';

/** The events livestage sends; quality_report comes from the quality reports. */
export type WebhookEventName =
  | 'room_started'
  | 'room_finished'
  | 'participant_joined'
  | 'participant_left'
  | 'track_published'
  | 'track_unpublished'
  | 'hand_raised'
  | 'stage_joined'
  | 'stage_left'
  | 'quality_report'
  | 'egress_started'
  | 'egress_ended'
  | 'snapshot_taken';

/**
 * A track as LiveKit's TrackInfo JSON names it (sid, type, source, muted, simulcast), so that
 * its SDKs parse it; spatialLayers is ours (unknown fields are ignored by those parsers).
 */
export interface WebhookTrack {
  sid: string;
  type?: 'AUDIO' | 'VIDEO';
  source?: 'CAMERA' | 'MICROPHONE' | 'SCREEN_SHARE' | 'SCREEN_SHARE_AUDIO';
  muted?: boolean;
  simulcast?: boolean;
  spatialLayers?: number;
}

/** A participant as LiveKit's ParticipantInfo JSON names it, plus livestage's role. */
export interface WebhookParticipant {
  identity: string;
  name?: string;
  metadata?: string;
  role?: ParticipantInfo['role'];
  tracks?: WebhookTrack[];
}

/** What an event carries besides its name, id and time: the room, and who or what it is about. */
export interface WebhookFields {
  room: { name: string };
  participant?: WebhookParticipant;
  track?: WebhookTrack;
  [extra: string]: unknown;
}

/** LiveKit's WebhookEvent JSON: `{ event, id, createdAt (seconds), room, participant, track }`. */
export type WebhookEvent = { event: string; id: string; createdAt: number } & WebhookFields;

export function webhookEvent(
  event: string,
  fields: WebhookFields,
  nowMs = Date.now(),
): WebhookEvent {
  return { event, id: `EV_${randomUUID()}`, createdAt: Math.floor(nowMs / 1000), ...fields };
}

const SOURCES: Record<TrackSource, NonNullable<WebhookTrack['source']>> = {
  camera: 'CAMERA',
  microphone: 'MICROPHONE',
  screen: 'SCREEN_SHARE',
  'screen-audio': 'SCREEN_SHARE_AUDIO',
};

export function webhookTrack(track: TrackInfo): WebhookTrack {
  return {
    sid: track.id,
    type: track.kind === 'audio' ? 'AUDIO' : 'VIDEO',
    source: SOURCES[track.source],
    muted: track.paused,
    simulcast: track.spatialLayers > 1,
    spatialLayers: track.spatialLayers,
  };
}

export function webhookParticipant(info: ParticipantInfo): WebhookParticipant {
  return {
    identity: info.identity,
    name: info.name,
    metadata: info.metadata,
    role: info.role,
    tracks: info.tracks.map(webhookTrack),
  };
}
