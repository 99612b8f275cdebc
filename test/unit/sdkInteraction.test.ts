import assert from 'node:assert/strict';
import type { ChatMessage, ChatState, ServerToClientEvents } from '@livestage/protocol';
import { Chat } from '../../client-sdk/src/Chat.js';
import { LocalParticipant, RemoteParticipant } from '../../client-sdk/src/participants.js';
import type { RoomContext } from '../../client-sdk/src/roomContext.js';
import type { Signaling } from '../../client-sdk/src/Signaling.js';
import { Speakers } from '../../client-sdk/src/Speakers.js';

// The SDK's chat and speaker parts against a stand-in for the signaling connection: the server's
// events are delivered by hand, requests answer what the test says.

type Told = [event: string, ...args: unknown[]];

function harness(reply: (event: string, payload: unknown) => unknown = () => null) {
  const listeners = new Map<string, ((...args: unknown[]) => void)[]>();
  const told: Told[] = [];
  const signaling = {
    on(event: string, listener: (...args: unknown[]) => void) {
      listeners.set(event, [...(listeners.get(event) ?? []), listener]);
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
  return { context, told, server };
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
const joined = (history: ChatMessage[], muted = false): ChatState => ({ history, muted });

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
      ['chatMessage', missed],
      ['chatMuted', 'me', true],
    ]);
    assert.equal(chat.muted, true);
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
