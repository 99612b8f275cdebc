import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import winston from 'winston';
import { ClusterInteraction } from '../../server/src/cluster/ClusterInteraction.js';
import { ClusterRoom } from '../../server/src/cluster/ClusterRoom.js';
import type { NodeRegistry } from '../../server/src/cluster/NodeRegistry.js';
import type { Relay } from '../../server/src/cluster/Relay.js';
import { RoomBus } from '../../server/src/cluster/RoomBus.js';
import type { InteractionLimits } from '../../server/src/config/config.js';
import { RoomChat } from '../../server/src/interaction/RoomChat.js';
import type { Participant } from '../../server/src/rooms/Participant.js';
import type { Room } from '../../server/src/rooms/Room.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

// A node taking up a room reads the cluster's chat history and mutes while the room's channel
// already brings news. A deletion or an unmute that arrives between the read and the restore
// must win over what was read. A real Redis; the read is held back on purpose.

const silent = winston.createLogger({ silent: true });
const ROOM = 'start-race';
const LIMITS: InteractionLimits = {
  chatHistorySize: 10,
  chatRoomBudget: 1_000,
  chatBudgetWindowMs: 200,
  chatSenderPerSecond: 1_000,
  chatBatchMinParticipants: 50,
  chatBatchMs: 150,
  reactionIntervalMs: 1_000,
  reactionsPerSecond: 10,
  dataPerSecond: 20,
  dataRoomPerSecond: 50,
};
/** Ample for a message on a local Redis to reach its subscriber. */
const BUS_MS = 200;

describe('a node taking up a room with chat (ClusterRoom.start)', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  const clients: Redis[] = [];
  const client = () => {
    const made = new Redis(redis.url, { lazyConnect: false });
    clients.push(made);
    return made;
  };

  before(async function () {
    redis = await startRedis();
  });

  after(async function () {
    for (const made of clients) made.disconnect();
    await redis?.stop();
  });

  it('applies a deletion and an unmute heard during the read after what it read', async function () {
    // Another node, where the room already lives: a message and a mute, stored.
    const other = new ClusterInteraction({
      redis: client(),
      bus: new RoomBus(client(), client(), 'node-a', silent),
      room: ROOM,
      historySize: LIMITS.chatHistorySize,
    });
    const message = {
      id: 'm1',
      from: 'troll',
      name: 'Troll',
      role: 'audience' as const,
      text: 'rude',
      sentAt: 1,
    };
    await other.send({ type: 'chat', message });
    await other.send({ type: 'chatMuted', identity: 'troll', muted: true });

    // This node: its reads answer only after the other node deleted and unmuted (and the news
    // had time to arrive).
    const commands = client();
    const racing = new Proxy(commands, {
      get(target, property) {
        if (property === 'multi') {
          return () => {
            const transaction = target.multi();
            const exec = transaction.exec.bind(transaction);
            transaction.exec = async () => {
              const results = await exec();
              await other.send({ type: 'chatDeleted', id: 'm1', by: 'host' });
              await other.send({ type: 'chatMuted', identity: 'troll', muted: false });
              await new Promise((resolve) => setTimeout(resolve, BUS_MS));
              return results;
            };
            return transaction;
          };
        }
        const value: unknown = Reflect.get(target, property);
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      },
    });
    const participants = new Map<string, Participant>();
    const chat: RoomChat = new RoomChat({
      room: { participants },
      limits: LIMITS,
      send: () => Promise.resolve(),
    });
    const room = {
      name: ROOM,
      chat,
      participants,
      applyInteraction: (body: { type: string }) => {
        if (body.type.startsWith('chat')) chat.apply(body as Parameters<RoomChat['apply']>[0]);
      },
    } as unknown as Room;
    const link = new ClusterRoom(room, {
      redis: racing,
      bus: new RoomBus(client(), client(), 'node-b', silent),
      registry: { heartbeat: async () => undefined, isLive: () => true } as unknown as NodeRegistry,
      relay: {} as Relay,
      nodeId: 'node-b',
      nodeUrl: 'http://node-b',
      reconnectGraceMs: 1_000,
      log: silent,
      onOtherMessage: () => undefined,
    });
    try {
      await link.start();
      assert.deepEqual(chat.history(), [], 'the deleted message stays deleted');
      assert.equal(chat.isMuted('troll'), false, 'the unmute holds');
    } finally {
      link.close();
      chat.close();
    }
  });
});
