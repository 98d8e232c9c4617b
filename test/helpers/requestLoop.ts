import { Agent, request } from 'undici';
import type { RunningKeygate } from './keygate.js';

/** A continuous, bounded request loop against a running keygate, for "no request fails while…" tests. */

const PATH = '/compute/v2/p1/servers/42';

export interface Load {
  readonly statuses: Map<number, number>;
  readonly generations: Set<number>;
  total: number;
  stop(): Promise<void>;
}

/** `clients` keep-alive clients sending GET /compute/v2/p1/servers/42 with `keys` in turn until stopped, at most `max` requests or `deadlineMs`. */
export function requestLoop(kg: RunningKeygate, keys: readonly string[], clients = 4, max = 50_000, deadlineMs = 20_000): Load {
  const agent = new Agent({ connections: clients, pipelining: 1 });
  const deadline = Date.now() + deadlineMs;
  let stopped = false;
  const load: Load = {
    statuses: new Map(),
    generations: new Set(),
    total: 0,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await Promise.all(loops);
      await agent.close();
    },
  };
  const url = `${kg.url()}${PATH}`;
  const client = async (c: number): Promise<void> => {
    for (let i = c; !stopped && load.total < max && Date.now() < deadline; i++) {
      let status = 0; // a request that failed without a response counts as a failure too
      try {
        const res = await request(url, { dispatcher: agent, headers: { authorization: `Bearer ${keys[i % keys.length]}` } });
        await res.body.dump();
        status = res.statusCode;
      } catch {
        // counted below
      }
      load.total++;
      load.statuses.set(status, (load.statuses.get(status) ?? 0) + 1);
      load.generations.add(kg.app.snapshot().generation);
    }
  };
  const loops = Array.from({ length: clients }, (_, c) => client(c));
  return load;
}

export function non2xx(load: Load): Record<number, number> {
  return Object.fromEntries([...load.statuses].filter(([s]) => s < 200 || s > 299));
}
