import { Device, type types } from 'mediasoup-client';
import { io, type Socket } from 'socket.io-client';
import { LiveStageError } from './errors.js';
import { TypedEmitter } from './events.js';
import { LocalParticipant, RemoteParticipant } from './participants.js';
import type {
  Ack,
  ClientToServerEvents,
  ConsumerInfo,
  ErrorBody,
  JoinResponse,
  ParticipantInfo,
  ResponseOf,
  Role,
  ServerToClientEvents,
  TrackInfo,
  TrackSource,
  Welcome,
} from './protocol.js';
import { LocalTrack } from './tracks/LocalTrack.js';
import { RemoteTrack, type ConsumerControl, type Layer } from './tracks/RemoteTrack.js';
import { SIMULCAST_ENCODINGS, VIDEO_RESOLUTIONS, type VideoResolution } from './video.js';

export interface ConnectOptions {
  /** How long one request may take before it fails with TIMEOUT (ms). */
  requestTimeoutMs?: number;
  /** socket.io path on the server. */
  path?: string;
}

export interface PublishCameraOptions {
  resolution?: VideoResolution;
  simulcast?: boolean;
  deviceId?: string;
}

export type DisconnectReason = 'client' | 'server' | 'kicked' | 'transport';

export interface LiveRoomEvents {
  participantJoined: [participant: RemoteParticipant];
  participantLeft: [participant: RemoteParticipant];
  trackPublished: [track: TrackInfo, participant: RemoteParticipant];
  trackSubscribed: [track: RemoteTrack, participant: RemoteParticipant];
  trackUnsubscribed: [track: RemoteTrack, participant: RemoteParticipant];
  qualityChanged: [track: RemoteTrack, layer: Layer];
  disconnected: [reason: DisconnectReason, error?: LiveStageError];
}

type Socket_ = Socket<ServerToClientEvents, ClientToServerEvents>;
type RequestEvent = keyof ClientToServerEvents;
type RequestOf<E extends RequestEvent> = Parameters<ClientToServerEvents[E]>[0];

