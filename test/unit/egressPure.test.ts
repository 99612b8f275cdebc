import assert from 'node:assert/strict';
import { compositeArgs, concatList, snapshotArgs } from '../../server/src/egress/ffmpegArgs.js';
import { roomFolder } from '../../server/src/egress/EgressInfo.js';
import { CANVAS, gridLayout, MAX_TILES } from '../../server/src/egress/layout.js';
import { writeSdp } from '../../server/src/egress/sdp.js';

function filterOf(args: string[]): string {
  return args[args.indexOf('-filter_complex') + 1]!;
}

describe('egress layout', function () {
  it('1 fills the canvas, 2 side by side, 3-4 a 2x2 grid, more a 3x3 grid', function () {
    assert.deepEqual(gridLayout(0), []);
    assert.deepEqual(gridLayout(1), [{ x: 0, y: 0, width: 1280, height: 720 }]);
    assert.deepEqual(gridLayout(2), [
      { x: 0, y: 0, width: 640, height: 720 },
      { x: 640, y: 0, width: 640, height: 720 },
    ]);
    assert.deepEqual(
      gridLayout(3).map(({ x, y }) => `${x}_${y}`),
      ['0_0', '640_0', '0_360'],
    );
    assert.deepEqual(
      gridLayout(4).map(({ width, height }) => `${width}x${height}`),
      Array(4).fill('640x360'),
    );
    const nine = gridLayout(9);
    assert.equal(nine.length, 9);
    assert.deepEqual(nine[8], { x: 852, y: 480, width: 426, height: 240 });
    assert.equal(gridLayout(14).length, MAX_TILES, 'capped');
  });

  it('every tile is even-sized and inside the canvas, none overlapping', function () {
    for (let count = 1; count <= MAX_TILES; count++) {
      const tiles = gridLayout(count);
      for (const [i, tile] of tiles.entries()) {
        assert.equal(tile.width % 2, 0);
        assert.equal(tile.height % 2, 0);
        assert.ok(tile.x + tile.width <= CANVAS.width && tile.y + tile.height <= CANVAS.height);
        for (const other of tiles.slice(i + 1)) {
          const apart =
            tile.x + tile.width <= other.x ||
            other.x + other.width <= tile.x ||
            tile.y + tile.height <= other.y ||
            other.y + other.height <= tile.y;
          assert.ok(apart, `${count}: tiles ${JSON.stringify(tile)} and ${JSON.stringify(other)}`);
        }
      }
    }
  });
});

describe('egress SDP', function () {
  it('one m-line per stream, in order, with the codec, fmtp and RTCP port', function () {
    const sdp = writeSdp([
      {
        kind: 'video',
        port: 40000,
        rtcpPort: 40001,
        payloadType: 101,
        mimeType: 'video/VP8',
        clockRate: 90000,
      },
      {
        kind: 'video',
        port: 40010,
        rtcpPort: 40011,
        payloadType: 107,
        mimeType: 'video/H264',
        clockRate: 90000,
        parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f' },
      },
      {
        kind: 'audio',
        port: 40020,
        rtcpPort: 40021,
        payloadType: 100,
        mimeType: 'audio/opus',
        clockRate: 48000,
        channels: 2,
        parameters: { useinbandfec: 1 },
      },
    ]);
    assert.ok(sdp.endsWith('\r\n'));
    const lines = sdp.trimEnd().split('\r\n');
    assert.deepEqual(lines.slice(0, 5), [
      'v=0',
      'o=- 0 0 IN IP4 127.0.0.1',
      's=livestage',
      'c=IN IP4 127.0.0.1',
      't=0 0',
    ]);
    assert.deepEqual(lines.slice(5), [
      'm=video 40000 RTP/AVP 101',
      'a=rtpmap:101 VP8/90000',
      'a=rtcp:40001',
      'a=recvonly',
      'm=video 40010 RTP/AVP 107',
      'a=rtpmap:107 H264/90000',
      'a=fmtp:107 packetization-mode=1;profile-level-id=42e01f',
      'a=rtcp:40011',
      'a=recvonly',
      'm=audio 40020 RTP/AVP 100',
      'a=rtpmap:100 opus/48000/2',
      'a=fmtp:100 useinbandfec=1',
      'a=rtcp:40021',
      'a=recvonly',
    ]);
  });
});

