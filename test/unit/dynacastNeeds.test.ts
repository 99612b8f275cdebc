import assert from 'node:assert/strict';
import { Dynacast } from '../../server/src/rooms/Dynacast.js';

// The server side of dynacast: which layers a publisher is told to encode, from every viewer's need.

describe('Dynacast (server): the layers a publisher is told to encode', function () {
  const LOWER_AFTER_MS = 30;
  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  function watched(layers = 3, enabled = true) {
    const dynacast = new Dynacast({ enabled, lowerAfterMs: LOWER_AFTER_MS });
    const told: number[] = [];
    dynacast.watch('t', layers, (_trackId, layer) => told.push(layer));
    return { dynacast, told };
  }

  it('a track nobody watches keeps every layer, ready for the audience', async function () {
    const { dynacast, told } = watched();
    await wait(LOWER_AFTER_MS * 3);
    assert.deepEqual(told, []);
    assert.equal(dynacast.needed('t'), 2);
    dynacast.close();
  });

  it('small viewers only: layer 0 after the delay, never below; all gone: every layer again', async function () {
    const { dynacast, told } = watched();
    dynacast.setNeed('t', 'a', 0);
    dynacast.setNeed('t', 'b', 0);
    await wait(LOWER_AFTER_MS * 3);
    assert.deepEqual(told, [0]);
    dynacast.setNeed('t', 'a', undefined);
    dynacast.setNeed('t', 'b', undefined);
    assert.deepEqual(told, [0, 2]);
    dynacast.close();
  });

  it('raises at once to the highest need and lowers only after the delay', async function () {
    const { dynacast, told } = watched();
    dynacast.setNeed('t', 'small', 0);
    await wait(LOWER_AFTER_MS * 3);
    assert.deepEqual(told, [0]);
    dynacast.setNeed('t', 'large', 2);
    assert.deepEqual(told, [0, 2], 'raised synchronously');
    dynacast.setNeed('t', 'large', 1);
    assert.deepEqual(told, [0, 2], 'not lowered yet');
    await wait(LOWER_AFTER_MS * 3);
    assert.deepEqual(told, [0, 2, 1]);
    dynacast.close();
  });

  it('a lower need that comes back up within the delay says nothing (no flapping)', async function () {
    const { dynacast, told } = watched();
    dynacast.setNeed('t', 'v', 2);
    dynacast.setNeed('t', 'v', 0);
    dynacast.setNeed('t', 'v', 2);
    await wait(LOWER_AFTER_MS * 3);
    assert.deepEqual(told, []);
    dynacast.close();
  });

  it('a viewer that leaves or hides stops counting; needs above the top layer are capped', async function () {
    const { dynacast, told } = watched(2);
    dynacast.setNeed('t', 'hidden', 'none');
    dynacast.setNeed('t', 'a', 7);
    assert.equal(dynacast.needed('t'), 1);
    dynacast.setNeed('t', 'a', undefined);
    await wait(LOWER_AFTER_MS * 3);
    assert.deepEqual(told, [0]);
    dynacast.close();
  });

  it('ignores single-layer tracks, unknown tracks and a disabled dynacast', async function () {
    const single = watched(1);
    single.dynacast.setNeed('t', 'v', 0);
    const off = watched(3, false);
    off.dynacast.setNeed('t', 'v', 0);
    off.dynacast.setNeed('other', 'v', 0);
    await wait(LOWER_AFTER_MS * 3);
    assert.deepEqual(single.told, []);
    assert.deepEqual(off.told, []);
    assert.equal(off.dynacast.needed('t'), undefined);
  });

  it('a forgotten track is never told anything again', async function () {
    const { dynacast, told } = watched();
    dynacast.forget('t');
    await wait(LOWER_AFTER_MS * 3);
    dynacast.setNeed('t', 'v', 2);
    assert.deepEqual(told, []);
  });
});
