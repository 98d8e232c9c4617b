import { percentile } from '../lib/stats.js';

/** What one load run measured, whichever generator drove it. Latencies in ms. */
export interface LoadResult {
  readonly tool: 'autocannon' | 'wrk' | 'paced';
  readonly requests: number;
  readonly durationS: number;
  readonly rps: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  /** Socket errors, timeouts, and answers with an unexpected status. */
  readonly errors: number;
  readonly statuses: Record<string, number>;
}

/** Percentiles of a latency sample (ms); sorts `latencies` in place. */
export function summarize(latencies: Float64Array): Pick<LoadResult, 'p50' | 'p90' | 'p99' | 'max'> {
  latencies.sort();
  return {
    p50: percentile(latencies, 50),
    p90: percentile(latencies, 90),
    p99: percentile(latencies, 99),
    max: latencies.length ? latencies[latencies.length - 1] : NaN,
  };
}

/** Errors as a fraction of attempts: more than 1% makes a run broken. */
export function errorRate(r: LoadResult): number {
  const attempts = r.requests + r.errors;
  return attempts === 0 ? 1 : r.errors / attempts;
}
