import { LiveStageError } from './errors.js';
import type { PublishOptions } from './tracks/LocalTrack.js';
import { SIMULCAST_ENCODINGS, VIDEO_RESOLUTIONS, type VideoResolution } from './video.js';

export interface PublishCameraOptions {
  resolution?: VideoResolution;
  simulcast?: boolean;
  deviceId?: string;
}

/** How a camera goes out: simulcast unless turned off, starting at a bitrate that shows faces. */
export function cameraPublishOptions(simulcast = true): PublishOptions {
  return {
    encodings: simulcast ? SIMULCAST_ENCODINGS : undefined,
    codecOptions: { videoGoogleStartBitrate: 1000 },
  };
}

export function microphonePublishOptions(): PublishOptions {
  return { codecOptions: { opusDtx: true, opusFec: true } };
}

export async function cameraTrack(options: PublishCameraOptions): Promise<MediaStreamTrack> {
  const resolution = VIDEO_RESOLUTIONS[options.resolution ?? '720p'];
  const stream = await navigator.mediaDevices.getUserMedia({
    video: {
      width: { ideal: resolution.width },
      height: { ideal: resolution.height },
      frameRate: { ideal: 30 },
      ...(options.deviceId ? { deviceId: { exact: options.deviceId } } : {}),
    },
  });
  const track = stream.getVideoTracks()[0];
  if (!track) throw new LiveStageError('UNSUPPORTED', 'no camera track');
  return track;
}

export async function microphoneTrack(options: { deviceId?: string }): Promise<MediaStreamTrack> {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: {
      echoCancellation: true,
      noiseSuppression: true,
      ...(options.deviceId ? { deviceId: { exact: options.deviceId } } : {}),
    },
  });
  const track = stream.getAudioTracks()[0];
  if (!track) throw new LiveStageError('UNSUPPORTED', 'no microphone track');
  return track;
}

export async function screenTrack(): Promise<MediaStreamTrack> {
  const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
  const track = stream.getVideoTracks()[0];
  if (!track) throw new LiveStageError('UNSUPPORTED', 'no screen track');
  return track;
}
