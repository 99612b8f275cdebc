import type { Device, types } from 'mediasoup-client';
import { createDevice, prepareDevice } from './device.js';
import { Dynacast } from './Dynacast.js';
import { LiveStageError } from './errors.js';
import { TypedEmitter } from './events.js';
import { NodeList } from './NodeList.js';
import {
  connectToAny,
  nodeCannotServe,
  reachNode,
  type Handshake,
  type LiveSocket,
  type Reached,
} from './nodeConnection.js';
import { LocalParticipant, RemoteParticipant } from './participants.js';
import type {
  Ack,
  ClientToServerEvents,
  ConsumerInfo,
  ErrorCode,
  HandLowered,
  HandRequest,
  InviteEnded,
  JoinResponse,
  Kicked,
  ParticipantInfo,
  QualityReport,
  ResponseOf,
  Role,
  RoleChanged,
  StageInfo,
  StageInvite,
  StageSource,
  TrackInfo,
  TrackSource,
  TransportOptions,
  Welcome,
} from './protocol.js';
import { StageState } from './StageState.js';
import {
  BackoffReconnectPolicy,
  runReconnectLoop,
  type ReconnectOutcome,
  type ReconnectPolicy,
} from './ReconnectPolicy.js';
import { LocalTrack, type PublishOptions } from './tracks/LocalTrack.js';
import { RemoteTrack, type ConsumerControl, type Layer } from './tracks/RemoteTrack.js';
import { SIMULCAST_ENCODINGS, VIDEO_RESOLUTIONS, type VideoResolution } from './video.js';
import { markStep, type JoinStep, type TimingListener, type TimingMark } from './timing.js';

export interface ConnectOptions {
  /** How long one request may take before it fails with TIMEOUT (ms). */
  requestTimeoutMs?: number;
  /** socket.io path on the server. */
  path?: string;
  /** Publish the allowed microphone and camera as soon as a host brings this client on stage. */
  autoPublishOnStage?: boolean;
  /** When and how often to retry after the connection drops (default: backoff with jitter). */
  reconnectPolicy?: ReconnectPolicy;
  /** Diagnostics: called at each step of the join (see JoinStep); nothing is measured without it. */
  onTiming?: TimingListener;
}

export interface StageSeatOptions {
  /** What the guest may publish; defaults to microphone and camera. */
  sources?: StageSource[];
}

export interface PublishCameraOptions {
  resolution?: VideoResolution;
  simulcast?: boolean;
  deviceId?: string;
}

/**
 * Why the room ended for this client: it left; the server ended the connection; it was refused
 * (kicked, with the error); an operator removed it or closed the room (admin API); the network.
 */
export type DisconnectReason =
  'client' | 'server' | 'kicked' | 'removed' | 'room-closed' | 'transport';

export interface LiveRoomEvents {
  participantJoined: [participant: RemoteParticipant];
  participantLeft: [participant: RemoteParticipant];
  /** A participant's metadata changed (admin API). */
  participantUpdated: [participant: RemoteParticipant];
  trackPublished: [track: TrackInfo, participant: RemoteParticipant];
  trackSubscribed: [track: RemoteTrack, participant: RemoteParticipant];
  trackUnsubscribed: [track: RemoteTrack, participant: RemoteParticipant];
  qualityChanged: [track: RemoteTrack, layer: Layer];
  disconnected: [reason: DisconnectReason, error?: LiveStageError];
  /** The connection dropped; the SDK is trying to get back (same participant first). */
  reconnecting: [];
  /**
   * Back: 'resumed' (same participant, ICE restarted, nobody noticed), 'rejoined' (the server
   * had let go; joined again and republished) or 'media-reset' (the server moved the room to a
   * healthy media worker; transports were remade and tracks republished).
   */
  reconnected: [how: ReconnectOutcome | 'media-reset'];
  /** A remote track's media stopped reaching the server (stalled) or came back. */
  trackStalled: [track: RemoteTrack, participant: RemoteParticipant, stalled: boolean];
  /**
   * The server is shutting down and will close this connection within deadlineMs. In a cluster
   * the SDK moves to another node by itself (no reconnecting, no leave and join; tracks are
   * republished and resubscribed as after a media reset).
   */
  serverDraining: [deadlineMs: number];
  /** Hosts: a viewer raised (or re-raised) a hand. */
  handRaised: [hand: HandRequest];
  /** Hosts, and the viewer whose hand it was (reason 'denied' tells a viewer it was refused). */
  handLowered: [event: HandLowered];
  stageChanged: [stage: StageInfo];
  /** This client's own role changed (brought on stage, taken off); the connection stays. */
  roleChanged: [role: Role, event: RoleChanged];
  inviteReceived: [invite: StageInvite];
  inviteEnded: [event: InviteEnded];
  /** A host muted or unmuted one of this client's sources. */
  mutedByHost: [source: StageSource, muted: boolean];
  /** A track of this client went out (also the ones published on stage and after a reset). */
  localTrackPublished: [track: LocalTrack];
  /** How many watch the room changed (see LiveRoom.viewerCount). */
  viewerCountChanged: [count: number];
  /**
   * Hosts only: the room's quality every few seconds (QUALITY_REPORT_INTERVAL_MS): each track's
   * bitrate, loss and score, and each viewer's layer, bitrate, loss, RTT and score.
   */
  qualityReport: [report: QualityReport];
  /** Something went wrong outside any call the app made (e.g. publishing on stage). */
  error: [error: Error];
}

