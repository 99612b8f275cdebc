// A small line chart on a <canvas>: the last `windowMs` of one series, with axis labels.
// Dependency-free on purpose: the pages load scripts from this origin only and have no build.

const AXIS_COLOR = '#5f6368';
const LABEL_COLOR = '#9aa0a6';
const GRID_COLOR = '#2a2f36';
const PADDING = { left: 56, right: 10, top: 10, bottom: 20 };
/** A sparkline in a table cell: no time axis. */
const COMPACT_PADDING = { left: 48, right: 6, top: 6, bottom: 6 };

export class LineChart {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{ color?: string, windowMs?: number, format?: (value: number) => string,
   *   minMax?: number, max?: number, ticks?: number[], step?: boolean, compact?: boolean }}
   *   options `format` writes a value for the axis; the y axis goes from 0 to `max` if given,
   *   else to at least `minMax`, so a flat low line is not blown up into noise. `ticks`: the
   *   values labelled (default 0, half, top); `step`: a staircase (for levels such as layers);
   *   `compact`: no time axis, for a table cell.
   */
  constructor(
    canvas,
    {
      color = '#8ab4f8',
      windowMs = 60_000,
      format = String,
      minMax = 1,
      max,
      ticks,
      step = false,
      compact = false,
    } = {},
  ) {
    this.canvas = canvas;
    this.color = color;
    this.windowMs = windowMs;
    this.format = format;
    this.minMax = minMax;
    this.max = max;
    this.ticks = ticks;
    this.step = step;
    this.padding = compact ? COMPACT_PADDING : PADDING;
    this.compact = compact;
    /** @type {{ at: number, value: number }[]} oldest first */
    this.points = [];
  }

  /** Adds a point (ignored unless newer than the last) and forgets those out of the window. */
  push(at, value) {
    const last = this.points[this.points.length - 1];
    if (last && at <= last.at) return false;
    this.points.push({ at, value });
    while (this.points.length > 0 && this.points[0].at < at - this.windowMs) this.points.shift();
    this.draw();
    return true;
  }

  get latest() {
    return this.points.length > 0 ? this.points[this.points.length - 1].value : undefined;
  }

  draw() {
    const { canvas } = this;
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    const scale = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || canvas.width;
    const height = canvas.clientHeight || canvas.height;
    if (canvas.width !== Math.round(width * scale)) canvas.width = Math.round(width * scale);
    if (canvas.height !== Math.round(height * scale)) canvas.height = Math.round(height * scale);
    ctx.setTransform(scale, 0, 0, scale, 0, 0);
    ctx.clearRect(0, 0, width, height);

    const padding = this.padding;
    const plot = {
      left: padding.left,
      top: padding.top,
      width: Math.max(1, width - padding.left - padding.right),
      height: Math.max(1, height - padding.top - padding.bottom),
    };
    const end = this.points.length > 0 ? this.points[this.points.length - 1].at : Date.now();
    const start = end - this.windowMs;
    const max = this.max ?? niceCeiling(Math.max(this.minMax, ...this.points.map((p) => p.value)));
    const x = (at) => plot.left + ((at - start) / this.windowMs) * plot.width;
    const y = (value) => plot.top + plot.height - (value / max) * plot.height;

    this.#drawAxes(ctx, plot, max, y);
    if (this.points.length === 0) return;
    ctx.strokeStyle = this.color;
    ctx.lineWidth = 2;
    ctx.lineJoin = 'round';
    ctx.beginPath();
    this.points.forEach((point, index) => {
      if (index === 0) ctx.moveTo(x(point.at), y(point.value));
      else if (this.step) {
        ctx.lineTo(x(point.at), y(this.points[index - 1].value));
        ctx.lineTo(x(point.at), y(point.value));
      } else ctx.lineTo(x(point.at), y(point.value));
    });
    ctx.stroke();
    const last = this.points[this.points.length - 1];
    ctx.fillStyle = this.color;
    ctx.beginPath();
    ctx.arc(x(last.at), y(last.value), 3, 0, Math.PI * 2);
    ctx.fill();
  }

  #drawAxes(ctx, plot, max, y) {
    ctx.font = `${this.compact ? 10 : 11}px system-ui, sans-serif`;
    ctx.fillStyle = LABEL_COLOR;
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    for (const value of this.ticks ?? [0, max / 2, max]) {
      ctx.strokeStyle = value === 0 ? AXIS_COLOR : GRID_COLOR;
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(plot.left, Math.round(y(value)) + 0.5);
      ctx.lineTo(plot.left + plot.width, Math.round(y(value)) + 0.5);
      ctx.stroke();
      ctx.fillText(this.format(value), plot.left - 6, y(value));
    }
    if (this.compact) return;
    ctx.textBaseline = 'top';
    const bottom = plot.top + plot.height + 5;
    ctx.textAlign = 'left';
    ctx.fillText(`-${Math.round(this.windowMs / 1000)} s`, plot.left, bottom);
    ctx.textAlign = 'right';
    ctx.fillText('now', plot.left + plot.width, bottom);
  }
}

/** 1, 2 or 5 times a power of ten, at least `value`: round numbers on the axis. */
function niceCeiling(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}