describe('egress ffmpeg arguments', function () {
  const base = { sdpPath: '/tmp/s.sdp', videoBitrate: 2_500_000, segmentSeconds: 2 };
  const hls = { kind: 'hls' as const, dir: '/hls/r', continued: false, listSize: 6 };

  it('one video: scaled to the canvas; one audio resampled; HLS with 2-s keyframes', function () {
    const args = compositeArgs({ ...base, videos: 1, audios: 1, output: hls });
    assert.equal(
      filterOf(args),
      '[0:v:0]fps=30,scale=1280:720:force_original_aspect_ratio=decrease,' +
        'pad=1280:720:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p[v];[0:a:0]aresample=async=1000[a]',
    );
    const joined = args.join(' ');
    assert.match(joined, /-protocol_whitelist file,udp,rtp .*-i \/tmp\/s\.sdp/);
    assert.match(joined, /-c:v libx264 .*-g 60 -keyint_min 60 /);
    assert.match(joined, /-force_key_frames expr:gte\(t,n_forced\*2\)/);
    assert.match(joined, /-b:v 2500000 /);
    assert.match(joined, /-c:a aac /);
    assert.match(joined, /-f hls -hls_time 2 -hls_list_size 6 /);
    assert.ok(args.includes('/hls/r/seg_%05d.ts') && args.at(-1) === '/hls/r/index.m3u8');
    const flags = args[args.indexOf('-hls_flags') + 1]!;
    assert.ok(flags.includes('omit_endlist') && flags.includes('delete_segments'));
    assert.ok(!flags.includes('append_list'), 'a fresh playlist on the first run');
    const next = compositeArgs({
      ...base,
      videos: 1,
      audios: 1,
      output: { ...hls, continued: true },
    });
    assert.ok(next[next.indexOf('-hls_flags') + 1]!.includes('append_list'), 'then continued');
  });

  it('three videos in a 2x2 xstack padded to the canvas, three audios mixed', function () {
    const filter = filterOf(compositeArgs({ ...base, videos: 3, audios: 3, output: hls }));
    assert.match(filter, /\[0:v:2\]fps=30,scale=640:360:/);
    assert.match(
      filter,
      /\[v0\]\[v1\]\[v2\]xstack=inputs=3:layout=0_0\|640_0\|0_360:fill=black,pad=1280:720:0:0:black,format=yuv420p\[v\]/,
    );
    assert.match(
      filter,
      /\[a0\]\[a1\]\[a2\]amix=inputs=3:duration=longest:dropout_transition=0:normalize=0\[a\]/,
    );
  });

  it('makes a black picture without video and silence without audio', function () {
    const audioOnly = compositeArgs({ ...base, videos: 0, audios: 1, output: hls });
    assert.match(audioOnly.join(' '), /-re -f lavfi -i color=c=black:s=1280x720:r=30/);
    assert.match(filterOf(audioOnly), /^\[1:v\]format=yuv420p\[v\];\[0:a:0\]/);
    const videoOnly = compositeArgs({ ...base, videos: 2, audios: 0, output: hls });
    assert.match(videoOnly.join(' '), /-re -f lavfi -i anullsrc=r=48000:cl=stereo/);
    assert.match(filterOf(videoOnly), /\[1:a\]anull\[a\]$/);
    assert.throws(() => compositeArgs({ ...base, videos: 0, audios: 0, output: hls }));
    assert.throws(() => compositeArgs({ ...base, videos: 10, audios: 0, output: hls }));
  });

  it('a recording is a fragmented MP4 with global headers', function () {
    const args = compositeArgs({
      ...base,
      videos: 1,
      audios: 1,
      output: { kind: 'mp4', file: '/rec/p.mp4' },
    });
    assert.deepEqual(args.slice(-7), [
      '-flags',
      '+global_header',
      '-f',
      'mp4',
      '-movflags',
      '+frag_keyframe+empty_moov+default_base_moof',
      '/rec/p.mp4',
    ]);
  });

  it('snapshots: one JPEG per interval, replaced atomically', function () {
    const joined = snapshotArgs('/t/s.sdp', '/snap/r/a.jpg', 5000).join(' ');
    assert.match(
      joined,
      /-i \/t\/s\.sdp -map 0:v:0 -vf fps=1000\/5000 -q:v 4 -update 1 -atomic_writing 1 -f image2 \/snap\/r\/a\.jpg$/,
    );
  });

  it('the concat list quotes file names, a room folder never names a parent', function () {
    assert.equal(
      concatList(['/a/b.mp4', "/a/it's.mp4"]),
      "file '/a/b.mp4'\nfile '/a/it'\\''s.mp4'\n",
    );
    assert.equal(roomFolder('..'), '%2E.');
    assert.equal(roomFolder('.'), '%2E');
    assert.equal(roomFolder('a.b'), 'a.b');
  });
});
