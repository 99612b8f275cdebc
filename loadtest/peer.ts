// One side of a mediasoup WebRtcTransport, without a browser stack: a UDP socket, ICE as the
// controlling agent against mediasoup's ICE-lite (one nominated pair), and DTLS as the client
// (werift's DtlsClient). Media packets (SRTP and SRTCP) are handed over as they arrive, still
// encrypted: a viewer only needs their clear RTP headers, and a publisher encrypts its own.
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import {
  DtlsClient,
  keyLength,
  ProtectionProfileAeadAes128Gcm,
  ProtectionProfileAes128CmHmacSha1_80,
  saltLength,
} from 'werift';
import type { DtlsParameters, IceCandidate, TransportOptions } from '@livestage/protocol';
import { clientDtlsParameters, matchesFingerprint, type DtlsCertificate } from './certificate.js';
import { bindingRequest, bindingSuccessTransaction, isStun } from './stun.js';

const CHECK_INTERVALS_MS = [100, 200, 400, 800];
const CHECK_INTERVAL_MAX_MS = 1000;
/** mediasoup 3.12 has no consent timeout, later versions drop a tuple after 30 s of silence. */
const KEEPALIVE_MS = 5000;

export interface SrtpKeys {
  profile: number;
  localKey: Buffer;
  localSalt: Buffer;
  remoteKey: Buffer;
  remoteSalt: Buffer;
}

export interface ConnectTimings {
  /** Socket bound → ICE nomination answered. */
  iceMs: number;
  /** ICE answered (and connectTransport acked) → DTLS handshake done. */
  dtlsMs: number;
}

export class WebRtcPeer {
  /** Every SRTP or SRTCP packet from the server, still encrypted. */
  onMedia: (packet: Buffer) => void = () => {};
  readonly #socket: Socket;
  readonly #transport: TransportOptions;
  readonly #localUfrag = randomBytes(4).toString('hex');
  #remote: { address: string; port: number } | undefined;
  #dtls: DtlsClient | undefined;
  /** Hands DTLS datagrams to werift; replaced by werift when the DtlsClient is made. */
  #dtlsInput: (data: Buffer, address: readonly [string, number]) => void = () => {};
  /** Transaction ids of the nominating checks in flight; keepalive answers are not looked at. */
  readonly #pendingChecks = new Set<string>();
  #onCheckAnswer: ((from: { address: string; port: number }) => void) | undefined;
  #keepalive: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  /** Ends a handshake in progress when the peer closes. */
  #abortHandshake: ((error: Error) => void) | undefined;

