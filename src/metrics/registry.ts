/**
 * A small Prometheus text-format registry: counters, gauges read at scrape time, and
 * histograms with fixed buckets. Enough for the hub's own metrics without a dependency.
 *
 * Label values must come from bounded sets: a client that chooses a label value could otherwise
 * make series without end (memory, scrape size and time). Counters take a series cap past which
 * new label sets count as `overflow`; `topN` folds gauge samples into the largest few plus one.
 */
type Labels = Record<string, string>;

// Plain code-unit order: localeCompare costs far more and scrapes sort many keys.
const byCode = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const key = (labels: Labels) =>
  Object.entries(labels)
    .sort(([a], [b]) => byCode(a, b))
    .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');

/** Past `maxSeries` label sets, new ones are counted under `overflow`. */
export interface SeriesCap {
  maxSeries: number;
  overflow: Labels;
}

export class Counter {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly cap?: SeriesCap,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    let k = key(labels);
    if (this.cap && !this.values.has(k) && this.values.size >= this.cap.maxSeries) k = key(this.cap.overflow);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const [k, v] of this.values) lines.push(`${this.name}${k ? `{${k}}` : ''} ${v}`);
    return lines.join('\n');
  }
}

export class Histogram {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[],
  ) {}
  observe(value: number, labels: Labels = {}): void {
    const k = key(labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of this.series) {
      const sep = k ? ',' : '';
      this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket{${k}${sep}le="${b}"} ${s.counts[i]}`));
      lines.push(`${this.name}_bucket{${k}${sep}le="+Inf"} ${s.count}`);
      lines.push(`${this.name}_sum${k ? `{${k}}` : ''} ${s.sum}`);
      lines.push(`${this.name}_count${k ? `{${k}}` : ''} ${s.count}`);
    }
    return lines.join('\n');
  }
}

/** A gauge whose samples are computed when scraped. */
export class GaugeSet {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly collect: () =>
      Promise<{ labels: Labels; value: number }[]> | { labels: Labels; value: number }[],
  ) {}
  async render(): Promise<string> {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    for (const { labels, value } of await this.collect()) {
      const k = key(labels);
      lines.push(`${this.name}${k ? `{${k}}` : ''} ${value}`);
    }
    return lines.join('\n');
  }
}

export class Registry {
  private readonly items: (Counter | Histogram | GaugeSet)[] = [];
  counter(name: string, help: string, cap?: SeriesCap): Counter {
    return this.add(new Counter(name, help, cap));
  }
  histogram(name: string, help: string, buckets: number[]): Histogram {
    return this.add(new Histogram(name, help, buckets));
  }
  gauge(name: string, help: string, collect: ConstructorParameters<typeof GaugeSet>[2]): GaugeSet {
    return this.add(new GaugeSet(name, help, collect));
  }
  private add<T extends Counter | Histogram | GaugeSet>(m: T): T {
    this.items.push(m);
    return m;
  }
  async render(): Promise<string> {
    const parts = await Promise.all(this.items.map((m) => m.render()));
    return parts.join('\n') + '\n';
  }
}

/**
 * Keeps the `n` label values of `label` with the largest totals and folds every other sample into
 * `label="other"` (summed, or combined by `merge`), so a gauge has at most n + 1 values of it.
 * Input samples have distinct label sets. Cheap per sample: it runs on every scrape.
 */
export function topN(
  samples: { labels: Labels; value: number }[],
  label: string,
  n: number,
  merge: (a: number, b: number) => number = (a, b) => a + b,
): { labels: Labels; value: number }[] {
  const totals = new Map<string, number>();
  for (const s of samples) {
    const v = s.labels[label] ?? '';
    totals.set(v, (totals.get(v) ?? 0) + Math.abs(s.value));
  }
  if (totals.size <= n) return samples;
  const kept = new Set(
    [...totals]
      .sort((a, b) => b[1] - a[1] || byCode(a[0], b[0]))
      .slice(0, n)
      .map(([v]) => v),
  );
  const out: { labels: Labels; value: number }[] = [];
  // Folded samples grouped by their other label values (joined: cheaper than a full key).
  const folded = new Map<string, { labels: Labels; value: number }>();
  for (const s of samples) {
    if (kept.has(s.labels[label] ?? '')) {
      out.push(s);
      continue;
    }
    let k = '';
    for (const name in s.labels) if (name !== label) k += `${name}\u0000${s.labels[name]}\u0000`;
    const prev = folded.get(k);
    if (prev) prev.value = merge(prev.value, s.value);
    else folded.set(k, { labels: { ...s.labels, [label]: 'other' }, value: s.value });
  }
  return [...out, ...folded.values()];
}
