import assert from 'node:assert/strict';
import type http from 'node:http';
import { ConfigError, loadConfig } from '../../server/src/config/config.js';
import { createLogger } from '../../server/src/logging/logger.js';
import { webhookEvent } from '../../server/src/webhooks/webhookEvent.js';
import {
  retryDelayMs,
  WebhookQueue,
  type DeliveryOptions,
} from '../../server/src/webhooks/WebhookQueue.js';
import { Webhooks } from '../../server/src/webhooks/webhooks.js';
import { eventually, TEST_KEYS } from '../helpers/server.js';
import { startWebhookReceiver, type Respond } from '../helpers/webhookReceiver.js';

// The delivery queue against a real HTTP receiver on a free port (no server, no SFU).

const log = createLogger({ level: 'error', format: 'pretty' });
const fast: DeliveryOptions = {
  timeoutMs: 2_000,
  attempts: 3,
  retryBaseMs: 20,
  queueLimit: 100,
  concurrency: 4,
};

type Receiver = Awaited<ReturnType<typeof startWebhookReceiver>>;

describe('webhook delivery queue', function () {
  const receivers: Receiver[] = [];
  const queues: WebhookQueue[] = [];

  async function setUp(respond: Respond, options: Partial<DeliveryOptions> = {}) {
    const receiver = await startWebhookReceiver(respond);
    receivers.push(receiver);
    const queue = new WebhookQueue(receiver.url, TEST_KEYS, { ...fast, ...options }, log);
    queues.push(queue);
    return { receiver, queue };
  }

  function named(event: string, room = 'r') {
    return webhookEvent(event, { room: { name: room } });
  }

  afterEach(async function () {
    await Promise.all(queues.splice(0).map((queue) => queue.close(0)));
    await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
  });

  it('retries wait retryBaseMs, then twice that each time, capped at a minute', function () {
    assert.deepEqual(
      [1, 2, 3, 4].map((retry) => retryDelayMs(500, retry)),
      [500, 1000, 2000, 4000],
    );
    assert.equal(retryDelayMs(1000, 20), 60_000);
  });

  it('one room in order, other rooms alongside: a held event holds its own room only', async function () {
    const held: http.ServerResponse[] = [];
    const { receiver, queue } = await setUp((webhook, response) => {
      if (webhook.event.event === 'a1') held.push(response);
      else response.end();
    });
    for (const name of ['a1', 'a2', 'a3']) queue.enqueue('a', named(name, 'a'));
    for (const name of ['b1', 'b2']) queue.enqueue('b', named(name, 'b'));
    await eventually(
      () =>
        assert.deepEqual(
          receiver.accepted().map((w) => w.event.event),
          ['b1', 'b2'],
        ),
      5000,
      'room b delivered while a1 is held',
    );
    assert.equal(receiver.received.length, 3, 'a2 and a3 wait behind a1');
    held[0]!.end();
    await eventually(
      () =>
        assert.deepEqual(
          receiver
            .accepted()
            .filter((w) => w.event.room.name === 'a')
            .map((w) => w.event.event),
          ['a1', 'a2', 'a3'],
        ),
      5000,
      'room a delivered in order once a1 is answered',
    );
    assert.equal(queue.delivered, 5);
    assert.equal(queue.dropped, 0);
    assert.ok(
      receiver.received.every((w) => w.verified),
      'every request signed',
    );
  });

  it('a full queue drops the oldest waiting event, counts it and tells the receiver', async function () {
    const held: http.ServerResponse[] = [];
    const { receiver, queue } = await setUp(
      (webhook, response) => {
        if (webhook.event.event === 'e1') held.push(response);
        else response.end();
      },
      { queueLimit: 2, concurrency: 1 },
    );
    for (const name of ['e1', 'e2', 'e3', 'e4', 'e5']) queue.enqueue('r', named(name));
    assert.equal(queue.dropped, 2, 'e2 and e3 dropped at once: the queue never waits');
    await eventually(() => assert.equal(held.length, 1, 'e1 in flight'), 5000, 'e1 arrives');
    held[0]!.end();
    await eventually(
      () =>
        assert.deepEqual(
          receiver.accepted().map((w) => w.event.event),
          ['e1', 'e4', 'e5'],
        ),
      5000,
      'the newest events delivered',
    );
    assert.equal(receiver.accepted()[1]!.event.numDropped, 2, 'e4 says 2 were dropped before it');
    assert.equal(receiver.accepted()[2]!.event.numDropped, undefined, 'e5 has nothing to tell');
  });

  it('a failing receiver gets every attempt with the same event, then the event is dropped', async function () {
    const { receiver, queue } = await setUp((_, response) => {
      response.statusCode = 503;
      response.end();
    });
    const event = named('room_started');
    queue.enqueue('r', event);
    await eventually(() => assert.equal(queue.dropped, 1), 5000, 'dropped after 3 attempts');
    assert.deepEqual(
      receiver.received.map((w) => w.event.id),
      [event.id, event.id, event.id],
      'three attempts of one event',
    );
    assert.ok(
      receiver.received.every((w) => w.verified),
      'each attempt signed anew and valid',
    );
    assert.equal(queue.pending, 0);
  });

  it('a 4xx refusal is final (no retry); 429 is retried', async function () {
    const { receiver, queue } = await setUp((webhook, response) => {
      const attempts = receiver.received.filter((w) => w.event.id === webhook.event.id).length;
      response.statusCode = webhook.event.event === 'refused' ? 401 : attempts === 1 ? 429 : 200;
      response.end();
    });
    queue.enqueue('r', named('refused'));
    queue.enqueue('r', named('throttled'));
    await eventually(() => assert.equal(queue.delivered, 1), 5000, 'throttled delivered');
    assert.equal(queue.dropped, 1, 'refused dropped');
    assert.deepEqual(
      receiver.received.map((w) => w.event.event),
      ['refused', 'throttled', 'throttled'],
    );
  });

  it('a hanging receiver times out each attempt; close aborts what is left', async function () {
    const { receiver, queue } = await setUp(() => undefined, { timeoutMs: 200, attempts: 2 });
    queue.enqueue('r', named('first'));
    await eventually(() => assert.equal(queue.dropped, 1), 5000, 'first dropped after 2 timeouts');
    assert.equal(receiver.received.length, 2, 'two attempts');
    await eventually(() => assert.equal(receiver.open().length, 0), 5000, 'both given up on');
    queue.enqueue('r', named('second'));
    queue.enqueue('r', named('third'));
    await eventually(() => assert.equal(receiver.open().length, 1), 5000, 'second in flight');
    const started = Date.now();
    await queue.close(0);
    assert.ok(Date.now() - started < 1_000, 'close does not wait for the timeout');
    assert.equal(queue.dropped, 3, 'second and third dropped on close');
    queue.enqueue('r', named('late'));
    assert.equal(queue.dropped, 4, 'nothing is taken after close');
  });

  it('Webhooks.send fans out to every URL; no URL: nothing to do', async function () {
    const one = await startWebhookReceiver();
    const two = await startWebhookReceiver();
    receivers.push(one, two);
    const webhooks = new Webhooks([one.url, two.url], TEST_KEYS, fast, log);
    webhooks.send('quality_report', { room: { name: 'q' }, report: { viewerCount: 3 } });
    await eventually(() => assert.equal(webhooks.delivered, 2), 5000, 'both URLs got it');
    for (const receiver of [one, two]) {
      const [webhook] = receiver.accepted();
      assert.equal(webhook?.event.event, 'quality_report');
      assert.deepEqual(webhook?.event.report, { viewerCount: 3 });
      assert.equal(webhook?.contentType, 'application/webhook+json');
    }
    assert.equal(one.received[0]!.event.id, two.received[0]!.event.id, 'one event, one id');
    await webhooks.close();
    const none = new Webhooks([], TEST_KEYS, fast, log);
    none.send('room_started', { room: { name: 'x' } });
    assert.equal(none.enabled, false);
    assert.equal(none.pending + none.dropped + none.delivered, 0);
  });
});

