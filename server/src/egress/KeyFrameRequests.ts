import type { RtpFeed } from './RtpFeed.js';

/** The first request, once ffmpeg has had time to bind its ports. */
const FIRST_DELAY_MS = 300;
const INTERVAL_MS = 1_000;
/** Past this, ffmpeg is not waiting for a keyframe but broken: its exit will say so. */
const GIVE_UP_AFTER_MS = 30_000;

/**
 * ffmpeg never asks for a keyframe (no PLI even with RTP/AVPF) and WebRTC publishers send one
 * only when asked: without one ffmpeg cannot size its decoder and fails. So the SFU asks, after
 * ffmpeg listens and then every second until ffmpeg has written output.
 */
export class KeyFrameRequests {
  readonly #feeds: readonly RtpFeed[];
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(feeds: readonly RtpFeed[]) {
    this.#feeds = feeds;
  }

  start(): void {
    if (this.#stopped) return;
    const deadline = Date.now() + GIVE_UP_AFTER_MS;
    const request = () => {
      if (this.#stopped || Date.now() > deadline) return;
      for (const feed of this.#feeds) feed.requestKeyFrame().catch(() => undefined);
      this.#timer = setTimeout(request, INTERVAL_MS);
      this.#timer.unref();
    };
    this.#timer = setTimeout(request, FIRST_DELAY_MS);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}
