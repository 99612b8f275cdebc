import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import type { ChatMessage, ReactionCounts } from '@livestage/protocol';
import { chatHistoryKey, chatMutedKey } from '../../server/src/cluster/ClusterInteraction.js';
import {
  errorCode,
  joinRaw,
  nextEvent,
  request,
  tokenFor,
  type JoinedClient,
} from '../helpers/client.js';
import { useCluster } from '../helpers/cluster.js';
import { eventually } from '../helpers/server.js';

// Two node processes and one Redis: chat, deletions, mutes, reactions and data reach the
// participants of the other node in the room's order, and the history is the cluster's.

const CEILING_MS = 15_000;

describe('chat, reactions and data across two nodes', function () {
  this.timeout(120_000);
  const suite = useCluster(2, {
    env: {
      REACTION_INTERVAL_MS: '300',
      // The budgets are the single-node suite's subject (chat.test.ts); here, the bus.
      CHAT_SENDER_PER_SECOND: '1000',
      RATE_LIMIT_REQUESTS_PER_SECOND: '1000',
    },
  });
  const clients: JoinedClient[] = [];

  afterEach(function () {
    for (const client of clients.splice(0)) client.socket.disconnect();
  });

  async function join(
    node: 0 | 1,
    room: string,
    identity: string,
    role: 'host' | 'audience' = 'audience',
  ): Promise<JoinedClient> {
    const url = suite.cluster.nodes[node]!.url;
    const client = await joinRaw(url, tokenFor(room, identity, role));
    clients.push(client);
    return client;
  }

  async function say(client: JoinedClient, text: string, to?: string): Promise<ChatMessage> {
    const ack = await request(client.socket, 'sendChatMessage', to ? { text, to } : { text });
    assert.ok(ack.ok, `sendChatMessage: ${JSON.stringify(ack)}`);
    return ack.data as ChatMessage;
  }

  const received = (client: JoinedClient) =>
    client.events
      .of('chatMessages')
      .flat()
      .map((m) => m.id);

  /** Until `client`'s node knows `identity` (presence travels on the bus too). */
  async function knows(client: JoinedClient, identity: string): Promise<void> {
    await eventually(
      () =>
        assert.ok(
          client.join.participants.some((p) => p.identity === identity) ||
            client.events.of('participantJoined').some((p) => p.identity === identity),
        ),
      CEILING_MS,
      `${client.identity} knows ${identity}`,
    );
  }

  it('chat, a deletion, a mute, reactions and data reach the other node in order', async function () {
    const room = 'cluster-chat';
    const host = await join(0, room, 'host', 'host');
    const viewer = await join(1, room, 'viewer');
    const local = await join(0, room, 'local');
    await knows(viewer, 'host');
    await knows(host, 'viewer');

    // Chat from both nodes, interleaved: both sides see one order.
    const sent: ChatMessage[] = [];
    for (let i = 0; i < 10; i += 1) {
      sent.push(await say(host, `host ${i}`));
      sent.push(await say(viewer, `viewer ${i}`));
    }
    const ids = sent.map((m) => m.id);
    await eventually(() => assert.deepEqual(received(viewer), ids), CEILING_MS, 'viewer (B)');
    await eventually(() => assert.deepEqual(received(host), ids), CEILING_MS, 'host (A)');
    assert.deepEqual(viewer.events.of('chatMessages').flat(), sent, 'as stamped');

    // A private message across nodes.
    const secret = await say(viewer, 'psst', 'host');
    await eventually(() => assert.ok(received(host).includes(secret.id)), CEILING_MS);
    await eventually(() => assert.ok(received(viewer).includes(secret.id)), CEILING_MS);

    // A deletion by a host on A reaches B.
    const deleted = nextEvent(viewer.socket, 'chatMessageDeleted', () => true, CEILING_MS);
    assert.ok((await request(host.socket, 'deleteChatMessage', { id: sent[1]!.id })).ok);
    assert.deepEqual(await deleted, { id: sent[1]!.id, by: 'host' });

    // A chat mute by a host on A holds on B.
    const muted = nextEvent(viewer.socket, 'chatMuted', () => true, CEILING_MS);
    assert.ok((await request(host.socket, 'muteChat', { identity: 'viewer', muted: true })).ok);
    assert.deepEqual(await muted, { identity: 'viewer', muted: true });
    assert.equal(
      errorCode(await request(viewer.socket, 'sendChatMessage', { text: 'hi' })),
      'FORBIDDEN',
    );
    assert.equal(
      errorCode(await request(viewer.socket, 'sendReaction', { emoji: '❤️' })),
      'FORBIDDEN',
      'the mute covers reactions',
    );
    const unmuted = nextEvent(viewer.socket, 'chatMuted', () => true, CEILING_MS);
    assert.ok((await request(host.socket, 'muteChat', { identity: 'viewer', muted: false })).ok);
    assert.deepEqual(await unmuted, { identity: 'viewer', muted: false });

    // Reactions: each node counts its own; both nodes' participants get the sum.
    for (let i = 0; i < 3; i += 1) {
      assert.ok((await request(viewer.socket, 'sendReaction', { emoji: '❤️' })).ok);
    }
    for (let i = 0; i < 2; i += 1) {
      assert.ok((await request(local.socket, 'sendReaction', { emoji: '❤️' })).ok);
    }
    const hearts = (events: ReactionCounts[]) =>
      events.reduce((sum, event) => sum + (event.counts['❤️'] ?? 0), 0);
    await eventually(() => assert.equal(hearts(host.events.of('reactions')), 5), CEILING_MS);
    await eventually(() => assert.equal(hearts(viewer.events.of('reactions')), 5), CEILING_MS);

    // Data: in order from a sender on A to B; `to` across nodes.
    for (let i = 0; i < 10; i += 1) {
      assert.ok((await request(host.socket, 'sendData', { topic: 'seq', payload: String(i) })).ok);
    }
    const cue = { topic: 'cue', payload: 'go', to: ['viewer'] };
    assert.ok((await request(host.socket, 'sendData', cue)).ok);
    await eventually(
      () =>
        assert.deepEqual(viewer.events.of('dataReceived'), [
          ...Array.from({ length: 10 }, (_, i) => ({
            from: 'host',
            topic: 'seq',
            payload: String(i),
          })),
          { from: 'host', ...cue },
        ]),
      CEILING_MS,
    );
    assert.equal(local.events.of('dataReceived').length, 10, 'the cue was for the viewer only');
  });

  it('a newcomer on node B gets the history written on node A', async function () {
    const room = 'cluster-history';
    const host = await join(0, room, 'host', 'host');
    const sent: ChatMessage[] = [];
    for (let i = 0; i < 60; i += 1) sent.push(await say(host, `message ${i}`));
    assert.ok((await request(host.socket, 'deleteChatMessage', { id: sent[59]!.id })).ok);
    // The room is new to node B: it starts from the cluster's history.
    const newcomer = await join(1, room, 'newcomer');
    // The ring held 10..59; the deletion leaves 49 (a deleted message is not replaced).
    assert.deepEqual(newcomer.join.chat.history, sent.slice(10, 59));
    // …and a second newcomer there, from B's own copy, kept up to date by the bus.
    const next = await say(host, 'one more');
    await eventually(() => assert.ok(received(newcomer).includes(next.id)), CEILING_MS);
    const second = await join(1, room, 'second');
    assert.deepEqual(second.join.chat.history, [...sent.slice(10, 59), next]);
  });

  it("a node taking the room up renews the chat's time to live: long rooms keep their mutes", async function () {
    const room = 'cluster-ttl';
    const host = await join(0, room, 'host', 'host');
    await join(0, room, 'troll');
    await say(host, 'hello');
    assert.ok((await request(host.socket, 'muteChat', { identity: 'troll', muted: true })).ok);
    const redis = new Redis(suite.cluster.redis.url);
    try {
      // As if the last message and mute were long ago: a minute left.
      const keys = [chatHistoryKey(room), chatMutedKey(room)];
      for (const key of keys) assert.equal(await redis.pexpire(key, 60_000), 1, key);
      await join(1, room, 'newcomer'); // node B takes the room up
      for (const key of keys) {
        const left = await redis.pttl(key);
        assert.ok(left > 3600_000, `${key}: ${left} ms left`);
      }
    } finally {
      redis.disconnect();
    }
  });
});
