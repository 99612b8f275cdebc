import dgram from 'node:dgram';
import type { types } from 'mediasoup';
import type { SdpStream } from './sdp.js';

/** Ports handed to an ffmpeg and not given back yet: never handed out twice in this process. */
const portsInUse = new Set<number>();

/**
 * Two free UDP ports on 127.0.0.1 (RTP, RTP + 1 for RTCP) for ffmpeg to listen on. They are
 * probed by binding and released before ffmpeg binds them; `portsInUse` keeps this process
 * from handing them out again meanwhile.
 */
async function freePortPair(): Promise<{ port: number; rtcpPort: number }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const first = await bindUdp(0);
    const port = (first.address() as { port: number }).port;
    const second =
      port < 65535 && !portsInUse.has(port) && !portsInUse.has(port + 1)
        ? await bindUdp(port + 1).catch(() => undefined)
        : undefined;
    first.close();
    second?.close();
    if (second) {
      portsInUse.add(port);
      portsInUse.add(port + 1);
      return { port, rtcpPort: port + 1 };
    }
  }
  throw new Error('no free UDP port pair for ffmpeg');
}

function bindUdp(port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', (error) => {
      socket.close();
      reject(error);
    });
    socket.bind(port, '127.0.0.1', () => resolve(socket));
  });
}

/**
 * One producer sent as plain RTP to ports an ffmpeg listens on: a PlainTransport (RTCP on its
 * own port, which is what ffmpeg expects) and a consumer on it, made paused and resumed once
 * ffmpeg listens. ffmpeg never asks for keyframes: `requestKeyFrame()` does it for it.
 */
export class RtpFeed {
  readonly producerId: string;
  readonly #transport: types.PlainTransport;
  readonly #consumer: types.Consumer;
  readonly #ports: { port: number; rtcpPort: number };
  #closed = false;

  private constructor(
    transport: types.PlainTransport,
    consumer: types.Consumer,
    ports: { port: number; rtcpPort: number },
  ) {
    this.#transport = transport;
    this.#consumer = consumer;
    this.#ports = ports;
    this.producerId = consumer.producerId;
  }

  static async open(router: types.Router, producerId: string): Promise<RtpFeed> {
    const ports = await freePortPair();
    let transport: types.PlainTransport | undefined;
    try {
      transport = await router.createPlainTransport({
        listenIp: '127.0.0.1',
        rtcpMux: false,
        comedia: false,
        appData: { egress: true },
      });
      await transport.connect({ ip: '127.0.0.1', port: ports.port, rtcpPort: ports.rtcpPort });
      const consumer = await transport.consume({
        producerId,
        rtpCapabilities: router.rtpCapabilities,
        paused: true,
        appData: { egress: true },
      });
      return new RtpFeed(transport, consumer, ports);
    } catch (error) {
      transport?.close();
      portsInUse.delete(ports.port);
      portsInUse.delete(ports.rtcpPort);
      throw error;
    }
  }

  get consumer(): types.Consumer {
    return this.#consumer;
  }

  get closed(): boolean {
    return this.#closed || this.#consumer.closed;
  }

  /** The m-line ffmpeg needs: its ports and the consumer's codec (payload type, fmtp). */
  get sdpStream(): SdpStream {
    const codec = this.#consumer.rtpParameters.codecs[0];
    if (!codec) throw new Error('consumer without a codec');
    return {
      kind: this.#consumer.kind,
      port: this.#ports.port,
      rtcpPort: this.#ports.rtcpPort,
      payloadType: codec.payloadType,
      mimeType: codec.mimeType,
      clockRate: codec.clockRate,
      channels: codec.channels,
      parameters: codec.parameters as Record<string, unknown> | undefined,
    };
  }

  async resume(): Promise<void> {
    if (!this.closed) await this.#consumer.resume();
  }

  async requestKeyFrame(): Promise<void> {
    if (!this.closed && this.#consumer.kind === 'video') await this.#consumer.requestKeyFrame();
  }

  /** Closes the transport (and the consumer); the ports can be handed out again. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#transport.close();
    portsInUse.delete(this.#ports.port);
    portsInUse.delete(this.#ports.rtcpPort);
  }
}
