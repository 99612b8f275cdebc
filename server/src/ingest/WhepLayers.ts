import type { types } from 'mediasoup';

/** How often the player's loss is looked at. */
const CHECK_INTERVAL_MS = 2_000;
/** The consumer's score (0-10, from the player's loss reports) under which a layer is dropped. */
const DOWN_BELOW_SCORE = 7;
/** Clean checks in a row before a layer is tried again. */
const UP_AFTER_CLEAN_CHECKS = 3;

/**
 * Picks a WHEP player's simulcast layer from its receiver reports, since it has no bandwidth
 * estimate (whepSdp.ts: no transport-cc): a lossy link steps down a layer, a clean one steps back
 * up. `onLayer` tells the room which layers the publisher must keep encoding (dynacast).
 */
export class WhepLayers {
  #layer: number;
  #clean = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly consumer: types.Consumer,
    /** The publisher's simulcast layers (1: not simulcast). */
    private readonly spatialLayers: number,
    private readonly onLayer: (layer: number) => void,
  ) {
    this.#layer = this.#top;
    this.#timer = setInterval(() => this.#check(), CHECK_INTERVAL_MS);
    this.#timer.unref();
    consumer.observer.once('close', () => clearInterval(this.#timer));
    onLayer(this.#layer);
  }

  get layer(): number {
    return this.#layer;
  }

  get #top(): number {
    return Math.max(0, this.spatialLayers - 1);
  }

  #check(): void {
    if (this.consumer.closed || this.consumer.paused || this.consumer.producerPaused) return;
    const score = this.consumer.score.score;
    if (score < DOWN_BELOW_SCORE && this.#layer > 0) {
      this.#clean = 0;
      this.#set(this.#layer - 1);
    } else if (score >= DOWN_BELOW_SCORE + 2) {
      this.#clean += 1;
      if (this.#clean >= UP_AFTER_CLEAN_CHECKS && this.#layer < this.#top) {
        this.#clean = 0;
        this.#set(this.#layer + 1);
      }
    } else {
      this.#clean = 0;
    }
  }

  #set(layer: number): void {
    this.#layer = layer;
    this.consumer.setPreferredLayers({ spatialLayer: layer }).catch(() => undefined);
    this.onLayer(layer);
  }
}