/** The one object a developer holds: a connection to a live room. */
export class LiveRoom extends TypedEmitter<LiveRoomEvents> {
  readonly localParticipant: LocalParticipant;
  readonly participants = new Map<string, RemoteParticipant>();
  readonly roomName: string;
  readonly #socket: Socket_;
  readonly #device: Device;
  readonly #timeoutMs: number;
  readonly #consumerControl: ConsumerControl;
  readonly #tracksByConsumer = new Map<string, RemoteTrack>();
  #sendTransport: types.Transport | undefined;
  #recvTransport: types.Transport | undefined;
  #consumeChain: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(socket: Socket_, device: Device, welcome: Welcome, timeoutMs: number) {
    super();
    this.#socket = socket;
    this.#device = device;
    this.#timeoutMs = timeoutMs;
    this.roomName = welcome.roomName;
    this.localParticipant = new LocalParticipant(welcome.identity, welcome.role);
    this.#consumerControl = {
      setPreferences: async (request) =>
        void (await this.#request('setConsumerPreferences', request)),
      pause: async (consumerId) => void (await this.#request('pauseConsumer', { consumerId })),
      resume: async (consumerId) => void (await this.#request('resumeConsumer', { consumerId })),
    };
  }

  /** Connects, joins the room the token names, and subscribes to everything live in it. */
  static async connect(
    url: string,
    token: string,
    options: ConnectOptions = {},
  ): Promise<LiveRoom> {
    const timeoutMs = options.requestTimeoutMs ?? 10_000;
    const socket: Socket_ = io(url, {
      path: options.path ?? '/socket.io',
      auth: { token },
      transports: ['websocket'],
      reconnection: false,
    });
    try {
      const welcome = await waitForWelcome(socket, timeoutMs);
      const device = new Device();
      await device.load({ routerRtpCapabilities: welcome.routerRtpCapabilities });
      const room = new LiveRoom(socket, device, welcome, timeoutMs);
      await room.#join();
      return room;
    } catch (error) {
      socket.disconnect();
      throw error;
    }
  }

  get role(): Role {
    return this.localParticipant.role;
  }

  get connected(): boolean {
    return !this.#closed && this.#socket.connected;
  }

  async publishCamera(options: PublishCameraOptions = {}): Promise<LocalTrack> {
    const resolution = VIDEO_RESOLUTIONS[options.resolution ?? '720p'];
    const stream = await navigator.mediaDevices.getUserMedia({
      video: {
        width: { ideal: resolution.width },
        height: { ideal: resolution.height },
        frameRate: { ideal: 30 },
        ...(options.deviceId ? { deviceId: { exact: options.deviceId } } : {}),
      },
    });
    const track = stream.getVideoTracks()[0];
    if (!track) throw new LiveStageError('UNSUPPORTED', 'no camera track');
    return this.#publish(track, 'camera', {
      encodings: options.simulcast === false ? undefined : SIMULCAST_ENCODINGS,
      codecOptions: { videoGoogleStartBitrate: 1000 },
    });
  }

  async publishMicrophone(options: { deviceId?: string } = {}): Promise<LocalTrack> {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: {
        echoCancellation: true,
        noiseSuppression: true,
        ...(options.deviceId ? { deviceId: { exact: options.deviceId } } : {}),
      },
    });
    const track = stream.getAudioTracks()[0];
    if (!track) throw new LiveStageError('UNSUPPORTED', 'no microphone track');
    return this.#publish(track, 'microphone', { codecOptions: { opusDtx: true, opusFec: true } });
  }

  async publishScreen(): Promise<LocalTrack> {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const track = stream.getVideoTracks()[0];
    if (!track) throw new LiveStageError('UNSUPPORTED', 'no screen track');
    return this.#publish(track, 'screen', {});
  }

  async unpublish(track: LocalTrack): Promise<void> {
    if (!this.localParticipant.tracks.delete(track.id)) return;
    track.producer.close();
    track.mediaStreamTrack?.stop();
    await this.#request('closeTrack', { trackId: track.id });
  }

  async disconnect(): Promise<void> {
    if (this.#closed) return;
    await this.#request('leave', {}).catch(() => undefined);
    this.#teardown('client');
  }

  async #publish(
    track: MediaStreamTrack,
    source: TrackSource,
    options: Pick<types.ProducerOptions, 'encodings' | 'codecOptions'>,
  ): Promise<LocalTrack> {
    const transport = this.#sendTransport;
    if (!transport) {
      track.stop();
      throw new LiveStageError('FORBIDDEN', 'this token may not publish');
    }
    try {
      const producer = await transport.produce({
        track,
        appData: { source },
        stopTracks: true,
        ...options,
      });
      const local = new LocalTrack(source, producer);
      this.localParticipant.tracks.set(local.id, local);
      return local;
    } catch (error) {
      track.stop();
      throw error;
    }
  }

  async #join(): Promise<void> {
    this.#listen();
    const joined: JoinResponse = await this.#request('join', {
      rtpCapabilities: this.#device.rtpCapabilities,
    });
    for (const info of joined.participants) this.#addParticipant(info);
    if (joined.recvTransport) {
      const transport = this.#device.createRecvTransport(joined.recvTransport);
      this.#wireConnect(transport);
      this.#recvTransport = transport;
    }
    if (joined.sendTransport) {
      const transport = this.#device.createSendTransport(joined.sendTransport);
      this.#wireConnect(transport);
      transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
        const source = appData.source as TrackSource;
        this.#request('produce', { transportId: transport.id, kind, rtpParameters, source }).then(
          ({ trackId }) => callback({ id: trackId }),
          errback,
        );
      });
      this.#sendTransport = transport;
    }
  }

  #wireConnect(transport: types.Transport): void {
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.#request('connectTransport', { transportId: transport.id, dtlsParameters }).then(
        () => callback(),
        errback,
      );
    });
  }

  #listen(): void {
    const socket = this.#socket;
    socket.on('participantJoined', (info) => {
      const participant = this.#addParticipant(info);
      this.emit('participantJoined', participant);
    });
    socket.on('participantLeft', ({ identity }) => {
      const participant = this.participants.get(identity);
      if (!participant) return;
      for (const track of participant.tracks.values()) this.#dropTrack(track);
      this.participants.delete(identity);
      this.emit('participantLeft', participant);
    });
    socket.on('trackPublished', ({ identity, track }) => {
      const participant = this.participants.get(identity);
      if (!participant) return;
      participant.publications.set(track.id, track);
      this.emit('trackPublished', track, participant);
    });
    socket.on('trackUnpublished', ({ identity, trackId }) => {
      this.participants.get(identity)?.publications.delete(trackId);
    });
    socket.on('newConsumer', (info) => {
      // Consumers are set up one at a time, after the join answer has created the transport.
      this.#consumeChain = this.#consumeChain
        .then(() => this.#consume(info))
        .catch((error: unknown) => {
          console.error('livestage: could not receive a track', error);
        });
    });
    socket.on('consumerClosed', ({ consumerId }) => {
      const track = this.#tracksByConsumer.get(consumerId);
      if (track) this.#dropTrack(track);
    });
    socket.on('consumerLayersChanged', ({ consumerId, spatialLayer, temporalLayer }) => {
      const track = this.#tracksByConsumer.get(consumerId);
      if (!track) return;
      track.currentLayer = { spatial: spatialLayer, temporal: temporalLayer };
      this.emit('qualityChanged', track, track.currentLayer);
    });
    socket.on('kicked', (body) => this.#teardown('kicked', LiveStageError.from(body)));
    socket.on('disconnect', (reason) => {
      this.#teardown(
        reason === 'io client disconnect'
          ? 'client'
          : reason === 'io server disconnect'
            ? 'server'
            : 'transport',
      );
    });
  }

  async #consume(info: ConsumerInfo): Promise<void> {
    const transport = this.#recvTransport;
    const participant = this.participants.get(info.identity);
    if (!transport || !participant || this.#closed) return;
    const consumer = await transport.consume({
      id: info.consumerId,
      producerId: info.trackId,
      kind: info.kind,
      rtpParameters: info.rtpParameters,
    });
    const track = new RemoteTrack(consumer, info, this.#consumerControl);
    this.#tracksByConsumer.set(info.consumerId, track);
    participant.tracks.set(track.id, track);
    // Audio plays at once; video is resumed by the track when an element shows it.
    if (info.kind === 'audio')
      await this.#request('resumeConsumer', { consumerId: info.consumerId });
    this.emit('trackSubscribed', track, participant);
  }

  #dropTrack(track: RemoteTrack): void {
    if (!this.#tracksByConsumer.delete(track.consumer.id)) return;
    const participant = this.participants.get(track.participantIdentity);
    participant?.tracks.delete(track.id);
    track.close();
    if (participant) this.emit('trackUnsubscribed', track, participant);
  }

  #addParticipant(info: ParticipantInfo): RemoteParticipant {
    const participant = new RemoteParticipant(info);
    this.participants.set(info.identity, participant);
    return participant;
  }

  #teardown(reason: DisconnectReason, error?: LiveStageError): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const track of [...this.#tracksByConsumer.values()]) this.#dropTrack(track);
    for (const track of this.localParticipant.tracks.values()) track.mediaStreamTrack?.stop();
    this.#sendTransport?.close();
    this.#recvTransport?.close();
    this.#socket.disconnect();
    this.emit('disconnected', reason, error);
  }

  async #request<E extends RequestEvent>(event: E, payload: RequestOf<E>): Promise<ResponseOf<E>> {
    let response: Ack<ResponseOf<E>>;
    try {
      const emitter = this.#socket.timeout(this.#timeoutMs) as unknown as {
        emitWithAck(event: E, payload: RequestOf<E>): Promise<Ack<ResponseOf<E>>>;
      };
      response = await emitter.emitWithAck(event, payload);
    } catch {
      throw new LiveStageError('TIMEOUT', `${event} got no answer in ${this.#timeoutMs} ms`);
    }
    if (!response.ok) throw LiveStageError.from(response.error);
    return response.data;
  }
}

function waitForWelcome(socket: Socket_, timeoutMs: number): Promise<Welcome> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => finish(new LiveStageError('TIMEOUT', 'no answer from the server')),
      timeoutMs,
    );
    const finish = (result: Welcome | LiveStageError) => {
      clearTimeout(timer);
      socket.off('welcome', onWelcome);
      socket.off('kicked', onKicked);
      socket.off('connect_error', onConnectError);
      if (result instanceof LiveStageError) reject(result);
      else resolve(result);
    };
    const onWelcome = (welcome: Welcome) => finish(welcome);
    const onKicked = (body: ErrorBody) => finish(LiveStageError.from(body));
    const onConnectError = (error: Error & { data?: ErrorBody }) =>
      finish(
        error.data
          ? LiveStageError.from(error.data)
          : new LiveStageError('INTERNAL', `cannot reach the server: ${error.message}`),
      );
    socket.on('welcome', onWelcome);
    socket.on('kicked', onKicked);
    socket.on('connect_error', onConnectError);
  });
}