describe('webhook configuration', function () {
  it('WEBHOOK_URLS: comma-separated http(s) URLs; unset means none', function () {
    assert.deepEqual(loadConfig({}).webhooks, {
      urls: [],
      timeoutMs: 5000,
      attempts: 4,
      retryBaseMs: 1000,
      queueLimit: 1000,
    });
    const config = loadConfig({
      WEBHOOK_URLS: 'https://a.example/hooks, http://10.0.0.2:8080/lk?token=x',
      WEBHOOK_ATTEMPTS: '2',
    });
    assert.deepEqual(config.webhooks.urls, [
      'https://a.example/hooks',
      'http://10.0.0.2:8080/lk?token=x',
    ]);
    assert.equal(config.webhooks.attempts, 2);
  });

  for (const [name, value] of [
    ['WEBHOOK_URLS', 'ftp://a.example/x'],
    ['WEBHOOK_URLS', 'https://a.example, not a url'],
    ['WEBHOOK_ATTEMPTS', '0'],
    ['WEBHOOK_TIMEOUT_MS', '-1'],
    ['WEBHOOK_QUEUE_LIMIT', 'lots'],
  ] as const) {
    it(`a bad ${name}=${value} stops start-up naming the variable`, function () {
      assert.throws(
        () => loadConfig({ [name]: value }),
        (error: unknown) => error instanceof ConfigError && error.message.includes(name),
      );
    });
  }
});
