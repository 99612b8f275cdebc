import type { types } from 'mediasoup';
import type {
  DtlsParameters,
  IceCandidate,
  RtpCapabilities,
  RtpParameters,
} from '@livestage/protocol';

// mediasoup 3.12 (server) and mediasoup-client 3.18 describe the same JSON with slightly
// different TypeScript types (plain strings where the client has literal unions). These casts are
// the one place the two meet; the values themselves pass through untouched.
export const toWire = {
  rtpCapabilities: (value: types.RtpCapabilities) => value as unknown as RtpCapabilities,
  rtpParameters: (value: types.RtpParameters) => value as unknown as RtpParameters,
  dtlsParameters: (value: types.DtlsParameters) => value as unknown as DtlsParameters,
  iceCandidates: (value: types.IceCandidate[]) => value as unknown as IceCandidate[],
};
