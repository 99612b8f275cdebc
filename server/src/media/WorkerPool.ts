import { EventEmitter } from 'node:events';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import { WorkerWatchdog } from './WorkerWatchdog.js';

export interface MediaWorker {
  readonly index: number;
  readonly worker: types.Worker;
  readonly webRtcServer: types.WebRtcServer;
  routers: number;
  transports: number;
  /** Consumers on this worker now, every room's (pipe consumers included). */
  consumers: number;
  /** Consumers promised to viewers placed here whose subscriptions are still being made. */
  reservedConsumers: number;
}

export interface WorkerHealth {
  index: number;
  pid: number;
  alive: boolean;
  routers: number;
  transports: number;
  consumers: number;
  /** CPU seconds (user + system) and peak resident memory in KiB, as the worker reports them. */
  cpuUserSeconds: number;
  cpuSystemSeconds: number;
  maxRssKiB: number;
}

interface WorkerPoolEvents {
  workerDied: [index: number, pid: number];
  workerReplaced: [worker: MediaWorker];
}

/** One mediasoup worker per slot, each with its own WebRtcServer (one UDP and one TCP port). */
export class WorkerPool extends EventEmitter<WorkerPoolEvents> {
  readonly #config: Config['media'];
  readonly #log: Logger;
  readonly #slots: (MediaWorker | undefined)[] = [];
  readonly #watchdog: WorkerWatchdog;
  #closed = false;

  private constructor(config: Config['media'], log: Logger) {
    super();
    this.#config = config;
    this.#log = log;
    this.#watchdog = new WorkerWatchdog(config.watchdog, (worker) => {
      this.#log.error('mediasoup worker does not answer; killing it', {
        pid: worker.pid,
        timeoutMs: config.watchdog.timeoutMs,
      });
      try {
        process.kill(worker.pid, 'SIGKILL');
      } catch {
        // Gone already: its 'died' event is on the way.
      }
    });
  }

  static async start(config: Config['media'], log: Logger): Promise<WorkerPool> {
    const pool = new WorkerPool(config, log);
    try {
      await Promise.all(
        Array.from({ length: config.workers }, async (_, index) => {
          pool.#slots[index] = await pool.#spawn(index);
        }),
      );
    } catch (error) {
      pool.close();
      throw error;
    }
    return pool;
  }

  get workers(): readonly MediaWorker[] {
    return this.#slots.filter((slot): slot is MediaWorker => slot !== undefined);
  }

  /** The live worker with the fewest transports, then routers. */
  leastLoaded(): MediaWorker {
    const candidates = this.workers.filter((w) => !w.worker.closed);
    const best = candidates.sort((a, b) => a.transports - b.transports || a.routers - b.routers)[0];
    if (!best) throw new Error('no mediasoup worker is available');
    return best;
  }

  /** The least-loaded live worker, waiting (up to timeoutMs) for a replacement if none is up. */
  async nextAvailable(timeoutMs: number): Promise<MediaWorker> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.#closed) throw new Error('worker pool closed');
      if (this.workers.some((w) => !w.worker.closed)) return this.leastLoaded();
      if (Date.now() >= deadline) throw new Error('no mediasoup worker came up in time');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async health(): Promise<WorkerHealth[]> {
    return Promise.all(
      this.workers.map(async (w) => {
        const usage = w.worker.closed
          ? undefined
          : await w.worker.getResourceUsage().catch(() => undefined);
        return {
          index: w.index,
          pid: w.worker.pid,
          alive: !w.worker.closed && !w.worker.died,
          routers: w.routers,
          transports: w.transports,
          consumers: w.consumers,
          cpuUserSeconds: (usage?.ru_utime ?? 0) / 1000,
          cpuSystemSeconds: (usage?.ru_stime ?? 0) / 1000,
          maxRssKiB: usage?.ru_maxrss ?? 0,
        };
      }),
    );
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#watchdog.stop();
    for (const w of this.workers) w.worker.close();
    this.#slots.length = 0;
  }

  async #spawn(index: number): Promise<MediaWorker> {
    const worker = await mediasoup.createWorker({
      logLevel: this.#config.workerLogLevel,
      rtcMinPort: this.#config.relayPorts.min,
      rtcMaxPort: this.#config.relayPorts.max,
      appData: { index },
    });
    try {
      const port = this.#config.portBase === 0 ? undefined : this.#config.portBase + index;
      const listen = { ip: this.#config.listenIp, announcedIp: this.#config.announcedIp, port };
      const webRtcServer = await worker.createWebRtcServer({
        listenInfos: [
          { ...listen, protocol: 'udp' },
          { ...listen, protocol: 'tcp' },
        ],
      });
      const slot: MediaWorker = {
        index,
        worker,
        webRtcServer,
        routers: 0,
        transports: 0,
        consumers: 0,
        reservedConsumers: 0,
      };
      worker.observer.on('newrouter', (router) => {
        slot.routers += 1;
        router.observer.once('close', () => (slot.routers -= 1));
        router.observer.on('newtransport', (transport) =>
          transport.observer.on('newconsumer', (consumer) => {
            slot.consumers += 1;
            consumer.observer.once('close', () => (slot.consumers -= 1));
          }),
        );
      });
      webRtcServer.observer.on('webrtctransporthandled', () => (slot.transports += 1));
      webRtcServer.observer.on('webrtctransportunhandled', () => (slot.transports -= 1));
      worker.on('died', (error) => this.#onDied(slot, error));
      this.#watchdog.watch(worker);
      this.#log.info('mediasoup worker started', { index, pid: worker.pid });
      return slot;
    } catch (error) {
      worker.close();
      throw error;
    }
  }

  #onDied(slot: MediaWorker, error: Error): void {
    this.#log.error('mediasoup worker died', {
      index: slot.index,
      pid: slot.worker.pid,
      error: error.message,
    });
    if (this.#slots[slot.index] === slot) this.#slots[slot.index] = undefined;
    this.emit('workerDied', slot.index, slot.worker.pid);
    this.#replace(slot.index, 0);
  }

  /** Spawns a worker into an empty slot; a failed spawn is tried again, slower each time. */
  #replace(index: number, failures: number): void {
    if (this.#closed) return;
    this.#spawn(index).then(
      (replacement) => {
        if (this.#closed) {
          replacement.worker.close();
          return;
        }
        this.#slots[index] = replacement;
        this.emit('workerReplaced', replacement);
      },
      (spawnError: unknown) => {
        const retryInMs = Math.min(REPLACE_RETRY_MAX_MS, REPLACE_RETRY_BASE_MS * 2 ** failures);
        this.#log.error('could not replace mediasoup worker; trying again', {
          index,
          retryInMs,
          error: String(spawnError),
        });
        setTimeout(() => this.#replace(index, failures + 1), retryInMs).unref();
      },
    );
  }
}

const REPLACE_RETRY_BASE_MS = 500;
const REPLACE_RETRY_MAX_MS = 30_000;
