import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type {
  ChatMessage,
  ChatState,
  DataMessage,
  ServerToClientEvents,
} from '@livestage/protocol';
import { Chat, DELETED_WHILE_AWAY, PRIVATE_MESSAGES_KEPT } from '../../client-sdk/src/Chat.js';
import { DataMessages } from '../../client-sdk/src/DataMessages.js';
import type { LiveSocket } from '../../client-sdk/src/nodeConnection.js';
import { LocalParticipant, RemoteParticipant } from '../../client-sdk/src/participants.js';
import type { RoomContext } from '../../client-sdk/src/roomContext.js';
import { Signaling } from '../../client-sdk/src/Signaling.js';
import { Speakers } from '../../client-sdk/src/Speakers.js';

// The SDK's chat and speaker parts against a stand-in for the signaling connection: the server's
// events are delivered by hand, requests answer what the test says.

type Told = [event: string, ...args: unknown[]];

type Listener = (...args: unknown[]) => void;

function harness(reply: (event: string, payload: unknown) => unknown = () => null) {
  const listeners = new Map<string, Listener[]>();
  const previousListeners = new Map<string, Listener[]>();
  const told: Told[] = [];
  const signaling = {
    on(event: string, listener: Listener) {
      listeners.set(event, [...(listeners.get(event) ?? []), listener]);
    },
    onPreviousDuringMove(event: string, listener: Listener) {
      previousListeners.set(event, [...(previousListeners.get(event) ?? []), listener]);
    },
    request: async (event: string, payload: unknown) => reply(event, payload),
  };
  const context: RoomContext = {
    signaling: signaling as unknown as Signaling,
    localParticipant: new LocalParticipant('me', 'audience'),
    emit: (event, ...args) => {
      told.push([event, ...args]);
      return true;
    },
    reportError: (error) => {
      throw error;
    },
    mark: () => undefined,
  };
  const server = <E extends keyof ServerToClientEvents>(
    event: E,
    ...args: Parameters<ServerToClientEvents[E]>
  ) => {
    for (const listener of listeners.get(event) ?? []) listener(...args);
  };
  /** The node this client is moving away from, before the new node's join answer. */
  const previousNode = <E extends keyof ServerToClientEvents>(
    event: E,
    ...args: Parameters<ServerToClientEvents[E]>
  ) => {
    for (const listener of previousListeners.get(event) ?? []) listener(...args);
  };
  return { context, told, server, previousNode };
}

let clock = 1_000;
function message(text: string, extra: Partial<ChatMessage> = {}): ChatMessage {
  clock += 10;
  return {
    id: text,
    from: 'someone',
    name: 'Someone',
    role: 'audience',
    text,
    sentAt: clock,
    ...extra,
  };
}

const texts = (messages: ChatMessage[]) => messages.map((m) => m.text);
const toldTexts = (told: Told[]) =>
  told.filter(([event]) => event === 'chatMessage').map(([, m]) => (m as ChatMessage).text);
const joined = (history: ChatMessage[], muted = false, historySize = 50): ChatState => ({
  history,
  historySize,
  muted,
});
const toldDeleted = (told: Told[]) => told.filter(([event]) => event === 'chatMessageDeleted');

