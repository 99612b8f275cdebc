// Shared by the example pages: room name from the URL and a development token from the server.
export function roomFromUrl() {
  return new URLSearchParams(location.search).get('room') || 'demo';
}

export async function devToken(room, role) {
  const response = await fetch(`/api/dev/token?room=${encodeURIComponent(room)}&role=${role}`);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
  return body.token;
}

export function layerName(layer) {
  if (!layer || layer.spatial === null) return 'paused';
  return ['low', 'medium', 'high'][layer.spatial] || `layer ${layer.spatial}`;
}
