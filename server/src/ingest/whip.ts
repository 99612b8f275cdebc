import type { TrackSource } from '@livestage/protocol';
import type { types } from 'mediasoup';
import type { VerifiedToken } from '../auth/tokens.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import { Participant, type Connection } from '../rooms/Participant.js';
import type { RoomRegistry } from '../rooms/RoomRegistry.js';
import { IngestError } from './IngestError.js';
import { IngestSession, type IngestSessions } from './IngestSession.js';
import { offererDtlsParameters, type Offer } from './offer.js';
import { publishedSections, whipAnswer } from './whipSdp.js';

export interface IngestDeps {
  config: Config;
  rooms: RoomRegistry;
  sessions: IngestSessions;
  log: Logger;
}

const SOURCE_OF_KIND: Record<'audio' | 'video', TrackSource> = {
  audio: 'microphone',
  video: 'camera',
};

/** A WHIP client never gets room events: it has no socket. */
function silentConnection(identity: string): Connection {
  return { id: `whip:${identity}`, emit: () => undefined, disconnect: () => undefined };
}

/**
 * A WHIP publication: the token's participant joins the room (replacing a connection of the same
 * identity, as a socket join does), its offer's tracks become that participant's camera and
 * microphone, and the stage rules decide as for any publisher (an audience token: 403). Whatever
 * fails on the way is undone: the participant leaves, its transport closes.
 */
export async function startWhip(
  { config, rooms, sessions, log }: IngestDeps,
  token: VerifiedToken,
  roomName: string,
  offer: Offer,
): Promise<{ session: IngestSession; answer: string }> {
  const { identity, grants } = token;
  if (grants.room !== roomName)
    throw new IngestError(403, 'FORBIDDEN', 'token is for another room');
  if (!grants.canPublish || grants.role === 'audience') {
    throw new IngestError(403, 'FORBIDDEN', 'this token may not publish');
  }
  if (rooms.draining) throw new IngestError(503, 'UNAVAILABLE', 'the server is shutting down');
  if (rooms.localParticipants >= config.node.maxParticipants) {
    throw new IngestError(503, 'UNAVAILABLE', 'this node is full', { 'Retry-After': '10' });
  }
  const dtlsParameters = offererDtlsParameters(offer);
  const room = await rooms.getOrCreate(roomName);
  let sections: ReturnType<typeof publishedSections>;
  try {
    sections = publishedSections(offer, room.router.rtpCapabilities);
  } catch (error) {
    rooms.releaseIfEmpty(room);
    throw error;
  }
  const sessionLog = log.child({ roomId: roomName, participantId: identity });
  // Subscribing is not part of WHIP: no receiving transport is made.
  const participant = new Participant(
    identity,
    { ...grants, canSubscribe: false },
    silentConnection(identity),
    sessionLog,
  );
  try {
    room.admit(participant);
  } catch (error) {
    rooms.releaseIfEmpty(room);
    throw error;
  }
  try {
    return await participant.requests.run(async () => {
      await room.join(participant, room.router.rtpCapabilities);
      for (const { section } of sections) {
        const source = SOURCE_OF_KIND[section.type as 'audio' | 'video'];
        if (!participant.mayPublish(source)) {
          throw new IngestError(403, 'FORBIDDEN', `not allowed to publish ${source}`);
        }
      }
      const transport = participant.sendTransport;
      if (!transport) throw new IngestError(403, 'FORBIDDEN', 'this token may not publish');
      await transport.connect({ dtlsParameters });
      for (const { section, rtpParameters } of sections) {
        const kind = section.type as 'audio' | 'video';
        let producer: types.Producer;
        try {
          producer = await transport.produce({
            kind,
            rtpParameters,
            keyFrameRequestDelay: config.media.keyFrameRequestDelayMs,
            appData: { source: SOURCE_OF_KIND[kind] },
          });
        } catch (error) {
          sessionLog.warn('WHIP produce refused', { error: String(error) });
          throw new IngestError(422, 'UNSUPPORTED', `unusable ${kind} parameters`);
        }
        await room.publish(participant, producer, SOURCE_OF_KIND[kind]);
      }
      const session = new IngestSession(
        'whip',
        roomName,
        identity,
        transport,
        sections.map(({ section }) => ({ mid: String(section.mid), kind: section.type })),
        iceUfragOf(offer),
        sessionLog,
      );
      session.onClose(() => room.remove(participant));
      // Tracks that sent nothing for too long are closed by the room's liveness check; a
      // publication with no track left is over.
      for (const { producer } of participant.tracks.values()) {
        producer.observer.once('close', () => {
          if (participant.tracks.size === 0) session.close('no track left');
        });
      }
      sessions.add(session);
      sessionLog.info('WHIP publication started', { sessionId: session.id });
      return { session, answer: whipAnswer(transport, sections) };
    });
  } catch (error) {
    room.remove(participant);
    throw error;
  }
}

export function iceUfragOf(offer: Offer): string {
  return String(offer.media[0]?.iceUfrag ?? offer.sdp.iceUfrag ?? '');
}
