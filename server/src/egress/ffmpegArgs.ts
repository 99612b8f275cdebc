import { CANVAS, gridLayout, MAX_TILES } from './layout.js';

/** The composite's frame rate: every input is resampled to it (absorbs jittery WebRTC rates). */
export const COMPOSITE_FPS = 30;

/**
 * How ffmpeg reads the SDP: short probing (the decoder takes the size from the first keyframe,
 * which the SFU is asked for once ffmpeg listens), and a dead input ends after 3 s instead of 10
 * (an input that stops sending stalls the whole composite until then).
 */
const RTP_INPUT = [
  '-protocol_whitelist',
  'file,udp,rtp',
  '-analyzeduration',
  '300000',
  '-probesize',
  '65536',
  '-fflags',
  'nobuffer',
  '-listen_timeout',
  '3',
];

const COMMON = ['-hide_banner', '-nostdin', '-y', '-loglevel', 'info'];

export interface HlsOutput {
  kind: 'hls';
  dir: string;
  /** A previous run wrote to this playlist: it goes on after a discontinuity. */
  continued: boolean;
  listSize: number;
}

export interface Mp4Output {
  kind: 'mp4';
  file: string;
}

export interface CompositeOptions {
  sdpPath: string;
  /** Video and audio m-lines in the SDP (videos are the grid's tiles, in order). */
  videos: number;
  audios: number;
  /** H.264 bits/s. */
  videoBitrate: number;
  /** Keyframe interval and HLS segment length. */
  segmentSeconds: number;
  output: HlsOutput | Mp4Output;
}

/**
 * ffmpeg's arguments for the stage composite: the videos in a grid on 1280x720, every audio
 * mixed, H.264 + AAC, into an HLS playlist or a fragmented MP4 (playable even if ffmpeg dies).
 * With no video a black picture is made, with no audio silence, so the output always has both.
 */
export function compositeArgs(options: CompositeOptions): string[] {
  const { videos, audios, segmentSeconds } = options;
  if (videos > MAX_TILES) throw new Error(`at most ${MAX_TILES} videos`);
  if (videos + audios === 0) throw new Error('nothing to composite');
  const inputs = [...RTP_INPUT, '-i', options.sdpPath];
  // Inputs after the SDP (index 0): a black picture, then silence, when needed.
  const blackInput = videos === 0 ? 1 : undefined;
  const silenceInput = audios === 0 ? (blackInput ?? 0) + 1 : undefined;
  if (blackInput !== undefined) {
    const black = `color=c=black:s=${CANVAS.width}x${CANVAS.height}:r=${COMPOSITE_FPS}`;
    inputs.push('-re', '-f', 'lavfi', '-i', black);
  }
  if (silenceInput !== undefined) {
    inputs.push('-re', '-f', 'lavfi', '-i', 'anullsrc=r=48000:cl=stereo');
  }
  const filters = [...videoFilters(videos, blackInput), ...audioFilters(audios, silenceInput)];
  const gop = String(segmentSeconds * COMPOSITE_FPS);
  const bitrate = String(options.videoBitrate);
  const encode = [
    ...['-map', '[v]', '-map', '[a]'],
    ...['-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-profile:v', 'high'],
    ...['-pix_fmt', 'yuv420p', '-r', String(COMPOSITE_FPS), '-g', gop, '-keyint_min', gop],
    ...['-sc_threshold', '0', '-force_key_frames', `expr:gte(t,n_forced*${segmentSeconds})`],
    ...['-b:v', bitrate, '-maxrate', bitrate, '-bufsize', bitrate],
    ...['-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2'],
  ];
  return [
    ...COMMON,
    ...inputs,
    '-filter_complex',
    filters.join(';'),
    ...encode,
    ...outputArgs(options.output, segmentSeconds),
  ];
}

