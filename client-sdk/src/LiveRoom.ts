import type { Device } from 'mediasoup-client';
import type { PublishCameraOptions } from './capture.js';
import { Chat, type SendChatOptions } from './Chat.js';
import { DataMessages, type SendDataOptions } from './DataMessages.js';
import { createDevice, prepareDevice } from './device.js';
import type { LiveStageError } from './errors.js';
import { TypedEmitter } from './events.js';
import { connectToAny, type LiveSocket } from './nodeConnection.js';
import { LocalParticipant, type RemoteParticipant } from './participants.js';
import type {
  ChatMessage,
  HandRequest,
  JoinResponse,
  Reaction,
  Role,
  Speaker,
  StageInfo,
  StageInvite,
  StageSource,
  Welcome,
} from './protocol.js';
import { Publishing } from './Publishing.js';
import { Reactions } from './Reactions.js';
import { Reconnection } from './Reconnection.js';
import type { RoomContext } from './roomContext.js';
import type { DisconnectReason, LiveRoomEvents } from './roomEvents.js';
import { Roster } from './Roster.js';
import { sessionOf, type ConnectOptions, type Session } from './session.js';
import { Signaling } from './Signaling.js';
import { Speakers } from './Speakers.js';
import { Stage, type StageSeatOptions } from './Stage.js';
import { Subscriptions } from './Subscriptions.js';
import { markStep } from './timing.js';
import type { LocalTrack } from './tracks/LocalTrack.js';
import { Transports } from './Transports.js';

export type { PublishCameraOptions } from './capture.js';
export type { SendChatOptions } from './Chat.js';
export type { SendDataOptions } from './DataMessages.js';
export type { ConnectOptions } from './session.js';
export type { DisconnectReason, LiveRoomEvents } from './roomEvents.js';
export type { StageSeatOptions } from './Stage.js';

/**
 * The one object a developer holds: a connection to a live room. A thin front: each job is a
 * part of its own (roster, subscriptions, publishing, stage, transports, reconnection, chat,
 * reactions, speakers, data messages) that hears the server's events it owns through the
 * signaling connection.
 */
export class LiveRoom extends TypedEmitter<LiveRoomEvents> {
  readonly localParticipant: LocalParticipant;
  readonly participants: Map<string, RemoteParticipant>;
  readonly roomName: string;
  readonly #device: Device;
  readonly #context: RoomContext;
  readonly #signaling: Signaling;
  readonly #roster: Roster;
  readonly #transports: Transports;
  readonly #subscriptions: Subscriptions;
  readonly #publishing: Publishing;
  readonly #stage: Stage;
  readonly #reconnection: Reconnection;
  readonly #chat: Chat;
  readonly #reactions: Reactions;
  readonly #speakers: Speakers;
  readonly #data: DataMessages;
  /** Undoes #leaveWithPage. */
  #stopLeavingWithPage: (() => void) | undefined;

