import { LiveStageError } from './errors.js';

export interface NodeListOptions {
  /** Redirects allowed within `redirectWindowMs`; one more is refused (the ping-pong guard). */
  maxRedirects?: number;
  redirectWindowMs?: number;
  now?: () => number;
}

/** Three hops cover every legitimate case (drained → full → free) with one to spare. */
const MAX_REDIRECTS = 3;
const REDIRECT_WINDOW_MS = 30_000;

/**
 * The server nodes a LiveRoom may use and the one it uses (`current`). The first connection
 * starts at the first URL (an app that wants to spread its clients shuffles the list); a node
 * that cannot serve gives way to the others in turn, round the list (`alternative`). A node may
 * send the client elsewhere (`follow`, `leave`): at most `maxRedirects` times within
 * `redirectWindowMs`, so two nodes cannot bounce a client between them for ever. With one URL (a
 * load-balanced address) nothing rotates; redirects still add the nodes they name.
 */
export class NodeList {
  readonly #urls: string[] = [];
  #index = 0;
  /** The last node `alternative` returned; the next call goes on from there. */
  #probe = 0;
  /** When each recent redirect happened. */
  #redirects: number[] = [];
  readonly #maxRedirects: number;
  readonly #windowMs: number;
  readonly #now: () => number;

  constructor(urls: string | readonly string[], options: NodeListOptions = {}) {
    for (const url of typeof urls === 'string' ? [urls] : urls) {
      if (this.#find(url) === -1) this.#urls.push(url);
    }
    if (this.#urls.length === 0) {
      throw new LiveStageError('INVALID_PAYLOAD', 'connect() needs at least one server URL');
    }
    this.#maxRedirects = options.maxRedirects ?? MAX_REDIRECTS;
    this.#windowMs = options.redirectWindowMs ?? REDIRECT_WINDOW_MS;
    this.#now = options.now ?? Date.now;
  }

  /** The node in use, or the one to try first. */
  get current(): string {
    return this.#urls[this.#index] as string;
  }

  get urls(): readonly string[] {
    return [...this.#urls];
  }

  get size(): number {
    return this.#urls.length;
  }

  /** The next node to try instead of the current one, in turn; undefined with only one node. */
  alternative(): string | undefined {
    if (this.#urls.length < 2) return undefined;
    let index = this.#probe;
    do index = (index + 1) % this.#urls.length;
    while (index === this.#index);
    this.#probe = index;
    return this.#urls[index];
  }

  /** Settled on `url` (listed right after the current node when new): it becomes current. */
  use(url: string): void {
    let index = this.#find(url);
    if (index === -1) index = this.#insert(url);
    this.#index = index;
    this.#probe = index;
  }

  /**
   * A node refused this client and named `url` instead. True when the client may go there: an
   * absolute http(s)/ws(s) URL (listed when new), and the redirect guard allows one more.
   * Does not change the current node.
   */
  follow(url: string): boolean {
    if (!isNodeUrl(url) || !this.#countRedirect()) return false;
    if (this.#find(url) === -1) this.#insert(url);
    return true;
  }

  /**
   * The current node sent this client away without naming another: the next in turn becomes
   * current. False, and nothing changes, with only one node or when the redirect guard says no.
   */
  leave(): boolean {
    if (this.#urls.length < 2 || !this.#countRedirect()) return false;
    this.use(this.#urls[(this.#index + 1) % this.#urls.length] as string);
    return true;
  }

  /**
   * Where to go when the current node drains: `preferred`, the node's own advice (listed when
   * new), or else the next node in turn; undefined when there is nowhere else. A move is no
   * redirect (the client is not refused): the guard does not count it.
   */
  moveTarget(preferred?: string): string | undefined {
    if (preferred !== undefined && isNodeUrl(preferred)) {
      const index = this.#find(preferred);
      return index === -1 ? this.#urls[this.#insert(preferred)] : this.#urls[index];
    }
    if (this.#urls.length < 2) return undefined;
    return this.#urls[(this.#index + 1) % this.#urls.length];
  }

  #countRedirect(): boolean {
    const now = this.#now();
    this.#redirects = this.#redirects.filter((at) => now - at < this.#windowMs);
    if (this.#redirects.length >= this.#maxRedirects) return false;
    this.#redirects.push(now);
    return true;
  }

  /** Lists `url` right after the current node; its index. */
  #insert(url: string): number {
    const index = this.#index + 1;
    this.#urls.splice(index, 0, url);
    if (this.#probe >= index) this.#probe += 1;
    return index;
  }

  #find(url: string): number {
    const key = keyOf(url);
    return this.#urls.findIndex((listed) => keyOf(listed) === key);
  }
}

const NODE_PROTOCOLS = new Set(['http:', 'https:', 'ws:', 'wss:']);

function isNodeUrl(url: string): boolean {
  try {
    return NODE_PROTOCOLS.has(new URL(url).protocol);
  } catch {
    return false;
  }
}

const SAME_AS = new Map([
  ['ws:', 'http:'],
  ['wss:', 'https:'],
]);
const DEFAULT_PORTS = new Map([
  ['http:', '80'],
  ['https:', '443'],
]);

/** Two spellings of one node compare equal (case, default port, trailing slash, ws ↔ http). */
function keyOf(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url; // relative: socket.io resolves it against the page; compared as written
  }
  const protocol = SAME_AS.get(parsed.protocol) ?? parsed.protocol;
  const port = parsed.port || DEFAULT_PORTS.get(protocol) || '';
  return `${protocol}//${parsed.hostname}:${port}${parsed.pathname.replace(/\/+$/, '')}`;
}
