import assert from 'node:assert/strict';
import { consumerPriority, preferredSpatialLayer } from '../../server/src/rooms/qualityPolicy.js';

describe('quality policy', function () {
  it('explicit quality caps the layer', function () {
    assert.equal(preferredSpatialLayer(3, 'low', 1080), 0);
    assert.equal(preferredSpatialLayer(3, 'medium', 1080), 1);
    assert.equal(preferredSpatialLayer(3, 'high', 100), 2);
  });

  it('auto follows the rendered height', function () {
    assert.equal(preferredSpatialLayer(3, 'auto', undefined), 2);
    assert.equal(preferredSpatialLayer(3, 'auto', 120), 0);
    assert.equal(preferredSpatialLayer(3, 'auto', 180), 0);
    assert.equal(preferredSpatialLayer(3, 'auto', 300), 1);
    assert.equal(preferredSpatialLayer(3, 'auto', 720), 2);
    assert.equal(preferredSpatialLayer(3, 'auto', 2160), 2);
  });

  it('never asks for a layer the publication lacks', function () {
    assert.equal(preferredSpatialLayer(1, 'high', 720), 0);
    assert.equal(preferredSpatialLayer(2, 'medium', undefined), 1);
    assert.equal(preferredSpatialLayer(2, 'auto', 200), 0);
  });

  it('host above guest above audience; audio above video of the same role', function () {
    assert.ok(consumerPriority('host', 'video') > consumerPriority('guest', 'video'));
    assert.ok(consumerPriority('guest', 'video') > consumerPriority('audience', 'video'));
    assert.ok(consumerPriority('host', 'audio') > consumerPriority('host', 'video'));
    for (const role of ['host', 'guest', 'audience'] as const) {
      for (const kind of ['audio', 'video'] as const) {
        const p = consumerPriority(role, kind);
        assert.ok(p >= 1 && p <= 255);
      }
    }
  });
});
