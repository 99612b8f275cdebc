/**
 * True for mediasoup's answer about an object the worker has already closed (its producer or
 * transport went away) when Node has not heard of the close yet: a race, not a failure.
 */
export function closedInWorker(error: unknown): boolean {
  return /Channel request handler with ID \S+ not found/.test(String(error));
}