type RequestEvent = keyof ClientToServerEvents;
type RequestOf<E extends RequestEvent> = Parameters<ClientToServerEvents[E]>[0];

/** The one object a developer holds: a connection to a live room. */
export class LiveRoom extends TypedEmitter<LiveRoomEvents> {
  readonly localParticipant: LocalParticipant;
  readonly participants = new Map<string, RemoteParticipant>();
  readonly roomName: string;
  #socket: LiveSocket;
  /** The previous node's connection during a move, closed once the move is done. */
  #leavingSocket: LiveSocket | undefined;
  readonly #session: Session;
  readonly #device: Device;
  readonly #timeoutMs: number;
  readonly #consumerControl: ConsumerControl;
  readonly #tracksByConsumer = new Map<string, RemoteTrack>();
  /** Consumers announced by newConsumer and not set up yet; consumerClosed takes them off. */
  readonly #consumersDue = new Set<string>();
  readonly #autoPublishOnStage: boolean;
  #stage = new StageState({ members: [], maxGuests: 0 }, []);
  #stageSources: StageSource[] = [];
  #sendTransport: types.Transport | undefined;
  #recvTransport: types.Transport | undefined;
  /** Republishing after a reset or a rejoin, one after another. */
  #publishChain: Promise<void> = Promise.resolve();
  /** Local tracks to publish again on the current send transport (after a reset or a rejoin). */
  readonly #awaitingRepublish = new Set<LocalTrack>();
  /** Undoes #leaveWithPage. */
  #stopLeavingWithPage: (() => void) | undefined;
  #roleChain: Promise<void> = Promise.resolve();
  #resumeCredential: string;
  /** Mute state per local track as the server last confirmed it, and requests still unanswered. */
  readonly #selfMute = new WeakMap<LocalTrack, { confirmed: boolean; pending: number }>();
  /** DTLS parameters the server has not confirmed (connectTransport): sent again on a resume. */
  readonly #unconfirmedConnects = new WeakMap<types.Transport, types.DtlsParameters>();
  #reconnecting = false;
  /** Moving to another node because this one drains. */
  #moving = false;
  /** Cuts the current backoff wait short (the browser says the network is back). */
  #wakeReconnect: (() => void) | undefined;
  #closed = false;
  #viewerCount = 0;
  readonly #dynacast: Dynacast;

