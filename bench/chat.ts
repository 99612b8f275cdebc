// Chat fan-out benchmark: a room of N viewers (raw socket.io clients that joined like the SDK
// does) where some of them send M chat messages per second between them, once with delivery in
// batches and once one message at a time. The server runs as its own process; the figures are
// its CPU (from /proc), the socket writes it makes for chat per second (each `chatMessages`
// event a client receives is one write), and the time from `sendChatMessage` to `chatMessage`
// at the other viewers. It prints figures only and never asserts timing.
//
//   node --import tsx bench/chat.ts [--viewers 200] [--rate 20] [--seconds 20] [--senders 10]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ChatMessage } from '@livestage/protocol';
import { joinRaw, request, tokenFor, type JoinedClient } from '../test/helpers/client.js';
import { TEST_KEYS } from '../test/helpers/server.js';
import { fmt, printTable, stats } from './lib/report.js';
import { startServerProcess } from './lib/serverProcess.js';

const ROOM = 'chat-bench';
const CLOCK_TICKS_PER_SECOND = 100;
const WARM_UP_MS = 2000;

interface Options {
  viewers: number;
  rate: number;
  seconds: number;
  senders: number;
}

interface RunResult {
  mode: string;
  cpuPercent: number;
  writesPerSecond: number;
  deliveredPerSecond: number;
  sentPerSecond: number;
  latencyP50: number;
  latencyP95: number;
  refused: number;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      viewers: { type: 'string', default: '200' },
      rate: { type: 'string', default: '20' },
      seconds: { type: 'string', default: '20' },
      senders: { type: 'string', default: '10' },
    },
    strict: true,
  });
  return {
    viewers: Number(values.viewers),
    rate: Number(values.rate),
    seconds: Number(values.seconds),
    senders: Number(values.senders),
  };
}

/** User + system CPU time of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  // After "pid (comm) ", utime and stime are fields 12 and 13 (0-based).
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

async function run(mode: 'batched' | 'unbatched', opts: Options): Promise<RunResult> {
  const server = await startServerProcess({
    LIVESTAGE_API_KEY: TEST_KEYS.apiKey,
    LIVESTAGE_API_SECRET: TEST_KEYS.apiSecret,
    MEDIA_WORKERS: '1',
    ROOM_MAX_PARTICIPANTS: String(opts.viewers + 10),
    RATE_LIMIT_REQUESTS_PER_SECOND: '1000000',
    RATE_LIMIT_IP_REQUESTS_PER_SECOND: '1000000',
    RATE_LIMIT_IP_CONNECTIONS_PER_MINUTE: '1000000',
    QUALITY_REPORT_INTERVAL_MS: '0',
    CHAT_BATCH_MIN_PARTICIPANTS: mode === 'batched' ? '50' : '1000000',
  });
  const clients: JoinedClient[] = [];
  try {
    for (let i = 0; i < opts.viewers; i += 1) {
      clients.push(await joinRaw(server.url, tokenFor(ROOM, `viewer-${i}`, 'audience')));
    }
    let writes = 0;
    let delivered = 0;
    const latencies: number[] = [];
    let measuring = false;
    for (const client of clients) {
      client.socket.on('chatMessages', (messages: ChatMessage[]) => {
        if (!measuring) return;
        writes += 1;
        const now = Date.now();
        for (const message of messages) {
          if (message.from === client.identity) continue;
          delivered += 1;
          const sentAt = Number(/^t=(\d+)/.exec(message.text)?.[1]);
          if (Number.isFinite(sentAt)) latencies.push(now - sentAt);
        }
      });
    }
    const senders = clients.slice(0, opts.senders);
    let sent = 0;
    let refused = 0;
    const send = () => {
      const sender = senders[sent % senders.length];
      if (!sender) return;
      sent += 1;
      void request(sender.socket, 'sendChatMessage', { text: `t=${Date.now()} hello` }).then(
        (ack) => {
          if (!ack.ok) refused += 1;
        },
      );
    };
    const timer = setInterval(send, 1000 / opts.rate);
    await new Promise((resolve) => setTimeout(resolve, WARM_UP_MS));
    measuring = true;
    sent = 0;
    refused = 0;
    const cpuBefore = cpuSeconds(server.child.pid ?? 0);
    const startedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, opts.seconds * 1000));
    const elapsed = (Date.now() - startedAt) / 1000;
    const cpu = cpuSeconds(server.child.pid ?? 0) - cpuBefore;
    measuring = false;
    clearInterval(timer);
    const latency = stats(latencies);
    return {
      mode,
      cpuPercent: (cpu / elapsed) * 100,
      writesPerSecond: writes / elapsed,
      deliveredPerSecond: delivered / elapsed,
      sentPerSecond: sent / elapsed,
      latencyP50: latency.p50,
      latencyP95: latency.p95,
      refused,
    };
  } finally {
    for (const client of clients) client.socket.disconnect();
    await server.stop();
  }
}

const opts = options();
console.log(
  `chat fan-out: ${opts.viewers} viewers, ${opts.rate} messages/s from ${opts.senders} of them, ` +
    `${opts.seconds} s measured per mode`,
);
const results: RunResult[] = [];
for (const mode of ['unbatched', 'batched'] as const) results.push(await run(mode, opts));
printTable([
  [
    'mode',
    'server CPU %',
    'chat writes/s',
    'messages delivered/s',
    'sent/s',
    'refused',
    'latency p50 ms',
    'p95 ms',
  ],
  ...results.map((r) => [
    r.mode,
    fmt(r.cpuPercent),
    fmt(r.writesPerSecond),
    fmt(r.deliveredPerSecond),
    fmt(r.sentPerSecond),
    String(r.refused),
    fmt(r.latencyP50),
    fmt(r.latencyP95),
  ]),
]);
process.exit(0);
