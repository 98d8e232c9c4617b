import { connect, type ClientHttp2Session } from 'node:http2';
import { Pool } from 'undici';
import type { ServiceConfig } from '../config/snapshot.js';

/** Streams keygate opens at once on one HTTP/2 upstream connection (the upstream's own limit applies too). */
const H2_MAX_STREAMS = 1000;

/**
 * One keep-alive pool per upstream origin and connect timeout. A reload that changes an
 * upstream gets a new pool; pools no longer named are closed once their requests finish.
 */
export class Upstreams {
  private readonly pools = new Map<string, Pool>();
  /** `protocol: h2 | grpc` upstreams: one HTTP/2 connection each, multiplexed, made again once it ends. */
  private readonly sessions = new Map<string, ClientHttp2Session>();

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

  /**
   * The HTTP/2 connection to a `protocol: h2 | grpc` upstream: h2c (prior knowledge) for
   * http://, ALPN h2 for https://. Its connect errors reach the streams opened on it.
   */
  sessionFor(service: ServiceConfig): ClientHttp2Session {
    const id = poolId(service);
    const open = this.sessions.get(id);
    if (open && !open.closed && !open.destroyed) return open;
    const session = connect(service.upstream.origin, { peerMaxConcurrentStreams: H2_MAX_STREAMS });
    const forget = (): void => {
      if (this.sessions.get(id) === session) this.sessions.delete(id);
    };
    session.on('error', forget); // each stream sees the error too; an unheard session error would crash keygate
    session.on('goaway', forget);
    session.once('close', forget);
    const connectTimer = setTimeout(
      () => session.destroy(Object.assign(new Error('HTTP/2 connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' })),
      service.timeouts.connect,
    );
    session.once('connect', () => clearTimeout(connectTimer));
    session.once('close', () => clearTimeout(connectTimer));
    session.unref(); // an idle upstream connection never keeps the process alive
    this.sessions.set(id, session);
    return session;
  }

  /** Closes (gracefully: in-flight requests finish) the pools the new services no longer use. */
  retain(services: readonly ServiceConfig[]): void {
    const keep = new Set(services.map(poolId));
    for (const [id, pool] of this.pools) {
      if (keep.has(id)) continue;
      this.pools.delete(id);
      void pool.close().catch(() => undefined);
    }
    for (const [id, session] of this.sessions) {
      if (keep.has(id)) continue;
      this.sessions.delete(id);
      session.close();
    }
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    this.sessions.forEach((s) => s.close());
    this.sessions.clear();
    await Promise.all(pools.map((p) => p.close().catch(() => undefined)));
  }

  async destroy(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    this.sessions.forEach((s) => s.destroy());
    this.sessions.clear();
    await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
  }
}

function poolId(service: ServiceConfig): string {
  return `${service.upstream.origin}|${service.timeouts.connect}`;
}
