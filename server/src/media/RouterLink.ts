import type { types } from 'mediasoup';

export interface Pipe {
  /** On the origin router: takes every layer of the producer into the pipe. */
  pipeConsumer: types.Consumer;
  /** On the edge router, with the producer's own id: what the edge's viewers consume. */
  pipeProducer: types.Producer;
}

/**
 * A pair of PipeTransports from a room's origin router to one of its edge routers (always on
 * another worker: mediasoup 3.12 cannot pipe between two routers of one worker). Made by hand
 * rather than with `router.pipeToRouter()` so that the edge's producer gets its own
 * `keyFrameRequestDelay` (pipeToRouter does not carry it over) and so that the link's life is ours.
 */
export class RouterLink {
  readonly #local: types.PipeTransport;
  readonly #remote: types.PipeTransport;

  private constructor(local: types.PipeTransport, remote: types.PipeTransport) {
    this.#local = local;
    this.#remote = remote;
    // Either side closing (its router closed or its worker died) takes the other with it.
    local.observer.once('close', () => remote.close());
    remote.observer.once('close', () => local.close());
  }

  static async open(origin: types.Router, edge: types.Router): Promise<RouterLink> {
    const made = await Promise.allSettled([
      origin.createPipeTransport({ listenIp: '127.0.0.1', enableRtx: true }),
      edge.createPipeTransport({ listenIp: '127.0.0.1', enableRtx: true }),
    ]);
    const [local, remote] = made.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
    const failed = made.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed || !local || !remote) {
      local?.close();
      remote?.close();
      throw failed?.reason ?? new Error('pipe transport not made');
    }
    try {
      await Promise.all([
        local.connect({ ip: remote.tuple.localIp, port: remote.tuple.localPort }),
        remote.connect({ ip: local.tuple.localIp, port: local.tuple.localPort }),
      ]);
    } catch (error) {
      local.close();
      remote.close();
      throw error;
    }
    return new RouterLink(local, remote);
  }

  get closed(): boolean {
    return this.#local.closed || this.#remote.closed;
  }

  onClose(listener: () => void): void {
    this.#local.observer.once('close', listener);
  }

  /** Carries `producer` (on the origin) into the edge router; closing either end closes both. */
  async pipe(producer: types.Producer, keyFrameRequestDelay: number): Promise<Pipe> {
    let pipeConsumer: types.Consumer | undefined;
    let pipeProducer: types.Producer | undefined;
    try {
      pipeConsumer = await this.#local.consume({ producerId: producer.id });
      pipeProducer = await this.#remote.produce({
        id: producer.id,
        kind: pipeConsumer.kind,
        rtpParameters: pipeConsumer.rtpParameters,
        paused: pipeConsumer.producerPaused,
        keyFrameRequestDelay,
        appData: producer.appData,
      });
      if (producer.closed || pipeConsumer.closed) throw new Error('producer closed while piping');
      if (pipeProducer.paused !== producer.paused) {
        await (producer.paused ? pipeProducer.pause() : pipeProducer.resume());
      }
    } catch (error) {
      pipeConsumer?.close();
      pipeProducer?.close();
      throw error;
    }
    const [consumer, piped] = [pipeConsumer, pipeProducer];
    consumer.observer.once('close', () => piped.close());
    consumer.observer.on('pause', () => void piped.pause().catch(() => undefined));
    consumer.observer.on('resume', () => void piped.resume().catch(() => undefined));
    piped.observer.once('close', () => consumer.close());
    return { pipeConsumer: consumer, pipeProducer: piped };
  }

  close(): void {
    this.#local.close();
    this.#remote.close();
  }
}
