import type { types } from 'mediasoup';
import type { VerifiedToken } from '../auth/tokens.js';
import { createWebRtcTransport } from '../media/transports.js';
import type { PublishedTrack } from '../rooms/Participant.js';
import type { Room } from '../rooms/Room.js';
import { IngestError } from './IngestError.js';
import { IngestSession } from './IngestSession.js';
import { offererDtlsParameters, type Offer } from './offer.js';
import { WhepLayers } from './WhepLayers.js';
import { whepCapabilities, whepAnswer } from './whepSdp.js';
import { iceUfragOf, type IngestDeps } from './whip.js';

/** A player told to come back later (409) waits this long (s). */
export const RETRY_AFTER_SECONDS = 5;

const SOURCE_OF_KIND = { audio: 'microphone', video: 'camera' } as const;

/**
 * A WHEP playback: the room's host camera and microphone (the first host that publishes one),
 * consumed on the origin router and sent to a player that made a recvonly offer. Not a
 * participant: it is in no roster and no viewer count. It ends when the host's track closes.
 */
export async function startWhep(
  { config, rooms, sessions, log }: IngestDeps,
  token: VerifiedToken,
  roomName: string,
  offer: Offer,
): Promise<{ session: IngestSession; answer: string; start: () => void }> {
  const { identity, grants } = token;
  if (grants.room !== roomName)
    throw new IngestError(403, 'FORBIDDEN', 'token is for another room');
  if (!grants.canSubscribe) throw new IngestError(403, 'FORBIDDEN', 'this token may not subscribe');
  if (rooms.draining) throw new IngestError(503, 'UNAVAILABLE', 'the server is shutting down');
  const dtlsParameters = offererDtlsParameters(offer);
  const room = rooms.rooms.get(roomName);
  if (!room || room.closed) throw new IngestError(404, 'NOT_FOUND', 'no such room');
  const tracks = hostTracks(room);
  if (tracks.size === 0) {
    throw new IngestError(409, 'INVALID_STATE', 'nobody is live in this room yet', {
      'Retry-After': String(RETRY_AFTER_SECONDS),
    });
  }
  const router = room.router;
  const capabilities = whepCapabilities(offer, router.rtpCapabilities);
  const wanted = offer.media.flatMap((section) => {
    const track = tracks.get(section.type as 'audio' | 'video');
    return track &&
      router.canConsume({ producerId: track.producer.id, rtpCapabilities: capabilities })
      ? [{ mid: String(section.mid), track }]
      : [];
  });
  if (wanted.length === 0) {
    throw new IngestError(422, 'UNSUPPORTED', "the offer's codecs cannot carry the host's tracks");
  }
  const transport = await createWebRtcTransport(router, room.media.webRtcServer, config.media, {
    identity,
    direction: 'recv',
    routerId: router.id,
  });
  const sessionLog = log.child({ roomId: roomName, participantId: identity });
  const session = new IngestSession(
    'whep',
    roomName,
    identity,
    transport,
    wanted.map(({ mid, track }) => ({ mid, kind: track.producer.kind })),
    iceUfragOf(offer),
    sessionLog,
  );
  try {
    await transport.connect({ dtlsParameters });
    const consumers = new Map<string, types.Consumer>();
    for (const { mid, track } of wanted) {
      const consumer = await transport.consume({
        producerId: track.producer.id,
        rtpCapabilities: capabilities,
        paused: true,
      });
      consumers.set(mid, consumer);
      // The host stopped: the SSRCs in this answer will not come back, the player must start anew.
      consumer.observer.once('close', () => session.close('the host track ended'));
      if (consumer.kind === 'video') {
        room.holdLayersFor(consumer);
        const spatialLayers = track.producer.rtpParameters.encodings?.length ?? 1;
        new WhepLayers(consumer, spatialLayers, (layer) => room.setRelayNeed(consumer, layer));
      }
    }
    sessions.add(session);
    const answer = whepAnswer(transport, offer, consumers, `livestage-${roomName}`);
    sessionLog.info('WHEP playback started', { sessionId: session.id });
    // Resumed once the answer is on its way, so that the first packet is a fresh keyframe.
    const start = () => {
      for (const consumer of consumers.values()) consumer.resume().catch(() => undefined);
    };
    return { session, answer, start };
  } catch (error) {
    session.close('setup failed');
    throw error;
  }
}

/** The first host (in join order) publishing a camera, with its microphone; or any host's. */
function hostTracks(room: Room): Map<'audio' | 'video', PublishedTrack> {
  const hosts = [...room.participants.values()].filter(
    (participant) => participant.joined && !participant.closed && participant.role === 'host',
  );
  const withCamera = hosts.find((host) => findTrack(host.tracks, 'video'));
  const picked = withCamera ?? hosts.find((host) => findTrack(host.tracks, 'audio'));
  const tracks = new Map<'audio' | 'video', PublishedTrack>();
  if (!picked) return tracks;
  for (const kind of ['audio', 'video'] as const) {
    const track = findTrack(picked.tracks, kind);
    if (track) tracks.set(kind, track);
  }
  return tracks;
}

function findTrack(
  tracks: ReadonlyMap<string, PublishedTrack>,
  kind: 'audio' | 'video',
): PublishedTrack | undefined {
  for (const track of tracks.values()) {
    if (track.source === SOURCE_OF_KIND[kind] && !track.producer.closed) return track;
  }
  return undefined;
}