  private constructor(socket: LiveSocket, device: Device, welcome: Welcome, session: Session) {
    super();
    this.#device = device;
    this.roomName = welcome.roomName;
    this.localParticipant = new LocalParticipant(welcome.identity, welcome.role);
    this.#signaling = new Signaling(socket, session.timeoutMs);
    this.#context = {
      signaling: this.#signaling,
      localParticipant: this.localParticipant,
      emit: (event, ...args) => this.emit(event, ...args),
      reportError: (error) => {
        if (!this.emit('error', toError(error))) console.error('livestage:', error);
      },
      mark: (step, detail) => markStep(session.onTiming, step, detail),
    };
    const context = this.#context;
    this.#roster = new Roster(context, (identity) => this.#subscriptions.dropTracksOf(identity));
    this.participants = this.#roster.participants;
    this.#transports = new Transports(context, device, () => this.#reconnection.reconnecting);
    this.#subscriptions = new Subscriptions(
      context,
      this.participants,
      () => this.#transports.recv,
    );
    this.#publishing = new Publishing(context, this.#transports, (source) =>
      this.#stage.isMutedByHost(source),
    );
    this.#stage = new Stage(
      context,
      this.participants,
      { publishing: this.#publishing, transports: this.#transports },
      session.autoPublishOnStage,
    );
    this.#reconnection = new Reconnection(context, session, welcome.resumeCredential, {
      roster: this.#roster,
      subscriptions: this.#subscriptions,
      publishing: this.#publishing,
      transports: this.#transports,
      join: (takeParticipants) => this.#join(takeParticipants),
      teardown: (reason, error) => this.#teardown(reason, error),
    });
    this.#chat = new Chat(context);
    this.#reactions = new Reactions(context);
    this.#speakers = new Speakers(context, this.participants);
    this.#data = new DataMessages(context);
    this.#signaling.on('qualityReport', (report) => this.emit('qualityReport', report));
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
    const session = sessionOf(url, token, options);
    const { socket, welcome } = await connectToAny(session.nodes, session);
    try {
      markStep(session.onTiming, 'welcome');
      const device = createDevice();
      await device.load({ routerRtpCapabilities: welcome.routerRtpCapabilities });
      markStep(session.onTiming, 'deviceLoaded');
      const room = new LiveRoom(socket, device, welcome, session);
      await room.#join((joined) => room.#roster.addAll(joined.participants));
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
    return this.#roster.viewerCount;
  }

  get connected(): boolean {
    return this.#signaling.connected;
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
    return this.#stage.sources;
  }

  /**
   * The chat as this client has it, in arrival order: the room's last messages (the join
   * reply's, as many as the room keeps, kept up to date; deleted ones leave it) and this
   * client's last 50 private messages (which take no room message's place). A copy.
   */
  get chatHistory(): ChatMessage[] {
    return this.#chat.history;
  }

  /** A host muted this client's chat (sending is refused with FORBIDDEN until unmuted). */
  get chatMuted(): boolean {
    return this.#chat.muted;
  }

  /** Who speaks now, loudest first (the server's last report). */
  get activeSpeakers(): Speaker[] {
    return this.#speakers.current;
  }

  /**
   * Sends plain text (at most MAX_CHAT_TEXT_LENGTH characters, no control characters) to the
   * room, or privately `to` one participant. Needs the canChat grant. Resolves with the message
   * as the server stamped it; `chatMessage` tells it too (once).
   */
  async sendChatMessage(text: string, options: SendChatOptions = {}): Promise<ChatMessage> {
    return this.#chat.send(text, options);
  }

  /** Hosts: the message leaves everyone's screen and the history. */
  async deleteChatMessage(id: string): Promise<void> {
    await this.#chat.delete(id);
  }

  /** Hosts: the participant can no longer chat (FORBIDDEN) until unmuted. */
  async muteChat(identity: string, muted = true): Promise<void> {
    await this.#chat.setMuted(identity, muted);
  }

  async unmuteChat(identity: string): Promise<void> {
    await this.#chat.setMuted(identity, false);
  }

  /** One of REACTIONS; the room hears counts about once a second (`reactions`). */
  async sendReaction(emoji: Reaction): Promise<void> {
    await this.#reactions.send(emoji);
  }

  /**
   * An application's message (text, JSON usually; at most MAX_DATA_PAYLOAD_BYTES) to the room or
   * to some participants, who get `dataReceived`. In order per sender; rate-limited.
   */
  async sendData(payload: string, options: SendDataOptions): Promise<void> {
    await this.#data.send(payload, options);
  }

  async raiseHand(message?: string): Promise<HandRequest> {
    return this.#stage.raiseHand(message);
  }

  async lowerHand(): Promise<void> {
    await this.#stage.lowerHand();
  }

  async approveHand(identity: string, options: StageSeatOptions = {}): Promise<void> {
    await this.#stage.approveHand(identity, options);
  }

  async denyHand(identity: string): Promise<void> {
    await this.#stage.denyHand(identity);
  }

  async inviteToStage(identity: string, options: StageSeatOptions = {}): Promise<StageInvite> {
    return this.#stage.inviteToStage(identity, options);
  }

  /** Resolves once this client is on stage (and, with autoPublishOnStage, publishing). */
  async acceptInvite(): Promise<void> {
    await this.#stage.acceptInvite();
  }

  async declineInvite(): Promise<void> {
    await this.#stage.declineInvite();
  }

  async removeFromStage(identity: string): Promise<void> {
    await this.#stage.removeFromStage(identity);
  }

  /** Back to the audience: this client's tracks end for everyone. */
  async leaveStage(): Promise<void> {
    await this.#stage.leaveStage();
  }

  /** Hosts: pause a guest's source on the server; the guest cannot unmute it. */
  async muteParticipant(identity: string, source: StageSource = 'microphone'): Promise<void> {
    await this.#stage.setParticipantMuted(identity, source, true);
  }

  async unmuteParticipant(identity: string, source: StageSource = 'microphone'): Promise<void> {
    await this.#stage.setParticipantMuted(identity, source, false);
  }

  /** Stops sending a track without unpublishing it. */
  async muteTrack(track: LocalTrack): Promise<void> {
    await this.#publishing.muteTrack(track);
  }

  /** Refused with FORBIDDEN while a host has the track's source muted. */
  async unmuteTrack(track: LocalTrack): Promise<void> {
    await this.#publishing.unmuteTrack(track);
  }

  async publishCamera(options: PublishCameraOptions = {}): Promise<LocalTrack> {
    return this.#publishing.publishCamera(options);
  }

  async publishMicrophone(options: { deviceId?: string } = {}): Promise<LocalTrack> {
    return this.#publishing.publishMicrophone(options);
  }

  async publishScreen(): Promise<LocalTrack> {
    return this.#publishing.publishScreen();
  }

  /**
   * The track stops sending at once; it is closed and its capture ended once the server has
   * closed it. Refused (other than NOT_FOUND, which means it is gone already): still published.
   */
  async unpublish(track: LocalTrack): Promise<void> {
    await this.#publishing.unpublish(track);
  }

  async disconnect(): Promise<void> {
    if (this.#signaling.ended) return;
    await this.#signaling.request('leave', {}).catch(() => undefined);
    this.#teardown('client');
  }

  /**
   * Joins on the current connection. Everything the answer says is applied before any event
   * that follows it is handled: the remote tracks of the previous media go, `takeParticipants`
   * takes the participants, then stage, role and the new transports.
   */
  async #join(takeParticipants: (joined: JoinResponse) => void): Promise<void> {
    this.#context.mark('joinSent');
    const joined: JoinResponse = await this.#signaling.request('join', {
      rtpCapabilities: this.#device.rtpCapabilities,
    });
    this.#context.mark('joinAnswered');
    this.#subscriptions.dropAll();
    takeParticipants(joined);
    this.#stage.reset(joined);
    this.#publishing.takeHostMutes();
    this.localParticipant.role = joined.self.role;
    this.#roster.setViewerCount(joined.viewerCount);
    this.#chat.reset(joined.chat);
    this.#speakers.reset(joined.speakers);
    this.#transports.open(joined.recvTransport, joined.sendTransport);
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

  #teardown(reason: DisconnectReason, error?: LiveStageError): void {
    if (!this.#signaling.end()) return;
    this.#subscriptions.dropAll();
    this.#publishing.stopAll();
    this.#stopLeavingWithPage?.();
    this.#transports.close();
    this.#signaling.disconnect();
    this.emit('disconnected', reason, error);
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
