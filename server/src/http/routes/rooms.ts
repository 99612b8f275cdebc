import { z } from 'zod';
import { AppError } from '../../errors.js';
import type { Participant } from '../../rooms/Participant.js';
import { trackInfo } from '../../rooms/Participant.js';
import type { Room } from '../../rooms/Room.js';
import type { RoomRegistry } from '../../rooms/RoomRegistry.js';
import {
  bringOnStage,
  closeRoom,
  localParticipant,
  removeParticipant,
  setMetadata,
  setTrackMuted,
  takeOffStage,
} from '../../rooms/admin.js';
import { STAGE_SOURCES } from '../../rooms/Stage.js';
import type { TokenRevocations } from '../../auth/TokenRevocations.js';
import { grantsSchema } from '../../auth/grants.js';
import { defineRoute, type RouteSpec } from '../routeTable.js';
import {
  participantParams,
  participantSchema,
  roomParams,
  stageSourceSchema,
  trackParams,
  trackSchema,
} from '../schemas.js';

/**
 * mediasoup 3.12 refuses a max outgoing bitrate under 30 kbit/s, and takes 0 as "unlimited"
 * (which is also a new transport's default), so null maps to 0.
 */
const MIN_BITRATE = 30_000;
const MAX_BITRATE = 100_000_000;
const UNLIMITED = 0;

const participantPatch = z
  .object({
    metadata: grantsSchema.shape.metadata,
    maxOutgoingBitrate: z
      .number()
      .int()
      .min(MIN_BITRATE)
      .max(MAX_BITRATE)
      .nullable()
      .optional()
      .meta({ description: 'cap on what the server sends it (bits/s); null: no cap' }),
  })
  .strict()
  .refine((patch) => Object.keys(patch).length > 0, 'metadata or maxOutgoingBitrate expected')
  .meta({ minProperties: 1 });

const removedParticipant = z.object({
  identity: z.string(),
  tokenRevoked: z.boolean().meta({ description: 'its token is refused until it expires' }),
});

export interface RoomRoutesDeps {
  rooms: RoomRegistry;
  revocations: TokenRevocations | undefined;
}

