import type { HandlerTable } from '../handler.js';

// Chat, reactions and data messages. Who may send them is declared in the protocol (access
// 'chat' or 'host'); the room's interaction parts decide the rest (mutes, budgets, targets).

export const INTERACTION_HANDLERS: Pick<
  HandlerTable,
  'sendChatMessage' | 'deleteChatMessage' | 'muteChat' | 'sendReaction' | 'sendData'
> = {
  sendChatMessage: {
    event: 'sendChatMessage',
    handle: ({ room, participant }, request) =>
      room.chat.send(participant, request.text, request.to),
  },
  deleteChatMessage: {
    event: 'deleteChatMessage',
    async handle({ room, participant }, request) {
      await room.chat.delete(request.id, participant.identity);
      return null;
    },
  },
  muteChat: {
    event: 'muteChat',
    async handle({ room }, request) {
      await room.chat.mute(request.identity, request.muted);
      return null;
    },
  },
  sendReaction: {
    event: 'sendReaction',
    async handle({ room, participant }, request) {
      room.reactions.add(participant, request.emoji);
      return null;
    },
  },
  sendData: {
    event: 'sendData',
    async handle({ room, participant }, request) {
      await room.data.send(participant, request);
      return null;
    },
  },
};
