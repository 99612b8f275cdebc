import assert from 'node:assert/strict';
import type { types } from 'mediasoup-client';
import { Dynacast } from '../../client-sdk/src/Dynacast.js';

/** What Dynacast uses of a mediasoup-client Producer; each change takes a turn of the loop. */
class StandInProducer {
  readonly calls: number[] = [];
  closed = false;
  failNext: Error | undefined;
  readonly rtpParameters: { encodings: object[] };

  constructor(
    readonly id: string,
    readonly kind: 'audio' | 'video' = 'video',
    layers = 3,
  ) {
    this.rtpParameters = { encodings: Array.from({ length: layers }, () => ({})) };
  }

  async setMaxSpatialLayer(layer: number): Promise<void> {
    this.calls.push(layer);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const failure = this.failNext;
    this.failNext = undefined;
    if (failure) throw failure;
  }
}

function setUp() {
  const producers = new Map<string, StandInProducer>();
  const reported: unknown[] = [];
  const dynacast = new Dynacast(
    (trackId) => producers.get(trackId) as unknown as types.Producer | undefined,
    (error) => reported.push(error),
  );
  const add = (producer: StandInProducer) => {
    producers.set(producer.id, producer);
    dynacast.onTrackPublished(producer.id);
    return producer;
  };
  return { dynacast, add, reported };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('Dynacast (SDK): the publisher follows publisherLayers', function () {
  it('applies the wish to the producer with that id', async function () {
    const { dynacast, add } = setUp();
    const producer = add(new StandInProducer('t1'));
    dynacast.onPublisherLayers({ trackId: 't1', maxSpatialLayer: 0 });
    await settle();
    assert.deepEqual(producer.calls, [0]);
  });

  it('keeps a wish that came before the produce ack and applies it when the track is published', async function () {
    const { dynacast, add } = setUp();
    dynacast.onPublisherLayers({ trackId: 'early', maxSpatialLayer: 2 });
    dynacast.onPublisherLayers({ trackId: 'early', maxSpatialLayer: 1 });
    await settle();
    const producer = add(new StandInProducer('early'));
    await settle();
    assert.deepEqual(producer.calls, [1], 'only the latest wish');
  });

  it('applies only the latest of the wishes that came while one was being applied', async function () {
    const { dynacast, add } = setUp();
    const producer = add(new StandInProducer('t1'));
    dynacast.onPublisherLayers({ trackId: 't1', maxSpatialLayer: 0 });
    dynacast.onPublisherLayers({ trackId: 't1', maxSpatialLayer: 2 });
    dynacast.onPublisherLayers({ trackId: 't1', maxSpatialLayer: 1 });
    await settle();
    assert.deepEqual(producer.calls, [0, 1], 'one at a time, ending on the latest');
  });

  it('reports a failure instead of throwing, and the next wish still applies', async function () {
    const { dynacast, add, reported } = setUp();
    const producer = add(new StandInProducer('t1'));
    producer.failNext = new Error('setParameters refused');
    dynacast.onPublisherLayers({ trackId: 't1', maxSpatialLayer: 0 });
    await settle();
    assert.equal(reported.length, 1);
    dynacast.onPublisherLayers({ trackId: 't1', maxSpatialLayer: 2 });
    await settle();
    assert.deepEqual(producer.calls, [0, 2]);
    assert.equal(reported.length, 1);
  });

  it('leaves closed, audio and single-layer producers alone, and ignores a layer below 0', async function () {
    const { dynacast, add, reported } = setUp();
    const closed = add(new StandInProducer('closed'));
    closed.closed = true;
    const audio = add(new StandInProducer('audio', 'audio', 1));
    const single = add(new StandInProducer('single', 'video', 1));
    const video = add(new StandInProducer('video'));
    for (const trackId of ['closed', 'audio', 'single', 'unknown'])
      dynacast.onPublisherLayers({ trackId, maxSpatialLayer: 0 });
    dynacast.onPublisherLayers({ trackId: 'video', maxSpatialLayer: -1 });
    await settle();
    assert.deepEqual([closed.calls, audio.calls, single.calls, video.calls], [[], [], [], []]);
    assert.deepEqual(reported, []);
  });

  it('forgets early wishes for tracks that never show up, oldest first', async function () {
    const { dynacast, add } = setUp();
    dynacast.onPublisherLayers({ trackId: 'oldest', maxSpatialLayer: 0 });
    for (let i = 0; i < 40; i += 1)
      dynacast.onPublisherLayers({ trackId: `gone-${i}`, maxSpatialLayer: 0 });
    dynacast.onPublisherLayers({ trackId: 'newest', maxSpatialLayer: 1 });
    const oldest = add(new StandInProducer('oldest'));
    const newest = add(new StandInProducer('newest'));
    await settle();
    assert.deepEqual(oldest.calls, [], 'forgotten');
    assert.deepEqual(newest.calls, [1], 'kept');
  });
});
