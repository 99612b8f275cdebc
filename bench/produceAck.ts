// produce → ack latency as the audience grows. A server process (one worker), N viewers
// joined over raw socket.io, one host that publishes and unpublishes a VP8 track many times.
// The ack should not wait for the audience's consumers: its latency should not grow with N.
// Also printed: produce → the last viewer's newConsumer (the fan-out itself). Each round waits
// for the fan-out to finish, so one round's consumers do not queue ahead of the next produce.
//
//   npm run bench:produce -- --viewers 0,10,50 --rounds 30
import { parseArgs } from 'node:util';
import {
  connectRaw,
  produceVideo,
  request,
  tokenFor,
  vp8RtpParameters,
  type TestSocket,
} from '../test/helpers/client.js';
import { TEST_KEYS } from '../test/helpers/server.js';
import { printStats, roundStats, stats, withTimeout } from './lib/report.js';
import { startServerProcess } from './lib/serverProcess.js';

const { values } = parseArgs({
  options: {
    viewers: { type: 'string', default: '0,10,50' },
    rounds: { type: 'string', default: '30' },
  },
});
const audiences = values.viewers.split(',').map(Number);
const rounds = Number(values.rounds);

// The server runs in its own process, so these clients do not share its event loop.
const server = await startServerProcess({
  NODE_ENV: 'test',
  MEDIA_PORT_BASE: '0',
  MEDIA_WORKERS: '1',
  LIVESTAGE_API_KEY: TEST_KEYS.apiKey,
  LIVESTAGE_API_SECRET: TEST_KEYS.apiSecret,
  RATE_LIMIT_IP_CONNECTIONS_PER_MINUTE: '100000',
  RATE_LIMIT_IP_REQUESTS_PER_SECOND: '100000',
  RATE_LIMIT_REQUESTS_PER_SECOND: '100000',
  MEDIA_INACTIVE_AFTER_MS: '600000',
  MEDIA_CLOSE_AFTER_MS: '600000',
});

async function joined(room: string, identity: string, role: 'host' | 'audience') {
  const { socket, welcome } = await connectRaw(server.url, tokenFor(room, identity, role));
  const ack = await request(socket, 'join', { rtpCapabilities: welcome.routerRtpCapabilities });
  if (!ack.ok) throw new Error(`join: ${JSON.stringify(ack)}`);
  return { socket, data: ack.data as { sendTransport: { id: string } | null } };
}

const rows: [string, ReturnType<typeof stats>][] = [];
for (const audience of audiences) {
  const room = `bench-produce-${audience}`;
  const sockets: TestSocket[] = [];
  for (let i = 0; i < audience; i += 1)
    sockets.push((await joined(room, `v${i}`, 'audience')).socket);
  const viewers = [...sockets];
  const host = await joined(room, 'host', 'host');
  sockets.push(host.socket);
  const sendTransportId = host.data.sendTransport?.id ?? '';
  const latencies: number[] = [];
  const fanOuts: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    const consumed = viewers.map(
      (viewer) =>
        new Promise<number>((resolve) =>
          viewer.once('newConsumer', () => resolve(performance.now())),
        ),
    );
    const started = performance.now();
    const ack = await withTimeout(
      produceVideo(host.socket, sendTransportId, {
        ...vp8RtpParameters(1000 + round),
        mid: String(round),
      }),
      30_000,
      'produce',
    );
    latencies.push(performance.now() - started);
    if (!ack.ok) throw new Error(`produce: ${JSON.stringify(ack)}`);
    const arrivals = await withTimeout(Promise.all(consumed), 30_000, 'fan-out');
    fanOuts.push(Math.max(started, ...arrivals) - started);
    await request(host.socket, 'closeTrack', {
      trackId: (ack.data as { trackId: string }).trackId,
    });
  }
  rows.push([`${audience} viewers: ack`, roundStats(stats(latencies))]);
  if (audience > 0) rows.push([`${audience} viewers: fan-out`, roundStats(stats(fanOuts))]);
  for (const socket of sockets) socket.disconnect();
}

console.log(`produce → ack (ms), ${rounds} rounds each, one worker, loopback:`);
printStats(rows);
await server.stop();
