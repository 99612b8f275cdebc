import assert from 'node:assert/strict';
import * as mediasoup from 'mediasoup';
import type { z } from 'zod';
import {
  connectTransportSchema,
  joinSchema,
  produceSchema,
  sendChatMessageSchema,
  sendDataSchema,
} from '@livestage/protocol';
import { opusRtpParameters, vp8RtpParameters } from '../helpers/client.js';

// What a real client sent: Chromium 156 with mediasoup-client 3.18.7 and the SDK (a host page
// going live with simulcast camera and microphone, a viewer page joining), recorded on the server
// before parsing. Ids and fingerprints are as they came.
const REAL = {
  join: {
    rtpCapabilities: {
      codecs: [
        {
          kind: 'audio',
          mimeType: 'audio/opus',
          preferredPayloadType: 100,
          clockRate: 48000,
          channels: 2,
          parameters: { minptime: 10, useinbandfec: 1 },
          rtcpFeedback: [
            { type: 'transport-cc', parameter: '' },
            { type: 'nack', parameter: '' },
          ],
        },
        {
          kind: 'video',
          mimeType: 'video/VP8',
          preferredPayloadType: 101,
          clockRate: 90000,
          parameters: {},
          rtcpFeedback: [
            { type: 'goog-remb', parameter: '' },
            { type: 'transport-cc', parameter: '' },
            { type: 'ccm', parameter: 'fir' },
            { type: 'nack', parameter: '' },
            { type: 'nack', parameter: 'pli' },
          ],
        },
        {
          kind: 'video',
          mimeType: 'video/rtx',
          preferredPayloadType: 102,
          clockRate: 90000,
          parameters: { apt: 101 },
          rtcpFeedback: [],
        },
        {
          kind: 'video',
          mimeType: 'video/H264',
          preferredPayloadType: 103,
          clockRate: 90000,
          parameters: {
            'level-asymmetry-allowed': 1,
            'packetization-mode': 1,
            'profile-level-id': '42e01f',
          },
          rtcpFeedback: [
            { type: 'goog-remb', parameter: '' },
            { type: 'transport-cc', parameter: '' },
            { type: 'ccm', parameter: 'fir' },
            { type: 'nack', parameter: '' },
            { type: 'nack', parameter: 'pli' },
          ],
        },
        {
          kind: 'video',
          mimeType: 'video/rtx',
          preferredPayloadType: 104,
          clockRate: 90000,
          parameters: { apt: 103 },
          rtcpFeedback: [],
        },
        {
          kind: 'video',
          mimeType: 'video/VP9',
          preferredPayloadType: 105,
          clockRate: 90000,
          parameters: { 'profile-id': 2 },
          rtcpFeedback: [
            { type: 'goog-remb', parameter: '' },
            { type: 'transport-cc', parameter: '' },
            { type: 'ccm', parameter: 'fir' },
            { type: 'nack', parameter: '' },
            { type: 'nack', parameter: 'pli' },
          ],
        },
        {
          kind: 'video',
          mimeType: 'video/rtx',
          preferredPayloadType: 106,
          clockRate: 90000,
          parameters: { apt: 105 },
          rtcpFeedback: [],
        },
      ],
      headerExtensions: [
        {
          kind: 'video',
          uri: 'urn:ietf:params:rtp-hdrext:sdes:mid',
          preferredId: 1,
          preferredEncrypt: false,
          direction: 'sendrecv',
        },
        {
          kind: 'video',
          uri: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
          preferredId: 4,
          preferredEncrypt: false,
          direction: 'sendrecv',
        },
        {
          kind: 'video',
          uri: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
          preferredId: 5,
          preferredEncrypt: false,
          direction: 'sendrecv',
        },
        {
          kind: 'audio',
          uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level',
          preferredId: 10,
          preferredEncrypt: false,
          direction: 'sendrecv',
        },
        {
          kind: 'video',
          uri: 'urn:3gpp:video-orientation',
          preferredId: 11,
          preferredEncrypt: false,
          direction: 'sendrecv',
        },
        {
          kind: 'video',
          uri: 'urn:ietf:params:rtp-hdrext:toffset',
          preferredId: 12,
          preferredEncrypt: false,
          direction: 'sendrecv',
        },
      ],
    },
  },
  connectTransport: {
    transportId: 'a2141a68-2e1c-4548-981e-fe27c4b31833',
    dtlsParameters: {
      role: 'client',
      fingerprints: [
        {
          algorithm: 'sha-256',
          value:
            'DE:5F:06:8A:3A:F7:7E:57:14:5C:6E:2A:0E:15:E0:B4:46:1E:E2:5F:6E:06:02:C8:7D:19:2C:31:AA:92:6E:C4',
        },
      ],
    },
  },
  produceCamera: {
    transportId: 'a2141a68-2e1c-4548-981e-fe27c4b31833',
    kind: 'video',
    rtpParameters: {
      mid: '0',
      codecs: [
        {
          mimeType: 'video/VP8',
          payloadType: 96,
          clockRate: 90000,
          parameters: {},
          rtcpFeedback: [
            { type: 'goog-remb', parameter: '' },
            { type: 'transport-cc', parameter: '' },
            { type: 'ccm', parameter: 'fir' },
            { type: 'nack', parameter: '' },
            { type: 'nack', parameter: 'pli' },
          ],
        },
        {
          mimeType: 'video/rtx',
          payloadType: 97,
          clockRate: 90000,
          parameters: { apt: 96 },
          rtcpFeedback: [],
        },
      ],
      headerExtensions: [
        { uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 9, encrypt: false, parameters: {} },
        {
          uri: 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
          id: 10,
          encrypt: false,
          parameters: {},
        },
        {
          uri: 'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
          id: 11,
          encrypt: false,
          parameters: {},
        },
        {
          uri: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
          id: 2,
          encrypt: false,
          parameters: {},
        },
        {
          uri: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
          id: 4,
          encrypt: false,
          parameters: {},
        },
        { uri: 'urn:3gpp:video-orientation', id: 3, encrypt: false, parameters: {} },
        { uri: 'urn:ietf:params:rtp-hdrext:toffset', id: 1, encrypt: false, parameters: {} },
        {
          uri: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time',
          id: 12,
          encrypt: false,
          parameters: {},
        },
      ],
      encodings: [
        {
          active: true,
          scalabilityMode: 'L1T3',
          scaleResolutionDownBy: 4,
          maxBitrate: 150000,
          rid: 'r0',
          dtx: false,
        },
        {
          active: true,
          scalabilityMode: 'L1T3',
          scaleResolutionDownBy: 2,
          maxBitrate: 500000,
          rid: 'r1',
          dtx: false,
        },
        {
          active: true,
          scalabilityMode: 'L1T3',
          scaleResolutionDownBy: 1,
          maxBitrate: 1500000,
          rid: 'r2',
          dtx: false,
        },
      ],
      rtcp: { cname: '', reducedSize: true },
      msid: 'f75a3f82-afac-40ae-aef1-c1d84a089e07 17d81c5f-3a9e-4ac1-b230-77b29c93f6c0',
    },
    source: 'camera',
  },
  produceMicrophone: {
    transportId: 'a2141a68-2e1c-4548-981e-fe27c4b31833',
    kind: 'audio',
    rtpParameters: {
      mid: '1',
      codecs: [
        {
          mimeType: 'audio/opus',
          payloadType: 111,
          clockRate: 48000,
          channels: 2,
          parameters: { minptime: 10, useinbandfec: 1, usedtx: 1 },
          rtcpFeedback: [{ type: 'transport-cc', parameter: '' }],
        },
      ],
      headerExtensions: [
        { uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 9, encrypt: false, parameters: {} },
        {
          uri: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
          id: 2,
          encrypt: false,
          parameters: {},
        },
        {
          uri: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
          id: 4,
          encrypt: false,
          parameters: {},
        },
        {
          uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level',
          id: 12,
          encrypt: false,
          parameters: {},
        },
        {
          uri: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time',
          id: 5,
          encrypt: false,
          parameters: {},
        },
      ],
      encodings: [{ ssrc: 1615189813, dtx: false }],
      rtcp: { cname: 'KkEgwR7IGZKSshLn', reducedSize: true },
      msid: 'f75a3f82-afac-40ae-aef1-c1d84a089e07 85e6bc64-7249-459e-be98-d175e0c49585',
    },
    source: 'microphone',
  },
};

