import type { types } from 'mediasoup-client';
import type { PublisherLayers } from './protocol.js';

/**
 * Wishes for tracks this client does not know yet: the server may send `publisherLayers` before
 * the produce ack has reached us. Tracks that never show up (closed meanwhile) are forgotten
 * oldest first past this many.
 */
const MAX_EARLY_WISHES = 16;

/**
 * Dynacast, the publisher's side: the server says which simulcast layers of a track anyone
 * watches, and the encoder stops (or starts again) the ones above. Only the latest wish per
 * track counts; each producer applies them one at a time, so a late answer never undoes a newer
 * wish. A failure is reported, never thrown: the track goes on with the layers it had.
 */
export class Dynacast {
  readonly #findProducer: (trackId: string) => types.Producer | undefined;
  readonly #report: (error: unknown) => void;
  /** The latest wish per track that is not applied yet. */
  readonly #wishes = new Map<string, number>();
  /** Tracks whose producer is applying a wish now. */
  readonly #applying = new Set<string>();

  constructor(
    findProducer: (trackId: string) => types.Producer | undefined,
    report: (error: unknown) => void,
  ) {
    this.#findProducer = findProducer;
    this.#report = report;
  }

  /** The server's `publisherLayers` event. */
  onPublisherLayers({ trackId, maxSpatialLayer }: PublisherLayers): void {
    if (!Number.isInteger(maxSpatialLayer) || maxSpatialLayer < 0) return;
    this.#wishes.delete(trackId); // re-inserted last: the early wishes stay oldest first
    this.#wishes.set(trackId, maxSpatialLayer);
    this.#apply(trackId);
  }

  /** A local track went out (also again, after a reset): a wish that came first applies now. */
  onTrackPublished(trackId: string): void {
    if (this.#wishes.has(trackId)) this.#apply(trackId);
  }

  #apply(trackId: string): void {
    if (this.#applying.has(trackId)) return; // the running loop picks the new wish up
    const producer = this.#findProducer(trackId);
    if (!producer) {
      this.#forgetOldEarlyWishes();
      return;
    }
    this.#applying.add(trackId);
    void this.#applyLatest(trackId, producer).finally(() => this.#applying.delete(trackId));
  }

  async #applyLatest(trackId: string, producer: types.Producer): Promise<void> {
    for (let layer = this.#wishes.get(trackId); layer !== undefined;) {
      this.#wishes.delete(trackId);
      if (producer.closed) return;
      try {
        if (isSimulcastVideo(producer)) await producer.setMaxSpatialLayer(layer);
      } catch (error) {
        // Closed while it changed (unpublished, or a reset): nothing left to tell.
        if (!producer.closed) this.#report(error);
      }
      layer = this.#wishes.get(trackId);
    }
  }

  #forgetOldEarlyWishes(): void {
    for (const trackId of this.#wishes.keys()) {
      if (this.#wishes.size <= MAX_EARLY_WISHES) return;
      if (!this.#applying.has(trackId)) this.#wishes.delete(trackId);
    }
  }
}

function isSimulcastVideo(producer: types.Producer): boolean {
  return producer.kind === 'video' && (producer.rtpParameters.encodings?.length ?? 0) > 1;
}
