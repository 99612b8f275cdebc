// The admin REST API as the dashboard uses it: every request carries HTTP Basic auth
// (user = API key, password = API secret).

export class AdminApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class AdminApi {
  constructor(apiKey, apiSecret) {
    this.authorization = `Basic ${base64(`${apiKey}:${apiSecret}`)}`;
  }

  /** GETs `path` and returns its JSON body; any other answer than 2xx throws AdminApiError. */
  async get(path) {
    const response = await fetch(path, {
      headers: { Authorization: this.authorization, Accept: 'application/json' },
      cache: 'no-store',
      // Without this a 401 (it carries WWW-Authenticate: Basic) opens the browser's own login
      // prompt, and the request waits on it; the page's form asks instead.
      credentials: 'omit',
    });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const error = body && body.error ? body.error : {};
      throw new AdminApiError(
        response.status,
        error.code || 'HTTP_' + response.status,
        error.message || response.statusText,
      );
    }
    return body;
  }

  rooms() {
    return this.get('/api/rooms');
  }

  quality(room) {
    return this.get(`/api/rooms/${encodeURIComponent(room)}/quality`);
  }

  participants(room) {
    return this.get(`/api/rooms/${encodeURIComponent(room)}/participants`);
  }
}

/** Base64 of the UTF-8 bytes (btoa alone only takes Latin-1). */
function base64(text) {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}