  private constructor(socket: Socket, transport: TransportOptions) {
    this.#socket = socket;
    this.#transport = transport;
    socket.on('message', (packet, from) => this.#onPacket(packet, from));
    // A datagram the kernel refused (port unreachable after the server went away) is not fatal.
    socket.on('error', () => {});
  }

  /** A socket bound for `transport`'s UDP candidates (IPv4 when it has any). */
  static async open(transport: TransportOptions): Promise<WebRtcPeer> {
    const udp = transport.iceCandidates.filter((c) => c.protocol === 'udp');
    if (udp.length === 0) throw new Error('the server offers no UDP ICE candidate');
    const type = udp.some((c) => !isIPv6(candidateAddress(c))) ? 'udp4' : 'udp6';
    const socket = createSocket({ type, recvBufferSize: 1 << 20 });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new WebRtcPeer(socket, transport);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The server's address of the nominated pair, "ip:port" (each mediasoup worker has its own port). */
  get remoteAddress(): string | undefined {
    const remote = this.#remote;
    return remote && `${remote.address}:${remote.port}`;
  }

  /**
   * ICE, then DTLS. `connectTransport` sends our DTLS parameters to the server; it runs while ICE
   * checks go out, and DTLS starts once both are done (the server drops a ClientHello that comes
   * before it knows our fingerprint).
   */
  async connect(
    certificate: DtlsCertificate,
    connectTransport: (dtlsParameters: DtlsParameters) => Promise<void>,
    timeoutMs: number,
  ): Promise<ConnectTimings> {
    const started = performance.now();
    const deadline = Date.now() + timeoutMs;
    const [remote] = await Promise.all([
      this.#nominate(deadline),
      connectTransport(clientDtlsParameters(certificate)),
    ]);
    const iceDone = performance.now();
    this.#remote = remote;
    this.#keepalive = setInterval(() => this.#sendCheck(remote), KEEPALIVE_MS);
    this.#keepalive.unref();
    await this.#handshake(certificate, deadline);
    return { iceMs: iceDone - started, dtlsMs: performance.now() - iceDone };
  }

  /** SRTP master keys and salts from the handshake (RFC 5764), for a peer that sends media. */
  srtpKeys(): SrtpKeys {
    const dtls = this.#dtls;
    const profile = dtls?.srtp.srtpProfile;
    if (!dtls || profile === undefined) throw new Error('DTLS not connected');
    return { profile, ...dtls.extractSessionKeys(keyLength(profile), saltLength(profile)) };
  }

  /** Sends an (already encrypted) SRTP or SRTCP packet to the server. */
  send(packet: Buffer): void {
    const remote = this.#remote;
    if (!remote || this.#closed) return;
    this.#socket.send(packet, remote.port, remote.address);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#keepalive);
    this.#abortHandshake?.(new Error('peer closed'));
    this.#socket.close();
  }

  #onPacket(packet: Buffer, from: AddressInfo): void {
    const first = packet[0] ?? 0;
    if (first >= 128 && first <= 191) {
      this.onMedia(packet);
    } else if (first >= 20 && first <= 63) {
      this.#dtlsInput(packet, [from.address, from.port]);
    } else if (isStun(packet)) {
      const transaction = bindingSuccessTransaction(packet);
      if (!transaction) return;
      if (this.#pendingChecks.has(transaction.toString('hex'))) {
        this.#onCheckAnswer?.({ address: from.address, port: from.port });
      }
    }
  }

  /** Sends nominating checks to every UDP candidate until one answers; that pair is ours. */
  async #nominate(deadline: number): Promise<{ address: string; port: number }> {
    const family = this.#socket.address().family;
    const candidates = this.#transport.iceCandidates
      .filter((c) => c.protocol === 'udp' && isIPv6(candidateAddress(c)) === (family === 'IPv6'))
      .sort((a, b) => b.priority - a.priority)
      .map((c) => ({ address: candidateAddress(c), port: c.port }));
    let answered: { address: string; port: number } | undefined;
    const answer = new Promise<void>((resolve) => {
      this.#onCheckAnswer = (from) => {
        answered ??= from;
        resolve();
      };
    });
    try {
      for (let attempt = 0; !answered; attempt++) {
        if (this.#closed) throw new Error('peer closed');
        if (Date.now() >= deadline) throw new Error('ICE: no answer from the server');
        for (const candidate of candidates) this.#pendingChecks.add(this.#sendCheck(candidate));
        const wait = CHECK_INTERVALS_MS[attempt] ?? CHECK_INTERVAL_MAX_MS;
        await Promise.race([answer, sleep(Math.min(wait, Math.max(0, deadline - Date.now())))]);
      }
      return answered;
    } finally {
      this.#pendingChecks.clear();
      this.#onCheckAnswer = undefined;
    }
  }

  /** Sends one nominating Binding Request; returns its transaction id (hex). */
  #sendCheck(to: { address: string; port: number }): string {
    const { usernameFragment, password } = this.#transport.iceParameters;
    const { bytes, transactionId } = bindingRequest(
      `${usernameFragment}:${this.#localUfrag}`,
      password,
    );
    if (!this.#closed) this.#socket.send(bytes, to.port, to.address);
    return transactionId.toString('hex');
  }

  async #handshake(certificate: DtlsCertificate, deadline: number): Promise<void> {
    const remote = this.#remote!;
    const socket = this.#socket;
    const transport = {
      type: 'udp',
      address: socket.address(),
      closed: false,
      onData: (_data: Buffer, _address: readonly [string, number]) => {},
      send: (data: Buffer) =>
        new Promise<void>((resolve) => {
          if (this.#closed) return resolve();
          socket.send(data, remote.port, remote.address, () => resolve());
        }),
      // The socket is ours to close; werift's close() must not close it under us.
      close: async () => {},
    };
    const dtls = new DtlsClient({
      transport,
      cert: certificate.certPem,
      key: certificate.keyPem,
      signatureHash: certificate.signatureHash,
      srtpProfiles: [ProtectionProfileAeadAes128Gcm, ProtectionProfileAes128CmHmacSha1_80],
      extendedMasterSecret: true,
    });
    this.#dtls = dtls;
    this.#dtlsInput = (data, address) => transport.onData(data, address);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(
          () => reject(new Error('DTLS: handshake not done in time')),
          Math.max(0, deadline - Date.now()),
        );
        this.#abortHandshake = reject;
        dtls.onConnect.once(() => resolve());
        dtls.onError.once((error: Error) => reject(error));
        dtls.connect().catch(reject);
      });
    } finally {
      clearTimeout(timer);
      this.#abortHandshake = undefined;
    }
    const serverCertificate = dtls.remoteCertificate;
    if (
      !serverCertificate ||
      !matchesFingerprint(serverCertificate, this.#transport.dtlsParameters)
    ) {
      throw new Error("DTLS: the server's certificate does not match its fingerprint");
    }
  }
}

/** mediasoup 3.12 names it `ip`; later versions `address`. */
function candidateAddress(candidate: IceCandidate): string {
  const legacy = candidate as IceCandidate & { ip?: string };
  return candidate.address ?? legacy.ip ?? '';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
