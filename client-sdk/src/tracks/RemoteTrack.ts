import type { types } from 'mediasoup-client';
import type { ConsumerPreferencesRequest, QualityPreference, TrackSource } from '../protocol.js';

/** What a RemoteTrack may ask of the server about its own consumer. */
export interface ConsumerControl {
  setPreferences(request: ConsumerPreferencesRequest): Promise<void>;
  pause(consumerId: string): Promise<void>;
  resume(consumerId: string): Promise<void>;
  /** A request the track made by itself (nobody awaits it) failed. */
  report(error: unknown): void;
}

export interface Layer {
  spatial: number | null;
  temporal: number | null;
}

const VIEWPORT_DEBOUNCE_MS = 100;

/**
 * A track received from another participant. Video is adaptive: the server forwards the layer
 * that fits the largest attached element, and pauses the stream while no element shows it.
 */
export class RemoteTrack {
  readonly id: string;
  readonly participantIdentity: string;
  readonly source: TrackSource;
  readonly consumer: types.Consumer;
  /** The simulcast layer the server forwards now (null: none, e.g. paused or no bandwidth). */
  currentLayer: Layer = { spatial: null, temporal: null };
  /** The server has seen no media for this track for a while (the publisher's side is stuck). */
  stalled = false;
  readonly #control: ConsumerControl;
  readonly #elements = new Set<HTMLMediaElement>();
  readonly #visible = new Set<HTMLMediaElement>();
  #resizeObserver: ResizeObserver | undefined;
  #intersectionObserver: IntersectionObserver | undefined;
  #viewportTimer: ReturnType<typeof setTimeout> | undefined;
  #lastViewport = '';
  // The server creates consumers paused; video stays so until an element shows it.
  #serverPaused = true;
  /** Counts pause/resume requests, so that only the latest one's failure is undone. */
  #flowRequests = 0;

  constructor(
    consumer: types.Consumer,
    info: { trackId: string; identity: string; source: TrackSource },
    control: ConsumerControl,
  ) {
    this.consumer = consumer;
    this.id = info.trackId;
    this.participantIdentity = info.identity;
    this.source = info.source;
    this.#control = control;
  }

  get kind(): 'audio' | 'video' {
    return this.consumer.kind;
  }

  get mediaStreamTrack(): MediaStreamTrack {
    return this.consumer.track;
  }

