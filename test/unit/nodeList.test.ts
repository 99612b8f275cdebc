import assert from 'node:assert/strict';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { LiveStageError } from '../../client-sdk/src/errors.js';
import { NodeList } from '../../client-sdk/src/NodeList.js';
import {
  connectToAny,
  nodeCannotServe,
  reachNode,
  type Handshake,
} from '../../client-sdk/src/nodeConnection.js';
import type { ErrorBody, Welcome } from '@livestage/protocol';

const A = 'http://a.example:3000';
const B = 'http://b.example:3000';
const C = 'http://c.example:3000';

/** The next `count` alternatives. */
function alternatives(nodes: NodeList, count: number): (string | undefined)[] {
  return Array.from({ length: count }, () => nodes.alternative());
}

describe('NodeList', function () {
  it('starts at the first URL and offers the others in turn, round the list', function () {
    const nodes = new NodeList([A, B, C]);
    assert.equal(nodes.current, A);
    assert.deepEqual(alternatives(nodes, 5), [B, C, B, C, B]);
    assert.equal(nodes.current, A, 'offering alternatives does not move');
  });

  it('after settling on another node, offers the rest from there', function () {
    const nodes = new NodeList([A, B, C]);
    nodes.use(B);
    assert.equal(nodes.current, B);
    assert.deepEqual(alternatives(nodes, 4), [C, A, C, A]);
  });

  it('with one URL (a load balancer) nothing rotates and nothing is left to leave for', function () {
    const nodes = new NodeList(A);
    assert.equal(nodes.current, A);
    assert.equal(nodes.alternative(), undefined);
    assert.equal(nodes.leave(), false);
    assert.equal(nodes.moveTarget(), undefined);
    assert.equal(nodes.current, A);
  });

  it('refuses an empty list with a LiveStageError', function () {
    assert.throws(
      () => new NodeList([]),
      (error: unknown) => error instanceof LiveStageError && error.code === 'INVALID_PAYLOAD',
    );
  });

  it('lists one node once, however it is spelled', function () {
    const nodes = new NodeList([
      'http://a.example:3000/',
      'HTTP://A.example:3000',
      'ws://a.example:3000',
      'https://b.example',
      'wss://b.example:443/',
    ]);
    assert.deepEqual(nodes.urls, ['http://a.example:3000/', 'https://b.example']);
  });

  it('follows a named node: listed right after the current one, current unchanged', function () {
    const nodes = new NodeList([A, B]);
    assert.equal(nodes.follow(C), true);
    assert.deepEqual(nodes.urls, [A, C, B]);
    assert.equal(nodes.current, A);
    assert.equal(nodes.follow(`${B}/`), true, 'a listed node is not listed twice');
    assert.deepEqual(nodes.urls, [A, C, B]);
  });

  it('does not follow what is not an absolute http(s) or ws(s) URL', function () {
    const nodes = new NodeList([A]);
    for (const bad of ['/elsewhere', 'b.example:3000', 'javascript:alert(1)', 'ftp://b.example']) {
      assert.equal(nodes.follow(bad), false, bad);
    }
    assert.deepEqual(nodes.urls, [A]);
  });

  it('stops following after 3 redirects within 30 s (ping-pong), and follows again later', function () {
    let now = 1_000_000;
    const nodes = new NodeList([A, B], { now: () => now });
    const hops = [B, A, B, A].map((url) => nodes.follow(url));
    assert.deepEqual(hops, [true, true, true, false]);
    now += 29_999;
    assert.equal(nodes.follow(B), false, 'still inside the window');
    now += 1;
    assert.equal(nodes.follow(B), true, 'the first redirects have aged out');
  });

  it('a refused redirect changes nothing', function () {
    const nodes = new NodeList([A], { maxRedirects: 1 });
    assert.equal(nodes.follow(B), true);
    assert.equal(nodes.follow(C), false);
    assert.deepEqual(nodes.urls, [A, B]);
  });

  it('leave: the next node in turn becomes current, counted like a redirect', function () {
    let now = 0;
    const nodes = new NodeList([A, B, C], { maxRedirects: 2, now: () => now });
    assert.equal(nodes.leave(), true);
    assert.equal(nodes.current, B);
    assert.equal(nodes.follow(A), true);
    assert.equal(nodes.leave(), false, 'the guard counts both');
    assert.equal(nodes.current, B);
    now += 30_000;
    assert.equal(nodes.leave(), true);
    assert.equal(nodes.current, C);
  });

  it('use() of an unlisted node lists it after the current one and makes it current', function () {
    const nodes = new NodeList([A, B]);
    nodes.use(C);
    assert.deepEqual(nodes.urls, [A, C, B]);
    assert.equal(nodes.current, C);
    assert.deepEqual(alternatives(nodes, 2), [B, A]);
  });

  it('moveTarget: the node named by the draining one, else the next in turn; not a redirect', function () {
    const nodes = new NodeList([A, B], { maxRedirects: 1 });
    assert.equal(nodes.moveTarget(C), C);
    assert.deepEqual(nodes.urls, [A, C, B], 'listed after the current node');
    assert.equal(nodes.current, A, 'moving is decided by the caller once it got there');
    assert.equal(nodes.moveTarget(`${C}/`), C, 'a listed node as it was listed');
    assert.equal(nodes.moveTarget(), C, 'next in turn');
    assert.equal(nodes.moveTarget('not a url'), C, 'nonsense advice is ignored');
    assert.equal(nodes.moveTarget(A), A, 'the same address (a load balancer) is a valid target');
    assert.equal(nodes.follow(B), true, 'moves did not use up the redirect guard');
  });

  it('inserting a node keeps the turn of the alternatives', function () {
    const nodes = new NodeList([A, B, C]);
    assert.equal(nodes.alternative(), B);
    const D = 'http://d.example:3000';
    nodes.follow(D); // listed between A and B
    assert.deepEqual(alternatives(nodes, 4), [C, D, B, C]);
  });
});