describe('Chat (SDK)', function () {
  it('takes the join history silently, then tells each message of a batch once, in order', function () {
    const { context, told, server } = harness();
    const chat = new Chat(context);
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((t) => message(t)) as [
      ChatMessage,
      ChatMessage,
      ChatMessage,
      ChatMessage,
    ];
    chat.reset(joined([a, b]));
    assert.deepEqual(told, []);
    server('chatMessages', [c, d]);
    server('chatMessages', [d]); // a replay after a resume
    assert.deepEqual(toldTexts(told), ['c', 'd']);
    assert.deepEqual(texts(chat.history), ['a', 'b', 'c', 'd']);
  });

  it("tells its own message once, whether the server's copy or the ack comes first", async function () {
    const own = message('mine', { from: 'me' });
    const { context, told, server } = harness(() => own);
    const chat = new Chat(context);
    chat.reset(joined([]));
    server('chatMessages', [own]);
    assert.deepEqual(await chat.send('mine'), own);
    const later = message('later', { from: 'me' });
    const second = harness(() => later);
    const other = new Chat(second.context);
    other.reset(joined([]));
    await other.send('later');
    second.server('chatMessages', [later]);
    assert.deepEqual(toldTexts(told), ['mine']);
    assert.deepEqual(toldTexts(second.told), ['later']);
    assert.deepEqual(texts(other.history), ['later']);
  });

  it('keeps the history in sending order when a batch brings messages older than an ack', async function () {
    const early = message('early');
    const own = message('own', { from: 'me' });
    const { context, server } = harness(() => own);
    const chat = new Chat(context);
    chat.reset(joined([]));
    await chat.send('own');
    server('chatMessages', [early, own]);
    assert.deepEqual(texts(chat.history), ['early', 'own']);
  });

  it('drops a deleted message, and a late copy does not bring it back', function () {
    const { context, told, server } = harness();
    const chat = new Chat(context);
    const spam = message('spam');
    chat.reset(joined([message('ok'), spam]));
    server('chatMessageDeleted', { id: spam.id, by: 'host-1' });
    server('chatMessages', [spam]);
    assert.deepEqual(texts(chat.history), ['ok']);
    assert.deepEqual(told, [['chatMessageDeleted', spam.id, 'host-1']]);
  });

  it('caps the history at the room size, the oldest going first', function () {
    const { context, server } = harness();
    const chat = new Chat(context);
    chat.reset(joined([]));
    const all = Array.from({ length: 60 }, (_, i) => message(`m${i}`));
    server('chatMessages', all);
    assert.equal(chat.history.length, 50);
    assert.equal(chat.history[0]!.text, 'm10');
  });

  it("after a rejoin: the server's history wins, private messages stay, missed ones are told", function () {
    const { context, told, server } = harness();
    const chat = new Chat(context);
    const [a, b] = [message('a'), message('b')];
    chat.reset(joined([a, b]));
    const whisper = message('psst', { to: 'me' });
    server('chatMessages', [whisper]);
    const deletedMeanwhile = message('deleted meanwhile');
    server('chatMessages', [deletedMeanwhile]);
    told.length = 0;

    const missed = message('missed');
    chat.reset(joined([a, b, missed], true));
    assert.deepEqual(texts(chat.history), ['a', 'b', 'psst', 'missed']);
    assert.deepEqual(told, [
      // The app rendered it: after a move nothing else would take it off the screen.
      ['chatMessageDeleted', deletedMeanwhile.id, DELETED_WHILE_AWAY],
      ['chatMessage', missed],
      ['chatMuted', 'me', true],
    ]);
    assert.equal(chat.muted, true);
  });

  it('after a rejoin: tells deleted only what is newer than the oldest message both histories have', function () {
    const { context, told, server } = harness();
    const chat = new Chat(context);
    const [agedOut, kept, deleted, last] = ['aged out', 'kept', 'deleted', 'last'].map((t) =>
      message(t),
    ) as [ChatMessage, ChatMessage, ChatMessage, ChatMessage];
    chat.reset(joined([agedOut, kept], false, 3));
    server('chatMessages', [deleted, last]);
    told.length = 0;
    const missed = message('missed');
    // The room keeps 3: 'aged out' left the history without anyone deleting it.
    chat.reset(joined([kept, last, missed], false, 3));
    assert.deepEqual(toldDeleted(told), [['chatMessageDeleted', 'deleted', DELETED_WHILE_AWAY]]);
    assert.deepEqual(texts(chat.history), ['kept', 'last', 'missed']);

    // Away for longer than the history lasts: nothing in common, nothing can be told apart.
    told.length = 0;
    chat.reset(joined([message('x'), message('y')], false, 3));
    assert.deepEqual(toldDeleted(told), []);
    assert.deepEqual(toldTexts(told), ['x', 'y']);
  });

  it("keeps arrival order for live messages and the server's order for a join's history, whatever the clocks say", function () {
    const { context, server } = harness();
    const chat = new Chat(context);
    // Accepted by nodes whose clocks disagree: sentAt is no order.
    const first = message('first', { sentAt: 5_000 });
    const second = message('second', { sentAt: 4_000 });
    chat.reset(joined([first, second]));
    const third = message('third', { sentAt: 9_000 });
    const fourth = message('fourth', { sentAt: 3_000 });
    server('chatMessages', [third]);
    server('chatMessages', [fourth]);
    assert.deepEqual(texts(chat.history), ['first', 'second', 'third', 'fourth']);
    chat.reset(joined([second, first, third, fourth]));
    assert.deepEqual(texts(chat.history), ['second', 'first', 'third', 'fourth']);
  });

  it("caps the room's messages at the join reply's historySize; private ones take no place", function () {
    const { context, server } = harness();
    const chat = new Chat(context);
    chat.reset(joined([], false, 3));
    const whispers = Array.from({ length: PRIVATE_MESSAGES_KEPT + 2 }, (_, i) =>
      message(`p${i}`, { to: 'me' }),
    );
    server('chatMessages', [message('r0'), message('r1'), ...whispers, message('r2')]);
    server('chatMessages', [message('r3')]);
    const history = chat.history;
    assert.deepEqual(
      texts(history.filter((m) => m.to === undefined)),
      ['r1', 'r2', 'r3'],
      'the room size, privates not counted',
    );
    const privates = history.filter((m) => m.to !== undefined);
    assert.equal(privates.length, PRIVATE_MESSAGES_KEPT);
    assert.equal(privates[0]!.text, 'p2');

    const large = harness();
    const big = new Chat(large.context);
    big.reset(joined([], false, 200));
    large.server(
      'chatMessages',
      Array.from({ length: 150 }, (_, i) => message(`m${i}`)),
    );
    assert.equal(big.history.length, 150, 'a room keeping 200 is not cut at 50');
  });

  it('during a move: what the previous node tells counts, once, and is no deletion', function () {
    const { context, told, server, previousNode } = harness();
    const chat = new Chat(context);
    const [a, b] = [message('a'), message('b')];
    chat.reset(joined([a, b]));
    // The new connection took over; the previous node still tells until the join answer.
    const sentMeanwhile = message('sent meanwhile');
    const whisper = message('psst', { to: 'me' });
    previousNode('chatMessages', [sentMeanwhile, whisper]);
    previousNode('chatMessageDeleted', { id: a.id, by: 'host-1' });
    previousNode('chatMuted', { identity: 'me', muted: true });
    // The new node's join answer was made before 'sent meanwhile' was accepted.
    chat.reset(joined([b], true));
    // Then the new node tells what happened since it had this participant.
    server('chatMessages', [sentMeanwhile]);
    server('chatMessageDeleted', { id: a.id, by: 'host-1' });
    server('chatMuted', { identity: 'me', muted: true });
    assert.deepEqual(texts(chat.history), ['b', 'sent meanwhile', 'psst']);
    assert.deepEqual(told, [
      ['chatMessage', sentMeanwhile],
      ['chatMessage', whisper],
      ['chatMessageDeleted', a.id, 'host-1'],
      ['chatMuted', 'me', true],
    ]);
  });

  it("places its own message in the room's order when the ack came first", async function () {
    const own = message('own', { from: 'me' });
    const { context, told, server } = harness(() => own);
    const chat = new Chat(context);
    chat.reset(joined([]));
    await chat.send('own');
    const before = message('sent before');
    server('chatMessages', [before]);
    server('chatMessages', [own]);
    const after = message('sent after');
    server('chatMessages', [after]);
    assert.deepEqual(texts(chat.history), ['sent before', 'own', 'sent after']);
    assert.deepEqual(toldTexts(told), ['own', 'sent before', 'sent after']);
  });

  it('tells a mute state once, not again when it is the same', function () {
    const { context, told, server } = harness();
    const chat = new Chat(context);
    chat.reset(joined([]));
    server('chatMuted', { identity: 'viewer', muted: true });
    server('chatMuted', { identity: 'viewer', muted: true });
    server('chatMuted', { identity: 'viewer', muted: false });
    assert.deepEqual(told, [
      ['chatMuted', 'viewer', true],
      ['chatMuted', 'viewer', false],
    ]);
  });

  it('follows chatMuted for itself only', function () {
    const { context, server } = harness();
    const chat = new Chat(context);
    chat.reset(joined([]));
    server('chatMuted', { identity: 'someone-else', muted: true });
    assert.equal(chat.muted, false);
    server('chatMuted', { identity: 'me', muted: true });
    assert.equal(chat.muted, true);
  });
});

