import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { statusOf, type Reason } from '../errors.js';
import { upstreamErrorKind } from '../observability/labels.js';
import { requestIdFrom } from '../observability/requestId.js';
import { checkAccess } from './access.js';
import { baseRecord, inboundOf, upstreamHeaders } from './pipeline.js';
import { rawProblem } from './problem.js';
import type { RequestRecord } from './record.js';
import type { ProxyRuntime } from './runtime.js';

/**
 * WebSocket (and any other `Upgrade:`) requests: the same decision as a plain request,
 * then undici's upgrade on the service's pool, then bytes are piped both ways.
 */
export async function handleUpgrade(rt: ProxyRuntime, req: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
  const started = performance.now();
  const requestId = requestIdFrom(req.headers['x-request-id']);
  const snapshot = rt.snapshot();
  const inbound = inboundOf(req, snapshot.listen.trustedProxies);
  client.on('error', () => client.destroy());
  const done = rt.observer.started('proxy');
  const outcome = await checkAccess(snapshot, rt.verifier, inbound, rt.now());
  const base = baseRecord(outcome, inbound, requestId, performance.now() - started);
  const finish = (extra: Partial<RequestRecord> & { status: number; reason: Reason }): void => {
    done({ ...base, ...extra, totalMs: performance.now() - started });
  };
  if (!outcome.allow) {
    client.end(rawProblem(outcome.reason, requestId, outcome.detail));
    return finish({ status: statusOf(outcome.reason), reason: outcome.reason });
  }
  const dest = outcome.destination;
  const upstreamStarted = performance.now();
  try {
    const upgraded = await rt.upstreams.poolFor(dest.service).upgrade({
      path: dest.upstreamPath,
      method: req.method ?? 'GET',
      headers: upstreamHeaders(outcome, req, requestId),
      protocol: String(req.headers.upgrade ?? 'websocket'),
    });
    client.write(switchingProtocols(upgraded.headers, requestId));
    if (head.length) upgraded.socket.write(head);
    splice(client, upgraded.socket);
    finish({ status: 101, reason: 'allow', upstreamStatus: 101, upstreamMs: performance.now() - upstreamStarted });
  } catch (err) {
    const kind = upstreamErrorKind(err);
    const reason = kind === 'timeout' ? 'upstream_timeout' : 'upstream_failed';
    client.end(rawProblem(reason, requestId));
    finish({ status: statusOf(reason), reason, upstreamError: kind, upstreamErrorCode: (err as { code?: string }).code ?? 'UNKNOWN' });
  }
}

function switchingProtocols(headers: Record<string, string | string[] | undefined>, requestId: string): string {
  const lines = ['HTTP/1.1 101 Switching Protocols'];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name === 'x-request-id') continue;
    for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`);
  }
  lines.push(`x-request-id: ${requestId}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

function splice(a: Duplex, b: Duplex): void {
  const teardown = (): void => {
    a.destroy();
    b.destroy();
  };
  a.on('error', teardown).on('close', teardown);
  b.on('error', teardown).on('close', teardown);
  a.pipe(b).pipe(a);
}