/** The rooms and their participants, for operators (API key and secret). */
export function roomRoutes({ rooms, revocations }: RoomRoutesDeps): RouteSpec[] {
  const openRoom = (name: string): Room => {
    const room = rooms.rooms.get(name);
    if (!room || room.closed) throw new AppError('NOT_FOUND', 'no such room');
    return room;
  };
  const target = ({ room, identity }: { room: string; identity: string }) => {
    const open = openRoom(room);
    return { room: open, participant: localParticipant(open, identity) };
  };

  return [
    defineRoute({
      method: 'get',
      path: '/api/rooms',
      tag: 'rooms',
      auth: 'apiKey',
      summary: 'The rooms open on this node, with how many participants each has',
      responses: {
        200: {
          description: 'the rooms',
          schema: z.object({
            rooms: z.array(z.object({ name: z.string(), participants: z.number().int() })),
          }),
        },
      },
      handle: () => ({
        rooms: [...rooms.rooms.values()].map((room) => ({
          name: room.name,
          participants: room.participants.size,
        })),
      }),
    }),
    defineRoute({
      method: 'delete',
      path: '/api/rooms/{room}',
      tag: 'rooms',
      auth: 'apiKey',
      summary: 'Closes a room: everyone is disconnected with reason room-closed',
      params: roomParams,
      responses: {
        200: {
          description: 'closed',
          schema: z.object({ room: z.string(), removed: z.number().int() }),
        },
        404: { description: 'no such room' },
      },
      handle: ({ params }) => {
        const room = openRoom(params.room);
        return { room: room.name, removed: closeRoom(room) };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/rooms/{room}/participants',
      tag: 'participants',
      auth: 'apiKey',
      summary: "A room's participants with their role, stage place and tracks",
      params: roomParams,
      responses: {
        200: {
          description: 'the participants',
          schema: z.object({ room: z.string(), participants: z.array(participantSchema) }),
        },
        404: { description: 'no such room' },
      },
      handle: ({ params }) => {
        const room = openRoom(params.room);
        const participants = [...room.participants.values()].filter((p) => !p.closed);
        return { room: room.name, participants: participants.map((p) => describe(room, p)) };
      },
    }),
    defineRoute({
      method: 'patch',
      path: '/api/rooms/{room}/participants/{identity}',
      tag: 'participants',
      auth: 'apiKey',
      summary: "Changes a participant's metadata (everyone who knows it is told) or bitrate cap",
      params: participantParams,
      body: participantPatch,
      responses: {
        200: { description: 'the participant as it is now', schema: participantSchema },
        404: { description: 'no such room or participant' },
        409: { description: 'a bitrate cap for someone not joined or receiving nothing' },
      },
      handle: async ({ params, body }) => {
        const { room, participant } = target(params);
        if (body.maxOutgoingBitrate !== undefined) {
          await capBitrate(participant, body.maxOutgoingBitrate);
        }
        if (body.metadata !== undefined) setMetadata(room, participant, body.metadata);
        if (participant.closed) throw new AppError('NOT_FOUND', 'no such participant');
        return describe(room, participant);
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/api/rooms/{room}/participants/{identity}',
      tag: 'participants',
      auth: 'apiKey',
      summary:
        'Removes a participant: its client is disconnected with reason removed, and the token ' +
        'it joined with is refused until it expires',
      params: participantParams,
      responses: {
        200: { description: 'removed', schema: removedParticipant },
        404: { description: 'no such room or participant' },
      },
      handle: ({ params }) => {
        const { room, participant } = target(params);
        // Refused first, so that the client cannot get back in between.
        const tokenRevoked = revocations?.revokeHolder(room.name, participant.identity) ?? false;
        removeParticipant(room, participant, 'removed');
        return { identity: participant.identity, tokenRevoked };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/rooms/{room}/participants/{identity}/tracks/{trackId}/mute',
      tag: 'participants',
      auth: 'apiKey',
      summary: "Mutes or unmutes a participant's track",
      description:
        "A guest's track is muted as a host would (the guest cannot unmute it; its other tracks " +
        "of the same source follow); a host's track is paused. Unmuting leaves a track its " +
        'owner paused as it is.',
      params: trackParams,
      body: z.object({ muted: z.boolean() }).strict(),
      responses: {
        200: {
          description: 'the track as it is now',
          schema: z.object({ identity: z.string(), track: trackSchema }),
        },
        404: { description: 'no such room, participant or track' },
        409: { description: 'the participant has not joined' },
      },
      handle: async ({ params, body }) => {
        const { room, participant } = target(params);
        const track = await setTrackMuted(room, participant, params.trackId, body.muted);
        return { identity: participant.identity, track };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/rooms/{room}/participants/{identity}/stage',
      tag: 'stage',
      auth: 'apiKey',
      summary: 'Brings a participant onto the stage',
      description:
        'With a raised hand it is seated at once (`seated`); otherwise it is invited and ' +
        "decides itself (`invited`, until `expiresAt`), as with a host's invitation.",
      params: participantParams,
      body: z
        .object({ sources: z.array(stageSourceSchema).min(1).max(3).optional() })
        .strict()
        .meta({ description: 'what it may publish on stage; default microphone and camera' }),
      responses: {
        200: {
          description: 'seated or invited',
          schema: z.object({
            identity: z.string(),
            outcome: z.enum(['seated', 'invited']),
            expiresAt: z
              .number()
              .optional()
              .meta({ description: 'the invitation lapses then (ms)' }),
          }),
        },
        404: { description: 'no such room or participant' },
        409: { description: 'already on stage, or not joined' },
      },
      handle: async ({ params, body }) => {
        const { room, participant } = target(params);
        const result = await bringOnStage(room, participant, body.sources);
        return { identity: participant.identity, ...result };
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/api/rooms/{room}/participants/{identity}/stage',
      tag: 'stage',
      auth: 'apiKey',
      summary: 'Takes a guest off the stage (its tracks close; it stays in the audience)',
      params: participantParams,
      responses: {
        200: {
          description: 'off stage',
          schema: z.object({ identity: z.string(), role: z.literal('audience') }),
        },
        404: { description: 'no such room or participant, or not on stage' },
        409: { description: 'a host (always on stage), or not joined' },
      },
      handle: async ({ params }) => {
        const { room, participant } = target(params);
        await takeOffStage(room, participant);
        return { identity: participant.identity, role: 'audience' };
      },
    }),
  ];
}

function describe(room: Room, participant: Participant): z.output<typeof participantSchema> {
  const info = participant.info();
  const seat = participant.seat;
  const hostSources = participant.grants.canPublish ? [...STAGE_SOURCES] : [];
  return {
    identity: info.identity,
    name: info.name,
    role: info.role,
    metadata: info.metadata,
    joined: participant.joined,
    hidden: participant.grants.hidden ?? false,
    node: participant.remote ?? null,
    stageSources: info.role === 'host' ? hostSources : seat ? [...seat.sources] : [],
    mutedByHost: seat ? [...seat.mutedByHost] : [],
    handRaised: room.stage.stage.hand(participant.identity) !== undefined,
    maxOutgoingBitrate: participant.maxOutgoingBitrate,
    tracks: [...participant.tracks.values()].map(trackInfo),
  };
}

/** Caps (or uncaps, with null) what the server sends one participant. */
async function capBitrate(participant: Participant, maxOutgoingBitrate: number | null) {
  const transport = participant.recvTransport;
  if (!participant.joined || !participant.grants.canSubscribe) {
    throw new AppError('INVALID_STATE', 'participant has not joined or receives nothing');
  }
  // Kept first: a transport remade meanwhile (a move) takes the cap from the participant.
  const previous = participant.maxOutgoingBitrate;
  participant.maxOutgoingBitrate = maxOutgoingBitrate;
  try {
    if (transport && !transport.closed) {
      await transport.setMaxOutgoingBitrate(maxOutgoingBitrate ?? UNLIMITED);
    }
  } catch (error) {
    if (!transport?.closed) {
      participant.maxOutgoingBitrate = previous;
      throw error;
    }
  }
}
