import type { types } from 'mediasoup-client';
import {
  cameraPublishOptions,
  cameraTrack,
  microphonePublishOptions,
  microphoneTrack,
  screenTrack,
  type PublishCameraOptions,
} from './capture.js';
import { Dynacast } from './Dynacast.js';
import { isCode, LiveStageError } from './errors.js';
import type { StageSource, TrackSource } from './protocol.js';
import type { RoomContext } from './roomContext.js';
import { LocalTrack, type PublishOptions } from './tracks/LocalTrack.js';
import type { Transports } from './Transports.js';

/**
 * This client's own tracks: capture and publish, unpublish, mutes (its own and a host's), and
 * the same captures published again on a new send transport (after a media reset, a rejoin or a
 * move). The server's `publisherLayers` wishes reach the encoders through Dynacast.
 */
export class Publishing {
  readonly #context: RoomContext;
  readonly #transports: Transports;
  readonly #isMutedByHost: (source: StageSource) => boolean;
  readonly #dynacast: Dynacast;
  /** Republishing after a reset or a rejoin, one after another. */
  #publishChain: Promise<void> = Promise.resolve();
  /** Local tracks to publish again on the current send transport (after a reset or a rejoin). */
  readonly #awaitingRepublish = new Set<LocalTrack>();
  /** Mute state per local track as the server last confirmed it, and requests still unanswered. */
  readonly #selfMute = new WeakMap<LocalTrack, { confirmed: boolean; pending: number }>();

  /** `isMutedByHost`: a host has this client's source muted (the stage says). */
  constructor(
    context: RoomContext,
    transports: Transports,
    isMutedByHost: (source: StageSource) => boolean,
  ) {
    this.#context = context;
    this.#transports = transports;
    this.#isMutedByHost = isMutedByHost;
    const { localParticipant, signaling, reportError } = context;
    this.#dynacast = new Dynacast(
      (trackId) => localParticipant.tracks.get(trackId)?.producer,
      (error) => reportError(error),
    );
    signaling.on('publisherLayers', (event) => this.#dynacast.onPublisherLayers(event));
  }