describe('Speakers (SDK)', function () {
  it('sets isSpeaking and audioLevel from reports, and each participant tells its changes', function () {
    const { context, told, server } = harness();
    const host = new RemoteParticipant({
      identity: 'host',
      name: 'Host',
      role: 'host',
      metadata: '',
      tracks: [],
    });
    const participants = new Map([['host', host]]);
    const speakers = new Speakers(context, participants);
    const changes: boolean[] = [];
    host.on('speakingChanged', (speaking) => changes.push(speaking));

    server('activeSpeakersChanged', { speakers: [{ identity: 'host', level: 0.6 }] });
    assert.equal(host.isSpeaking, true);
    assert.equal(host.audioLevel, 0.6);
    assert.equal(context.localParticipant.isSpeaking, false);
    server('activeSpeakersChanged', {
      speakers: [
        { identity: 'me', level: 0.7 },
        { identity: 'host', level: 0.5 },
      ],
    });
    assert.equal(context.localParticipant.isSpeaking, true);
    assert.equal(host.audioLevel, 0.5);
    // A rejoin: the join reply says who speaks now; the same speakers are no news.
    speakers.reset([
      { identity: 'me', level: 0.4 },
      { identity: 'host', level: 0.3 },
    ]);
    assert.equal(host.audioLevel, 0.3);
    speakers.reset([]);
    assert.equal(host.isSpeaking, false);
    assert.equal(host.audioLevel, 0);
    assert.deepEqual(changes, [true, false]);
    assert.deepEqual(
      told.map(([event, list]) => [event, (list as { identity: string }[]).map((s) => s.identity)]),
      [
        ['activeSpeakersChanged', ['host']],
        ['activeSpeakersChanged', ['me', 'host']],
        ['activeSpeakersChanged', []],
      ],
    );
  });
});

