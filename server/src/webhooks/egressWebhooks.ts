import type { EgressObserver } from '../egress/EgressService.js';
import type { Webhooks } from './webhooks.js';

/**
 * egress_started / egress_ended (with the egress info; a recording's file and duration in
 * `egressInfo.file` / `durationSeconds`) and snapshot_taken (the participant, its track and the
 * path the JPEG is served at).
 */
export function egressWebhooks(webhooks: Pick<Webhooks, 'send'>): EgressObserver {
  return {
    started(info) {
      webhooks.send('egress_started', { room: { name: info.room }, egressInfo: info });
    },
    ended(info) {
      webhooks.send('egress_ended', { room: { name: info.room }, egressInfo: info });
    },
    snapshotTaken(snapshot) {
      webhooks.send('snapshot_taken', {
        room: { name: snapshot.room },
        participant: { identity: snapshot.identity },
        track: { sid: snapshot.trackId, type: 'VIDEO' },
        snapshot: { url: snapshot.urlPath, takenAt: snapshot.takenAt },
      });
    },
  };
}
