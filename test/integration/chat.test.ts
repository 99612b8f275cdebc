import assert from 'node:assert/strict';
import {
  MAX_DATA_PAYLOAD_BYTES,
  type Ack,
  type ChatMessage,
  type ReactionCounts,
} from '@livestage/protocol';
import type { Grants } from '../../server/src/auth/grants.js';
import {
  errorCode,
  joinRaw,
  nextEvent,
  request,
  tokenFor,
  type JoinedClient,
} from '../helpers/client.js';
import { eventually, openRoom, TEST_KEYS, useTestServer } from '../helpers/server.js';

// Chat, flood shedding, reactions and data messages over raw socket.io, on a real server.

const REACTION_INTERVAL_MS = 300;
const DATA_ROOM_PER_SECOND = 30;

describe('chat, reactions and data messages', function () {
  this.timeout(60_000);
  const suite = useTestServer({
    // Requests per socket: the flood below is the chat budget's to shed, not the socket limiter's.
    RATE_LIMIT_REQUESTS_PER_SECOND: '1000',
    RATE_LIMIT_TOKEN_CONNECTIONS_PER_MINUTE: '1000',
    REACTION_INTERVAL_MS: String(REACTION_INTERVAL_MS),
    DATA_ROOM_PER_SECOND: String(DATA_ROOM_PER_SECOND),
  });

  async function join(
    room: string,
    identity: string,
    role: 'host' | 'audience' = 'audience',
    grants: Partial<Grants> = {},
  ): Promise<JoinedClient> {
    const client = await joinRaw(suite.server.url, tokenFor(room, identity, role, grants));
    suite.sockets.push(client.socket);
    return client;
  }

  async function say(client: JoinedClient, text: string, to?: string): Promise<ChatMessage> {
    const ack = await request(client.socket, 'sendChatMessage', to ? { text, to } : { text });
    assert.ok(ack.ok, `sendChatMessage: ${JSON.stringify(ack)}`);
    return ack.data as ChatMessage;
  }

  /** Every chat message `client` received so far, in order. */
  const received = (client: JoinedClient) => client.events.of('chatMessages').flat();

  function admin(method: string, path: string, body?: unknown): Promise<Response> {
    const auth = Buffer.from(`${TEST_KEYS.apiKey}:${TEST_KEYS.apiSecret}`).toString('base64');
    return fetch(`${suite.server.url}${path}`, {
      method,
      headers: { authorization: `Basic ${auth}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  describe('chat', function () {
    it('stamps a message and delivers it to the room, the sender included', async function () {
      const host = await join('chat-basic', 'host', 'host');
      const viewer = await join('chat-basic', 'viewer');
      const before = Date.now();
      const sent = await say(viewer, 'hello <b>host</b>');
      assert.equal(sent.from, 'viewer');
      assert.equal(sent.role, 'audience');
      assert.equal(sent.name, 'viewer');
      assert.equal(sent.text, 'hello <b>host</b>', 'plain text, as sent');
      assert.ok(sent.id.length > 0 && sent.sentAt >= before);
      await eventually(() => assert.deepEqual(received(host), [sent]));
      await eventually(() => assert.deepEqual(received(viewer), [sent]));
      const again = await say(viewer, 'again');
      assert.notEqual(again.id, sent.id);
    });

    it('a newcomer receives exactly the last 50 messages', async function () {
      const host = await join('chat-history', 'host', 'host');
      const sent: ChatMessage[] = [];
      for (let i = 0; i < 60; i += 1) sent.push(await say(host, `message ${i}`));
      const newcomer = await join('chat-history', 'newcomer');
      assert.deepEqual(newcomer.join.chat.history, sent.slice(-50));
      assert.equal(newcomer.join.chat.historySize, 50, 'so that the SDK keeps as many');
      assert.equal(newcomer.join.chat.muted, false);
      assert.equal(host.join.chat.history.length, 0);
    });

    it('a flood of 1,000 audience messages lets through at most the budget; every host message arrives', async function () {
      this.timeout(120_000);
      const room = 'chat-flood';
      const { chatRoomBudget, chatBudgetWindowMs } = suite.server.config.interaction;
      const host = await join(room, 'host', 'host');
      const watcher = await join(room, 'watcher');
      const senders: JoinedClient[] = [];
      for (let batch = 0; batch < 5; batch += 1) {
        senders.push(
          ...(await Promise.all(
            Array.from({ length: 10 }, (_, i) => join(room, `flooder${batch * 10 + i}`)),
          )),
        );
      }
      // 52 participants: past CHAT_BATCH_MIN_PARTICIPANTS, chat goes out in batches.
      const started = Date.now();
      const audienceAcks = senders.flatMap((sender) =>
        Array.from({ length: 20 }, (_, i) =>
          request(sender.socket, 'sendChatMessage', { text: `${sender.identity} ${i}` }),
        ),
      );
      const hostAcks = Array.from({ length: 20 }, (_, i) =>
        request(host.socket, 'sendChatMessage', { text: `host ${i}` }),
      );
      const acks = await Promise.all(audienceAcks);
      const elapsed = Date.now() - started;
      const hostSent = (await Promise.all(hostAcks)).map((ack) => {
        assert.ok(ack.ok, `host message refused: ${JSON.stringify(ack)}`);
        return (ack.data as ChatMessage).id;
      });
      const accepted = acks.filter((ack) => ack.ok).map((ack) => (ack.data as ChatMessage).id);
      const refused = acks.filter((ack) => !ack.ok);
      assert.equal(acks.length, 1000);
      assert.ok(
        refused.every((ack) => errorCode(ack) === 'RATE_LIMITED'),
        JSON.stringify(refused.find((ack) => errorCode(ack) !== 'RATE_LIMITED')),
      );
      // Fixed windows: a burst lasting `elapsed` touches at most this many of them.
      const windows = Math.floor(elapsed / chatBudgetWindowMs) + 2;
      assert.ok(accepted.length > 0, 'some audience messages pass');
      assert.ok(
        accepted.length <= chatRoomBudget * windows,
        `${accepted.length} accepted in ${elapsed} ms (budget ${chatRoomBudget} per ${chatBudgetWindowMs} ms)`,
      );
      await eventually(() => {
        const ids = new Set(received(watcher).map((m) => m.id));
        for (const id of [...hostSent, ...accepted]) assert.ok(ids.has(id), `missing ${id}`);
        assert.equal(ids.size, hostSent.length + accepted.length, 'nothing refused was delivered');
      });
      const writes = watcher.events.of('chatMessages').length;
      assert.ok(
        writes < hostSent.length + accepted.length,
        `batched: ${writes} writes for ${hostSent.length + accepted.length} messages`,
      );
      assert.deepEqual(
        received(watcher)
          .filter((m) => m.from === 'host')
          .map((m) => m.id),
        hostSent,
        "the host's messages in order",
      );
    });

    it('a muted sender gets FORBIDDEN, and stays muted when it joins again', async function () {
      const host = await join('chat-mute', 'host', 'host');
      const viewer = await join('chat-mute', 'viewer');
      const other = await join('chat-mute', 'other');
      assert.equal(
        errorCode(await request(other.socket, 'muteChat', { identity: 'viewer', muted: true })),
        'FORBIDDEN',
        'hosts only',
      );
      const told = nextEvent(viewer.socket, 'chatMuted');
      assert.ok((await request(host.socket, 'muteChat', { identity: 'viewer', muted: true })).ok);
      assert.deepEqual(await told, { identity: 'viewer', muted: true });
      const refused = await request(viewer.socket, 'sendChatMessage', { text: 'hi' });
      assert.equal(errorCode(refused), 'FORBIDDEN');
      assert.equal(openRoom(suite.server, 'chat-mute').chat.history().length, 0);
      // The mute covers what else a viewer can put in front of everyone.
      assert.equal(
        errorCode(await request(viewer.socket, 'sendReaction', { emoji: '🔥' })),
        'FORBIDDEN',
      );
      assert.equal(
        errorCode(await request(viewer.socket, 'sendData', { topic: 't', payload: 'spam' })),
        'FORBIDDEN',
      );
      // Hosts' messages always pass: a host's chat cannot be muted.
      const cohost = await join('chat-mute', 'cohost', 'host');
      assert.equal(
        errorCode(await request(host.socket, 'muteChat', { identity: 'cohost', muted: true })),
        'FORBIDDEN',
      );
      assert.ok((await request(cohost.socket, 'sendChatMessage', { text: 'still here' })).ok);
      assert.equal(
        errorCode(await request(host.socket, 'muteChat', { identity: 'nobody', muted: true })),
        'NOT_FOUND',
      );

      viewer.socket.disconnect();
      const back = await join('chat-mute', 'viewer');
      assert.equal(back.join.chat.muted, true);
      assert.equal(
        errorCode(await request(back.socket, 'sendChatMessage', { text: 'hi' })),
        'FORBIDDEN',
      );
      assert.ok((await request(host.socket, 'muteChat', { identity: 'viewer', muted: false })).ok);
      await say(back, 'thanks');
      assert.ok((await request(back.socket, 'sendReaction', { emoji: '🔥' })).ok);
      assert.ok((await request(back.socket, 'sendData', { topic: 't', payload: 'x' })).ok);
      assert.ok(other.events.of('chatMuted').length === 0, 'only the muted and hosts are told');
    });

    it('a deleted message disappears from the history and every screen', async function () {
      const host = await join('chat-delete', 'host', 'host');
      const viewer = await join('chat-delete', 'viewer');
      const keep = await say(host, 'keep');
      const rude = await say(viewer, 'rude');
      assert.equal(
        errorCode(await request(viewer.socket, 'deleteChatMessage', { id: rude.id })),
        'FORBIDDEN',
      );
      const told = nextEvent(viewer.socket, 'chatMessageDeleted');
      assert.ok((await request(host.socket, 'deleteChatMessage', { id: rude.id })).ok);
      assert.deepEqual(await told, { id: rude.id, by: 'host' });
      assert.equal(
        errorCode(await request(host.socket, 'deleteChatMessage', { id: rude.id })),
        'NOT_FOUND',
        'deleted already',
      );
      const newcomer = await join('chat-delete', 'newcomer');
      assert.deepEqual(newcomer.join.chat.history, [keep]);
      assert.equal(viewer.events.of('chatMessageDeleted').length, 1, 'told once');
      assert.equal(
        errorCode(await request(host.socket, 'deleteChatMessage', { id: 'no-such-id' })),
        'NOT_FOUND',
      );
    });

    it('oversize and malformed messages get INVALID_PAYLOAD and change nothing', async function () {
      const sender = await join('chat-malformed', 'sender');
      const watcher = await join('chat-malformed', 'watcher');
      const bad: unknown[] = [
        { text: 'x'.repeat(2001) },
        { text: 'bell \u0007' },
        { text: 'escape \u001b[31m' },
        { text: 'override \u202e' },
        { text: '   ' },
        { text: '' },
        { text: 42 },
        {},
        { text: 'hi', extra: true },
        { text: 'hi', to: '' },
        'hello',
        null,
      ];
      for (const payload of bad) {
        const ack = await request(sender.socket, 'sendChatMessage', payload);
        assert.equal(errorCode(ack), 'INVALID_PAYLOAD', JSON.stringify(payload));
      }
      assert.ok((await request(sender.socket, 'sendChatMessage', { text: 'x'.repeat(2000) })).ok);
      assert.ok(
        (await request(sender.socket, 'sendChatMessage', { text: 'tab\tand\nnewline' })).ok,
      );
      await eventually(() => assert.equal(received(watcher).length, 2));
      assert.equal(openRoom(suite.server, 'chat-malformed').chat.history().length, 2);
    });

    it('needs canChat; a hidden participant with canChat may chat', async function () {
      const watcher = await join('chat-grants', 'watcher');
      const silent = await join('chat-grants', 'silent', 'audience', { canChat: false });
      const ghost = await join('chat-grants', 'ghost', 'audience', { hidden: true });
      assert.equal(
        errorCode(await request(silent.socket, 'sendChatMessage', { text: 'hi' })),
        'FORBIDDEN',
      );
      const sent = await say(ghost, 'boo');
      await eventually(() => assert.deepEqual(received(watcher), [sent]));
      await eventually(() => assert.deepEqual(received(silent), [sent]), 5000, 'read-only reads');
    });

    it('a private message reaches its target and echoes to its sender only', async function () {
      const alice = await join('chat-private', 'alice');
      const bob = await join('chat-private', 'bob');
      const carol = await join('chat-private', 'carol');
      const sent = await say(alice, 'psst', 'bob');
      assert.equal(sent.to, 'bob');
      await eventually(() => assert.deepEqual(received(bob), [sent]));
      await eventually(() => assert.deepEqual(received(alice), [sent]));
      const open = await say(carol, 'everyone');
      await eventually(() => assert.deepEqual(received(carol), [open]));
      assert.deepEqual(received(bob), [sent, open]);
      assert.deepEqual(openRoom(suite.server, 'chat-private').chat.history(), [open]);
      assert.equal(
        errorCode(await request(alice.socket, 'sendChatMessage', { text: 'x', to: 'nobody' })),
        'NOT_FOUND',
      );
    });

    it('a hidden participant cannot be named: as absent as nobody', async function () {
      const alice = await join('chat-hidden-target', 'alice');
      const ghost = await join('chat-hidden-target', 'ghost', 'audience', { hidden: true });
      assert.equal(
        errorCode(await request(alice.socket, 'sendChatMessage', { text: 'x', to: 'ghost' })),
        'NOT_FOUND',
      );
      const data = { topic: 't', payload: 'x', to: ['ghost'] };
      assert.equal(errorCode(await request(alice.socket, 'sendData', data)), 'NOT_FOUND');
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual(received(ghost), []);
      assert.deepEqual(ghost.events.of('dataReceived'), []);
    });
  });

  describe('data messages', function () {
    it('up to 16 KiB, in order per sender, to the room or to some, never back', async function () {
      const sender = await join('data-basic', 'sender');
      const bob = await join('data-basic', 'bob');
      const carol = await join('data-basic', 'carol');
      const full = 'é'.repeat(MAX_DATA_PAYLOAD_BYTES / 2); // 2 bytes each in UTF-8
      assert.ok((await request(sender.socket, 'sendData', { topic: 'gift', payload: full })).ok);
      const over = await request(sender.socket, 'sendData', { topic: 'gift', payload: `${full}x` });
      assert.equal(errorCode(over), 'INVALID_PAYLOAD');
      for (const payload of [
        { topic: '', payload: 'x' },
        { topic: 'x'.repeat(65), payload: 'x' },
        { topic: 't', payload: 5 },
        { topic: 't', payload: 'x', to: [] },
        { topic: 't', payload: 'x', extra: 1 },
      ]) {
        assert.equal(
          errorCode(await request(sender.socket, 'sendData', payload)),
          'INVALID_PAYLOAD',
          JSON.stringify(payload),
        );
      }
      const sends = Array.from({ length: 10 }, (_, i) =>
        request(sender.socket, 'sendData', { topic: 'seq', payload: String(i) }),
      );
      assert.ok((await Promise.all(sends)).every((ack) => ack.ok));
      assert.ok(
        (await request(sender.socket, 'sendData', { topic: 'cue', payload: 'b', to: ['bob'] })).ok,
      );
      assert.equal(
        errorCode(
          await request(sender.socket, 'sendData', { topic: 'cue', payload: 'x', to: ['nobody'] }),
        ),
        'NOT_FOUND',
      );
      const expected = [
        { from: 'sender', topic: 'gift', payload: full },
        ...Array.from({ length: 10 }, (_, i) => ({
          from: 'sender',
          topic: 'seq',
          payload: String(i),
        })),
      ];
      await eventually(() =>
        assert.deepEqual(bob.events.of('dataReceived'), [
          ...expected,
          { from: 'sender', topic: 'cue', payload: 'b', to: ['bob'] },
        ]),
      );
      assert.deepEqual(carol.events.of('dataReceived'), expected);
      assert.deepEqual(sender.events.of('dataReceived'), []);
    });

    it('are rate-limited per sender', async function () {
      const { dataPerSecond } = suite.server.config.interaction;
      const sender = await join('data-limit', 'sender');
      const other = await join('data-limit', 'other');
      const acks = await Promise.all(
        Array.from({ length: dataPerSecond + 10 }, (_, i) =>
          request(sender.socket, 'sendData', { topic: 't', payload: String(i) }),
        ),
      );
      assert.equal(acks.filter((ack) => ack.ok).length, dataPerSecond);
      assert.ok(acks.filter((ack) => !ack.ok).every((ack) => errorCode(ack) === 'RATE_LIMITED'));
      // Someone else's budget is its own.
      assert.ok((await request(other.socket, 'sendData', { topic: 't', payload: 'x' })).ok);
    });

    it("the audience shares a room budget; hosts' messages do not use it", async function () {
      const { dataPerSecond } = suite.server.config.interaction;
      const room = 'data-room-budget';
      const host = await join(room, 'host', 'host');
      const senders = await Promise.all(
        Array.from({ length: 5 }, (_, i) => join(room, `sender${i}`)),
      );
      const started = Date.now();
      const acks = await Promise.all(
        senders.flatMap((sender) =>
          Array.from({ length: dataPerSecond }, (_, i) =>
            request(sender.socket, 'sendData', { topic: 't', payload: String(i) }),
          ),
        ),
      );
      const elapsed = Date.now() - started;
      const accepted = acks.filter((ack) => ack.ok).length;
      assert.ok(acks.filter((ack) => !ack.ok).every((ack) => errorCode(ack) === 'RATE_LIMITED'));
      // Fixed one-second windows: a burst lasting `elapsed` touches at most this many.
      const windows = Math.floor(elapsed / 1000) + 2;
      assert.ok(accepted > 0);
      assert.ok(
        accepted <= DATA_ROOM_PER_SECOND * windows && accepted < acks.length,
        `${accepted} of ${acks.length} accepted in ${elapsed} ms`,
      );
      const hostAcks = await Promise.all(
        Array.from({ length: dataPerSecond }, (_, i) =>
          request(host.socket, 'sendData', { topic: 'h', payload: String(i) }),
        ),
      );
      assert.ok(
        hostAcks.every((ack) => ack.ok),
        'a host is limited by its own rate only',
      );
    });
  });

  describe('reactions', function () {
    it('arrive as counts, about once per interval', async function () {
      const host = await join('reactions-basic', 'host', 'host');
      const viewers = await Promise.all(['v1', 'v2', 'v3'].map((v) => join('reactions-basic', v)));
      const sends: Promise<Ack<unknown>>[] = [];
      for (const viewer of viewers) {
        for (let i = 0; i < 5; i += 1) {
          sends.push(request(viewer.socket, 'sendReaction', { emoji: '❤️' }));
        }
      }
      sends.push(request(viewers[0]!.socket, 'sendReaction', { emoji: '👏' }));
      assert.ok((await Promise.all(sends)).every((ack) => ack.ok));
      const total = (events: ReactionCounts[]) => {
        const sum: Record<string, number> = {};
        for (const event of events) {
          for (const [emoji, count] of Object.entries(event.counts)) {
            sum[emoji] = (sum[emoji] ?? 0) + (count ?? 0);
          }
        }
        return sum;
      };
      await eventually(() =>
        assert.deepEqual(total(host.events.of('reactions')), { '❤️': 15, '👏': 1 }),
      );
      const events = host.events.of('reactions');
      assert.ok(events.length <= 2, `${events.length} reactions events for 16 reactions`);
      assert.ok(events.every((event) => event.windowMs === REACTION_INTERVAL_MS));
      await new Promise((resolve) => setTimeout(resolve, REACTION_INTERVAL_MS * 2));
      assert.equal(host.events.of('reactions').length, events.length, 'none while quiet');
    });

    it('refuse a bad emoji, past the per-sender limit, and without canChat', async function () {
      const { reactionsPerSecond } = suite.server.config.interaction;
      const viewer = await join('reactions-limit', 'viewer');
      const silent = await join('reactions-limit', 'silent', 'audience', { canChat: false });
      for (const emoji of ['💩', 'heart', '', 1]) {
        assert.equal(
          errorCode(await request(viewer.socket, 'sendReaction', { emoji })),
          'INVALID_PAYLOAD',
        );
      }
      const acks = await Promise.all(
        Array.from({ length: reactionsPerSecond + 5 }, () =>
          request(viewer.socket, 'sendReaction', { emoji: '🔥' }),
        ),
      );
      assert.equal(acks.filter((ack) => ack.ok).length, reactionsPerSecond);
      assert.ok(acks.filter((ack) => !ack.ok).every((ack) => errorCode(ack) === 'RATE_LIMITED'));
      assert.equal(
        errorCode(await request(silent.socket, 'sendReaction', { emoji: '🔥' })),
        'FORBIDDEN',
      );
      await eventually(() =>
        assert.deepEqual(
          silent.events.of('reactions').reduce((n, e) => n + (e.counts['🔥'] ?? 0), 0),
          reactionsPerSecond,
        ),
      );
    });
  });

  describe('admin REST', function () {
    it('reads the history, deletes a message, mutes and unmutes a chat', async function () {
      const room = 'chat-admin';
      const host = await join(room, 'host', 'host');
      const viewer = await join(room, 'viewer');
      const first = await say(host, 'first');
      const second = await say(viewer, 'second');

      const history = await admin('GET', `/api/rooms/${room}/chat`);
      assert.equal(history.status, 200);
      assert.deepEqual(await history.json(), { room, messages: [first, second] });
      assert.equal((await admin('GET', '/api/rooms/nowhere/chat')).status, 404);
      const noAuth = await fetch(`${suite.server.url}/api/rooms/${room}/chat`);
      assert.equal(noAuth.status, 401);

      const told = nextEvent(host.socket, 'chatMessageDeleted');
      assert.equal((await admin('DELETE', `/api/rooms/${room}/chat/${second.id}`)).status, 204);
      assert.deepEqual(await told, { id: second.id, by: 'admin' });
      assert.deepEqual(openRoom(suite.server, room).chat.history(), [first]);
      assert.equal((await admin('DELETE', `/api/rooms/${room}/chat/unknown`)).status, 404);

      const muted = nextEvent(viewer.socket, 'chatMuted');
      const hostTold = nextEvent(host.socket, 'chatMuted');
      const mute = await admin('POST', `/api/rooms/${room}/participants/viewer/chat-mute`, {
        muted: true,
      });
      assert.equal(mute.status, 200);
      assert.deepEqual(await mute.json(), { identity: 'viewer', muted: true });
      assert.deepEqual(await muted, { identity: 'viewer', muted: true });
      assert.deepEqual(await hostTold, { identity: 'viewer', muted: true });
      assert.equal(
        errorCode(await request(viewer.socket, 'sendChatMessage', { text: 'hi' })),
        'FORBIDDEN',
      );
      const bad = await admin('POST', `/api/rooms/${room}/participants/viewer/chat-mute`, {
        muted: 'yes',
      });
      assert.equal(bad.status, 400);
      const nobody = await admin('POST', `/api/rooms/${room}/participants/nobody/chat-mute`, {
        muted: true,
      });
      assert.equal(nobody.status, 404);
      const ofHost = await admin('POST', `/api/rooms/${room}/participants/host/chat-mute`, {
        muted: true,
      });
      assert.equal(ofHost.status, 403, "a host's chat cannot be muted");
      await admin('POST', `/api/rooms/${room}/participants/viewer/chat-mute`, { muted: false });
      await say(viewer, 'back');
    });
  });
});