describe('DataMessages (SDK)', function () {
  const data = (payload: string, from = 'host'): DataMessage => ({ from, topic: 'poll', payload });
  const received = (told: Told[]) =>
    told
      .filter(([event]) => event === 'dataReceived')
      .map(([, m]) => `${(m as DataMessage).from}:${(m as DataMessage).payload}`);

  it("during a move: the previous node's messages count; the new node's copies are not told twice", function () {
    const { context, told, server, previousNode } = harness();
    new DataMessages(context);
    previousNode('dataReceived', data('1')); // sent before the new node had this participant
    previousNode('dataReceived', data('2')); // sent after: the new node delivers it too
    previousNode('dataReceived', data('x', 'guest'));
    server('dataReceived', data('2'));
    server('dataReceived', data('3'));
    server('dataReceived', data('1')); // the same message sent again later is news
    server('dataReceived', data('y', 'guest'));
    assert.deepEqual(received(told), [
      'host:1',
      'host:2',
      'guest:x',
      'host:3',
      'host:1',
      'guest:y',
    ]);
  });
});

describe('Signaling during a move (SDK)', function () {
  /** Enough of a socket.io socket for Signaling's listeners. */
  class StandInSocket extends EventEmitter {
    disconnected = false;
    disconnect() {
      this.disconnected = true;
      return this;
    }
  }
  const asSocket = (socket: StandInSocket) => socket as unknown as LiveSocket;

  it("hears the previous node's connection for what was asked, until the new node's join answer", function () {
    const previous = new StandInSocket();
    const next = new StandInSocket();
    const signaling = new Signaling(asSocket(previous), 1000);
    const heard: string[] = [];
    signaling.on('dataReceived', ({ payload }) => heard.push(`current:${payload}`));
    signaling.onPreviousDuringMove('dataReceived', ({ payload }) =>
      heard.push(`previous:${payload}`),
    );
    signaling.on('reactions', () => heard.push('reactions'));

    previous.emit('dataReceived', data('a'));
    signaling.adoptKeepingPrevious(asSocket(next));
    previous.emit('dataReceived', data('b'));
    previous.emit('reactions', { counts: {}, windowMs: 1000 }); // not asked for: deaf
    next.emit('dataReceived', data('c'));
    signaling.hearPreviousNoMore();
    previous.emit('dataReceived', data('d'));
    assert.equal(previous.disconnected, false, 'open until released');
    signaling.releasePrevious();
    assert.equal(previous.disconnected, true);
    assert.deepEqual(heard, ['current:a', 'previous:b', 'current:c']);
  });

  function data(payload: string): DataMessage {
    return { from: 'host', topic: 'cue', payload };
  }
});
