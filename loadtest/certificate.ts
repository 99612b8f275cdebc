import { X509Certificate } from 'node:crypto';
import {
  CipherContext,
  HashAlgorithm,
  NamedCurveAlgorithm,
  SignatureAlgorithm,
  type SignatureHash,
} from 'werift';
import type { DtlsParameters } from '@livestage/protocol';

/** A self-signed ECDSA P-256 certificate for DTLS, as browsers make one per peer connection. */
export interface DtlsCertificate {
  certPem: string;
  keyPem: string;
  signatureHash: SignatureHash;
  /** sha-256 of the DER certificate, "AB:CD:…", as SDP carries it. */
  fingerprint: string;
}

let shared: Promise<DtlsCertificate> | undefined;

/**
 * One certificate for every peer of this process: the server only checks that the handshake's
 * certificate matches the fingerprint sent with connectTransport, and making one per viewer
 * would cost CPU that the load tester needs for receiving.
 */
export function sharedCertificate(): Promise<DtlsCertificate> {
  shared ??= CipherContext.createSelfSignedCertificateWithKey(
    { signature: SignatureAlgorithm.ecdsa_3, hash: HashAlgorithm.sha256_4 },
    NamedCurveAlgorithm.secp256r1_23,
  ).then(({ certPem, keyPem, signatureHash }) => ({
    certPem,
    keyPem,
    signatureHash,
    fingerprint: new X509Certificate(certPem).fingerprint256,
  }));
  return shared;
}

/** Our side's DTLS parameters for connectTransport: we are the DTLS client. */
export function clientDtlsParameters(certificate: DtlsCertificate): DtlsParameters {
  return {
    role: 'client',
    fingerprints: [{ algorithm: 'sha-256', value: certificate.fingerprint }],
  };
}

/** True when `der` (the server's certificate from the handshake) has one of `expected`'s fingerprints. */
export function matchesFingerprint(der: Buffer, expected: DtlsParameters): boolean {
  const actual = new X509Certificate(der).fingerprint256.toLowerCase();
  return expected.fingerprints.some(
    (f) => f.algorithm === 'sha-256' && f.value.toLowerCase() === actual,
  );
}
