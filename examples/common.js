// Shared by the example pages: settings from the URL and a development token from the server.
export function roomFromUrl() {
  return paramFromUrl('room') || 'demo';
}

export function paramFromUrl(name) {
  return new URLSearchParams(location.search).get(name) || '';
}

/**
 * Where to connect: this page's own server, then any other nodes of the cluster listed in
 * `?nodes=http://a:3001,http://b:3002` (the SDK moves to the next one if its node dies).
 */
export function serverUrls() {
  const others = paramFromUrl('nodes')
    .split(',')
    .map((url) => url.trim())
    .filter((url) => url && url !== location.origin);
  return others.length > 0 ? [location.origin, ...others] : location.origin;
}

export async function devToken(room, role, name = '') {
  const query = new URLSearchParams({ room, role });
  if (name) query.set('name', name);
  const response = await fetch(`/api/dev/token?${query}`);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
  return body.token;
}

export function layerName(layer) {
  if (!layer || layer.spatial === null) return 'paused';
  return ['low', 'medium', 'high'][layer.spatial] || `layer ${layer.spatial}`;
}
