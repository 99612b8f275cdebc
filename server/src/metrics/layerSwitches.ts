import type { types } from 'mediasoup';
import type { MediaWorker, WorkerPool } from '../media/WorkerPool.js';

/**
 * Calls `onSwitch` on every layer change of every consumer on the pool's workers (a simulcast
 * or SVC consumer's spatial or temporal layer, chosen by the worker), replacement workers
 * included. Exact: counted from the workers' own events, not sampled.
 */
export function watchLayerSwitches(pool: WorkerPool, onSwitch: () => void): () => void {
  let stopped = false;
  const watchConsumer = (consumer: types.Consumer) => {
    consumer.observer.on('layerschange', () => {
      if (!stopped) onSwitch();
    });
  };
  const watchWorker = ({ worker }: MediaWorker) => {
    worker.observer.on('newrouter', (router) =>
      router.observer.on('newtransport', (transport) =>
        transport.observer.on('newconsumer', watchConsumer),
      ),
    );
  };
  for (const worker of pool.workers) watchWorker(worker);
  pool.on('workerReplaced', watchWorker);
  return () => {
    stopped = true;
    pool.off('workerReplaced', watchWorker);
  };
}
