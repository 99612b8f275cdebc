import { Counter, Gauge, type Registry } from 'prom-client';
import type { EgressObserver } from '../egress/EgressService.js';
import { EGRESS_TYPES } from '../egress/EgressInfo.js';

/** Egress metrics, labelled by type (hls, record) and reason only: never a room name. */
export function egressMetrics(registry: Registry): EgressObserver {
  const registers = [registry];
  const running = new Gauge({
    name: 'livestage_egresses',
    help: 'HLS and recording egresses running on this node, by type.',
    labelNames: ['type'],
    registers,
  });
  const restarts = new Counter({
    name: 'livestage_egress_ffmpeg_restarts_total',
    help: 'Composite ffmpeg restarts, by type and reason (relayout: the stage changed; crash).',
    labelNames: ['type', 'reason'],
    registers,
  });
  const failures = new Counter({
    name: 'livestage_egress_failures_total',
    help: 'Egresses that ended failed (ffmpeg could not be kept running), by type.',
    labelNames: ['type'],
    registers,
  });
  const snapshots = new Counter({
    name: 'livestage_snapshots_total',
    help: 'Snapshots (JPEGs of live videos) taken on this node.',
    registers,
  });
  for (const type of EGRESS_TYPES) {
    running.set({ type }, 0);
    failures.inc({ type }, 0);
    for (const reason of ['relayout', 'crash']) restarts.inc({ type, reason }, 0);
  }
  snapshots.inc(0);
  return {
    started: (info) => running.inc({ type: info.type }),
    ended: (info) => {
      running.dec({ type: info.type });
      if (info.status === 'failed') failures.inc({ type: info.type });
    },
    restarted: (type, reason) => restarts.inc({ type, reason }),
    snapshotTaken: () => snapshots.inc(),
  };
}
