import type { Device, types } from 'mediasoup-client';
import { isCode } from './errors.js';
import type { TrackSource, TransportOptions } from './protocol.js';
import type { RoomContext } from './roomContext.js';

/** ICE often recovers from 'disconnected' by itself; restart only if it has not by then. */
const ICE_DISCONNECTED_GRACE_MS = 2000;

/**
 * The WebRTC transports the server made for this client: one to send (while it may publish) and
 * one to receive. Connects them, restarts ICE when media breaks, and after a resume sends again
 * what the lost connection may not have delivered.
 */
export class Transports {
  readonly #context: RoomContext;
  readonly #device: Device;
  readonly #isReconnecting: () => boolean;
  #send: types.Transport | undefined;
  #recv: types.Transport | undefined;
  /** DTLS parameters the server has not confirmed (connectTransport): sent again on a resume. */
  readonly #unconfirmedConnects = new WeakMap<types.Transport, types.DtlsParameters>();

  constructor(context: RoomContext, device: Device, isReconnecting: () => boolean) {
    this.#context = context;
    this.#device = device;
    this.#isReconnecting = isReconnecting;
  }

  get send(): types.Transport | undefined {
    return this.#send;
  }

  get recv(): types.Transport | undefined {
    return this.#recv;
  }

  /** The transports of a join or a media reset replace whatever this client had. */
  open(recv: TransportOptions | null, send: TransportOptions | null): void {
    this.close();
    this.#send = undefined;
    this.#recv = undefined;
    if (recv) {
      const transport = this.#device.createRecvTransport(recv);
      this.#wireConnect(transport);
      this.#recv = transport;
    }
    if (send) this.#openSend(send);
  }

  /** On stage: the send transport the server made for it (unless it is the one in use). */
  useSend(options: TransportOptions): void {
    if (this.#send?.id === options.id) return;
    this.#send?.close();
    this.#openSend(options);
  }

  /** Off stage: this client sends nothing any more. */
  closeSend(): void {
    this.#send?.close();
    this.#send = undefined;
  }

  close(): void {
    this.#send?.close();
    this.#recv?.close();
  }

  /** After a resume: the same transports go on over the new connection with new ICE. */
  async restartIce(): Promise<void> {
    const { signaling } = this.#context;
    await Promise.all(
      [this.#send, this.#recv].map(async (transport) => {
        if (!transport || transport.closed) return;
        // Lost with the old connection: the server's side of this transport still waits for it.
        const unconfirmed = this.#unconfirmedConnects.get(transport);
        if (unconfirmed) this.#connect(transport, unconfirmed);
        try {
          const { iceParameters } = await signaling.request('restartIce', {
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

  #openSend(options: TransportOptions): void {
    const { signaling } = this.#context;
    const transport = this.#device.createSendTransport(options);
    this.#wireConnect(transport);
    transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
      const source = appData.source as TrackSource;
      signaling
        .request('produce', { transportId: transport.id, kind, rtpParameters, source })
        .then(({ trackId }) => callback({ id: trackId }), errback);
    });
    this.#send = transport;
  }

  #wireConnect(transport: types.Transport): void {
    const { signaling, reportError } = this.#context;
    let restartTimer: ReturnType<typeof setTimeout> | undefined;
    // Media can break while signaling is fine (a network switch): restart ICE on this transport.
    transport.on('connectionstatechange', (state) => {
      clearTimeout(restartTimer);
      if (state !== 'failed' && state !== 'disconnected') return;
      restartTimer = setTimeout(
        () => {
          if (transport.closed || !signaling.socket.connected || this.#isReconnecting()) return;
          signaling
            .request('restartIce', { transportId: transport.id })
            .then(({ iceParameters }) => transport.restartIce({ iceParameters }))
            .catch((error: unknown) => {
              if (!transport.closed && signaling.connected) reportError(error);
            });
        },
        state === 'failed' ? 0 : ICE_DISCONNECTED_GRACE_MS,
      );
    });
    transport.on('connect', ({ dtlsParameters }, callback) => {
      // Not waiting for the answer: ICE starts at once. mediasoup runs its DTLS server as soon as
      // ICE is up and completes the handshake when these parameters arrive.
      callback();
      this.#connect(transport, dtlsParameters);
    });
  }

  #connect(transport: types.Transport, dtlsParameters: types.DtlsParameters): void {
    const { signaling, reportError, mark } = this.#context;
    this.#unconfirmedConnects.set(transport, dtlsParameters);
    mark('transportConnectSent', { transportId: transport.id });
    signaling.request('connectTransport', { transportId: transport.id, dtlsParameters }).then(
      () => {
        this.#unconfirmedConnects.delete(transport);
        mark('transportConnectAnswered', { transportId: transport.id });
      },
      (error: unknown) => {
        // Connected already: an earlier attempt got there after all.
        if (isCode(error, 'INVALID_STATE')) this.#unconfirmedConnects.delete(transport);
        // Gone, or the connection dropped: a resume sends it again, a rejoin makes new transports.
        else if (!transport.closed && signaling.connected && !this.#isReconnecting()) {
          reportError(error);
        }
      },
    );
  }
}