  get attachedElements(): HTMLMediaElement[] {
    return [...this.#elements];
  }

  /** Plays the track in `element` (created when omitted) and returns the element. */
  attach(element?: HTMLMediaElement): HTMLMediaElement {
    const el = element ?? document.createElement(this.kind === 'video' ? 'video' : 'audio');
    el.autoplay = true;
    if (el instanceof HTMLVideoElement) el.playsInline = true;
    el.srcObject = new MediaStream([this.consumer.track]);
    this.#elements.add(el);
    if (this.kind === 'video') {
      this.#observe(el);
      // After the caller's own code, which usually puts the element on the page right away.
      queueMicrotask(() => this.#showIfVisibleNow(el));
    }
    void el.play().catch(() => undefined);
    return el;
  }

  /** Stops playing in `element` (or in every element when omitted). */
  detach(element?: HTMLMediaElement): HTMLMediaElement[] {
    const targets = element ? [element] : [...this.#elements];
    for (const el of targets) {
      if (!this.#elements.delete(el)) continue;
      this.#visible.delete(el);
      this.#resizeObserver?.unobserve(el);
      this.#intersectionObserver?.unobserve(el);
      el.srcObject = null;
    }
    if (this.kind === 'video') this.#updateFlow();
    return targets;
  }

  /** 'auto' follows the element size; the others cap the layer explicitly. */
  async setPreferredQuality(quality: QualityPreference): Promise<void> {
    await this.#control.setPreferences({ consumerId: this.consumer.id, quality });
  }

  /** @internal */
  close(): void {
    // Closed first: a consumer that is gone asks the server for nothing more.
    this.consumer.close();
    this.detach();
    this.#resizeObserver?.disconnect();
    this.#intersectionObserver?.disconnect();
    clearTimeout(this.#viewportTimer);
  }

  #observe(el: HTMLMediaElement): void {
    if (typeof ResizeObserver !== 'undefined') {
      this.#resizeObserver ??= new ResizeObserver(() => this.#scheduleViewportUpdate());
      this.#resizeObserver.observe(el);
    }
    if (typeof IntersectionObserver !== 'undefined') {
      this.#intersectionObserver ??= new IntersectionObserver((entries) => {
        for (const entry of entries) {
          const target = entry.target as HTMLMediaElement;
          if (entry.isIntersecting) this.#visible.add(target);
          else this.#visible.delete(target);
        }
        this.#updateFlow();
      });
      this.#intersectionObserver.observe(el);
    } else {
      this.#visible.add(el);
      this.#updateFlow();
    }
    this.#scheduleViewportUpdate();
  }

  /**
   * The first frame should not wait for the observers' first callbacks (the next rendering
   * update, often tens of ms away): an element that is on screen now gets its size sent and the
   * video resumed at once, in that order, so that the server starts with the right layer. The
   * observers correct this if it turns out wrong.
   */
  #showIfVisibleNow(el: HTMLMediaElement): void {
    if (this.consumer.closed || !this.#elements.has(el) || this.#visible.has(el)) return;
    if (!this.#intersectionObserver || !onScreen(el)) return;
    clearTimeout(this.#viewportTimer);
    this.#sendViewport();
    this.#visible.add(el);
    this.#updateFlow();
  }

  /** Size of the largest attached element in device pixels (0×0 when none is laid out). */
  #viewport(): { width: number; height: number } {
    const ratio = typeof window === 'undefined' ? 1 : window.devicePixelRatio || 1;
    let width = 0;
    let height = 0;
    for (const el of this.#elements) {
      width = Math.max(width, Math.round(el.clientWidth * ratio));
      height = Math.max(height, Math.round(el.clientHeight * ratio));
    }
    return { width, height };
  }

  #scheduleViewportUpdate(): void {
    clearTimeout(this.#viewportTimer);
    this.#viewportTimer = setTimeout(() => this.#sendViewport(), VIEWPORT_DEBOUNCE_MS);
  }

  #sendViewport(): void {
    if (this.consumer.closed) return;
    const { width, height } = this.#viewport();
    if (width === 0 || height === 0) return;
    const key = `${width}x${height}`;
    if (key === this.#lastViewport) return;
    this.#lastViewport = key;
    this.#control
      .setPreferences({ consumerId: this.consumer.id, viewport: { width, height } })
      .catch((error: unknown) => {
        // Not applied: the same size is sent again on the next layout change.
        if (this.#lastViewport === key) this.#lastViewport = '';
        this.#control.report(error);
      });
  }

  /** Server-side pause while nothing shows the video; resume as soon as something does. */
  #updateFlow(): void {
    if (this.consumer.closed) return;
    const wanted =
      this.#visible.size > 0 || (this.#elements.size > 0 && !this.#intersectionObserver);
    if (wanted === !this.#serverPaused) return;
    this.#serverPaused = !wanted;
    const request = ++this.#flowRequests;
    const ask = wanted
      ? this.#control.resume(this.consumer.id)
      : this.#control.pause(this.consumer.id);
    ask.catch((error: unknown) => {
      // The server kept the previous state (answers come in order, so unless a newer request
      // was made, that is the opposite of what was asked); the next change asks again.
      if (request === this.#flowRequests) this.#serverPaused = wanted;
      this.#control.report(error);
    });
  }
}

/** Laid out, not hidden, and at least partly inside the window: what IntersectionObserver sees. */
function onScreen(el: Element): boolean {
  if (!el.isConnected || typeof window === 'undefined') return false;
  const rect = el.getBoundingClientRect();
  if (rect.width <= 0 || rect.height <= 0) return false;
  const inWindow =
    rect.bottom > 0 &&
    rect.right > 0 &&
    rect.top < window.innerHeight &&
    rect.left < window.innerWidth;
  const visible = typeof el.checkVisibility === 'function' ? el.checkVisibility() : true;
  return inWindow && visible;
}
