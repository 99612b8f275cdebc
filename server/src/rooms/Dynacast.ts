export interface DynacastOptions {
  enabled: boolean;
  /** A lower need waits this long before the publisher is told (a viewer may be resizing). */
  lowerAfterMs: number;
}

/** Tells a publisher which simulcast layers to encode. */
export type TellPublisher = (trackId: string, maxSpatialLayer: number) => void;

interface TrackNeeds {
  readonly topLayer: number;
  readonly tell: TellPublisher;
  /** Each consumer's highest useful layer; -1 for one that needs none (hidden). */
  readonly byConsumer: Map<string, number>;
  /** What the publisher was last told (a new track encodes every layer). */
  told: number;
  lowerTimer: NodeJS.Timeout | undefined;
}

/**
 * Dynacast: the highest simulcast layer any viewer of a track needs, across every router of the
 * room, told to its publisher so that it stops encoding the layers above (and starts them again
 * as soon as a viewer needs one). Layer 0 always stays on: a new viewer's first frame comes from
 * it without waiting for an encoder to start. A track nobody watches keeps every layer.
 */
export class Dynacast {
  readonly #options: DynacastOptions;
  readonly #tracks = new Map<string, TrackNeeds>();

  constructor(options: DynacastOptions) {
    this.#options = options;
  }

  /** A simulcast video track was published with `layers` spatial layers. */
  watch(trackId: string, layers: number, tell: TellPublisher): void {
    if (!this.#options.enabled || layers < 2) return;
    this.#tracks.set(trackId, {
      topLayer: layers - 1,
      tell,
      byConsumer: new Map(),
      told: layers - 1,
      lowerTimer: undefined,
    });
    this.#update(trackId);
  }

  /**
   * What one consumer of the track needs now: a layer, 'none' while its viewer hides it, or
   * undefined once it is closed.
   */
  setNeed(trackId: string, consumerId: string, layer: number | 'none' | undefined): void {
    const track = this.#tracks.get(trackId);
    if (!track) return;
    const before = track.byConsumer.get(consumerId);
    if (layer === undefined) track.byConsumer.delete(consumerId);
    else track.byConsumer.set(consumerId, layer === 'none' ? -1 : Math.min(layer, track.topLayer));
    if (before !== track.byConsumer.get(consumerId)) this.#update(trackId);
  }

  forget(trackId: string): void {
    clearTimeout(this.#tracks.get(trackId)?.lowerTimer);
    this.#tracks.delete(trackId);
  }

  close(): void {
    for (const trackId of [...this.#tracks.keys()]) this.forget(trackId);
  }

  /** The layer the publisher should encode up to now (for tests and diagnostics). */
  needed(trackId: string): number | undefined {
    const track = this.#tracks.get(trackId);
    return track && neededLayer(track);
  }

  #update(trackId: string): void {
    const track = this.#tracks.get(trackId);
    if (!track) return;
    const needed = neededLayer(track);
    if (needed >= track.told) {
      // Raised (or back to what it was): at once, so the viewer who needs it waits least.
      clearTimeout(track.lowerTimer);
      track.lowerTimer = undefined;
      if (needed > track.told) this.#tell(track, trackId, needed);
      return;
    }
    if (track.lowerTimer) return;
    track.lowerTimer = setTimeout(() => {
      track.lowerTimer = undefined;
      if (this.#tracks.get(trackId) !== track) return;
      const now = neededLayer(track);
      if (now < track.told) this.#tell(track, trackId, now);
    }, this.#options.lowerAfterMs);
    track.lowerTimer.unref();
  }

  #tell(track: TrackNeeds, trackId: string, layer: number): void {
    track.told = layer;
    track.tell(trackId, layer);
  }
}

function neededLayer(track: TrackNeeds): number {
  // Nobody watches (yet): every layer stays on for the audience to come. Turned off, the top
  // layer came back only after many seconds once viewers arrived: Chromium's bandwidth estimate
  // had sunk to what layer 0 alone sends, and climbs back slowly.
  if (track.byConsumer.size === 0) return track.topLayer;
  let needed = 0;
  for (const layer of track.byConsumer.values()) needed = Math.max(needed, layer);
  return needed;
}