  private constructor(socket: LiveSocket, device: Device, welcome: Welcome, session: Session) {
    super();
    this.#socket = socket;
    this.#session = session;
    this.#device = device;
    this.#timeoutMs = session.timeoutMs;
    this.#autoPublishOnStage = session.autoPublishOnStage;
    this.#resumeCredential = welcome.resumeCredential;
    this.roomName = welcome.roomName;
    this.localParticipant = new LocalParticipant(welcome.identity, welcome.role);
    this.#consumerControl = {
      setPreferences: async (request) =>
        void (await this.#request('setConsumerPreferences', request)),
      pause: async (consumerId) => void (await this.#request('pauseConsumer', { consumerId })),
      resume: (consumerId) => this.#resumeConsumer(consumerId, 'video'),
      report: (error) => {
        // NOT_FOUND: the consumer closed meanwhile; its consumerClosed is on the way.
        if (this.connected && !isCode(error, 'NOT_FOUND')) this.#reportError(error);
      },
    };
    this.#dynacast = new Dynacast(
      (trackId) => this.localParticipant.tracks.get(trackId)?.producer,
      (error) => this.#reportError(error),
    );
    // A publisherLayers that raced the produce ack applies once the track is known.
    this.on('localTrackPublished', (track) => this.#dynacast.onTrackPublished(track.id));
  }

  /**
   * Optional: does now what connect() would otherwise do first and needs no server, asking the
   * browser which codecs it has (50–130 ms in which the page does nothing else). Call it when
   * the page loads, before the token is at hand; connect() is then that much quicker.
   */
  static prepare(): void {
    prepareDevice();
  }

  /**
   * Connects, joins the room the token names, and subscribes to everything live in it.
   *
   * `url` is one server (or a load balancer in front of several), or the nodes of a cluster.
   * With several, the first that answers is used, trying them in the order given (shuffle the
   * list to spread clients); one that is unreachable or refuses with UNAVAILABLE gives way to the
   * next, any other refusal is thrown. A node that refuses naming a better one is followed. When
   * the node in use is lost, reconnecting tries it first and then the others in turn.
   */
  static async connect(
    url: string | readonly string[],
    token: string,
    options: ConnectOptions = {},
  ): Promise<LiveRoom> {
    const session: Session = {
      nodes: new NodeList(url),
      token,
      path: options.path ?? '/socket.io',
      timeoutMs: options.requestTimeoutMs ?? 10_000,
      autoPublishOnStage: options.autoPublishOnStage ?? true,
      reconnectPolicy: options.reconnectPolicy ?? new BackoffReconnectPolicy(),
      onTiming: options.onTiming,
    };
    const { socket, welcome } = await connectToAny(session.nodes, session);
    try {
      markStep(session.onTiming, 'welcome');
      const device = createDevice();
      await device.load({ routerRtpCapabilities: welcome.routerRtpCapabilities });
      markStep(session.onTiming, 'deviceLoaded');
      const room = new LiveRoom(socket, device, welcome, session);
      room.#listen(socket);
      await room.#join((joined) => {
        for (const info of joined.participants) room.#addParticipant(info);
      });
      room.#leaveWithPage();
      return room;
    } catch (error) {
      socket.disconnect();
      throw error;
    }
  }

  get role(): Role {
    return this.localParticipant.role;
  }

  /** How many watch the room (the audience); the server updates it every few seconds. */
  get viewerCount(): number {
    return this.#viewerCount;
  }

  get connected(): boolean {
    return !this.#closed && this.#socket.connected;
  }

  /** Who is on stage: hosts first, then guests. */
  get stage(): StageInfo {
    return this.#stage.info;
  }

  /** Hosts: raised hands waiting for a decision, oldest first. Empty for everyone else. */
  get handQueue(): HandRequest[] {
    return this.#stage.handQueue;
  }

  /** An invitation to the stage this client has not answered yet. */
  get pendingInvite(): StageInvite | null {
    return this.#stage.invite;
  }

  /** What this client may publish while on stage (empty in the audience). */
  get stageSources(): StageSource[] {
    return [...this.#stageSources];
  }

  async raiseHand(message?: string): Promise<HandRequest> {
    return this.#request('raiseHand', message === undefined ? {} : { message });
  }

  async lowerHand(): Promise<void> {
    await this.#request('lowerHand', {});
  }

  async approveHand(identity: string, options: StageSeatOptions = {}): Promise<void> {
    await this.#request('approveHand', { identity, ...options });
  }

  async denyHand(identity: string): Promise<void> {
    await this.#request('denyHand', { identity });
  }

  async inviteToStage(identity: string, options: StageSeatOptions = {}): Promise<StageInvite> {
    return this.#request('inviteToStage', { identity, ...options });
  }

  /** Resolves once this client is on stage (and, with autoPublishOnStage, publishing). */
  async acceptInvite(): Promise<void> {
    await this.#request('acceptInvite', {});
    await this.#roleChain;
  }

  async declineInvite(): Promise<void> {
    await this.#request('declineInvite', {});
    this.#stage.invite = null;
  }

  async removeFromStage(identity: string): Promise<void> {
    await this.#request('removeFromStage', { identity });
  }

  /** Back to the audience: this client's tracks end for everyone. */
  async leaveStage(): Promise<void> {
    await this.#request('leaveStage', {});
    await this.#roleChain;
  }

  /** Hosts: pause a guest's source on the server; the guest cannot unmute it. */
  async muteParticipant(identity: string, source: StageSource = 'microphone'): Promise<void> {
    await this.#request('muteParticipant', { identity, source, muted: true });
  }

  async unmuteParticipant(identity: string, source: StageSource = 'microphone'): Promise<void> {
    await this.#request('muteParticipant', { identity, source, muted: false });
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
      await this.#request(muted ? 'pauseTrack' : 'resumeTrack', { trackId: track.id });
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

  async publishCamera(options: PublishCameraOptions = {}): Promise<LocalTrack> {
    const track = await cameraTrack(options);
    return this.#publish(track, 'camera', {
      encodings: options.simulcast === false ? undefined : SIMULCAST_ENCODINGS,
      codecOptions: { videoGoogleStartBitrate: 1000 },
    });
  }

  async publishMicrophone(options: { deviceId?: string } = {}): Promise<LocalTrack> {
    return this.#publishMicrophoneTrack(await microphoneTrack(options));
  }

  #publishMicrophoneTrack(track: MediaStreamTrack): Promise<LocalTrack> {
    return this.#publish(track, 'microphone', { codecOptions: { opusDtx: true, opusFec: true } });
  }

  async publishScreen(): Promise<LocalTrack> {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const track = stream.getVideoTracks()[0];
    if (!track) throw new LiveStageError('UNSUPPORTED', 'no screen track');
    return this.#publish(track, 'screen', {});
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
    if (this.localParticipant.tracks.get(trackId) !== track) return;
    if (!track.producer.closed) track.producer.pause();
    try {
      await this.#request('closeTrack', { trackId });
    } catch (error) {
      if (!isCode(error, 'NOT_FOUND')) {
        syncProducerPause(track);
        throw error;
      }
    }
    // Published again meanwhile (a media reset): that producer must go too.
    if (track.id !== trackId) return this.unpublish(track);
    this.localParticipant.tracks.delete(trackId);
    track.producer.close();
    track.stop();
  }

  async disconnect(): Promise<void> {
    if (this.#closed) return;
    await this.#request('leave', {}).catch(() => undefined);
    this.#teardown('client');
  }

  async #publish(
    track: MediaStreamTrack,
    source: TrackSource,
    options: PublishOptions,
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
        // The capture outlives this producer: it is published again after a media reset.
        stopTracks: false,
        ...options,
      });
      const local = new LocalTrack(source, producer, track, options);
      this.localParticipant.tracks.set(local.id, local);
      const stageSource = stageSourceOf(source);
      if (this.#stage.member(this.localParticipant.identity)?.mutedByHost.includes(stageSource)) {
        local.mutedByHost = true;
        producer.pause();
      }
      this.emit('localTrackPublished', local);
      return local;
    } catch (error) {
      track.stop();
      throw error;
    }
  }

  /**
   * Joins on the current connection. Everything the answer says is applied before any event
   * that follows it is handled: the remote tracks of the previous media go, `takeParticipants`
   * takes the participants, then stage, role and the new transports.
   */
  async #join(takeParticipants: (joined: JoinResponse) => void): Promise<void> {
    this.#mark('joinSent');
    const joined: JoinResponse = await this.#request('join', {
      rtpCapabilities: this.#device.rtpCapabilities,
    });
    this.#mark('joinAnswered');
    for (const track of [...this.#tracksByConsumer.values()]) this.#dropTrack(track);
    takeParticipants(joined);
    this.#stage = new StageState(joined.stage, joined.handQueue);
    const self = this.#stage.member(joined.self.identity);
    this.#stageSources = self?.sources ?? [];
    // What goes out again keeps the host's mutes the room still has (none after a fresh join).
    for (const track of this.#awaitingRepublish) {
      track.mutedByHost = self?.mutedByHost.includes(stageSourceOf(track.source)) ?? false;
    }
    this.localParticipant.role = joined.self.role;
    this.#setViewerCount(joined.viewerCount);
    this.#openTransports(joined.recvTransport, joined.sendTransport);
  }

  #openTransports(recv: TransportOptions | null, send: TransportOptions | null): void {
    this.#sendTransport?.close();
    this.#recvTransport?.close();
    this.#sendTransport = undefined;
    this.#recvTransport = undefined;
    if (recv) {
      const transport = this.#device.createRecvTransport(recv);
      this.#wireConnect(transport);
      this.#recvTransport = transport;
    }
    if (send) this.#openSendTransport(send);
  }

  /** A closed tab says goodbye, so the server does not hold its place for a resume. */
  #leaveWithPage(): void {
    if (typeof window === 'undefined') return;
    const onPageHide = (event: PageTransitionEvent) => {
      if (event.persisted) return; // kept in the back/forward cache; may come back
      this.#teardown('client');
    };
    window.addEventListener('pagehide', onPageHide);
    this.#stopLeavingWithPage = () => window.removeEventListener('pagehide', onPageHide);
  }

  // ---- recovery

  #startReconnect(): void {
    this.#reconnect().catch((error: unknown) =>
      this.#teardown('transport', asLiveStageError(error, 'could not reconnect')),
    );
  }

  async #reconnect(): Promise<void> {
    if (this.#reconnecting || this.#closed) return;
    this.#reconnecting = true;
    this.emit('reconnecting');
    const onOnline = () => this.#wakeReconnect?.();
    if (typeof window !== 'undefined') window.addEventListener('online', onOnline);
    let result: Awaited<ReturnType<typeof runReconnectLoop>>;
    try {
      result = await runReconnectLoop({
        policy: this.#session.reconnectPolicy,
        attempt: () => this.#reestablish(),
        isFatal: (error) => error instanceof LiveStageError && FATAL_ON_RECONNECT.has(error.code),
        isClosed: () => this.#closed,
        sleep: (ms) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, ms);
            this.#wakeReconnect = () => {
              clearTimeout(timer);
              resolve();
            };
          }),
      });
    } finally {
      if (typeof window !== 'undefined') window.removeEventListener('online', onOnline);
      this.#wakeReconnect = undefined;
      this.#reconnecting = false;
    }
    if (this.#closed) return;
    if ('outcome' in result) this.emit('reconnected', result.outcome);
    else this.#teardown('transport', asLiveStageError(result.error, 'could not reconnect'));
  }

  /**
   * One attempt: resume the same participant if the server still has it, else join afresh. A
   * node that does not know this participant (another node of a cluster) welcomes it as new.
   */
  async #reestablish(): Promise<ReconnectOutcome> {
    const { socket, welcome, url } = await this.#reachForReconnect();
    this.#session.nodes.use(url);
    this.#adopt(socket).disconnect();
    if (welcome.resumed) {
      this.#resumeCredential = welcome.resumeCredential;
      await this.#restartIce();
      return 'resumed';
    }
    await this.#rejoin(welcome.resumeCredential);
    return 'rejoined';
  }

  /**
   * The node in use first: it still holds this participant for a resume, and when every node
   * fails alike it is this client's network that is down, not the node. When it cannot serve
   * (no answer, UNAVAILABLE), the next listed node is tried at once; the next attempt goes on
   * from there.
   */
  async #reachForReconnect(): Promise<Reached> {
    const { nodes } = this.#session;
    try {
      return await reachNode(nodes, nodes.current, this.#session, this.#resumeCredential);
    } catch (error) {
      const other = nodeCannotServe(error) ? nodes.alternative() : undefined;
      if (other === undefined) throw error;
      return reachNode(nodes, other, this.#session, this.#resumeCredential);
    }
  }

  /** `socket` becomes the connection whose events count; the previous one is returned, deaf. */
  #adopt(socket: LiveSocket): LiveSocket {
    const previous = this.#socket;
    previous.removeAllListeners();
    this.#socket = socket;
    this.#listen(socket);
    return previous;
  }

  async #restartIce(): Promise<void> {
    await Promise.all(
      [this.#sendTransport, this.#recvTransport].map(async (transport) => {
        if (!transport || transport.closed) return;
        // Lost with the old connection: the server's side of this transport still waits for it.
        const unconfirmed = this.#unconfirmedConnects.get(transport);
        if (unconfirmed) this.#connectTransport(transport, unconfirmed);
        try {
          const { iceParameters } = await this.#request('restartIce', {
            transportId: transport.id,
          });
          await transport.restartIce({ iceParameters });
        } catch (error) {
          // Replaced while we were away (the room moved workers): the mediaReset naming the new
          // transports is among the events that follow the welcome.
          if (!isCode(error, 'NOT_FOUND')) throw error;
        }
      }),
    );
  }

  /**
   * The server no longer had this participant: start over on the new connection. The resume
   * credential is taken once the join is done: should the join fail, the next attempt must not
   * resume a participant that never joined.
   */
  async #rejoin(resumeCredential: string): Promise<void> {
    // Consumers of the participant the server let go of: none of them exists any more.
    this.#consumersDue.clear();
    for (const track of [...this.#tracksByConsumer.values()]) this.#dropTrack(track);
    for (const participant of [...this.participants.values()]) {
      this.participants.delete(participant.identity);
      this.emit('participantLeft', participant);
    }
    this.#holdForRepublish();
    await this.#join((joined) => {
      for (const info of joined.participants) this.#addParticipant(info);
    });
    this.#resumeCredential = resumeCredential;
    for (const participant of this.participants.values())
      this.emit('participantJoined', participant);
    await this.#republishInOrder();
  }

  /**
   * The node drains: move to another before it closes. After a short random wait (a node's
   * whole audience must not arrive at once), a new connection joins there while media still
   * flows here; on its answer the media switches as after a media reset (remote tracks are
   * resubscribed, local ones republished), then the old connection closes. Nobody, the app
   * included, sees this participant leave or join. If the other node cannot be reached, this one
   * is used until it closes, and reconnecting takes over as usual.
   */
  #moveAway(socket: LiveSocket, deadlineMs: number, moveTo: string | undefined): void {
    if (this.#moving || this.#reconnecting || socket !== this.#socket) return;
    const target = this.#session.nodes.moveTarget(moveTo);
    if (target === undefined) return;
    this.#moving = true;
    const spreadMs = Math.random() * Math.min(MOVE_SPREAD_MS, deadlineMs / 4);
    setTimeout(() => {
      this.#move(socket, target)
        .catch((error: unknown) => this.#reportError(error))
        .finally(() => {
          this.#moving = false;
        });
    }, spreadMs);
  }

  async #move(from: LiveSocket, target: string): Promise<void> {
    if (from !== this.#socket || this.#closed || this.#reconnecting) return;
    let reached: Reached;
    try {
      // No resume credential: that participant lives on the old node; this one joins anew.
      reached = await reachNode(this.#session.nodes, target, this.#session);
    } catch {
      return; // stay: when this node closes, reconnecting takes over
    }
    if (from !== this.#socket || this.#closed || this.#reconnecting) {
      reached.socket.disconnect();
      return;
    }
    this.#session.nodes.use(reached.url);
    this.#leavingSocket = this.#adopt(reached.socket);
    try {
      this.#consumersDue.clear();
      this.#holdForRepublish();
      await this.#join((joined) => this.#keepParticipants(joined.participants));
      this.#resumeCredential = reached.welcome.resumeCredential;
      await this.#republishInOrder();
    } catch (error) {
      // Half-way through: start over the ordinary way (this connection, if it drops, already has).
      if (this.#socket === reached.socket && !this.#closed && !this.#reconnecting) {
        reached.socket.removeAllListeners();
        reached.socket.disconnect();
        this.#startReconnect();
      }
      throw error;
    } finally {
      this.#leavingSocket?.disconnect();
      this.#leavingSocket = undefined;
    }
  }

  /** After a move: the same people keep their objects; only real comings and goings are told. */
  #keepParticipants(infos: ParticipantInfo[]): void {
    const present = new Set(infos.map((info) => info.identity));
    for (const participant of [...this.participants.values()]) {
      if (present.has(participant.identity)) continue;
      this.participants.delete(participant.identity);
      this.emit('participantLeft', participant);
    }
    for (const info of infos) {
      const known = this.participants.get(info.identity);
      if (!known) {
        this.emit('participantJoined', this.#addParticipant(info));
        continue;
      }
      known.name = info.name;
      known.role = info.role;
      known.metadata = info.metadata;
      known.publications.clear();
      for (const track of info.tracks) known.publications.set(track.id, track);
    }
  }

  /** The room moved to another media worker: new transports, same captures on new producers. */
  #onMediaReset(recv: TransportOptions | null, send: TransportOptions | null): void {
    for (const track of [...this.#tracksByConsumer.values()]) this.#dropTrack(track);
    this.#holdForRepublish();
    this.#openTransports(recv, send);
    this.#republishInOrder().then(
      () => this.emit('reconnected', 'media-reset'),
      (error: unknown) => this.#reportError(error),
    );
  }

  /** The published tracks' producers are gone with their transport: they go out again. */
  #holdForRepublish(): void {
    for (const track of this.localParticipant.tracks.values()) this.#awaitingRepublish.add(track);
    this.localParticipant.tracks.clear();
  }

  /** After the republish already under way, if any (two resets in a row share the tracks). */
  #republishInOrder(): Promise<void> {
    const run = this.#publishChain.then(() => this.#republish());
    this.#publishChain = run.catch(() => undefined);
    return run;
  }

  /** Every held track goes out again on the current send transport; failures are reported. */
  async #republish(): Promise<void> {
    for (const track of [...this.#awaitingRepublish]) {
      if (this.#closed) return;
      const transport = this.#sendTransport;
      try {
        await this.#republishTrack(track, transport);
        this.#awaitingRepublish.delete(track);
      } catch (error) {
        // Another reset replaced the transport meanwhile, or the server has dropped it already
        // (its worker died; the mediaReset naming the new one is on its way): the next republish
        // takes the track.
        if (this.#sendTransport !== transport || isCode(error, 'NOT_FOUND')) continue;
        this.#awaitingRepublish.delete(track);
        track.stop();
        this.#reportError(error);
      }
    }
  }

  async #republishTrack(track: LocalTrack, transport: types.Transport | undefined): Promise<void> {
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
      await this.#request('closeTrack', { trackId: producer.id });
      return;
    }
    track.replaceProducer(producer);
    this.localParticipant.tracks.set(track.id, track);
    syncProducerPause(track);
    this.emit('localTrackPublished', track);
    // Still muted: if the server cannot be told, the media stays off here all the same.
    if (track.mutedBySelf) await this.#request('pauseTrack', { trackId: track.id });
  }

  #openSendTransport(options: TransportOptions): void {
    const transport = this.#device.createSendTransport(options);
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

  async #onRoleChanged(event: RoleChanged): Promise<void> {
    if (this.#closed) return;
    this.localParticipant.role = event.role;
    this.#stageSources = event.sources;
    if (event.role === 'audience') {
      // The server has already closed this client's tracks; let go of the local side too.
      for (const track of this.localParticipant.tracks.values()) {
        track.producer.close();
        track.stop();
      }
      this.localParticipant.tracks.clear();
      for (const track of this.#awaitingRepublish) track.stop();
      this.#awaitingRepublish.clear();
      this.#sendTransport?.close();
      this.#sendTransport = undefined;
      this.emit('roleChanged', event.role, event);
      return;
    }
    if (event.sendTransport && this.#sendTransport?.id !== event.sendTransport.id) {
      this.#sendTransport?.close();
      this.#openSendTransport(event.sendTransport);
    }
    this.emit('roleChanged', event.role, event);
    if (event.role === 'guest' && this.#autoPublishOnStage)
      await this.#publishOnStage(event.sources);
  }

  /** Camera and microphone are opened together: one permission prompt, less time to first frame. */
  async #publishOnStage(sources: StageSource[]): Promise<void> {
    const published = new Set([...this.localParticipant.tracks.values()].map((t) => t.source));
    const wantCamera = sources.includes('camera') && !published.has('camera');
    const wantMicrophone = sources.includes('microphone') && !published.has('microphone');
    // Settled, not all: a refused camera must not leave the microphone captured and unpublished.
    const [camera, microphone] = await Promise.allSettled([
      wantCamera ? cameraTrack({}) : undefined,
      wantMicrophone ? microphoneTrack({}) : undefined,
    ]);
    await this.#publishCaptured(camera, (track) =>
      this.#publish(track, 'camera', {
        encodings: SIMULCAST_ENCODINGS,
        codecOptions: { videoGoogleStartBitrate: 1000 },
      }),
    );
    await this.#publishCaptured(microphone, (track) => this.#publishMicrophoneTrack(track));
  }

  /** One source of #publishOnStage: each failure is reported on its own (#publish ends it). */
  async #publishCaptured(
    capture: PromiseSettledResult<MediaStreamTrack | undefined>,
    publish: (track: MediaStreamTrack) => Promise<LocalTrack>,
  ): Promise<void> {
    try {
      if (capture.status === 'rejected') throw capture.reason;
      if (capture.value) await publish(capture.value);
    } catch (error) {
      this.#reportError(error);
    }
  }

  #onMutedByHost(source: StageSource, muted: boolean): void {
    for (const track of this.localParticipant.tracks.values()) {
      if (stageSourceOf(track.source) !== source) continue;
      track.mutedByHost = muted;
      syncProducerPause(track);
    }
    this.emit('mutedByHost', source, muted);
  }

  #wireConnect(transport: types.Transport): void {
    let restartTimer: ReturnType<typeof setTimeout> | undefined;
    // Media can break while signaling is fine (a network switch): restart ICE on this transport.
    transport.on('connectionstatechange', (state) => {
      clearTimeout(restartTimer);
      if (state !== 'failed' && state !== 'disconnected') return;
      restartTimer = setTimeout(
        () => {
          if (transport.closed || !this.#socket.connected || this.#reconnecting) return;
          this.#request('restartIce', { transportId: transport.id })
            .then(({ iceParameters }) => transport.restartIce({ iceParameters }))
            .catch((error: unknown) => {
              if (!transport.closed && this.connected) this.#reportError(error);
            });
        },
        state === 'failed' ? 0 : ICE_DISCONNECTED_GRACE_MS,
      );
    });
    transport.on('connect', ({ dtlsParameters }, callback) => {
      // Not waiting for the answer: ICE starts at once. mediasoup runs its DTLS server as soon as
      // ICE is up and completes the handshake when these parameters arrive.
      callback();
      this.#connectTransport(transport, dtlsParameters);
    });
  }

  #connectTransport(transport: types.Transport, dtlsParameters: types.DtlsParameters): void {
    this.#unconfirmedConnects.set(transport, dtlsParameters);
    this.#mark('transportConnectSent', { transportId: transport.id });
    this.#request('connectTransport', { transportId: transport.id, dtlsParameters }).then(
      () => {
        this.#unconfirmedConnects.delete(transport);
        this.#mark('transportConnectAnswered', { transportId: transport.id });
      },
      (error: unknown) => {
        // Connected already: an earlier attempt got there after all.
        if (isCode(error, 'INVALID_STATE')) this.#unconfirmedConnects.delete(transport);
        // Gone, or the connection dropped: a resume sends it again, a rejoin makes new transports.
        else if (!transport.closed && this.connected && !this.#reconnecting) {
          this.#reportError(error);
        }
      },
    );
  }

  #listen(socket: LiveSocket): void {
    /** This node said it drains: when it closes the connection, another node takes over. */
    let draining = false;
    socket.on('participantJoined', (info) => {
      const participant = this.#addParticipant(info);
      this.emit('participantJoined', participant);
    });
    socket.on('participantUpdated', (info) => {
      const participant = this.participants.get(info.identity);
      if (!participant) return;
      participant.name = info.name;
      participant.metadata = info.metadata;
      this.emit('participantUpdated', participant);
    });
    socket.on('participantLeft', ({ identity }) => {
      const participant = this.participants.get(identity);
      if (!participant) return;
      // Also the tracks still being set up (not in participant.tracks yet).
      for (const track of [...this.#tracksByConsumer.values()]) {
        if (track.participantIdentity === identity) this.#dropTrack(track);
      }
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
      this.#mark('consumerAnnounced', { kind: info.kind, consumerId: info.consumerId });
      this.#consumersDue.add(info.consumerId);
      this.#consume(info).catch((error: unknown) => this.#reportError(error));
    });
    socket.on('consumerClosed', ({ consumerId }) => {
      // Not set up yet (waiting its turn, or half-way): #consume lets it go.
      this.#consumersDue.delete(consumerId);
      const track = this.#tracksByConsumer.get(consumerId);
      if (track) this.#dropTrack(track);
    });
    socket.on('consumerLayersChanged', ({ consumerId, spatialLayer, temporalLayer }) => {
      const track = this.#tracksByConsumer.get(consumerId);
      if (!track) return;
      track.currentLayer = { spatial: spatialLayer, temporal: temporalLayer };
      this.emit('qualityChanged', track, track.currentLayer);
    });
    socket.on('handRaised', (hand) => {
      this.#stage.handRaised(hand);
      this.emit('handRaised', hand);
    });
    socket.on('handLowered', (event) => {
      this.#stage.handLowered(event);
      this.emit('handLowered', event);
    });
    socket.on('stageChanged', (info) => {
      this.#stage.stageChanged(info, this.participants.values());
      this.emit('stageChanged', info);
    });
    socket.on('inviteReceived', (invite) => {
      this.#stage.inviteReceived(invite);
      this.emit('inviteReceived', invite);
    });
    socket.on('inviteEnded', (event) => {
      this.#stage.inviteEnded(event, this.localParticipant.identity);
      this.emit('inviteEnded', event);
    });
    socket.on('roleChanged', (event) => {
      this.#roleChain = this.#roleChain
        .then(() => this.#onRoleChanged(event))
        .catch((error: unknown) => this.#reportError(error));
    });
    socket.on('mutedByHost', ({ source, muted }) => this.#onMutedByHost(source, muted));
    socket.on('mediaReset', ({ recvTransport, sendTransport }) =>
      this.#onMediaReset(recvTransport, sendTransport),
    );
    socket.on('trackStalled', ({ identity, trackId, stalled }) => {
      const participant = this.participants.get(identity);
      const track = participant?.tracks.get(trackId);
      if (!participant || !track) return;
      track.stalled = stalled;
      this.emit('trackStalled', track, participant, stalled);
    });
    socket.on('viewerCount', ({ count }) => this.#setViewerCount(count));
    socket.on('qualityReport', (report) => this.emit('qualityReport', report));
    socket.on('publisherLayers', (event) => this.#dynacast.onPublisherLayers(event));
    socket.on('serverDraining', ({ deadlineMs, moveTo }) => {
      draining = true;
      this.emit('serverDraining', deadlineMs);
      this.#moveAway(socket, deadlineMs, moveTo);
    });
    socket.on('kicked', (body) => this.#onKicked(socket, body));
    socket.on('disconnect', (reason) => {
      if (socket !== this.#socket || this.#closed) return;
      if (reason === 'io client disconnect') this.#teardown('client');
      else if (reason === 'io server disconnect' && !(draining && this.#session.nodes.leave())) {
        this.#teardown('server');
      } else this.#startReconnect();
    });
  }

  /**
   * A node refusing this client with UNAVAILABLE (over its budget, draining) sends it to the
   * node it names, or to the next listed one; anything else ends the room as before.
   */
  #onKicked(socket: LiveSocket, body: Kicked): void {
    if (socket !== this.#socket || this.#closed) return;
    if (body.code === 'UNAVAILABLE' && !this.#reconnecting && this.#sentElsewhere(body.node)) {
      socket.removeAllListeners();
      socket.disconnect();
      this.#startReconnect();
      return;
    }
    this.#teardown(body.reason ?? 'kicked', LiveStageError.from(body));
  }

  /** True when there is a node to go to after the current one sent this client away. */
  #sentElsewhere(named: string | undefined): boolean {
    const nodes = this.#session.nodes;
    if (named === undefined) return nodes.leave();
    if (!nodes.follow(named)) return false;
    nodes.use(named);
    return true;
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
    const transport = this.#recvTransport;
    const participant = this.participants.get(info.identity);
    const due = () => this.#consumersDue.has(info.consumerId);
    if (!transport || !participant || this.#closed || !due()) return;
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
    this.#mark('consumerCreated', { kind: info.kind, consumerId: info.consumerId });
    const track = new RemoteTrack(consumer, info, this.#consumerControl);
    this.#tracksByConsumer.set(info.consumerId, track);
    try {
      // Audio plays at once; video is resumed by the track when an element shows it.
      if (info.kind === 'audio') await this.#resumeConsumer(info.consumerId, 'audio');
    } catch (error) {
      this.#dropTrack(track);
      // The track ended while it was set up (its producer closed): nothing to report.
      if (isCode(error, 'NOT_FOUND') || this.#closed) return;
      throw error;
    }
    const current =
      !this.#closed &&
      !transport.closed &&
      this.#tracksByConsumer.get(info.consumerId) === track &&
      this.participants.get(info.identity) === participant;
    if (!current) {
      this.#dropTrack(track);
      return;
    }
    participant.tracks.set(track.id, track);
    this.#mark('trackSubscribed', { kind: info.kind, consumerId: info.consumerId });
    this.emit('trackSubscribed', track, participant);
  }

  async #resumeConsumer(consumerId: string, kind: 'audio' | 'video'): Promise<void> {
    this.#mark('resumeSent', { kind, consumerId });
    await this.#request('resumeConsumer', { consumerId });
    this.#mark('resumeAnswered', { kind, consumerId });
  }

  #mark(step: JoinStep, detail?: Omit<TimingMark, 'step' | 'at'>): void {
    markStep(this.#session.onTiming, step, detail);
  }

  /** Closes a remote track; trackUnsubscribed only for one whose trackSubscribed went out. */
  #dropTrack(track: RemoteTrack): void {
    if (!this.#tracksByConsumer.delete(track.consumer.id)) return;
    track.close();
    const participant = this.participants.get(track.participantIdentity);
    if (!participant || participant.tracks.get(track.id) !== track) return;
    participant.tracks.delete(track.id);
    this.emit('trackUnsubscribed', track, participant);
  }

  #setViewerCount(count: number): void {
    if (!Number.isInteger(count) || count < 0 || count === this.#viewerCount) return;
    this.#viewerCount = count;
    this.emit('viewerCountChanged', count);
  }

  /** Something failed that no caller awaits: the app hears of it through 'error'. */
  #reportError(error: unknown): void {
    if (!this.emit('error', toError(error))) console.error('livestage:', error);
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
    for (const track of this.localParticipant.tracks.values()) track.stop();
    for (const track of this.#awaitingRepublish) track.stop();
    this.#awaitingRepublish.clear();
    this.#stopLeavingWithPage?.();
    this.#sendTransport?.close();
    this.#recvTransport?.close();
    this.#socket.disconnect();
    this.#leavingSocket?.disconnect();
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

/** Everything needed to open (and reopen) the connection. */
interface Session extends Handshake {
  nodes: NodeList;
  autoPublishOnStage: boolean;
  reconnectPolicy: ReconnectPolicy;
}

/** Retrying cannot help with these: the token is no good, or the room will not have us. */
const FATAL_ON_RECONNECT = new Set(['UNAUTHORIZED', 'FORBIDDEN', 'ROOM_FULL']);

/** ICE often recovers from 'disconnected' by itself; restart only if it has not by then. */
const ICE_DISCONNECTED_GRACE_MS = 2000;

/** A draining node's clients move within this long (at most a quarter of its deadline). */
const MOVE_SPREAD_MS = 2000;

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function isCode(error: unknown, code: ErrorCode): boolean {
  return error instanceof LiveStageError && error.code === code;
}

function asLiveStageError(error: unknown, message: string): LiveStageError {
  return error instanceof LiveStageError ? error : new LiveStageError('TIMEOUT', message);
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

async function cameraTrack(options: PublishCameraOptions): Promise<MediaStreamTrack> {
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
  return track;
}

async function microphoneTrack(options: { deviceId?: string }): Promise<MediaStreamTrack> {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: {
      echoCancellation: true,
      noiseSuppression: true,
      ...(options.deviceId ? { deviceId: { exact: options.deviceId } } : {}),
    },
  });
  const track = stream.getAudioTracks()[0];
  if (!track) throw new LiveStageError('UNSUPPORTED', 'no microphone track');
  return track;
}
