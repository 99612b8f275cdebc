import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';
import { TEST_KEYS } from './server.js';

/** One POST as the receiver saw it, checked the way LiveKit's WebhookReceiver checks it. */
export interface ReceivedWebhook {
  readonly body: string;
  readonly contentType: string | undefined;
  /** The JWT verified (HS256, issuer = API key, API secret) and its sha256 matched the body. */
  readonly verified: boolean;
  readonly verifyError: string | undefined;
  readonly event: {
    event: string;
    id: string;
    createdAt: number;
    room: { name: string };
    participant?: { identity: string; name?: string; role?: string };
    track?: { sid: string; type?: string; source?: string };
    numDropped?: number;
    [extra: string]: unknown;
  };
  /** The receiver has answered, or the sender gave up on the request. */
  readonly done: boolean;
  /** The status the receiver answered with; undefined while unanswered or when given up on. */
  readonly status: number | undefined;
}

/** How the receiver answers a request: write to `response` now, later, or never. */
export type Respond = (webhook: ReceivedWebhook, response: http.ServerResponse) => void;

/** LiveKit's check, written independently of the server's code: JWT, then sha256 of the body. */
export function livekitStyleVerify(body: string, authorization: string | undefined): void {
  if (!authorization) throw new Error('authorization header is empty');
  const claims = jwt.verify(authorization, TEST_KEYS.apiSecret, {
    algorithms: ['HS256'],
    issuer: TEST_KEYS.apiKey,
  }) as jwt.JwtPayload;
  const hash = createHash('sha256').update(Buffer.from(body, 'utf8')).digest('base64');
  if (claims.sha256 !== hash) throw new Error('sha256 checksum of body does not match');
}

/** A real HTTP webhook receiver on a free port that records every request. */
export async function startWebhookReceiver(respond: Respond = (_, response) => response.end()) {
  const received: ReceivedWebhook[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let verifyError: string | undefined;
      try {
        livekitStyleVerify(body, request.headers.authorization);
      } catch (error) {
        verifyError = String(error);
      }
      const webhook = {
        body,
        contentType: request.headers['content-type'],
        verified: verifyError === undefined,
        verifyError,
        event: JSON.parse(body) as ReceivedWebhook['event'],
        done: false,
        status: undefined as number | undefined,
      };
      response.on('finish', () => (webhook.status = response.statusCode));
      response.on('close', () => (webhook.done = true));
      received.push(webhook);
      respond(webhook, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks?token=receiver-secret`,
    received,
    /** Requests not answered yet and not given up on by the sender. */
    open: () => received.filter((webhook) => !webhook.done),
    /** Requests the receiver accepted (answered 2xx), in the order they arrived. */
    accepted: () =>
      received.filter((webhook) => webhook.status !== undefined && webhook.status < 300),
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
