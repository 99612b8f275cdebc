/* Intentionally empty: mediasoup links these shims whole; the real code comes from system libraries. */
