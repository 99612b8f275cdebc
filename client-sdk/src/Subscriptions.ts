import type { types } from 'mediasoup-client';
import { isCode } from './errors.js';
import type { RemoteParticipant } from './participants.js';
import type { ConsumerInfo } from './protocol.js';
import type { RoomContext } from './roomContext.js';
import { RemoteTrack, type ConsumerControl } from './tracks/RemoteTrack.js';

/**
 * What this client receives: the consumers the server makes for it become RemoteTracks of the
 * participants they belong to, and go when the server closes them or the media is remade.
 */
export class Subscriptions {
  readonly #context: RoomContext;
  readonly #participants: ReadonlyMap<string, RemoteParticipant>;
  readonly #recvTransport: () => types.Transport | undefined;
  readonly #control: ConsumerControl;
  readonly #tracksByConsumer = new Map<string, RemoteTrack>();
  /** Consumers announced by newConsumer and not set up yet; consumerClosed takes them off. */
  readonly #consumersDue = new Set<string>();

  constructor(
    context: RoomContext,
    participants: ReadonlyMap<string, RemoteParticipant>,
    recvTransport: () => types.Transport | undefined,
  ) {
    this.#context = context;
    this.#participants = participants;
    this.#recvTransport = recvTransport;
    const { signaling, emit, reportError, mark } = context;
    this.#control = {
      setPreferences: async (request) =>
        void (await signaling.request('setConsumerPreferences', request)),
      pause: async (consumerId) => void (await signaling.request('pauseConsumer', { consumerId })),
      resume: (consumerId) => this.#resumeConsumer(consumerId, 'video'),
      report: (error) => {
        // NOT_FOUND: the consumer closed meanwhile; its consumerClosed is on the way.
        if (signaling.connected && !isCode(error, 'NOT_FOUND')) reportError(error);
      },
    };
    signaling.on('newConsumer', (info) => {
      mark('consumerAnnounced', { kind: info.kind, consumerId: info.consumerId });
      this.#consumersDue.add(info.consumerId);
      this.#consume(info).catch((error: unknown) => reportError(error));
    });
    signaling.on('consumerClosed', ({ consumerId }) => {
      // Not set up yet (waiting its turn, or half-way): #consume lets it go.
      this.#consumersDue.delete(consumerId);
      const track = this.#tracksByConsumer.get(consumerId);
      if (track) this.#dropTrack(track);
    });
    signaling.on('consumerLayersChanged', ({ consumerId, spatialLayer, temporalLayer }) => {
      const track = this.#tracksByConsumer.get(consumerId);
      if (!track) return;
      track.currentLayer = { spatial: spatialLayer, temporal: temporalLayer };
      emit('qualityChanged', track, track.currentLayer);
    });
    signaling.on('trackStalled', ({ identity, trackId, stalled }) => {
      const participant = this.#participants.get(identity);
      const track = participant?.tracks.get(trackId);
      if (!participant || !track) return;
      track.stalled = stalled;
      emit('trackStalled', track, participant, stalled);
    });
  }

  /** The consumers announced and not set up yet will never be (their connection is gone). */
  forgetAnnounced(): void {
    this.#consumersDue.clear();
  }

  /** Every remote track goes (the media they came on is gone, or the room is). */
  dropAll(): void {
    for (const track of [...this.#tracksByConsumer.values()]) this.#dropTrack(track);
  }

  /** A participant left: its tracks go, also the ones still being set up. */
  dropTracksOf(identity: string): void {
    for (const track of [...this.#tracksByConsumer.values()]) {
      if (track.participantIdentity === identity) this.#dropTrack(track);
    }
  }

  /**
   * Consumers are set up as soon as they are announced, not one after another: mediasoup-client
   * queues (and batches) concurrent consume() calls itself, and one track's resume must not hold
   * up the next one's first frame. Each takes the transport current when it is announced (the
   * join answer, or a mediaReset, made it); a failure is reported and touches no other.
   */
  async #consume(info: ConsumerInfo): Promise<void> {
    try {
      await this.#setUpConsumer(info);
    } finally {
      this.#consumersDue.delete(info.consumerId);
    }
  }

  /**
   * Sets up one consumer the server made, unless consumerClosed came first. The track is listed
   * in `#tracksByConsumer` while its audio is resumed (so a consumerClosed meanwhile finds it)
   * and in the participant's tracks once trackSubscribed is emitted; whatever fails or ends on
   * the way is closed, never left behind.
   */
  async #setUpConsumer(info: ConsumerInfo): Promise<void> {
    const { signaling, emit, mark } = this.#context;
    const transport = this.#recvTransport();
    const participant = this.#participants.get(info.identity);
    const due = () => this.#consumersDue.has(info.consumerId);
    if (!transport || !participant || signaling.ended || !due()) return;
    let consumer: types.Consumer;
    try {
      consumer = await transport.consume({
        id: info.consumerId,
        producerId: info.trackId,
        kind: info.kind,
        rtpParameters: info.rtpParameters,
      });
    } catch (error) {
      if (transport.closed || !due()) return; // replaced, torn down or closed meanwhile
      throw error;
    }
    if (!due()) {
      consumer.close();
      return;
    }
    mark('consumerCreated', { kind: info.kind, consumerId: info.consumerId });
    const track = new RemoteTrack(consumer, info, this.#control);
    this.#tracksByConsumer.set(info.consumerId, track);
    try {
      // Audio plays at once; video is resumed by the track when an element shows it.
      if (info.kind === 'audio') await this.#resumeConsumer(info.consumerId, 'audio');
    } catch (error) {
      this.#dropTrack(track);
      // The track ended while it was set up (its producer closed): nothing to report.
      if (isCode(error, 'NOT_FOUND') || signaling.ended) return;
      throw error;
    }
    const current =
      !signaling.ended &&
      !transport.closed &&
      this.#tracksByConsumer.get(info.consumerId) === track &&
      this.#participants.get(info.identity) === participant;
    if (!current) {
      this.#dropTrack(track);
      return;
    }
    participant.tracks.set(track.id, track);
    mark('trackSubscribed', { kind: info.kind, consumerId: info.consumerId });
    emit('trackSubscribed', track, participant);
  }

  async #resumeConsumer(consumerId: string, kind: 'audio' | 'video'): Promise<void> {
    const { signaling, mark } = this.#context;
    mark('resumeSent', { kind, consumerId });
    await signaling.request('resumeConsumer', { consumerId });
    mark('resumeAnswered', { kind, consumerId });
  }

  /** Closes a remote track; trackUnsubscribed only for one whose trackSubscribed went out. */
  #dropTrack(track: RemoteTrack): void {
    if (!this.#tracksByConsumer.delete(track.consumer.id)) return;
    track.close();
    const participant = this.#participants.get(track.participantIdentity);
    if (!participant || participant.tracks.get(track.id) !== track) return;
    participant.tracks.delete(track.id);
    this.#context.emit('trackUnsubscribed', track, participant);
  }
}