function videoFilters(videos: number, blackInput: number | undefined): string[] {
  if (blackInput !== undefined) return [`[${blackInput}:v]format=yuv420p[v]`];
  const tiles = gridLayout(videos);
  const fitted = tiles.map(
    ({ width, height }, index) =>
      `[0:v:${index}]fps=${COMPOSITE_FPS},` +
      `scale=${width}:${height}:force_original_aspect_ratio=decrease,` +
      `pad=${width}:${height}:(ow-iw)/2:(oh-ih)/2,setsar=1` +
      (tiles.length === 1 ? ',format=yuv420p[v]' : `[v${index}]`),
  );
  if (tiles.length === 1) return fitted;
  const labels = tiles.map((_, index) => `[v${index}]`).join('');
  const positions = tiles.map(({ x, y }) => `${x}_${y}`).join('|');
  // xstack sizes its output from the tiles; an incomplete grid is padded to the canvas.
  return [
    ...fitted,
    `${labels}xstack=inputs=${tiles.length}:layout=${positions}:fill=black,` +
      `pad=${CANVAS.width}:${CANVAS.height}:0:0:black,format=yuv420p[v]`,
  ];
}

function audioFilters(audios: number, silenceInput: number | undefined): string[] {
  if (silenceInput !== undefined) return [`[${silenceInput}:a]anull[a]`];
  // Plain async resampling: `first_pts=0` here makes amix emit non-monotonous timestamps.
  const resampled = Array.from(
    { length: audios },
    (_, index) => `[0:a:${index}]aresample=async=1000` + (audios === 1 ? '[a]' : `[a${index}]`),
  );
  if (audios === 1) return resampled;
  const labels = resampled.map((_, index) => `[a${index}]`).join('');
  return [
    ...resampled,
    `${labels}amix=inputs=${audios}:duration=longest:dropout_transition=0:normalize=0[a]`,
  ];
}

function outputArgs(output: HlsOutput | Mp4Output, segmentSeconds: number): string[] {
  if (output.kind === 'mp4') {
    // Fragmented: every fragment stands alone, so a killed ffmpeg still leaves a playable file.
    return [
      ...['-flags', '+global_header', '-f', 'mp4'],
      ...['-movflags', '+frag_keyframe+empty_moov+default_base_moof', output.file],
    ];
  }
  // append_list: a restarted ffmpeg (new layout, crash) continues the playlist and its numbering,
  // after an EXT-X-DISCONTINUITY. Not on the first run: on a fresh list it starts with one too.
  const flags = [
    'delete_segments',
    'independent_segments',
    'program_date_time',
    'omit_endlist',
    ...(output.continued ? ['append_list'] : []),
  ].join('+');
  return [
    ...['-f', 'hls', '-hls_time', String(segmentSeconds)],
    ...['-hls_list_size', String(output.listSize), '-hls_flags', flags],
    ...['-hls_segment_filename', `${output.dir}/seg_%05d.ts`, `${output.dir}/index.m3u8`],
  ];
}

/** One JPEG of the track every `intervalMs`, replaced in place (atomically: temp file + rename). */
export function snapshotArgs(sdpPath: string, file: string, intervalMs: number): string[] {
  return [
    ...COMMON,
    ...RTP_INPUT.slice(0, -2),
    ...['-i', sdpPath, '-map', '0:v:0', '-vf', `fps=1000/${intervalMs}`, '-q:v', '4'],
    ...['-update', '1', '-atomic_writing', '1', '-f', 'image2', file],
  ];
}

/** Joins the pieces a recording was cut into (one per layout) into one MP4, without re-encoding. */
export function concatArgs(listFile: string, file: string): string[] {
  return [
    ...COMMON,
    ...[
      '-f',
      'concat',
      '-safe',
      '0',
      '-i',
      listFile,
      '-c',
      'copy',
      '-movflags',
      '+faststart',
      file,
    ],
  ];
}

/** The concat demuxer's list: one `file '…'` line each, quotes escaped. */
export function concatList(files: readonly string[]): string {
  return files.map((file) => `file '${file.replace(/'/g, "'\\''")}'\n`).join('');
}
