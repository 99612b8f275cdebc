import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import jwt from 'jsonwebtoken';
import type { z } from 'zod';
import type { ErrorBody, Kicked, ParticipantInfo, ProduceResponse } from '@livestage/protocol';
import { TokenRevocations } from '../../server/src/auth/TokenRevocations.js';
import type { ClusterNode } from '../../server/src/cluster/ClusterNode.js';
import { errorHandler } from '../../server/src/http/errorHandler.js';
import { adminApi } from '../../server/src/http/routes/admin.js';
import { clusterRoutes } from '../../server/src/http/routes/cluster.js';
import { roomRoutes } from '../../server/src/http/routes/rooms.js';
import { createLogger } from '../../server/src/logging/logger.js';
import {
  connectRaw,
  joinRaw,
  nextEvent,
  produceAudio,
  produceVideo,
  request,
  tokenFor,
  type JoinedClient,
} from '../helpers/client.js';
import { eventually, TEST_KEYS, useTestServer } from '../helpers/server.js';

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

const GOOD_AUTH = basic(TEST_KEYS.apiKey, TEST_KEYS.apiSecret);

interface Reply {
  status: number;
  headers: Headers;
  body: Record<string, unknown> & { error?: ErrorBody };
}

interface OpenApiOperation {
  security: Record<string, unknown>[];
  parameters: { name: string; in: string; required: boolean }[];
  requestBody?: unknown;
  responses: Record<string, unknown>;
}

interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { securitySchemes: Record<string, unknown> };
}

interface ExpressLayer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: ExpressLayer[] };
}

/** Every `METHOD /path` an express app or router serves, paths in OpenAPI form. */
function servedRoutes(stack: ExpressLayer[]): string[] {
  const found: string[] = [];
  for (const layer of stack) {
    if (layer.route) {
      const path = layer.route.path.replace(/:(\w+)/g, '{$1}');
      for (const [method, on] of Object.entries(layer.route.methods)) {
        if (on && method !== '_all') found.push(`${method.toUpperCase()} ${path}`);
      }
    } else if (layer.handle?.stack) {
      found.push(...servedRoutes(layer.handle.stack));
    }
  }
  return found;
}

function documented(document: OpenApiDocument): string[] {
  return Object.entries(document.paths).flatMap(([path, operations]) =>
    Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
  );
}

function trackIdOf(ack: Awaited<ReturnType<typeof request>>): string {
  assert.ok(ack.ok, `produce failed: ${JSON.stringify(ack)}`);
  return (ack.data as ProduceResponse).trackId;
}

/** Resolves with the error a connection attempt is refused with; fails if it is let in. */
async function refusal(url: string, token: string): Promise<ErrorBody | undefined> {
  try {
    const { socket } = await connectRaw(url, token);
    socket.disconnect();
    return undefined;
  } catch (error) {
    return (error as { data?: ErrorBody }).data;
  }
}