  get #tracks(): Map<string, LocalTrack> {
    return this.#context.localParticipant.tracks;
  }

  async publishCamera(options: PublishCameraOptions = {}): Promise<LocalTrack> {
    const track = await cameraTrack(options);
    return this.#publish(track, 'camera', cameraPublishOptions(options.simulcast !== false));
  }

  async publishMicrophone(options: { deviceId?: string } = {}): Promise<LocalTrack> {
    return this.#publish(await microphoneTrack(options), 'microphone', microphonePublishOptions());
  }

  async publishScreen(): Promise<LocalTrack> {
    return this.#publish(await screenTrack(), 'screen', {});
  }

  /**
   * The track stops sending at once; it is closed and its capture ended once the server has
   * closed it. Refused (other than NOT_FOUND, which means it is gone already): still published.
   */
  async unpublish(track: LocalTrack): Promise<void> {
    const trackId = track.id;
    // Waiting to go out again after a reset: it just does not.
    if (this.#awaitingRepublish.delete(track)) {
      track.stop();
      return;
    }
    if (this.#tracks.get(trackId) !== track) return;
    if (!track.producer.closed) track.producer.pause();
    try {
      await this.#context.signaling.request('closeTrack', { trackId });
    } catch (error) {
      if (!isCode(error, 'NOT_FOUND')) {
        syncProducerPause(track);
        throw error;
      }
    }
    // Published again meanwhile (a media reset): that producer must go too.
    if (track.id !== trackId) return this.unpublish(track);
    this.#tracks.delete(trackId);
    track.producer.close();
    track.stop();
  }

  /** Stops sending a track without unpublishing it. */
  async muteTrack(track: LocalTrack): Promise<void> {
    await this.#setMutedBySelf(track, true);
  }

  /** Refused with FORBIDDEN while a host has the track's source muted. */
  async unmuteTrack(track: LocalTrack): Promise<void> {
    if (track.mutedByHost) throw new LiveStageError('FORBIDDEN', 'muted by the host');
    await this.#setMutedBySelf(track, false);
  }

  /** A host muted or unmuted one of this client's sources. */
  applyHostMute(source: StageSource, muted: boolean): void {
    for (const track of this.#tracks.values()) {
      if (stageSourceOf(track.source) !== source) continue;
      track.mutedByHost = muted;
      syncProducerPause(track);
    }
  }

  /** Camera and microphone are opened together: one permission prompt, less time to first frame. */
  async publishOnStage(sources: StageSource[]): Promise<void> {
    const published = new Set([...this.#tracks.values()].map((t) => t.source));
    const wantCamera = sources.includes('camera') && !published.has('camera');
    const wantMicrophone = sources.includes('microphone') && !published.has('microphone');
    // Settled, not all: a refused camera must not leave the microphone captured and unpublished.
    const [camera, microphone] = await Promise.allSettled([
      wantCamera ? cameraTrack({}) : undefined,
      wantMicrophone ? microphoneTrack({}) : undefined,
    ]);
    await this.#publishCaptured(camera, (track) =>
      this.#publish(track, 'camera', cameraPublishOptions()),
    );
    await this.#publishCaptured(microphone, (track) =>
      this.#publish(track, 'microphone', microphonePublishOptions()),
    );
  }

  /** Off stage: the server has already closed this client's tracks; the local side goes too. */
  withdrawAll(): void {
    for (const track of this.#tracks.values()) {
      track.producer.close();
      track.stop();
    }
    this.#tracks.clear();
    this.stopAll();
  }

  /** The room is over: every capture ends (also the ones waiting to go out again). */
  stopAll(): void {
    for (const track of this.#tracks.values()) track.stop();
    for (const track of this.#awaitingRepublish) track.stop();
    this.#awaitingRepublish.clear();
  }

  /** The published tracks' producers are gone with their transport: they go out again. */
  holdForRepublish(): void {
    for (const track of this.#tracks.values()) this.#awaitingRepublish.add(track);
    this.#tracks.clear();
  }

  /** After a join: what goes out again keeps the host's mutes the room still has. */
  takeHostMutes(): void {
    for (const track of this.#awaitingRepublish) {
      track.mutedByHost = this.#isMutedByHost(stageSourceOf(track.source));
    }
  }

  /** After the republish already under way, if any (two resets in a row share the tracks). */
  republishInOrder(): Promise<void> {
    const run = this.#publishChain.then(() => this.#republish());
    this.#publishChain = run.catch(() => undefined);
    return run;
  }

  /**
   * Muting stops the media at once (privacy first), unmuting waits for the server. When the
   * last request for the track is answered, the track shows what the server has (a mute of a
   * producer the server no longer has stays on); a failure is thrown after that.
   */
  async #setMutedBySelf(track: LocalTrack, muted: boolean): Promise<void> {
    const state = this.#selfMute.get(track) ?? { confirmed: track.mutedBySelf, pending: 0 };
    this.#selfMute.set(track, state);
    state.pending += 1;
    if (muted) {
      track.mutedBySelf = true;
      syncProducerPause(track);
    }
    try {
      await this.#context.signaling.request(muted ? 'pauseTrack' : 'resumeTrack', {
        trackId: track.id,
      });
      state.confirmed = muted;
    } catch (error) {
      // The server no longer has this producer (a media reset is republishing it): the mute
      // stays on here, and the republish sends it along with the new producer.
      if (muted && isCode(error, 'NOT_FOUND')) state.confirmed = true;
      throw error;
    } finally {
      state.pending -= 1;
      if (state.pending === 0) {
        track.mutedBySelf = state.confirmed;
        syncProducerPause(track);
      }
    }
  }

  async #publish(
    track: MediaStreamTrack,
    source: TrackSource,
    options: PublishOptions,
  ): Promise<LocalTrack> {
    const transport = this.#transports.send;
    if (!transport) {
      track.stop();
      throw new LiveStageError('FORBIDDEN', 'this token may not publish');
    }
    try {
      const producer = await transport.produce({
        track,
        appData: { source },
        // The capture outlives this producer: it is published again after a media reset.
        stopTracks: false,
        ...options,
      });
      const local = new LocalTrack(source, producer, track, options);
      this.#tracks.set(local.id, local);
      if (this.#isMutedByHost(stageSourceOf(source))) {
        local.mutedByHost = true;
        producer.pause();
      }
      this.#announce(local);
      return local;
    } catch (error) {
      track.stop();
      throw error;
    }
  }

  /** One source of publishOnStage: each failure is reported on its own (#publish ends it). */
  async #publishCaptured(
    capture: PromiseSettledResult<MediaStreamTrack | undefined>,
    publish: (track: MediaStreamTrack) => Promise<LocalTrack>,
  ): Promise<void> {
    try {
      if (capture.status === 'rejected') throw capture.reason;
      if (capture.value) await publish(capture.value);
    } catch (error) {
      this.#context.reportError(error);
    }
  }

  /** Every held track goes out again on the current send transport; failures are reported. */
  async #republish(): Promise<void> {
    for (const track of [...this.#awaitingRepublish]) {
      if (this.#context.signaling.ended) return;
      const transport = this.#transports.send;
      try {
        await this.#republishTrack(track, transport);
        this.#awaitingRepublish.delete(track);
      } catch (error) {
        // Another reset replaced the transport meanwhile, or the server has dropped it already
        // (its worker died; the mediaReset naming the new one is on its way): the next republish
        // takes the track.
        if (this.#transports.send !== transport || isCode(error, 'NOT_FOUND')) continue;
        this.#awaitingRepublish.delete(track);
        track.stop();
        this.#context.reportError(error);
      }
    }
  }

  async #republishTrack(track: LocalTrack, transport: types.Transport | undefined): Promise<void> {
    const { signaling } = this.#context;
    if (!transport || captureEnded(track)) {
      track.stop();
      return;
    }
    const producer = await transport.produce({
      track: track.mediaStreamTrack,
      appData: { source: track.source },
      stopTracks: false,
      ...track.publishOptions,
    });
    if (captureEnded(track)) {
      // Unpublished while it was going out again.
      producer.close();
      await signaling.request('closeTrack', { trackId: producer.id });
      return;
    }
    track.replaceProducer(producer);
    this.#tracks.set(track.id, track);
    syncProducerPause(track);
    this.#announce(track);
    // Still muted: if the server cannot be told, the media stays off here all the same.
    if (track.mutedBySelf) await signaling.request('pauseTrack', { trackId: track.id });
  }

  /** A track went out (again): a layer wish that raced the produce ack applies first. */
  #announce(track: LocalTrack): void {
    this.#dynacast.onTrackPublished(track.id);
    this.#context.emit('localTrackPublished', track);
  }
}

function stageSourceOf(source: TrackSource): StageSource {
  return source === 'screen-audio' ? 'screen' : source;
}

function captureEnded(track: LocalTrack): boolean {
  return track.mediaStreamTrack.readyState === 'ended';
}

/** A local track sends while neither its owner nor a host has it muted. */
function syncProducerPause(track: LocalTrack): void {
  const { producer } = track;
  if (producer.closed) return;
  if (track.mutedBySelf || track.mutedByHost) producer.pause();
  else producer.resume();
}
