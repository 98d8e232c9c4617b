import { Pool } from 'undici';
import type { ServiceConfig } from '../config/snapshot.js';

/**
 * One keep-alive pool per upstream origin and connect timeout. A reload that changes an
 * upstream gets a new pool; pools no longer named are closed once their requests finish.
 */
export class Upstreams {
  private readonly pools = new Map<string, Pool>();

  poolFor(service: ServiceConfig): Pool {
    const id = poolId(service);
    let pool = this.pools.get(id);
    if (!pool) {
      pool = new Pool(service.upstream.origin, {
        connectTimeout: service.timeouts.connect,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
        // Per-request timeouts are passed with each request; these are only fallbacks.
        headersTimeout: service.timeouts.response,
        bodyTimeout: service.timeouts.idle,
      });
      this.pools.set(id, pool);
    }
    return pool;
  }

  /** Closes (gracefully: in-flight requests finish) the pools the new services no longer use. */
  retain(services: readonly ServiceConfig[]): void {
    const keep = new Set(services.map(poolId));
    for (const [id, pool] of this.pools) {
      if (keep.has(id)) continue;
      this.pools.delete(id);
      void pool.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close().catch(() => undefined)));
  }

  async destroy(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
  }
}

function poolId(service: ServiceConfig): string {
  return `${service.upstream.origin}|${service.timeouts.connect}`;
}
