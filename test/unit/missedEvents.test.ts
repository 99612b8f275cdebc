import assert from 'node:assert/strict';
import winston from 'winston';
import { defaultGrants } from '../../server/src/auth/grants.js';
import { Participant, type Connection } from '../../server/src/rooms/Participant.js';

// A suspended participant keeps what it misses for its resume; events that only say how things
// are now keep one of a kind, so that speakers and counts do not force a full rejoin.

const silent = winston.createLogger({ silent: true });

function connection(sent: [string, unknown][] = []): Connection {
  return {
    id: `c-${Math.random()}`,
    emit: ((event: string, payload: unknown) => sent.push([event, payload])) as Connection['emit'],
    disconnect: () => undefined,
  };
}

function suspended(): Participant {
  const participant = new Participant('p', defaultGrants('r', 'audience'), connection(), silent);
  participant.joined = true;
  participant.suspend(60_000, () => undefined);
  return participant;
}

describe('events missed while suspended', function () {
  it('thousands of speaker updates leave one, the latest, and the participant can resume', function () {
    const participant = suspended();
    participant.emit('participantJoined', {
      identity: 'a',
      name: 'A',
      role: 'audience',
      metadata: '',
      tracks: [],
    });
    for (let i = 0; i < 5_000; i += 1) {
      participant.emit('activeSpeakersChanged', { speakers: [{ identity: 'a', level: i / 5000 }] });
      participant.emit('viewerCount', { count: i });
      participant.emit('consumerScore', { consumerId: `c${i % 2}`, score: i, producerScore: 10 });
    }
    participant.emit('participantLeft', { identity: 'a' });
    assert.ok(participant.canResume(participant.resumeCredential.value, participant.grants));
    const sent: [string, unknown][] = [];
    participant.resume(connection(sent));
    // What is kept stays in the order it was sent in: each the last of its kind.
    assert.deepEqual(sent, [
      [
        'participantJoined',
        { identity: 'a', name: 'A', role: 'audience', metadata: '', tracks: [] },
      ],
      ['consumerScore', { consumerId: 'c0', score: 4998, producerScore: 10 }],
      ['activeSpeakersChanged', { speakers: [{ identity: 'a', level: 4999 / 5000 }] }],
      ['viewerCount', { count: 4999 }],
      ['consumerScore', { consumerId: 'c1', score: 4999, producerScore: 10 }],
      ['participantLeft', { identity: 'a' }],
    ]);
  });

  it('adds reaction counts up', function () {
    const participant = suspended();
    participant.emit('reactions', { counts: { '❤️': 3 }, windowMs: 1000 });
    participant.emit('chatMessageDeleted', { id: 'm', by: 'h' });
    participant.emit('reactions', { counts: { '❤️': 2, '🔥': 1 }, windowMs: 1000 });
    const sent: [string, unknown][] = [];
    participant.resume(connection(sent));
    assert.deepEqual(sent, [
      ['chatMessageDeleted', { id: 'm', by: 'h' }],
      ['reactions', { counts: { '❤️': 5, '🔥': 1 }, windowMs: 2000 }],
    ]);
  });

  it('other events still overflow the buffer: the client must rejoin', function () {
    const participant = suspended();
    for (let i = 0; i < 2_001; i += 1)
      participant.emit('chatMessageDeleted', { id: `${i}`, by: 'h' });
    assert.equal(
      participant.canResume(participant.resumeCredential.value, participant.grants),
      false,
    );
  });
});
