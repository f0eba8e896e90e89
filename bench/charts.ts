/**
 * PNG charts without native dependencies: an RGB canvas with rectangles, lines and a 5×7 bitmap
 * font, encoded as PNG with node:zlib. Two kinds: grouped horizontal bar charts (with min–max
 * whiskers, linear or log scale) and a log-scale latency histogram.
 */
import { deflateSync } from 'node:zlib';

export type Rgb = readonly [number, number, number];

// --- PNG ---------------------------------------------------------------------------------------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** Encodes 8-bit RGB pixels (row-major, 3 bytes each) as a PNG file. */
export function encodePng(width: number, height: number, rgb: Uint8Array): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: truecolour
  const stride = width * 3;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0; // filter: none
    raw.set(rgb.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(raw, { level: 9 })),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

// --- Font: 5×7 (8 with descenders), one byte per column, bit 0 at the top; ASCII 32..126 ----------------------------

const FONT_HEX =
  '0000000000' +
  '00005f0000' +
  '0007000700' +
  '147f147f14' +
  '242a7f2a12' +
  '2313086462' +
  '3649552250' +
  '0005030000' +
  '001c224100' +
  '0041221c00' +
  '082a1c2a08' +
  '08083e0808' +
  '0050300000' +
  '0808080808' +
  '0060600000' +
  '2010080402' +
  '3e5149453e' +
  '00427f4000' +
  '4261514946' +
  '2141454b31' +
  '1814127f10' +
  '2745454539' +
  '3c4a494930' +
  '0171090503' +
  '3649494936' +
  '064949291e' +
  '0036360000' +
  '0056360000' +
  '0008142241' +
  '1414141414' +
  '4122140800' +
  '0201510906' +
  '324979413e' +
  '7e1111117e' +
  '7f49494936' +
  '3e41414122' +
  '7f4141221c' +
  '7f49494941' +
  '7f09090101' +
  '3e41415132' +
  '7f0808087f' +
  '00417f4100' +
  '2040413f01' +
  '7f08142241' +
  '7f40404040' +
  '7f0204027f' +
  '7f0408107f' +
  '3e4141413e' +
  '7f09090906' +
  '3e4151215e' +
  '7f09192946' +
  '4649494931' +
  '01017f0101' +
  '3f4040403f' +
  '1f2040201f' +
  '7f2018207f' +
  '6314081463' +
  '0304780403' +
  '6151494543' +
  '00007f4141' +
  '0204081020' +
  '41417f0000' +
  '0402010204' +
  '4040404040' +
  '0001020400' +
  '2054545478' +
  '7f48444438' +
  '3844444420' +
  '384444487f' +
  '3854545418' +
  '087e090102' +
  '081454543c' +
  '7f08040478' +
  '00447d4000' +
  '2040443d00' +
  '007f102844' +
  '00417f4000' +
  '7c04180478' +
  '7c08040478' +
  '3844444438' +
  '7c14141408' +
  '081414187c' +
  '7c08040408' +
  '4854545420' +
  '043f444020' +
  '3c4040207c' +
  '1c2040201c' +
  '3c4030403c' +
  '4428102844' +
  '0c5050503c' +
  '4464544c44' +
  '0008364100' +
  '00007f0000' +
  '0041360800' +
  '08082a1c08';
const FONT = Buffer.from(FONT_HEX, 'hex');
// Lower-case letters with descenders use an eighth row.
for (const [ch, hex] of [
  ['g', '18a4a4a47c'],
  ['j', '4080847d00'],
  ['p', 'fc24242418'],
  ['q', '18242418fc'],
  ['y', '1ca0a0a07c'],
] as const) {
  FONT.set(Buffer.from(hex, 'hex'), (ch.charCodeAt(0) - 32) * 5);
}

// --- Canvas ------------------------------------------------------------------------------------

export class Canvas {
  readonly px: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = [255, 255, 255],
  ) {
    this.px = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) this.px.set(background, i * 3);
  }

  set(x: number, y: number, c: Rgb): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.px.set(c, (y * this.width + x) * 3);
  }

  rect(x: number, y: number, w: number, h: number, c: Rgb): void {
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w));
    const y1 = Math.min(this.height, Math.round(y + h));
    for (let yy = y0; yy < y1; yy++)
      for (let xx = x0; xx < x1; xx++) this.px.set(c, (yy * this.width + xx) * 3);
  }

  /** A line `thick` pixels wide; `dash` draws every other `dash` pixels. */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thick = 1, dash = 0): void {
    const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    const h = Math.floor((thick - 1) / 2);
    for (let i = 0; i <= steps; i++) {
      if (dash && Math.floor(i / dash) % 2 === 1) continue;
      const x = x0 + ((x1 - x0) * i) / steps;
      const y = y0 + ((y1 - y0) * i) / steps;
      this.rect(Math.round(x) - h, Math.round(y) - h, thick, thick, c);
    }
  }

  static textWidth(s: string, scale = 2): number {
    return s.length * 6 * scale - scale;
  }

  /** Text with its top-left at (x, y), or aligned to x on the right / centre. */
  text(
    x: number,
    y: number,
    s: string,
    c: Rgb = [0, 0, 0],
    scale = 2,
    align: 'left' | 'right' | 'center' = 'left',
  ): void {
    const w = Canvas.textWidth(s, scale);
    let cx = align === 'left' ? x : align === 'right' ? x - w : x - w / 2;
    for (const ch of s) {
      let code = ch.charCodeAt(0);
      if (code < 32 || code > 126) code = 63; // '?'
      const off = (code - 32) * 5;
      for (let col = 0; col < 5; col++) {
        const bits = FONT[off + col]!;
        for (let row = 0; row < 8; row++)
          if (bits & (1 << row)) this.rect(cx + col * scale, y + row * scale, scale, scale, c);
      }
      cx += 6 * scale;
    }
  }

  png(): Buffer {
    return encodePng(this.width, this.height, this.px);
  }
}