type Path = (string | number)[];

/** Every plain object inside `value` (the root too), by path. */
function objectPaths(value: unknown, path: Path = []): Path[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => objectPaths(item, [...path, i]));
  if (value === null || typeof value !== 'object') return [];
  return [
    path,
    ...Object.entries(value).flatMap(([key, child]) => objectPaths(child, [...path, key])),
  ];
}

/** A deep copy of `payload` with `value` set at `path` (undefined deletes). */
function withAt(payload: unknown, path: Path, value: unknown): unknown {
  const copy = structuredClone(payload);
  let node = copy as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path.at(-1)!;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy;
}

function refused(schema: z.ZodType, payload: unknown, what: string): z.core.$ZodIssue[] {
  const result = schema.safeParse(payload);
  assert.equal(result.success, false, `${what} was accepted`);
  return result.error!.issues;
}

const CASES: [string, z.ZodType, unknown][] = [
  ['join', joinSchema, REAL.join],
  ['connectTransport', connectTransportSchema, REAL.connectTransport],
  ['produce (camera, simulcast)', produceSchema, REAL.produceCamera],
  ['produce (microphone)', produceSchema, REAL.produceMicrophone],
];

describe('signaling schemas', function () {
  describe('what the real client sends passes, untouched', function () {
    for (const [name, schema, payload] of CASES) {
      it(name, function () {
        const result = schema.safeParse(payload);
        assert.ok(result.success, JSON.stringify(result.error?.issues));
        assert.deepEqual(result.data, payload, 'nothing dropped or changed');
      });
    }

    it("mediasoup's own capabilities and the test helpers' RTP parameters pass", function () {
      const caps = mediasoup.getSupportedRtpCapabilities();
      assert.ok(joinSchema.safeParse({ rtpCapabilities: caps }).success);
      for (const [kind, rtpParameters] of [
        ['video', vp8RtpParameters()],
        ['audio', opusRtpParameters()],
      ] as const) {
        const source = kind === 'video' ? 'camera' : 'microphone';
        const result = produceSchema.safeParse({ transportId: 't', kind, rtpParameters, source });
        assert.ok(result.success, JSON.stringify(result.error?.issues));
      }
    });
  });

  describe('an unknown field is refused at every depth', function () {
    for (const [name, schema, payload] of CASES) {
      it(name, function () {
        // Codec and header extension `parameters` are open maps (any fmtp key): not objects
        // with a fixed set of fields.
        const paths = objectPaths(payload).filter((path) => path.at(-1) !== 'parameters');
        assert.ok(paths.length >= 3, 'nested objects to try');
        for (const path of paths) {
          const issues = refused(schema, withAt(payload, [...path, 'sneaky'], 1), path.join('.'));
          assert.equal(issues[0]?.code, 'unrecognized_keys', path.join('.'));
          assert.deepEqual(issues[0]?.path, path);
        }
      });
    }
  });

  describe('everything is bounded', function () {
    const caps = REAL.join;
    const cam = REAL.produceCamera;
    const dtls = REAL.connectTransport;
    const codec = caps.rtpCapabilities.codecs[0];
    const manyKeys = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i]));
    const bad: [string, z.ZodType, unknown][] = [
      [
        '129 codec capabilities',
        joinSchema,
        withAt(caps, ['rtpCapabilities', 'codecs'], Array(129).fill(codec)),
      ],
      [
        '65 header extension capabilities',
        joinSchema,
        withAt(
          caps,
          ['rtpCapabilities', 'headerExtensions'],
          Array(65).fill(caps.rtpCapabilities.headerExtensions[0]),
        ),
      ],
      [
        'a mimeType that is not audio/… or video/…',
        joinSchema,
        withAt(caps, ['rtpCapabilities', 'codecs', 0, 'mimeType'], 'application/x'),
      ],
      [
        'a 100-character mimeType',
        joinSchema,
        withAt(caps, ['rtpCapabilities', 'codecs', 0, 'mimeType'], `video/${'x'.repeat(100)}`),
      ],
      [
        'preferredPayloadType 128',
        joinSchema,
        withAt(caps, ['rtpCapabilities', 'codecs', 0, 'preferredPayloadType'], 128),
      ],
      [
        'clockRate 1.5',
        joinSchema,
        withAt(caps, ['rtpCapabilities', 'codecs', 0, 'clockRate'], 1.5),
      ],
      ['9 channels', joinSchema, withAt(caps, ['rtpCapabilities', 'codecs', 0, 'channels'], 9)],
      [
        '33 codec parameters',
        joinSchema,
        withAt(caps, ['rtpCapabilities', 'codecs', 0, 'parameters'], manyKeys),
      ],
      [
        'an object as a codec parameter',
        joinSchema,
        withAt(caps, ['rtpCapabilities', 'codecs', 0, 'parameters', 'apt'], { a: 1 }),
      ],
      [
        'a 300-character codec parameter',
        joinSchema,
        withAt(caps, ['rtpCapabilities', 'codecs', 0, 'parameters', 'x'], 'x'.repeat(300)),
      ],
      [
        '33 rtcpFeedback entries',
        joinSchema,
        withAt(
          caps,
          ['rtpCapabilities', 'codecs', 0, 'rtcpFeedback'],
          Array(33).fill({ type: 'nack' }),
        ),
      ],
      [
        'header extension direction "both"',
        joinSchema,
        withAt(caps, ['rtpCapabilities', 'headerExtensions', 0, 'direction'], 'both'),
      ],
      [
        'header extension preferredId 0',
        joinSchema,
        withAt(caps, ['rtpCapabilities', 'headerExtensions', 0, 'preferredId'], 0),
      ],
      [
        'a 300-character header extension uri',
        joinSchema,
        withAt(caps, ['rtpCapabilities', 'headerExtensions', 0, 'uri'], `urn:${'x'.repeat(300)}`),
      ],
      ['an empty mid', produceSchema, withAt(cam, ['rtpParameters', 'mid'], '')],
      ['a 33-character mid', produceSchema, withAt(cam, ['rtpParameters', 'mid'], 'm'.repeat(33))],
      ['no codecs', produceSchema, withAt(cam, ['rtpParameters', 'codecs'], [])],
      [
        '33 codecs',
        produceSchema,
        withAt(cam, ['rtpParameters', 'codecs'], Array(33).fill(cam.rtpParameters.codecs[0])),
      ],
      [
        'header extension id 256',
        produceSchema,
        withAt(cam, ['rtpParameters', 'headerExtensions', 0, 'id'], 256),
      ],
      [
        '33 header extensions',
        produceSchema,
        withAt(
          cam,
          ['rtpParameters', 'headerExtensions'],
          Array(33).fill(cam.rtpParameters.headerExtensions[0]),
        ),
      ],
      [
        '5 encodings',
        produceSchema,
        withAt(cam, ['rtpParameters', 'encodings'], Array(5).fill(cam.rtpParameters.encodings[0])),
      ],
      ['ssrc 2^32', produceSchema, withAt(cam, ['rtpParameters', 'encodings', 0, 'ssrc'], 2 ** 32)],
      [
        'rtx ssrc -1',
        produceSchema,
        withAt(cam, ['rtpParameters', 'encodings', 0, 'rtx'], { ssrc: -1 }),
      ],
      [
        'a rid with a space',
        produceSchema,
        withAt(cam, ['rtpParameters', 'encodings', 0, 'rid'], 'r 0'),
      ],
      [
        'a 33-character rid',
        produceSchema,
        withAt(cam, ['rtpParameters', 'encodings', 0, 'rid'], 'r'.repeat(33)),
      ],
      [
        'scalabilityMode "fast"',
        produceSchema,
        withAt(cam, ['rtpParameters', 'encodings', 0, 'scalabilityMode'], 'fast'),
      ],
      [
        'codecPayloadType 300',
        produceSchema,
        withAt(cam, ['rtpParameters', 'encodings', 0, 'codecPayloadType'], 300),
      ],
      [
        'scaleResolutionDownBy 0.5',
        produceSchema,
        withAt(cam, ['rtpParameters', 'encodings', 0, 'scaleResolutionDownBy'], 0.5),
      ],
      [
        'maxBitrate 10^12',
        produceSchema,
        withAt(cam, ['rtpParameters', 'encodings', 0, 'maxBitrate'], 1e12),
      ],
      [
        'maxFramerate 0',
        produceSchema,
        withAt(cam, ['rtpParameters', 'encodings', 0, 'maxFramerate'], 0),
      ],
      [
        'priority "urgent"',
        produceSchema,
        withAt(cam, ['rtpParameters', 'encodings', 0, 'priority'], 'urgent'),
      ],
      [
        'networkPriority 1',
        produceSchema,
        withAt(cam, ['rtpParameters', 'encodings', 0, 'networkPriority'], 1),
      ],
      [
        'active "yes"',
        produceSchema,
        withAt(cam, ['rtpParameters', 'encodings', 0, 'active'], 'yes'),
      ],
      [
        'a 257-character cname',
        produceSchema,
        withAt(cam, ['rtpParameters', 'rtcp', 'cname'], 'c'.repeat(257)),
      ],
      ['rtcp mux "true"', produceSchema, withAt(cam, ['rtpParameters', 'rtcp', 'mux'], 'true')],
      [
        'a 200-character msid',
        produceSchema,
        withAt(cam, ['rtpParameters', 'msid'], 'm'.repeat(200)),
      ],
      [
        'no fingerprints',
        connectTransportSchema,
        withAt(dtls, ['dtlsParameters', 'fingerprints'], []),
      ],
      [
        '9 fingerprints',
        connectTransportSchema,
        withAt(
          dtls,
          ['dtlsParameters', 'fingerprints'],
          Array(9).fill(dtls.dtlsParameters.fingerprints[0]),
        ),
      ],
      [
        'fingerprint algorithm md5',
        connectTransportSchema,
        withAt(dtls, ['dtlsParameters', 'fingerprints', 0, 'algorithm'], 'md5'),
      ],
      [
        'a fingerprint that is not hex pairs',
        connectTransportSchema,
        withAt(dtls, ['dtlsParameters', 'fingerprints', 0, 'value'], 'not hex'),
      ],
      [
        'a 65-byte fingerprint',
        connectTransportSchema,
        withAt(
          dtls,
          ['dtlsParameters', 'fingerprints', 0, 'value'],
          Array(65).fill('AB').join(':'),
        ),
      ],
      [
        'DTLS role "both"',
        connectTransportSchema,
        withAt(dtls, ['dtlsParameters', 'role'], 'both'),
      ],
    ];
    for (const [name, schema, payload] of bad) {
      it(`refuses ${name}`, function () {
        refused(schema, payload, name);
      });
    }

    it('takes a sha-512 fingerprint (64 bytes, the longest)', function () {
      const value = Array(64).fill('AB').join(':');
      const payload = withAt(dtls, ['dtlsParameters', 'fingerprints', 0], {
        algorithm: 'sha-512',
        value,
      });
      assert.ok(connectTransportSchema.safeParse(payload).success);
    });
  });
});

describe('chat text and data topics', function () {
  // Each reorders or breaks what follows it on screen, or is invisible control.
  const hostile = {
    'a bell': '\u0007',
    'a right-to-left override': '\u202e',
    'a left-to-right isolate': '\u2066',
    'a right-to-left isolate': '\u2067',
    'a first-strong isolate': '\u2068',
    'a pop directional isolate': '\u2069',
    'a line separator': '\u2028',
    'a paragraph separator': '\u2029',
  };
  for (const [name, character] of Object.entries(hostile)) {
    it(`refuses ${name} in a chat message and in a data topic`, function () {
      assert.equal(sendChatMessageSchema.safeParse({ text: `hi ${character}x` }).success, false);
      const data = { topic: `poll${character}`, payload: 'x' };
      assert.equal(sendDataSchema.safeParse(data).success, false);
    });
  }

  it('takes tabs and newlines in chat, and plain topics', function () {
    assert.ok(sendChatMessageSchema.safeParse({ text: 'a\tb\nc\r\nd' }).success);
    assert.ok(
      sendDataSchema.safeParse({ topic: 'poll-1 ✓', payload: '\u2028 in a payload' }).success,
    );
  });
});
