import assert from 'node:assert/strict';
import type { JoinResponse } from '@livestage/protocol';
import {
  connectRaw,
  errorCode,
  joinRaw,
  produceVideo,
  request,
  tokenFor,
  type JoinedClient,
} from '../helpers/client.js';
import { publishTestMedia, watchMedia } from '../helpers/media.js';
import { eventually, startTestServer, useTestServer, type TestServer } from '../helpers/server.js';

/** Every metric the issue asks for, with the Prometheus type it must have. */
const REQUIRED = {
  livestage_rooms: 'gauge',
  livestage_participants: 'gauge',
  livestage_producers: 'gauge',
  livestage_consumers: 'gauge',
  livestage_bytes_total: 'counter',
  livestage_packets_lost_total: 'counter',
  livestage_keyframe_requests_total: 'counter',
  livestage_layer_switches_total: 'counter',
  livestage_rtt_seconds: 'histogram',
  livestage_join_seconds: 'histogram',
  livestage_signaling_errors_total: 'counter',
  livestage_rate_limited_total: 'counter',
  livestage_worker_cpu_seconds_total: 'counter',
  livestage_worker_rss_bytes: 'gauge',
  livestage_nodejs_eventloop_lag_seconds: 'gauge',
} as const;

interface Family {
  help: string | undefined;
  type: string | undefined;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

/**
 * A strict reader of the Prometheus text format (0.0.4): every line is a HELP, a TYPE, or a
 * sample `name{label="value",...} number`; anything else fails the test. Samples of a histogram
 * (`_bucket`, `_sum`, `_count`) belong to their family.
 */
function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let found = families.get(name);
    if (!found) families.set(name, (found = { help: undefined, type: undefined, samples: [] }));
    return found;
  };
  const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/;
  const labelPair = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"$/;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (kind === 'HELP') family(name).help = rest;
      else family(name).type = rest;
      continue;
    }
    const sample = sampleLine.exec(line);
    assert.ok(sample, `a valid exposition line: ${JSON.stringify(line)}`);
    const [, name, labelText, valueText] = sample as unknown as [string, string, string, string];
    // Prometheus reads values with Go's ParseFloat: Inf and NaN in any case (prom-client: "Nan").
    const special = /^([+-]?)(inf|nan)$/i.exec(valueText);
    const value = special
      ? special[2]!.toLowerCase() === 'nan'
        ? NaN
        : Number(`${special[1]}Infinity`)
      : Number(valueText);
    assert.ok(special || !Number.isNaN(value), `a number in ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const pair of labelText ? labelText.split(/,(?=[a-zA-Z_])/) : []) {
      const match = labelPair.exec(pair);
      assert.ok(match, `a valid label pair ${JSON.stringify(pair)} in ${JSON.stringify(line)}`);
      labels[match[1]!] = match[2]!;
    }
    const base = families.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    family(base).samples.push({ name, labels, value });
  }
  return families;
}

async function scrape(
  server: TestServer,
  authorization?: string,
): Promise<{ status: number; contentType: string | null; text: string }> {
  const response = await fetch(`${server.url}/metrics`, {
    headers: authorization ? { authorization } : {},
  });
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    text: await response.text(),
  };
}

async function metrics(server: TestServer): Promise<Map<string, Family>> {
  const { status, text } = await scrape(server);
  assert.equal(status, 200, 'GET /metrics answers 200');
  return parseExposition(text);
}

/** The value of one sample: `name` with exactly these labels (0 when absent). */
function valueOf(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number {
  const base = name.replace(/_(bucket|sum|count)$/, '');
  const family = families.get(name) ?? families.get(base);
  const wanted = JSON.stringify(Object.entries(labels).sort());
  const sample = family?.samples.find(
    (s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === wanted,
  );
  return sample?.value ?? 0;
}

async function valueNow(server: TestServer, name: string, labels: Record<string, string> = {}) {
  return valueOf(await metrics(server), name, labels);
}

describe('GET /metrics (Prometheus)', function () {
  this.timeout(60_000);
  const suite = useTestServer();
  const { sockets } = suite;

  it('serves every required metric with HELP and TYPE, and the default process metrics', async function () {
    const { status, contentType, text } = await scrape(suite.server);
    assert.equal(status, 200);
    assert.match(contentType ?? '', /^text\/plain; version=0\.0\.4/, 'the Prometheus content type');
    const families = parseExposition(text);
    for (const [name, type] of Object.entries(REQUIRED)) {
      const family = families.get(name);
      assert.ok(family, `${name} is exposed`);
      assert.ok(family.help && family.help.length > 0, `${name} has a HELP line`);
      assert.equal(family.type, type, `${name} is a ${type}`);
      assert.ok(family.samples.length > 0 || name.endsWith('_total'), `${name} has a sample`);
    }
    for (const name of ['process_cpu_user_seconds_total', 'nodejs_eventloop_lag_seconds']) {
      assert.ok(families.get(name)?.samples.length, `default metric ${name} is exposed`);
    }
    // Bounded label sets, present from the start at 0.
    for (const role of ['host', 'guest', 'audience']) {
      assert.equal(valueOf(families, 'livestage_participants', { role }), 0, `no ${role} yet`);
    }
    for (const direction of ['in', 'out']) {
      assert.ok(
        families
          .get('livestage_bytes_total')
          ?.samples.some((s) => s.labels.direction === direction),
        `bytes_total{direction="${direction}"} is there from the start`,
      );
    }
    const worker = valueOf(families, 'livestage_worker_rss_bytes', { worker: '0' });
    assert.ok(worker > 1_000_000, `worker 0 has a resident size (${worker} bytes)`);
    assert.ok(
      valueOf(families, 'livestage_worker_cpu_seconds_total', { worker: '0' }) > 0,
      'worker 0 has used some CPU',
    );
    const lag = valueOf(families, 'livestage_nodejs_eventloop_lag_seconds');
    assert.ok(lag >= 0 && lag < 5, `event loop lag is a plausible figure (${lag} s)`);
  });

  it('follows a room: join, publish, subscribe, leave', async function () {
    const { server } = suite;
    const joinsBefore = await valueNow(server, 'livestage_join_seconds_count');
    const host: JoinedClient = await joinRaw(server.url, tokenFor('m-room', 'm-host', 'host'));
    sockets.push(host.socket);
    let now = await metrics(server);
    assert.equal(valueOf(now, 'livestage_rooms'), 1, 'one room');
    assert.equal(valueOf(now, 'livestage_participants', { role: 'host' }), 1, 'one host');
    assert.equal(
      valueOf(now, 'livestage_join_seconds_count'),
      joinsBefore + 1,
      'the join was timed',
    );

    const sendTransport = (host.join as JoinResponse).sendTransport;
    assert.ok(sendTransport, 'the host may publish');
    const produced = await produceVideo(host.socket, sendTransport.id);
    assert.ok(produced.ok, `produce: ${JSON.stringify(produced)}`);
    now = await metrics(server);
    assert.equal(valueOf(now, 'livestage_producers', { kind: 'video' }), 1, 'one video producer');
    assert.equal(valueOf(now, 'livestage_producers', { kind: 'audio' }), 0, 'no audio producer');

    const viewer = await joinRaw(server.url, tokenFor('m-room', 'm-viewer', 'audience'));
    sockets.push(viewer.socket);
    await eventually(
      async () => {
        const figures = await metrics(server);
        assert.equal(valueOf(figures, 'livestage_participants', { role: 'audience' }), 1);
        assert.equal(valueOf(figures, 'livestage_consumers', { kind: 'video' }), 1);
      },
      10_000,
      'the viewer is counted with its video consumer',
    );

    host.socket.disconnect();
    viewer.socket.disconnect();
    await eventually(
      async () => {
        const figures = await metrics(server);
        for (const [name, labels] of [
          ['livestage_rooms', {}],
          ['livestage_participants', { role: 'host' }],
          ['livestage_participants', { role: 'audience' }],
          ['livestage_producers', { kind: 'video' }],
          ['livestage_consumers', { kind: 'video' }],
        ] as const) {
          assert.equal(valueOf(figures, name, labels), 0, `${name} ${JSON.stringify(labels)}`);
        }
      },
      10_000,
      'everything is back to 0 after both leave',
    );
  });

  it('counts refused requests and connections by their code', async function () {
    const { server } = suite;
    const errors = (code: string) => valueNow(server, 'livestage_signaling_errors_total', { code });
    const before = {
      invalid: await errors('INVALID_PAYLOAD'),
      unsupported: await errors('UNSUPPORTED'),
      unauthorized: await errors('UNAUTHORIZED'),
    };
    const { socket } = await connectRaw(server.url, tokenFor('m-errors', 'm-bad', 'audience'));
    sockets.push(socket);
    const invalid = await request(socket, 'join', { rtpCapabilities: 42 });
    assert.equal(errorCode(invalid), 'INVALID_PAYLOAD');
    const unknown = await request(socket, 'noSuchRequest', {});
    assert.equal(errorCode(unknown), 'UNSUPPORTED');
    await assert.rejects(connectRaw(server.url, 'not-a-token'), 'a bad token is refused');

    assert.equal(await errors('INVALID_PAYLOAD'), before.invalid + 1, 'INVALID_PAYLOAD counted');
    assert.equal(await errors('UNSUPPORTED'), before.unsupported + 1, 'UNSUPPORTED counted');
    assert.equal(await errors('UNAUTHORIZED'), before.unauthorized + 1, 'UNAUTHORIZED counted');
  });

  it('does not put room names or identities in labels', async function () {
    const host = await joinRaw(suite.server.url, tokenFor('secret-room', 'secret-host', 'host'));
    sockets.push(host.socket);
    const { text } = await scrape(suite.server);
    assert.ok(!text.includes('secret-room'), 'no room name in /metrics');
    assert.ok(!text.includes('secret-host'), 'no identity in /metrics');
  });
});

describe('GET /metrics: rate limits', function () {
  this.timeout(60_000);
  let server: TestServer;
  before(async function () {
    server = await startTestServer({ RATE_LIMIT_REQUESTS_PER_SECOND: '5' });
  });
  after(async function () {
    await server?.close();
  });

  it('counts every RATE_LIMITED refusal, as an error and as rate-limited', async function () {
    const { socket } = await connectRaw(server.url, tokenFor('m-flood', 'm-flooder', 'audience'));
    try {
      const acks = await Promise.all(
        Array.from({ length: 30 }, () => request(socket, 'pauseConsumer', { consumerId: 'x' })),
      );
      const limited = acks.filter((ack) => errorCode(ack) === 'RATE_LIMITED').length;
      assert.ok(limited > 0, `some of 30 requests at once were rate-limited (${limited})`);
      const figures = await metrics(server);
      assert.equal(valueOf(figures, 'livestage_rate_limited_total'), limited);
      assert.equal(
        valueOf(figures, 'livestage_signaling_errors_total', { code: 'RATE_LIMITED' }),
        limited,
      );
    } finally {
      socket.disconnect();
    }
  });
});

describe('GET /metrics: METRICS_TOKEN', function () {
  this.timeout(60_000);
  const TOKEN = 'metrics-token-0123456789';
  let server: TestServer;
  before(async function () {
    server = await startTestServer({ METRICS_TOKEN: TOKEN });
  });
  after(async function () {
    await server?.close();
  });

  it('answers 401 without the bearer token and 200 with it', async function () {
    const none = await scrape(server);
    assert.equal(none.status, 401, 'no Authorization header');
    assert.ok(!none.text.includes('livestage_'), 'nothing of the metrics leaks in a refusal');
    assert.equal((await scrape(server, `Bearer ${TOKEN}x`)).status, 401, 'a wrong token');
    assert.equal((await scrape(server, `Basic ${TOKEN}`)).status, 401, 'another scheme');
    const good = await scrape(server, `Bearer ${TOKEN}`);
    assert.equal(good.status, 200, 'the right token');
    assert.ok(parseExposition(good.text).has('livestage_rooms'), 'the metrics');
  });
});

describe('GET /metrics: real media (ffmpeg publisher, RTP-counting viewer)', function () {
  this.timeout(120_000);
  let server: TestServer;
  before(async function () {
    server = await startTestServer({
      MEDIA_INACTIVE_AFTER_MS: '5000',
      MEDIA_CLOSE_AFTER_MS: '30000',
    });
  });
  after(async function () {
    await server?.close();
  });

  it('counts bytes in and out of the SFU and keyframe requests to the publisher', async function () {
    const before = await metrics(server);
    const publisher = await publishTestMedia({
      url: server.url,
      room: 'm-media',
      identity: 'm-media-host',
      role: 'host',
      audio: false,
    });
    const viewer = await watchMedia({ url: server.url, room: 'm-media', identity: 'm-watcher' });
    try {
      await eventually(
        () => assert.ok(viewer.packets().video > 50, 'the viewer gets video'),
        20_000,
        'video reaches the viewer',
      );
      // The media figures are sampled every 5 s.
      await eventually(
        async () => {
          const now = await metrics(server);
          for (const direction of ['in', 'out']) {
            const grew =
              valueOf(now, 'livestage_bytes_total', { direction }) -
              valueOf(before, 'livestage_bytes_total', { direction });
            assert.ok(grew > 10_000, `bytes ${direction} grew by ${grew}`);
          }
          assert.ok(
            valueOf(now, 'livestage_keyframe_requests_total') >
              valueOf(before, 'livestage_keyframe_requests_total'),
            'the viewer’s first keyframe request reached the publisher and was counted',
          );
        },
        15_000,
        'sampled media counters move',
      );
    } finally {
      await viewer.close();
      await publisher.close();
    }
  });
});
