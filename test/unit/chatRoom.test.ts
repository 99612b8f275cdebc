import assert from 'node:assert/strict';
import winston from 'winston';
import type { ChatMessage } from '@livestage/protocol';
import { defaultGrants, type Role } from '../../server/src/auth/grants.js';
import type { InteractionLimits } from '../../server/src/config/config.js';
import { AppError } from '../../server/src/errors.js';
import { RoomChat } from '../../server/src/interaction/RoomChat.js';
import { Participant, type Connection } from '../../server/src/rooms/Participant.js';

// RoomChat in one process, with real participants on recording connections: what each is sent
// while a large room's batch waits.

const silent = winston.createLogger({ silent: true });
const BATCH_MS = 40;
const LIMITS: InteractionLimits = {
  chatHistorySize: 5,
  chatRoomBudget: 1_000,
  chatBudgetWindowMs: 200,
  chatSenderPerSecond: 1_000,
  // Two participants already make a large room: chat goes out in batches.
  chatBatchMinParticipants: 1,
  chatBatchMs: BATCH_MS,
  reactionIntervalMs: 1_000,
  reactionsPerSecond: 10,
  dataPerSecond: 20,
  dataRoomPerSecond: 50,
};

function setUp() {
  const participants = new Map<string, Participant>();
  const sent = new Map<string, [string, unknown][]>();
  const chat: RoomChat = new RoomChat({
    room: { participants },
    limits: LIMITS,
    send: async (message) => {
      if (message.type !== 'reactions' && message.type !== 'data') chat.apply(message);
    },
  });
  const add = (identity: string, role: Role = 'audience', grants = {}): Participant => {
    const log: [string, unknown][] = [];
    sent.set(identity, log);
    const connection: Connection = {
      id: `c-${identity}`,
      emit: ((event: string, payload: unknown) => log.push([event, payload])) as Connection['emit'],
      disconnect: () => undefined,
    };
    const participant = new Participant(
      identity,
      { ...defaultGrants('r', role), ...grants },
      connection,
      silent,
    );
    participant.joined = true;
    participants.set(identity, participant);
    return participant;
  };
  /** The ids of the chat messages `identity` was sent, in order. */
  const received = (identity: string) =>
    (sent.get(identity) ?? [])
      .filter(([event]) => event === 'chatMessages')
      .flatMap(([, messages]) => (messages as ChatMessage[]).map((m) => m.id));
  const eventsOf = (identity: string, event: string) =>
    (sent.get(identity) ?? []).filter(([e]) => e === event).map(([, payload]) => payload);
  return { chat, add, received, eventsOf };
}

const batchDone = () => new Promise((resolve) => setTimeout(resolve, BATCH_MS * 3));

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof AppError && error.code === code, String(error));
    return true;
  });
}

describe('RoomChat (batches, deletions, joins)', function () {
  it('a message deleted while its batch waits never goes out; the deletion does', async function () {
    const { chat, add, received, eventsOf } = setUp();
    const host = add('host', 'host');
    add('viewer');
    const kept = await chat.send(host, 'kept');
    const rude = await chat.send(host, 'rude');
    await chat.delete(rude.id, 'host');
    await batchDone();
    assert.deepEqual(received('viewer'), [kept.id]);
    assert.deepEqual(eventsOf('viewer', 'chatMessageDeleted'), [{ id: rude.id, by: 'host' }]);
  });

  it('a second deletion of a message is NOT_FOUND, and tells nobody again', async function () {
    const { chat, add, eventsOf } = setUp();
    const host = add('host', 'host');
    add('viewer');
    const message = await chat.send(host, 'once');
    await chat.delete(message.id, 'host');
    await rejectsWith(chat.delete(message.id, 'host'), 'NOT_FOUND');
    // Two hosts deleting at once (both checked before either was applied): told once.
    chat.apply({ type: 'chatDeleted', id: message.id, by: 'other-host' });
    assert.equal(eventsOf('viewer', 'chatMessageDeleted').length, 1);
  });

  it('a joiner during a pending batch gets each message once: history or batch', async function () {
    const { chat, add, received } = setUp();
    const host = add('host', 'host');
    add('viewer');
    const early = await chat.send(host, 'early');
    await batchDone();
    const pending = await chat.send(host, 'pending');
    const joiner = add('joiner');
    const state = chat.stateFor(joiner);
    await batchDone();
    const got = [...state.history.map((m) => m.id), ...received('joiner')];
    assert.deepEqual(got, [early.id, pending.id]);
    assert.deepEqual(received('viewer'), [early.id, pending.id]);
  });

  it('the join reply says how many messages the server keeps', function () {
    const { chat, add } = setUp();
    assert.equal(chat.stateFor(add('viewer')).historySize, LIMITS.chatHistorySize);
  });

  it("a host's chat cannot be muted; a hidden participant cannot be named", async function () {
    const { chat, add } = setUp();
    const viewer = add('viewer');
    add('host', 'host');
    add('ghost', 'audience', { hidden: true });
    await rejectsWith(chat.mute('host', true), 'FORBIDDEN');
    await rejectsWith(chat.send(viewer, 'psst', 'ghost'), 'NOT_FOUND');
    await rejectsWith(chat.send(viewer, 'psst', 'nobody'), 'NOT_FOUND');
    await chat.mute('viewer', true);
    assert.throws(() => chat.requireUnmuted(viewer), /muted/);
  });
});
