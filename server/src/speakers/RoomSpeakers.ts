import type { types } from 'mediasoup';
import type { ActiveSpeakers } from '@livestage/protocol';
import type { Logger } from '../logging/logger.js';
import type { Participant } from '../rooms/Participant.js';
import type { RoomRouters } from '../rooms/RoomRouters.js';
import { speakersFrom, type TrackVolume } from './levels.js';
import { SpeakerReporter, type Clock } from './SpeakerReporter.js';

export interface SpeakerOptions {
  /** mediasoup measures, and the room is told, at most this often (ms; 250..5000). */
  intervalMs: number;
  /** Quieter than this on average over an interval (dBov, -127..0) is not speaking. */
  thresholdDbov: number;
}

export const DEFAULT_SPEAKER_OPTIONS: SpeakerOptions = { intervalMs: 300, thresholdDbov: -70 };

/** At most this many speakers per report (the loudest). */
export const MAX_REPORTED_SPEAKERS = 10;
/**
 * A speaker missing from one measurement still speaks (SpeakerHold): a pause between words, or
 * packets bunched into the next interval, is not news; two missed measurements are. (Heard at t,
 * missed at t + interval, heard again at t + 2 intervals: the hold must outlast 2 intervals.)
 */
export const HOLD_INTERVALS = 2.5;

export interface RoomSpeakersDeps {
  routers: RoomRouters;
  /** The room's participants: the local, joined ones are told. */
  participants: ReadonlyMap<string, Participant>;
  options: SpeakerOptions;
  log: Logger;
  clock?: Clock;
}

interface WatchedTrack {
  identity: string;
  producer: types.Producer;
}

/**
 * Who speaks in a room, from the RFC 6464 audio level every microphone packet carries: an
 * AudioLevelObserver on the room's origin router, where every microphone is (local publishers',
 * and in a cluster those relayed in from other nodes), so each node works it out by itself. Its
 * local participants get `activeSpeakersChanged` (SpeakerReporter decides when).
 *
 * ActiveSpeakerObserver was the other candidate: it names one dominant speaker, without levels,
 * which is not what `activeSpeakersChanged` reports.
 */
export class RoomSpeakers {
  readonly #deps: RoomSpeakersDeps;
  readonly #reporter: SpeakerReporter;
  /** Every microphone track of the room, by producer id. */
  readonly #tracks = new Map<string, WatchedTrack>();
  #observer: types.AudioLevelObserver | undefined;
  /** The router the current (or pending) observer belongs to. */
  #observerRouter: types.Router | undefined;
  #closed = false;

  constructor(deps: RoomSpeakersDeps) {
    this.#deps = deps;
    this.#reporter = new SpeakerReporter({
      intervalMs: deps.options.intervalMs,
      holdMs: deps.options.intervalMs * HOLD_INTERVALS,
      maxSpeakers: MAX_REPORTED_SPEAKERS,
      clock: deps.clock,
      send: (speakers) => this.#tell({ speakers }),
    });
    this.#observeOrigin();
  }

  /** Who the room was last told speaks, loudest first. */
  get current(): ActiveSpeakers {
    return { speakers: [...this.#reporter.reported] };
  }

  /** A microphone was published (or relayed in); it is watched until it closes. */
  add(identity: string, producer: types.Producer): void {
    if (this.#closed || producer.closed || producer.kind !== 'audio') return;
    this.#tracks.set(producer.id, { identity, producer });
    // mediasoup takes a closed producer off its observers by itself.
    producer.observer.once('close', () => this.#closedTrack(identity, producer.id));
    const observer = this.#observer;
    // Without an observer yet, the one being made takes every listed track when it is ready.
    if (observer) this.#watch(observer, producer);
  }

  /** The room's routers changed (a worker died): a new origin needs a new observer. */
  routersChanged(): void {
    if (this.#closed) return;
    const origin = this.#deps.routers.origin.router;
    if (origin !== this.#observerRouter || (this.#observer?.closed ?? false)) {
      this.#observeOrigin();
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reporter.close();
    this.#observer?.close();
    this.#observer = undefined;
    this.#tracks.clear();
  }

  /** A microphone closed (or its publisher left): without another, it stops speaking at once. */
  #closedTrack(identity: string, producerId: string): void {
    this.#tracks.delete(producerId);
    if (this.#closed) return;
    for (const track of this.#tracks.values()) if (track.identity === identity) return;
    this.#reporter.forget(identity);
  }

  #observeOrigin(): void {
    const router = this.#deps.routers.origin.router;
    this.#observer = undefined;
    this.#observerRouter = router;
    if (router.closed) return; // the move that replaces it calls routersChanged
    const { intervalMs, thresholdDbov } = this.#deps.options;
    router
      .createAudioLevelObserver({
        maxEntries: MAX_REPORTED_SPEAKERS,
        threshold: thresholdDbov,
        interval: intervalMs,
      })
      .then(
        (observer) => this.#started(router, observer),
        (error: unknown) => {
          // The router died meanwhile (routersChanged follows) or the room closed.
          if (!router.closed && !this.#closed) {
            this.#deps.log.warn('could not watch who speaks', { error: String(error) });
          }
        },
      );
  }

  #started(router: types.Router, observer: types.AudioLevelObserver): void {
    if (this.#closed || router !== this.#observerRouter) {
      observer.close();
      return;
    }
    this.#observer = observer;
    observer.on('volumes', (volumes) => this.#measured(volumes));
    observer.on('silence', () => this.#reporter.update([]));
    observer.on('routerclose', () => {
      if (this.#observer === observer) this.#observer = undefined;
      // Its microphones went with the router; they speak again once published on the new one.
      this.#reporter.update([]);
    });
    for (const { producer } of [...this.#tracks.values()]) this.#watch(observer, producer);
  }

  #watch(observer: types.AudioLevelObserver, producer: types.Producer): void {
    observer.addProducer({ producerId: producer.id }).catch((error: unknown) => {
      // Closed meanwhile, or left on a dead router: nothing to watch.
      if (producer.closed || observer.closed) return;
      this.#deps.log.debug('a microphone is not on the observed router', {
        producerId: producer.id,
        error: String(error),
      });
    });
  }

  #measured(volumes: types.AudioLevelObserverVolume[]): void {
    const named: TrackVolume[] = [];
    for (const { producer, volume } of volumes) {
      const track = this.#tracks.get(producer.id);
      if (track) named.push({ identity: track.identity, dBov: volume });
    }
    this.#reporter.update(speakersFrom(named, MAX_REPORTED_SPEAKERS));
  }

  #tell(event: ActiveSpeakers): void {
    for (const participant of this.#deps.participants.values()) {
      // A suspended participant keeps the latest one (MissedEvents), for its resume.
      if (participant.joined && !participant.remote && !participant.closed) {
        participant.emit('activeSpeakersChanged', event);
      }
    }
  }
}
