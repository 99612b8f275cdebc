import { z } from 'zod';
import { ROLES } from '../../auth/grants.js';
import { AppError } from '../../errors.js';
import { ADMIN_IDENTITY } from '../../rooms/admin.js';
import type { Room } from '../../rooms/Room.js';
import type { RoomRegistry } from '../../rooms/RoomRegistry.js';
import { defineRoute, type RouteSpec } from '../routeTable.js';
import { participantParams, roomNameSchema, roomParams } from '../schemas.js';

const chatMessageSchema = z.object({
  id: z.string(),
  from: z.string(),
  name: z.string(),
  role: z.enum(ROLES),
  text: z.string().meta({ description: 'plain text: render it as text, never as HTML' }),
  sentAt: z.number().meta({ description: 'ms since the epoch' }),
});

const messageParams = z.object({ room: roomNameSchema, id: z.string().min(1).max(64) });

/** A room's chat, for operators: its history, deleting a message, muting someone's chat. */
export function chatRoutes({ rooms }: { rooms: RoomRegistry }): RouteSpec[] {
  const openRoom = (name: string): Room => {
    const room = rooms.rooms.get(name);
    if (!room || room.closed) throw new AppError('NOT_FOUND', 'no such room');
    return room;
  };
  return [
    defineRoute({
      method: 'get',
      path: '/api/rooms/{room}/chat',
      tag: 'chat',
      auth: 'apiKey',
      summary:
        "The room's last messages (CHAT_HISTORY_SIZE), oldest first; private ones are not kept",
      params: roomParams,
      responses: {
        200: {
          description: 'the history',
          schema: z.object({ room: z.string(), messages: z.array(chatMessageSchema) }),
        },
        404: { description: 'no such room' },
      },
      handle: ({ params }) => {
        const room = openRoom(params.room);
        return { room: room.name, messages: room.chat.history() };
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/api/rooms/{room}/chat/{id}',
      tag: 'chat',
      auth: 'apiKey',
      summary:
        "Deletes a message: it leaves the history, and everyone gets chatMessageDeleted (by 'admin')",
      params: messageParams,
      responses: {
        204: { description: 'deleted' },
        404: { description: 'no such room or message' },
      },
      handle: async ({ params }) => {
        await openRoom(params.room).chat.delete(params.id, ADMIN_IDENTITY);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/rooms/{room}/participants/{identity}/chat-mute',
      tag: 'chat',
      auth: 'apiKey',
      summary: "Mutes or unmutes a participant's chat (it and the hosts get chatMuted)",
      description:
        'A muted participant sending a message, a reaction or a data message is refused with ' +
        'FORBIDDEN. The mute lasts while the room is open, across the participant leaving and ' +
        "joining again. A host's chat cannot be muted (403).",
      params: participantParams,
      body: z.object({ muted: z.boolean() }).strict(),
      responses: {
        200: {
          description: 'done',
          schema: z.object({ identity: z.string(), muted: z.boolean() }),
        },
        403: { description: 'the participant is a host' },
        404: { description: 'no such room or participant' },
      },
      handle: async ({ params, body }) => {
        await openRoom(params.room).chat.mute(params.identity, body.muted);
        return { identity: params.identity, muted: body.muted };
      },
    }),
  ];
}
