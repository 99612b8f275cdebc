import type { types } from 'mediasoup-client';

export type VideoResolution = '180p' | '360p' | '720p' | '1080p';

export const VIDEO_RESOLUTIONS: Record<VideoResolution, { width: number; height: number }> = {
  '180p': { width: 320, height: 180 },
  '360p': { width: 640, height: 360 },
  '720p': { width: 1280, height: 720 },
  '1080p': { width: 1920, height: 1080 },
};

/** Three spatial layers (¼, ½, full size), each with three temporal layers. */
export const SIMULCAST_ENCODINGS: types.RtpEncodingParameters[] = [
  { rid: 'r0', scaleResolutionDownBy: 4, maxBitrate: 150_000, scalabilityMode: 'L1T3' },
  { rid: 'r1', scaleResolutionDownBy: 2, maxBitrate: 500_000, scalabilityMode: 'L1T3' },
  { rid: 'r2', scaleResolutionDownBy: 1, maxBitrate: 1_500_000, scalabilityMode: 'L1T3' },
];
