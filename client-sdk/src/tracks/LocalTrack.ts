import type { types } from 'mediasoup-client';
import type { TrackSource } from '../protocol.js';

/** A track this participant publishes. */
export class LocalTrack {
  readonly source: TrackSource;
  readonly producer: types.Producer;
  /** A host muted this track's source; only a host can lift it. */
  mutedByHost = false;
  /** Muted by this client (LiveRoom.muteTrack). */
  mutedBySelf = false;

  constructor(source: TrackSource, producer: types.Producer) {
    this.source = source;
    this.producer = producer;
  }

  /** The server's id for this track (what others see as RemoteTrack.id). */
  get id(): string {
    return this.producer.id;
  }

  get kind(): 'audio' | 'video' {
    return this.producer.kind;
  }

  get mediaStreamTrack(): MediaStreamTrack | null {
    return this.producer.track;
  }

  /** Shows the local preview in a video element (muted, so the host does not hear itself). */
  attach(element?: HTMLMediaElement): HTMLMediaElement {
    const el = element ?? document.createElement(this.kind === 'video' ? 'video' : 'audio');
    el.muted = true;
    el.autoplay = true;
    if (el instanceof HTMLVideoElement) el.playsInline = true;
    if (this.producer.track) el.srcObject = new MediaStream([this.producer.track]);
    return el;
  }
}
