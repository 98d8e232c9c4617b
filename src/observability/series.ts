/**
 * Counters and histograms whose series the hot path keeps and updates as plain fields.
 * prom-client hashes a label object on every `inc`/`observe`, its children included
 * (~1-3 µs per request for keygate's four series); here a request finds its series once
 * (one Map lookup by a composed key) and adds numbers. prom-client's Registry reads them
 * at scrape time through `get()`, the interface of its own metrics, so `/metrics` text
 * and AggregatorRegistry (one registry over cluster workers) treat them like its own.
 */

export type Labels = Readonly<Record<string, string>>;

interface MetricValue {
  readonly value: number;
  readonly labels: Labels;
  readonly metricName?: string;
}

interface MetricData {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  readonly values: MetricValue[];
  readonly aggregator: 'sum';
}

export class CounterSeries {
  value = 0;
  constructor(readonly labels: Labels) {}
}

export class HistogramSeries {
  sum = 0;
  count = 0;
  /** Not cumulative: counts[i] is the observations in (bounds[i-1], bounds[i]]. */
  readonly counts: Float64Array;

  constructor(
    readonly labels: Labels,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    if (!(value >= 0) || value === Infinity) return; // NaN, negative, infinite: a clock hiccup, not a sample
    this.sum += value;
    this.count += 1;
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (value <= b[i]) {
        this.counts[i] += 1;
        return;
      }
    }
  }
}

abstract class SeriesMetric<S extends { readonly labels: Labels }> {
  readonly aggregator = 'sum' as const;
  protected readonly series = new Map<string, S>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  /** The series for `key` (a string that determines `labels()`), created on first use. */
  seriesFor(key: string, labels: () => Labels): S {
    let s = this.series.get(key);
    if (s === undefined) {
      s = this.create(labels());
      this.series.set(key, s);
    }
    return s;
  }

  /** What prom-client's Registry reads at scrape time. */
  get(): Promise<MetricData> {
    return Promise.resolve(this.data());
  }

  /** Registry.resetMetrics(). */
  reset(): void {
    this.series.clear();
  }

  protected abstract create(labels: Labels): S;
  protected abstract data(): MetricData;
}

export class FastCounter extends SeriesMetric<CounterSeries> {
  readonly type = 'counter' as const;

  protected create(labels: Labels): CounterSeries {
    return new CounterSeries(labels);
  }

  protected data(): MetricData {
    const values = [...this.series.values()].map((s) => ({ value: s.value, labels: s.labels }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

export class FastHistogram extends SeriesMetric<HistogramSeries> {
  readonly type = 'histogram' as const;

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    private readonly bounds: readonly number[],
  ) {
    super(name, help, labelNames);
  }

  protected create(labels: Labels): HistogramSeries {
    return new HistogramSeries(labels, this.bounds);
  }

  protected data(): MetricData {
    const values: MetricValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series.values()) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i];
        values.push({ value: acc, labels: { ...s.labels, le: String(this.bounds[i]) }, metricName: bucket });
      }
      values.push({ value: s.count, labels: { ...s.labels, le: '+Inf' }, metricName: bucket });
      values.push({ value: s.sum, labels: s.labels, metricName: `${this.name}_sum` });
      values.push({ value: s.count, labels: s.labels, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}
