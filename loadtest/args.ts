import { parseArgs } from 'node:util';
import type { QualityPreference } from '@livestage/protocol';
import type { LoadTestOptions } from './loadTest.js';

export const HELP = `npm run loadtest -- [options]

Headless WebRTC viewers (and optionally one publisher) against any livestage server. Viewers
do ICE and DTLS but decrypt and decode nothing: they count RTP from the clear SRTP headers.

  --url URL              server to test (default http://localhost:3000)
  --room NAME            room to join (default loadtest)
  --viewers N            how many viewers (default 10)
  --rate R               viewers started per second; 0 = all at once (default 0)
  --duration S           seconds the run lasts after the last viewer started (default 30);
                         a viewer with no video RTP by then counts as failed
  --publish              also publish as a host: ffmpeg's VP8 test pattern (+ Opus tone)
  --publish-size WxH     publisher's video size (default 1280x720)
  --publish-fps N        publisher's frame rate (default 30)
  --publish-kbps N       publisher's video bitrate (default 1500)
  --keyframe-interval S  publisher's keyframe interval in seconds (default 1; ffmpeg
                         makes them on its own and ignores keyframe requests)
  --no-audio             publish video only
  --ffmpeg PATH          ffmpeg binary (default ffmpeg from PATH)
  --quality Q            ask for low|medium|high on every video consumer (default: the
                         server's choice; with no viewport given that is the top layer)
  --api-key KEY          API key for POST /api/tokens (default $LIVESTAGE_API_KEY)
  --api-secret SECRET    API secret (default $LIVESTAGE_API_SECRET)
  --identity-prefix P    viewers are P-0, P-1, …; the host is P-host (default random)
  --step-timeout S       ceiling for each step of a join (default 20)
  --json                 print the summary (with every viewer's figures) as JSON
  -h, --help             this text

Exit code: 0 when every viewer received video RTP, 1 when any did not, 2 on bad options.`;

export class UsageError extends Error {}

export type CliOptions = { help: true } | { help: false; json: boolean; loadTest: LoadTestOptions };

export function parseCli(argv: string[], env: NodeJS.ProcessEnv): CliOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        url: { type: 'string', default: 'http://localhost:3000' },
        room: { type: 'string', default: 'loadtest' },
        viewers: { type: 'string', default: '10' },
        rate: { type: 'string', default: '0' },
        duration: { type: 'string', default: '30' },
        publish: { type: 'boolean', default: false },
        'publish-size': { type: 'string', default: '1280x720' },
        'publish-fps': { type: 'string', default: '30' },
        'publish-kbps': { type: 'string', default: '1500' },
        'keyframe-interval': { type: 'string', default: '1' },
        'no-audio': { type: 'boolean', default: false },
        ffmpeg: { type: 'string' },
        quality: { type: 'string' },
        'api-key': { type: 'string' },
        'api-secret': { type: 'string' },
        'identity-prefix': { type: 'string' },
        'step-timeout': { type: 'string', default: '20' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const v = parsed.values;
  if (v.help) return { help: true };

  const apiKey = v['api-key'] ?? env.LIVESTAGE_API_KEY;
  const apiSecret = v['api-secret'] ?? env.LIVESTAGE_API_SECRET;
  if (!apiKey || !apiSecret) {
    throw new UsageError(
      'an API key and secret are needed for POST /api/tokens: --api-key/--api-secret or LIVESTAGE_API_KEY/LIVESTAGE_API_SECRET',
    );
  }
  let url: URL;
  try {
    url = new URL(v.url);
  } catch {
    throw new UsageError(`--url: not a URL: ${v.url}`);
  }
  const size = /^(\d+)x(\d+)$/.exec(v['publish-size']);
  if (!size) throw new UsageError('--publish-size: expected WIDTHxHEIGHT, e.g. 1280x720');
  const quality = v.quality;
  if (quality !== undefined && !['low', 'medium', 'high', 'auto'].includes(quality)) {
    throw new UsageError('--quality: low, medium, high or auto');
  }
  return {
    help: false,
    json: v.json,
    loadTest: {
      url: url.origin,
      room: v.room,
      count: integer('--viewers', v.viewers, 1),
      rate: number('--rate', v.rate, 0),
      durationSeconds: number('--duration', v.duration, 0),
      credentials: { apiKey, apiSecret },
      identityPrefix: v['identity-prefix'],
      stepTimeoutMs: number('--step-timeout', v['step-timeout'], 1) * 1000,
      quality: quality as QualityPreference | undefined,
      publish: v.publish
        ? {
            width: integer('--publish-size', size[1]!, 16),
            height: integer('--publish-size', size[2]!, 16),
            fps: integer('--publish-fps', v['publish-fps'], 1),
            videoBitrateKbps: integer('--publish-kbps', v['publish-kbps'], 50),
            keyframeIntervalSeconds: number('--keyframe-interval', v['keyframe-interval'], 0.1),
            audio: !v['no-audio'],
            ffmpegPath: v.ffmpeg,
          }
        : undefined,
    },
  };
}

function number(flag: string, text: string, min: number): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < min) throw new UsageError(`${flag}: a number ≥ ${min}`);
  return value;
}

function integer(flag: string, text: string, min: number): number {
  const value = number(flag, text, min);
  if (!Number.isInteger(value)) throw new UsageError(`${flag}: a whole number`);
  return value;
}
