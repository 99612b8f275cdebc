import type { Redis } from 'ioredis';
import type { ChatMessage } from '@livestage/protocol';
import type { InteractionMessage } from '../interaction/messages.js';
import { roomChannel, type RoomBus } from './RoomBus.js';

export const chatHistoryKey = (room: string) => `livestage:room:${room}:chat`;
export const chatMutedKey = (room: string) => `livestage:room:${room}:chatMuted`;

/** A room's chat outlives a quiet spell, not an abandoned room. */
const CHAT_TTL_MS = 24 * 3600_000;

/** Removes the message with id ARGV[1] from the history (if still kept) and announces it. */
const DELETE_SCRIPT = `
local items = redis.call('LRANGE', KEYS[1], 0, -1)
for i = 1, #items do
  if cjson.decode(items[i]).id == ARGV[1] then
    redis.call('LREM', KEYS[1], 1, items[i])
    break
  end
end
redis.call('PUBLISH', KEYS[2], ARGV[2])
return 1`;

/**
 * Chat, reactions and data of a room that spans nodes. Every message goes on the room's channel,
 * and every node (the sender's too) delivers it to its own participants as the channel brings
 * it, so all see one order. The history is a Redis list (newest first, trimmed to its size) and
 * the chat mutes a set, each written in the same transaction as the message that changes them,
 * so a node that takes the room later starts from the cluster's history.
 */
export class ClusterInteraction {
  readonly #redis: Redis;
  readonly #bus: RoomBus;
  readonly #room: string;
  readonly #historySize: number;

  constructor(deps: { redis: Redis; bus: RoomBus; room: string; historySize: number }) {
    this.#redis = deps.redis;
    this.#bus = deps.bus;
    this.#room = deps.room;
    this.#historySize = deps.historySize;
  }

  readonly send = async (message: InteractionMessage): Promise<void> => {
    const channel = roomChannel(this.#room);
    const envelope = this.#bus.envelope(message);
    const history = chatHistoryKey(this.#room);
    const muted = chatMutedKey(this.#room);
    switch (message.type) {
      case 'chat': {
        if (message.message.to !== undefined || this.#historySize === 0) break;
        await exec(
          this.#redis
            .multi()
            .lpush(history, JSON.stringify(message.message))
            .ltrim(history, 0, this.#historySize - 1)
            .pexpire(history, CHAT_TTL_MS)
            // A room that still chats keeps its mutes.
            .pexpire(muted, CHAT_TTL_MS)
            .publish(channel, envelope),
        );
        return;
      }
      case 'chatDeleted':
        await this.#redis.eval(DELETE_SCRIPT, 2, history, channel, message.id, envelope);
        return;
      case 'chatMuted': {
        const transaction = this.#redis.multi();
        if (message.muted) transaction.sadd(muted, message.identity);
        else transaction.srem(muted, message.identity);
        await exec(transaction.pexpire(muted, CHAT_TTL_MS).publish(channel, envelope));
        return;
      }
      default:
        break;
    }
    await this.#redis.publish(channel, envelope);
  };

  /**
   * The cluster's history (oldest first) and chat mutes, for a node taking the room. Their time
   * to live starts again: a room that lives on (a node takes it up) keeps them, however long ago
   * the last message or mute was.
   */
  async load(): Promise<{ history: ChatMessage[]; muted: string[] }> {
    const historyKey = chatHistoryKey(this.#room);
    const mutedKey = chatMutedKey(this.#room);
    const results = await this.#redis
      .multi()
      .lrange(historyKey, 0, this.#historySize - 1)
      .smembers(mutedKey)
      .pexpire(historyKey, CHAT_TTL_MS)
      .pexpire(mutedKey, CHAT_TTL_MS)
      .exec();
    const failed = results?.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
    const newestFirst = (results?.[0]?.[1] ?? []) as string[];
    const muted = (results?.[1]?.[1] ?? []) as string[];
    const history = newestFirst.reverse().flatMap((raw) => {
      try {
        return [JSON.parse(raw) as ChatMessage];
      } catch {
        return [];
      }
    });
    return { history, muted };
  }
}

async function exec(transaction: ReturnType<Redis['multi']>): Promise<void> {
  const results = await transaction.exec();
  const failed = results?.find(([error]) => error);
  if (failed?.[0]) throw failed[0];
}