describe('admin API and its OpenAPI document', function () {
  const suite = useTestServer();
  const { sockets } = suite;

  async function call(
    method: string,
    path: string,
    body?: unknown,
    authorization: string | null = GOOD_AUTH,
  ): Promise<Reply> {
    const response = await fetch(`${suite.server.url}${path}`, {
      // fetch upper-cases only some methods; a lower-case PATCH never reaches express.
      method: method.toUpperCase(),
      headers: {
        'content-type': 'application/json',
        ...(authorization ? { authorization } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: text ? (JSON.parse(text) as Reply['body']) : {},
    };
  }

  function assertError(result: Reply, status: number, code: string, what: string) {
    assert.equal(result.status, status, `${what}: ${JSON.stringify(result.body)}`);
    assert.equal(result.body.error?.code, code, what);
    assert.equal(typeof result.body.error?.message, 'string', what);
  }

  /** The route's documented 2xx schema, which the answer must satisfy. */
  function assertDocumented(method: string, path: string, body: unknown) {
    const route = roomRoutes({ rooms: suite.server.rooms, revocations: undefined }).find(
      (r) => r.method === method && r.path === path,
    );
    assert.ok(route, `${method} ${path} is in the route table`);
    const [, response] = Object.entries(route.responses).find(([status]) => +status < 300)!;
    const parsed = (response.schema as z.ZodType).safeParse(body);
    assert.ok(parsed.success, `${method} ${path} answers as documented: ${String(parsed.error)}`);
  }

  async function joined(
    room: string,
    identity: string,
    role: 'host' | 'guest' | 'audience',
    token = tokenFor(room, identity, role),
  ): Promise<JoinedClient> {
    const client = await joinRaw(suite.server.url, token);
    sockets.push(client.socket);
    return client;
  }

  function participantOf(room: string, identity: string) {
    const participant = suite.server.rooms.rooms.get(room)?.participants.get(identity);
    assert.ok(participant, `${identity} is in ${room}`);
    return participant;
  }

  async function openApi(): Promise<OpenApiDocument> {
    const reply = await call('GET', '/api/openapi.json', undefined, null);
    assert.equal(reply.status, 200, 'the document is served without credentials');
    return reply.body as unknown as OpenApiDocument;
  }

  describe('GET /api/openapi.json', function () {
    it('names every route the app serves (cluster routes included), and nothing else', async function () {
      const document = await openApi();
      assert.equal(document.openapi, '3.1.0');
      const app = suite.server.app;
      // Cluster routes exist only with Redis: registered on their own (never called) to list them.
      const cluster = clusterRoutes(
        suite.server.config,
        suite.server.rooms,
        {} as unknown as ClusterNode,
      );
      const served = [
        ...servedRoutes(app.router.stack as unknown as ExpressLayer[]),
        ...servedRoutes(cluster.stack as unknown as ExpressLayer[]),
      ];
      assert.ok(served.includes('DELETE /api/rooms/{room}'), 'the walk finds the admin routes');
      assert.ok(served.includes('GET /healthz'), 'the walk finds the other modules’ routes');
      const inDocument = documented(document);
      const missing = served.filter((route) => !inDocument.includes(route));
      assert.deepEqual(missing, [], 'served but not in the document');
      const phantom = inDocument.filter((route) => !served.includes(route));
      assert.deepEqual(phantom, [], 'in the document but not served');
    });

    it('declares every path parameter, a security scheme and responses for each operation', async function () {
      const document = await openApi();
      for (const [path, operations] of Object.entries(document.paths)) {
        const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
        for (const [method, operation] of Object.entries(operations)) {
          const where = `${method} ${path}`;
          const declared = operation.parameters.filter((p) => p.in === 'path');
          assert.deepEqual(declared.map((p) => p.name).sort(), [...names].sort(), where);
          assert.ok(
            declared.every((p) => p.required),
            `${where}: path parameters required`,
          );
          for (const requirement of operation.security) {
            for (const scheme of Object.keys(requirement)) {
              assert.ok(document.components.securitySchemes[scheme], `${where}: ${scheme}`);
            }
          }
          assert.ok(
            Object.keys(operation.responses).some((status) => /^2/.test(status)),
            `${where}: a success response`,
          );
        }
      }
      const patch = document.paths['/api/rooms/{room}/participants/{identity}']!.patch!;
      assert.ok(patch.requestBody, 'the body schema is in the document');
      assert.match(JSON.stringify(patch.requestBody), /"metadata"/);
      assert.match(JSON.stringify(patch.requestBody), /"additionalProperties":false/);
    });
  });

  describe('credentials, input and unknown targets', function () {
    /** Every admin operation with concrete arguments: the document drives the list. */
    async function adminOperations(room: string, identity: string, trackId: string) {
      const document = await openApi();
      const bodies: Record<string, unknown> = {
        'patch /api/rooms/{room}/participants/{identity}': { metadata: 'x' },
        'post /api/rooms/{room}/participants/{identity}/tracks/{trackId}/mute': { muted: true },
        'post /api/rooms/{room}/participants/{identity}/stage': {},
        'post /api/rooms/{room}/participants/{identity}/chat-mute': { muted: true },
        'post /api/tokens/revoke': { jti: 'some-id' },
      };
      const operations: { method: string; template: string; path: string; body: unknown }[] = [];
      for (const [template, byMethod] of Object.entries(document.paths)) {
        for (const [method, operation] of Object.entries(byMethod)) {
          const isAdmin = operation.security.some((s) => 'apiKey' in s);
          const ours = template.startsWith('/api/rooms') || template === '/api/tokens/revoke';
          if (!isAdmin || !ours || template.endsWith('/quality')) continue;
          const path = template
            .replace('{room}', room)
            .replace('{identity}', identity)
            .replace('{trackId}', trackId);
          operations.push({ method, template, path, body: bodies[`${method} ${template}`] });
        }
      }
      assert.ok(operations.length >= 9, `found ${operations.length} admin operations`);
      return operations;
    }

    it('without or with wrong credentials: 401 with a Basic challenge, nothing done', async function () {
      const host = await joined('auth-room', 'auth-host', 'host');
      const trackId = trackIdOf(await produceAudio(host.socket, host.join.sendTransport!.id));
      const wrong = [
        null,
        basic(TEST_KEYS.apiKey, 'wrong-secret'),
        basic('wrong-key', TEST_KEYS.apiSecret),
        'Bearer whatever',
      ];
      for (const { method, path, body } of await adminOperations(
        'auth-room',
        'auth-host',
        trackId,
      )) {
        for (const authorization of wrong) {
          const reply = await call(method, path, body, authorization);
          assertError(reply, 401, 'UNAUTHORIZED', `${method} ${path} with ${authorization}`);
          assert.match(reply.headers.get('www-authenticate') ?? '', /^Basic/);
        }
      }
      assert.ok(host.socket.connected, 'still connected');
      assert.equal(
        participantOf('auth-room', 'auth-host').tracks.get(trackId)?.producer.paused,
        false,
      );
      assert.ok(suite.server.rooms.rooms.get('auth-room'), 'the room is still open');
    });

    it('an unknown room or participant: 404 NOT_FOUND', async function () {
      const host = await joined('known-room', 'known-host', 'host');
      const trackId = trackIdOf(await produceAudio(host.socket, host.join.sendTransport!.id));
      const targets = [
        ['no-such-room', 'known-host', trackId],
        ['known-room', 'nobody', trackId],
        ['known-room', 'known-host', 'no-such-track'],
      ] as const;
      for (const [room, identity, track] of targets) {
        for (const { method, template, path, body } of await adminOperations(
          room,
          identity,
          track,
        )) {
          const namesTarget =
            (room !== 'known-room' && template.includes('{room}')) ||
            (identity !== 'known-host' && template.includes('{identity}')) ||
            (track !== trackId && template.includes('{trackId}'));
          if (!namesTarget) continue;
          assertError(await call(method, path, body), 404, 'NOT_FOUND', `${method} ${path}`);
        }
      }
      assert.ok(host.socket.connected, 'the real participant is untouched');
    });

    it('bad input: 400 INVALID_PAYLOAD naming what was wrong, nothing done', async function () {
      const host = await joined('bad-room', 'bad-host', 'host');
      const trackId = trackIdOf(await produceAudio(host.socket, host.join.sendTransport!.id));
      const base = '/api/rooms/bad-room/participants/bad-host';
      const cases: [string, string, unknown][] = [
        ['GET', '/api/rooms/bad%20room/participants', undefined],
        ['DELETE', `/api/rooms/${'r'.repeat(129)}`, undefined],
        ['DELETE', '/api/rooms/bad-room/participants/bad%24identity', undefined],
        ['PATCH', base, {}],
        ['PATCH', base, { metadata: 42 }],
        ['PATCH', base, { metadata: 'x'.repeat(4097) }],
        ['PATCH', base, { metadata: 'ok', role: 'host' }],
        ['PATCH', base, { maxOutgoingBitrate: 1 }],
        ['POST', `${base}/tracks/${trackId}/mute`, {}],
        ['POST', `${base}/tracks/${trackId}/mute`, { muted: 'yes' }],
        ['POST', `${base}/tracks/${'t'.repeat(65)}/mute`, { muted: true }],
        ['POST', `${base}/stage`, { sources: ['smell'] }],
        ['POST', `${base}/stage`, { sources: [] }],
        ['POST', `${base}/stage`, []],
        ['POST', '/api/tokens/revoke', {}],
        ['POST', '/api/tokens/revoke', { jti: '' }],
        ['POST', '/api/tokens/revoke', { jti: 'x', also: 1 }],
      ];
      for (const [method, path, body] of cases) {
        const reply = await call(method, path, body);
        assertError(reply, 400, 'INVALID_PAYLOAD', `${method} ${path} ${JSON.stringify(body)}`);
        assert.ok(reply.body.error!.message.length <= 170, 'a short message');
      }
      const malformed = await fetch(`${suite.server.url}${base}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json', authorization: GOOD_AUTH },
        body: '{"metadata":',
      });
      assert.equal(malformed.status, 400, 'malformed JSON');
      const participant = participantOf('bad-room', 'bad-host');
      assert.equal(participant.metadata, '', 'metadata unchanged');
      assert.equal(participant.tracks.get(trackId)?.producer.paused, false, 'track not paused');
    });
  });

  describe('what each route does', function () {
    it('GET participants: role, stage place, hand and tracks of each', async function () {
      const host = await joined('list', 'list-host', 'host');
      const video = trackIdOf(await produceVideo(host.socket, host.join.sendTransport!.id));
      const audio = trackIdOf(await produceAudio(host.socket, host.join.sendTransport!.id));
      const guest = await joined('list', 'list-guest', 'guest');
      await produceAudio(guest.socket, guest.join.sendTransport!.id);
      const viewer = await joined('list', 'list-viewer', 'audience');
      assert.ok((await request(viewer.socket, 'raiseHand', {})).ok);

      const reply = await call('GET', '/api/rooms/list/participants');
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assertDocumented('get', '/api/rooms/{room}/participants', reply.body);
      type Listed = { identity: string; role: string; tracks: { id: string; kind: string }[] };
      const listed = reply.body.participants as (Listed & Record<string, unknown>)[];
      const byIdentity = new Map(listed.map((p) => [p.identity, p]));
      assert.deepEqual([...byIdentity.keys()].sort(), ['list-guest', 'list-host', 'list-viewer']);
      const hostView = byIdentity.get('list-host')!;
      assert.equal(hostView.role, 'host');
      assert.deepEqual(
        hostView.tracks.map((t) => [t.id, t.kind]).sort(),
        [
          [audio, 'audio'],
          [video, 'video'],
        ].sort(),
      );
      assert.equal(byIdentity.get('list-guest')!.role, 'guest');
      // A guest token is seated on join with every source.
      assert.deepEqual(byIdentity.get('list-guest')!.stageSources, [
        'microphone',
        'camera',
        'screen',
      ]);
      assert.equal(byIdentity.get('list-guest')!.tracks.length, 1);
      assert.equal(byIdentity.get('list-viewer')!.role, 'audience');
      assert.equal(byIdentity.get('list-viewer')!.handRaised, true);
    });

    it('DELETE a participant: kicked with reason removed, others told, same token refused', async function () {
      const host = await joined('kick', 'kick-host', 'host');
      const token = tokenFor('kick', 'kick-viewer', 'audience');
      const viewer = await joined('kick', 'kick-viewer', 'audience', token);
      const kicked = nextEvent(viewer.socket, 'kicked');
      const gone = new Promise<void>((resolve) =>
        viewer.socket.once('disconnect', () => resolve()),
      );
      const left = nextEvent(host.socket, 'participantLeft', (e) => e.identity === 'kick-viewer');

      const reply = await call('DELETE', '/api/rooms/kick/participants/kick-viewer');
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assertDocumented('delete', '/api/rooms/{room}/participants/{identity}', reply.body);
      assert.deepEqual(reply.body, { identity: 'kick-viewer', tokenRevoked: true });
      const event: Kicked = await kicked;
      assert.equal(event.reason, 'removed');
      await gone;
      await left;
      assert.equal(suite.server.rooms.rooms.get('kick')?.participants.has('kick-viewer'), false);

      const again = await refusal(suite.server.url, token);
      assert.equal(again?.code, 'UNAUTHORIZED', 'the same token cannot come back');
      assert.match(again?.message ?? '', /revoked/);
      // A new token (the application decided to let it back) is another matter.
      await joined('kick', 'kick-viewer', 'audience');
      assertError(
        await call('DELETE', '/api/rooms/kick/participants/nobody'),
        404,
        'NOT_FOUND',
        'a second delete of someone absent',
      );
    });

    it("mute a host's track: paused in the worker, viewers' consumers pause; unmute resumes", async function () {
      const host = await joined('mute', 'mute-host', 'host');
      const viewer = await joined('mute', 'mute-viewer', 'audience');
      const consumer = nextEvent(viewer.socket, 'newConsumer');
      const trackId = trackIdOf(await produceVideo(host.socket, host.join.sendTransport!.id));
      const { consumerId } = await consumer;
      const producer = participantOf('mute', 'mute-host').tracks.get(trackId)!.producer;
      const path = `/api/rooms/mute/participants/mute-host/tracks/${trackId}/mute`;

      const paused = nextEvent(viewer.socket, 'consumerPaused', (e) => e.consumerId === consumerId);
      const muted = await call('POST', path, { muted: true });
      assert.equal(muted.status, 200, JSON.stringify(muted.body));
      assertDocumented(
        'post',
        '/api/rooms/{room}/participants/{identity}/tracks/{trackId}/mute',
        muted.body,
      );
      assert.equal((muted.body.track as { paused: boolean }).paused, true);
      assert.equal(producer.paused, true);
      assert.equal(((await producer.dump()) as { paused: boolean }).paused, true, 'in the worker');
      await paused;

      const resumed = nextEvent(
        viewer.socket,
        'consumerResumed',
        (e) => e.consumerId === consumerId,
      );
      const unmuted = await call('POST', path, { muted: false });
      assert.equal(unmuted.status, 200, JSON.stringify(unmuted.body));
      assert.equal(producer.paused, false);
      await resumed;
    });

    it("mute a guest's track: the stage's host mute (the guest is told and cannot unmute)", async function () {
      await joined('gmute', 'gmute-host', 'host');
      const guest = await joined('gmute', 'gmute-guest', 'guest');
      const trackId = trackIdOf(await produceAudio(guest.socket, guest.join.sendTransport!.id));
      const path = `/api/rooms/gmute/participants/gmute-guest/tracks/${trackId}/mute`;
      const told = nextEvent(guest.socket, 'mutedByHost');
      const reply = await call('POST', path, { muted: true });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.deepEqual(await told, { source: 'microphone', muted: true });
      const participant = participantOf('gmute', 'gmute-guest');
      assert.equal(participant.tracks.get(trackId)!.producer.paused, true);
      assert.ok(participant.isMutedByHost('microphone'), 'the stage records the mute');
      const own = await request(guest.socket, 'resumeTrack', { trackId });
      assert.equal(own.ok ? undefined : own.error.code, 'FORBIDDEN', 'the guest cannot unmute');

      const unmuted = nextEvent(guest.socket, 'mutedByHost', (e) => !e.muted);
      assert.equal((await call('POST', path, { muted: false })).status, 200);
      await unmuted;
      assert.equal(participant.tracks.get(trackId)!.producer.paused, false);
    });

    it('stage: a raised hand is seated, anyone else invited; DELETE takes a guest off', async function () {
      await joined('stage', 'stage-host', 'host');
      const raiser = await joined('stage', 'stage-raiser', 'audience');
      const other = await joined('stage', 'stage-other', 'audience');
      assert.ok((await request(raiser.socket, 'raiseHand', {})).ok);

      const seated = nextEvent(raiser.socket, 'roleChanged');
      const approve = await call('POST', '/api/rooms/stage/participants/stage-raiser/stage', {
        sources: ['microphone'],
      });
      assert.equal(approve.status, 200, JSON.stringify(approve.body));
      assertDocumented('post', '/api/rooms/{room}/participants/{identity}/stage', approve.body);
      assert.deepEqual(approve.body, { identity: 'stage-raiser', outcome: 'seated' });
      const role = await seated;
      assert.equal(role.role, 'guest');
      assert.deepEqual(role.sources, ['microphone']);
      assert.ok(role.sendTransport, 'it can publish at once');

      const invited = nextEvent(other.socket, 'inviteReceived');
      const invite = await call('POST', '/api/rooms/stage/participants/stage-other/stage', {});
      assert.equal(invite.status, 200, JSON.stringify(invite.body));
      assert.equal(invite.body.outcome, 'invited');
      assert.equal((await invited).from, 'admin');
      assert.equal(participantOf('stage', 'stage-other').role, 'audience', 'not seated unasked');

      assertError(
        await call('POST', '/api/rooms/stage/participants/stage-raiser/stage', {}),
        409,
        'INVALID_STATE',
        'already on stage',
      );
      assertError(
        await call('DELETE', '/api/rooms/stage/participants/stage-host/stage'),
        409,
        'INVALID_STATE',
        'a host is always on stage',
      );

      const off = nextEvent(raiser.socket, 'roleChanged');
      const removed = await call('DELETE', '/api/rooms/stage/participants/stage-raiser/stage');
      assert.equal(removed.status, 200, JSON.stringify(removed.body));
      assertDocumented('delete', '/api/rooms/{room}/participants/{identity}/stage', removed.body);
      assert.deepEqual(await off, {
        role: 'audience',
        sources: [],
        sendTransport: null,
        reason: 'removed-by-host',
      });
      assert.equal(participantOf('stage', 'stage-raiser').role, 'audience');
      assertError(
        await call('DELETE', '/api/rooms/stage/participants/stage-other/stage'),
        404,
        'NOT_FOUND',
        'not on stage',
      );
    });

    it('PATCH metadata: everyone who knows the participant gets participantUpdated', async function () {
      const host = await joined('meta', 'meta-host', 'host');
      const guest = await joined('meta', 'meta-guest', 'guest');
      const viewer = await joined('meta', 'meta-viewer', 'audience');
      const updates = [host, guest, viewer].map((client) =>
        nextEvent(client.socket, 'participantUpdated', (p) => p.identity === 'meta-guest'),
      );
      const reply = await call('PATCH', '/api/rooms/meta/participants/meta-guest', {
        metadata: '{"seat":"front"}',
      });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assertDocumented('patch', '/api/rooms/{room}/participants/{identity}', reply.body);
      assert.equal(reply.body.metadata, '{"seat":"front"}');
      for (const update of await Promise.all(updates)) {
        assert.equal((update as ParticipantInfo).metadata, '{"seat":"front"}');
      }
      const later = await joined('meta', 'meta-later', 'host');
      const seen = later.join.participants.find((p) => p.identity === 'meta-guest');
      assert.equal(seen?.metadata, '{"seat":"front"}', 'a later joiner sees it');
    });

    it('DELETE a room: everyone kicked with reason room-closed, the room closes', async function () {
      const clients = [
        await joined('closing', 'closing-host', 'host'),
        await joined('closing', 'closing-guest', 'guest'),
        await joined('closing', 'closing-viewer', 'audience'),
      ];
      const kicks = clients.map((c) => nextEvent(c.socket, 'kicked'));
      const reply = await call('DELETE', '/api/rooms/closing');
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assertDocumented('delete', '/api/rooms/{room}', reply.body);
      assert.deepEqual(reply.body, { room: 'closing', removed: 3 });
      for (const kicked of await Promise.all(kicks)) assert.equal(kicked.reason, 'room-closed');
      await eventually(
        () => assert.equal(suite.server.rooms.rooms.has('closing'), false),
        5000,
        'the room is closed',
      );
      await eventually(
        () => assert.ok(clients.every((c) => !c.socket.connected)),
        5000,
        'every socket is closed',
      );
      assertError(await call('DELETE', '/api/rooms/closing'), 404, 'NOT_FOUND', 'closed already');
    });

    it('POST /api/tokens/revoke: that token is refused at connect, others are not', async function () {
      const revoked = tokenFor('revoke', 'revoke-a', 'audience');
      const kept = tokenFor('revoke', 'revoke-a', 'audience');
      const { jti } = jwt.decode(revoked) as jwt.JwtPayload;
      assert.ok(jti, 'minted tokens carry a jti');
      assert.notEqual(jti, (jwt.decode(kept) as jwt.JwtPayload).jti, 'a jti per token');
      const reply = await call('POST', '/api/tokens/revoke', { jti });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.deepEqual(reply.body, { jti, revoked: true });
      assert.equal((await refusal(suite.server.url, revoked))?.code, 'UNAUTHORIZED');
      assert.equal(await refusal(suite.server.url, kept), undefined, 'another token still works');
    });
  });

  describe('rate limit', function () {
    let server: http.Server;
    let url: string;
    before(async function () {
      const app = express();
      app.use(express.json());
      app.use(
        adminApi({
          config: suite.server.config,
          rooms: suite.server.rooms,
          revocations: new TokenRevocations(),
          rateLimit: { points: 3, windowSeconds: 60 },
        }),
      );
      app.use(errorHandler(createLogger({ level: 'error', format: 'pretty' })));
      server = http.createServer(app);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(function () {
      server.close();
    });

    it('past the budget per address: 429 RATE_LIMITED with Retry-After, bad credentials too', async function () {
      const statuses: number[] = [];
      let last: Response | undefined;
      for (const authorization of [GOOD_AUTH, basic('x', 'y'), GOOD_AUTH, GOOD_AUTH]) {
        last = await fetch(`${url}/api/rooms`, { headers: { authorization } });
        statuses.push(last.status);
      }
      assert.deepEqual(statuses, [200, 401, 200, 429]);
      const body = (await last!.json()) as { error: ErrorBody };
      assert.equal(body.error.code, 'RATE_LIMITED');
      assert.ok(Number(last!.headers.get('retry-after')) >= 1, 'Retry-After');
    });
  });
});

describe('TokenRevocations', function () {
  const token = (jti: string, expiresAt: number, identity = 'someone') => ({
    identity,
    grants: {
      room: 'r',
      role: 'audience' as const,
      canPublish: false,
      canSubscribe: true,
      canChat: true,
    },
    expiresAt,
    jti,
  });

  it("refuses a removed holder's last token until it expires, and only that one", function () {
    let now = 1_000_000_000;
    const revocations = new TokenRevocations({ now: () => now });
    const nowSeconds = now / 1000;
    revocations.admitted(token('first', nowSeconds + 60));
    revocations.admitted(token('second', nowSeconds + 120));
    assert.equal(revocations.revokeHolder('r', 'someone'), true);
    assert.equal(revocations.revokeHolder('r', 'nobody'), false, 'nobody admitted');
    assert.equal(revocations.isRevoked(token('second', nowSeconds + 120)), true);
    assert.equal(revocations.isRevoked(token('first', nowSeconds + 60)), false, 'not the last');
    now += 121_000;
    assert.equal(revocations.isRevoked(token('second', nowSeconds + 120)), false, 'expired');
  });

  it('refuses an unknown jti for the longest a token lives; a token without jti never', function () {
    let now = 1_000_000_000;
    const revocations = new TokenRevocations({ maxTtlSeconds: 100, now: () => now });
    revocations.revoke('unseen');
    assert.equal(revocations.isRevoked(token('unseen', 0)), true);
    revocations.revoke('x');
    const withoutJti: Partial<ReturnType<typeof token>> = token('x', 0);
    delete withoutJti.jti;
    assert.equal(revocations.isRevoked(withoutJti as ReturnType<typeof token>), false);
    now += 101_000;
    assert.equal(revocations.isRevoked(token('unseen', 0)), false, 'past the longest lifetime');
  });
});