// --- Scales ------------------------------------------------------------------------------------

const GRID: Rgb = [225, 225, 225];
const AXIS: Rgb = [90, 90, 90];
const MUTED: Rgb = [110, 110, 110];

/** About `n` round tick values from 0 to max. */
function niceTicks(max: number, n = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let t = 0; t <= max * 1.0001 + step; t += step) {
    ticks.push(Number(t.toPrecision(12)));
    if (t >= max) break;
  }
  return ticks;
}

export function fmtNumber(v: number): string {
  if (!Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toFixed(a >= 1e5 ? 0 : 1)}k`;
  if (a >= 100) return String(Math.round(v));
  if (a >= 10) return v.toFixed(1).replace(/\.0$/, '');
  if (a >= 1) return v.toFixed(2).replace(/\.?0+$/, '');
  if (a === 0) return '0';
  return String(+v.toPrecision(2));
}

// --- Bar chart ---------------------------------------------------------------------------------

export interface Bar {
  series: string;
  value: number;
  min?: number;
  max?: number;
}

export interface BarChart {
  title: string;
  /** Unit for the axis, e.g. "jobs/s". */
  unit: string;
  groups: { label: string; bars: Bar[] }[];
  colors: Record<string, Rgb>;
  log?: boolean;
  /** "higher is better" or "lower is better", shown under the title. */
  note?: string;
  width?: number;
}

/** Legend columns that fit the longest name (a fixed width let long names run into the next). */
function legendLayout(names: string[], width: number, scale: number) {
  const colW = Math.max(...names.map((n) => Canvas.textWidth(n, scale)), 0) + 20 + 28;
  const perRow = Math.max(1, Math.min(names.length, Math.floor((width - 32) / colW)));
  return {
    rows: Math.ceil(names.length / perRow),
    at: (i: number) => ({ x: 16 + (i % perRow) * colW, row: Math.floor(i / perRow) }),
  };
}

export function barChart(o: BarChart): Buffer {
  const width = o.width ?? 1100;
  const S = 2;
  const barH = 18;
  const gap = 4;
  const groupGap = 18;
  const labelW = 250;
  const valueW = 90;
  const top = 70;
  const seriesNames = [...new Set(o.groups.flatMap((g) => g.bars.map((b) => b.series)))];
  const legend = legendLayout(seriesNames, width, S);
  const legendRows = legend.rows;
  const plotH = o.groups.reduce((h, g) => h + g.bars.length * (barH + gap) + groupGap, 0);
  const height = top + legendRows * 22 + plotH + 70;
  const c = new Canvas(width, height);
  c.text(16, 14, o.title, [0, 0, 0], S);
  if (o.note) c.text(16, 38, o.note, MUTED, S);
  // Legend
  seriesNames.forEach((name, i) => {
    const { x, row } = legend.at(i);
    const y = top + row * 22 - 6;
    c.rect(x, y, 14, 14, o.colors[name] ?? AXIS);
    c.text(x + 20, y, name, [0, 0, 0], S);
  });
  const x0 = labelW;
  const x1 = width - valueW;
  const y0 = top + legendRows * 22 + 8;
  const values = o.groups
    .flatMap((g) => g.bars.flatMap((b) => [b.value, b.max ?? b.value]))
    .filter((v) => Number.isFinite(v) && v > 0);
  const vmax = Math.max(...values, 1e-9);
  let pos: (v: number) => number;
  let ticks: number[];
  if (o.log) {
    const lo = 10 ** Math.floor(Math.log10(Math.min(...values, vmax)));
    const hi = 10 ** Math.ceil(Math.log10(vmax));
    pos = (v) =>
      x0 + ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (x1 - x0);
    ticks = [];
    for (let t = lo; t <= hi * 1.0001; t *= 10) ticks.push(t);
  } else {
    ticks = niceTicks(vmax);
    const tmax = ticks[ticks.length - 1]!;
    pos = (v) => x0 + (Math.max(0, v) / tmax) * (x1 - x0);
  }
  const yEnd = y0 + plotH;
  for (const t of ticks) {
    const x = pos(t);
    c.line(x, y0, x, yEnd, GRID);
    c.text(x, yEnd + 8, fmtNumber(t), MUTED, S, 'center');
  }
  c.text(x1, yEnd + 30, o.unit, MUTED, S, 'right');
  let y = y0;
  for (const g of o.groups) {
    const gh = g.bars.length * (barH + gap);
    c.text(x0 - 10, y + gh / 2 - 7, g.label, [0, 0, 0], S, 'right');
    for (const b of g.bars) {
      const color = o.colors[b.series] ?? AXIS;
      if (Number.isFinite(b.value) && b.value > 0) {
        c.rect(x0, y, pos(b.value) - x0, barH, color);
        if (b.min !== undefined && b.max !== undefined && b.max > b.min) {
          const ym = y + barH / 2;
          c.line(pos(b.min), ym, pos(b.max), ym, [0, 0, 0], 2);
          c.line(pos(b.min), y + 3, pos(b.min), y + barH - 3, [0, 0, 0], 2);
          c.line(pos(b.max), y + 3, pos(b.max), y + barH - 3, [0, 0, 0], 2);
        }
        c.text(Math.max(pos(b.value), pos(b.max ?? 0)) + 6, y + 2, fmtNumber(b.value), [0, 0, 0], S);
      } else {
        c.text(x0 + 6, y + 2, 'n/a', MUTED, S);
      }
      y += barH + gap;
    }
    y += groupGap;
  }
  c.line(x0, y0, x0, yEnd, AXIS, 2);
  return c.png();
}

// --- Latency histogram ---------------------------------------------------------------------------

export interface HistogramChart {
  title: string;
  note?: string;
  /** Bin edges in ms (log-spaced), one more than each series' counts. */
  edges: number[];
  series: { name: string; color: Rgb; counts: number[]; p50?: number; p99?: number }[];
  width?: number;
  height?: number;
}

/** Share of samples per log-spaced bin, one step line per series; dashed lines at each p50. */
export function latencyHistogram(o: HistogramChart): Buffer {
  const width = o.width ?? 1100;
  const height = o.height ?? 560;
  const S = 2;
  const c = new Canvas(width, height);
  c.text(16, 14, o.title, [0, 0, 0], S);
  if (o.note) c.text(16, 38, o.note, MUTED, S);
  const legend = legendLayout(
    o.series.map((s) => s.name),
    width,
    S,
  );
  const legendRows = legend.rows;
  o.series.forEach((s, i) => {
    const { x, row } = legend.at(i);
    const y = 66 + row * 22;
    c.rect(x, y, 14, 14, s.color);
    c.text(x + 20, y, s.name, [0, 0, 0], S);
  });
  const x0 = 80;
  const x1 = width - 30;
  const y0 = 66 + legendRows * 22 + 16;
  const y1 = height - 60;
  // Range: the decades that hold samples.
  let first = o.edges.length;
  let last = 0;
  for (const s of o.series) {
    s.counts.forEach((n, i) => {
      if (n > 0) {
        first = Math.min(first, i);
        last = Math.max(last, i + 1);
      }
    });
  }
  if (first >= last) {
    first = 0;
    last = o.edges.length - 1;
  }
  const lo = 10 ** Math.floor(Math.log10(o.edges[first]!) + 1e-9);
  const hi = 10 ** Math.ceil(Math.log10(o.edges[last]!) - 1e-9);
  const px = (ms: number) =>
    x0 + ((Math.log10(ms) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (x1 - x0);
  const shares = o.series.map((s) => {
    const total = s.counts.reduce((a, b) => a + b, 0) || 1;
    return s.counts.map((n) => n / total);
  });
  const ymax = niceTicks(Math.max(...shares.flat(), 0.01), 4);
  const top = ymax[ymax.length - 1]!;
  const py = (share: number) => y1 - (share / top) * (y1 - y0);
  for (const t of ymax) {
    c.line(x0, py(t), x1, py(t), GRID);
    c.text(x0 - 8, py(t) - 7, `${Math.round(t * 100)}%`, MUTED, S, 'right');
  }
  for (let d = lo; d <= hi * 1.0001; d *= 10) {
    c.line(px(d), y0, px(d), y1, GRID);
    c.text(px(d), y1 + 8, d >= 1000 ? `${d / 1000} s` : `${+d.toPrecision(3)} ms`, MUTED, S, 'center');
  }
  c.text(x1, y1 + 32, 'enqueue -> handler start (log scale); share of samples per bin', MUTED, S, 'right');
  o.series.forEach((s, k) => {
    let prevY = py(0);
    for (let i = 0; i < s.counts.length; i++) {
      const a = o.edges[i]!;
      const b = o.edges[i + 1]!;
      if (b <= lo || a >= hi) continue;
      const y = py(shares[k]![i]!);
      c.line(px(a), prevY, px(a), y, s.color, 3);
      c.line(px(a), y, px(b), y, s.color, 3);
      prevY = y;
    }
    if (s.p50 !== undefined && s.p50 > 0) c.line(px(s.p50), y0, px(s.p50), y1, s.color, 2, 6);
  });
  c.line(x0, y1, x1, y1, AXIS, 2);
  c.line(x0, y0, x0, y1, AXIS, 2);
  return c.png();
}
