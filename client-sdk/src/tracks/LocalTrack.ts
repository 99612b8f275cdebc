import type { types } from 'mediasoup-client';
import type { TrackSource } from '../protocol.js';

/** How a track was published, so that it can be published again the same way after a reset. */
export type PublishOptions = Pick<types.ProducerOptions, 'encodings' | 'codecOptions'>;

/** A track this participant publishes. */
export class LocalTrack {
  readonly source: TrackSource;
  readonly publishOptions: PublishOptions;
  /** The captured media; it outlives producers when media is re-established. */
  readonly mediaStreamTrack: MediaStreamTrack;
  /** A host muted this track's source; only a host can lift it. */
  mutedByHost = false;
  /** Muted by this client (LiveRoom.muteTrack). */
  mutedBySelf = false;
  #producer: types.Producer;

  constructor(
    source: TrackSource,
    producer: types.Producer,
    mediaStreamTrack: MediaStreamTrack,
    publishOptions: PublishOptions,
  ) {
    this.source = source;
    this.#producer = producer;
    this.mediaStreamTrack = mediaStreamTrack;
    this.publishOptions = publishOptions;
  }

  get producer(): types.Producer {
    return this.#producer;
  }

  /** The server's id for this track (what others see as RemoteTrack.id); new after a reset. */
  get id(): string {
    return this.#producer.id;
  }

  get kind(): 'audio' | 'video' {
    return this.#producer.kind;
  }

  /** @internal After a reconnect or a media reset the same capture goes out on a new producer. */
  replaceProducer(producer: types.Producer): void {
    this.#producer = producer;
  }

  /** Shows the local preview in a video element (muted, so the host does not hear itself). */
  attach(element?: HTMLMediaElement): HTMLMediaElement {
    const el = element ?? document.createElement(this.kind === 'video' ? 'video' : 'audio');
    el.muted = true;
    el.autoplay = true;
    if (el instanceof HTMLVideoElement) el.playsInline = true;
    el.srcObject = new MediaStream([this.mediaStreamTrack]);
    return el;
  }

  /** Ends the capture (camera light off). */
  stop(): void {
    this.mediaStreamTrack.stop();
  }
}
