/** Where one stage member's video goes in the composite picture. */
export interface Tile {
  x: number;
  y: number;
  width: number;
  height: number;
}

export const CANVAS = { width: 1280, height: 720 } as const;

/** Past this many videos the grid stays 3x3: the rest are heard but not shown. */
export const MAX_TILES = 9;

/**
 * The grid for `count` videos on the 1280x720 canvas: 1 fills it, 2 side by side, 3-4 a 2x2
 * grid, 5 or more a 3x3 grid (capped at MAX_TILES). Sizes are even (yuv420p needs it).
 */
export function gridLayout(count: number): Tile[] {
  const shown = Math.max(0, Math.min(count, MAX_TILES));
  if (shown === 0) return [];
  const [columns, rows] =
    shown === 1 ? [1, 1] : shown === 2 ? [2, 1] : shown <= 4 ? [2, 2] : [3, 3];
  const width = even(CANVAS.width / columns);
  const height = even(CANVAS.height / rows);
  return Array.from({ length: shown }, (_, index) => ({
    x: (index % columns) * width,
    y: Math.floor(index / columns) * height,
    width,
    height,
  }));
}

function even(value: number): number {
  return Math.floor(value / 2) * 2;
}
