import autocannon from 'autocannon';
import { summarize, type LoadResult } from './result.js';

export interface ClosedLoop {
  readonly url: string;
  readonly method?: 'GET' | 'POST';
  readonly headers?: Record<string, string>;
  readonly body?: Buffer;
  readonly connections: number;
  readonly durationS: number;
  /** Any other status counts as an error. */
  readonly expectStatus: number;
  /** Upper bound on requests, whatever the duration. */
  readonly maxRequests?: number;
}

/**
 * A closed loop: `connections` keep-alive connections, each sending its next request as
 * soon as the previous answer arrives, for a fixed time. Latency is taken from each
 * response event (sub-millisecond resolution; autocannon's own histogram keeps whole ms).
 */
export async function closedLoop(o: ClosedLoop): Promise<LoadResult> {
  const cap = o.maxRequests ?? Math.ceil(o.durationS * 100_000);
  const latencies = new Float64Array(cap + o.connections);
  let n = 0;
  let unexpected = 0;
  const statuses: Record<string, number> = {};
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: o.url,
        method: o.method ?? 'GET',
        connections: o.connections,
        duration: o.durationS,
        maxOverallRequests: cap,
        timeout: 10,
        // The stop flag is checked once per sample interval (default 1 s): 100 ms keeps short runs short.
        sampleInt: 100,
        ...(o.headers ? { headers: o.headers } : {}),
        ...(o.body ? { body: o.body } : {}),
      },
      (err: unknown, r: autocannon.Result) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(r)),
    );
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status !== o.expectStatus) unexpected++;
      if (n < latencies.length) latencies[n++] = ms;
    });
  });
  const requests = Object.values(statuses).reduce((a, b) => a + b, 0);
  const durationS = result.duration || o.durationS;
  return {
    tool: 'autocannon',
    requests,
    durationS,
    rps: requests / durationS,
    ...summarize(latencies.subarray(0, n)),
    errors: result.errors + unexpected,
    statuses,
  };
}