/** Real socket.io servers standing in for nodes: each welcomes, or refuses as told. */
describe('connecting to a list of nodes (real socket.io)', function () {
  const servers: { http: HttpServer; io: Server }[] = [];
  const handshake: Handshake = {
    token: 't',
    path: '/socket.io',
    timeoutMs: 2000,
    onTiming: undefined,
  };

  afterEach(async function () {
    for (const { http, io } of servers.splice(0)) {
      await io.close();
      http.closeAllConnections();
    }
  });

  /** A node that welcomes everyone, or refuses with what `refuse` returns (connect_error). */
  async function node(name: string, refuse?: () => ErrorBody | undefined): Promise<string> {
    const http = createServer();
    const io = new Server(http, { path: '/socket.io' });
    io.use((_socket, next) => {
      const body = refuse?.();
      next(body && Object.assign(new Error(body.message), { data: body }));
    });
    io.on('connection', (socket) => socket.emit('welcome', welcome(name)));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    servers.push({ http, io });
    return `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  }

  /** A URL where nothing listens. */
  async function deadNode(): Promise<string> {
    const http = createServer();
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    await new Promise((resolve) => http.close(resolve));
    return `http://127.0.0.1:${port}`;
  }

  it('skips a node where nothing listens and settles on the next', async function () {
    const dead = await deadNode();
    const live = await node('live');
    const nodes = new NodeList([dead, live]);
    const reached = await connectToAny(nodes, handshake);
    reached.socket.disconnect();
    assert.equal(reached.welcome.roomName, 'live');
    assert.equal(nodes.current, live);
  });

  it('skips a node refusing with UNAVAILABLE, but any other refusal is the answer', async function () {
    const draining = await node('draining', () => ({ code: 'UNAVAILABLE', message: 'draining' }));
    const forbidding = await node('forbidding', () => ({ code: 'FORBIDDEN', message: 'no' }));
    const live = await node('live');
    const reached = await connectToAny(new NodeList([draining, live]), handshake);
    reached.socket.disconnect();
    assert.equal(reached.welcome.roomName, 'live');
    await assert.rejects(
      connectToAny(new NodeList([forbidding, live]), handshake),
      (error: unknown) => error instanceof LiveStageError && error.code === 'FORBIDDEN',
    );
  });

  it('follows a refusal that names a better node, even one not listed', async function () {
    const free = await node('free');
    const full = await node('full', () => ({ code: 'UNAVAILABLE', message: 'full', node: free }));
    const nodes = new NodeList(full);
    const reached = await connectToAny(nodes, handshake);
    reached.socket.disconnect();
    assert.equal(reached.welcome.roomName, 'free');
    assert.equal(nodes.current, free);
    assert.deepEqual(nodes.urls, [full, free]);
  });

  it('two nodes naming each other: a few hops, then UNAVAILABLE, not a loop', async function () {
    let hops = 0;
    const urls: string[] = [];
    const bounce = (other: number) => () => {
      hops += 1;
      return { code: 'UNAVAILABLE' as const, message: 'go away', node: urls[other] };
    };
    urls.push(await node('a', bounce(1)), await node('b', bounce(0)));
    await assert.rejects(
      reachNode(new NodeList(urls[0]!), urls[0]!, handshake),
      (error: unknown) => error instanceof LiveStageError && error.code === 'UNAVAILABLE',
    );
    assert.equal(hops, 4, 'the first refusal and 3 redirects');
  });

  it('tells a node that cannot serve from one that refuses', async function () {
    const dead = await deadNode();
    const forbidding = await node('forbidding', () => ({ code: 'FORBIDDEN', message: 'no' }));
    const unreachable = await reachNode(new NodeList(dead), dead, handshake).catch((e) => e);
    const refused = await reachNode(new NodeList(forbidding), forbidding, handshake).catch(
      (e) => e,
    );
    assert.equal(nodeCannotServe(unreachable), true, String(unreachable));
    assert.equal(nodeCannotServe(refused), false, String(refused));
  });
});

function welcome(roomName: string): Welcome {
  return {
    routerRtpCapabilities: { codecs: [], headerExtensions: [] },
    identity: 'me',
    role: 'audience',
    roomName,
    resumed: false,
    resumeCredential: 'c',
  };
}
