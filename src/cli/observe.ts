import type { Logger } from 'pino';
import { ACCESS_LOG_MESSAGE, accessLogEntry } from '../observability/accessLog.js';
import type { Metrics } from '../observability/metrics.js';
import type { RequestObserver, RequestRecord } from '../proxy/record.js';

/** Turns each finished request into metrics and one access log line. */
export function observeRequests(metrics: Metrics, logger: Logger, accessLogOn: () => boolean): RequestObserver {
  return {
    started() {
      const end = metrics.requestStarted();
      return (record) => {
        end();
        recordMetrics(metrics, record);
        if (accessLogOn()) logger.info(accessLine(record), ACCESS_LOG_MESSAGE);
      };
    },
  };
}

function recordMetrics(metrics: Metrics, r: RequestRecord): void {
  metrics.requestFinished({ service: r.service, method: r.method, decision: r.decision, reason: r.reason, mode: r.mode, ...(r.keyId ? { keyId: r.keyId } : {}) }, r.totalMs / 1000);
  metrics.decisionTime(r.decisionMs / 1000);
  if (r.service && r.upstreamStatus !== undefined && r.upstreamMs !== undefined) metrics.upstreamFinished(r.service, r.upstreamStatus, r.upstreamMs / 1000);
  if (r.service && r.upstreamError) metrics.upstreamError(r.service, r.upstreamError);
}

function accessLine(r: RequestRecord): ReturnType<typeof accessLogEntry> & Record<string, unknown> {
  return {
    ...accessLogEntry({
      requestId: r.requestId, mode: r.mode, method: r.method, target: r.path, clientIp: r.clientIp,
      ...(r.service ? { service: r.service } : {}),
      ...(r.keyId && r.user ? { key: { id: r.keyId, name: r.keyName ?? '', user: r.user } } : r.keyId ? { keyId: r.keyId } : {}),
      decision: r.decision, reason: r.reason, status: r.status, decisionMs: r.decisionMs,
      ...(r.upstreamMs !== undefined ? { upstreamMs: r.upstreamMs } : {}),
      totalMs: r.totalMs,
    }),
    ...(r.detail ? { detail: r.detail } : {}),
    ...(r.upstreamErrorCode ? { upstream_error: r.upstreamErrorCode } : {}),
  };
}
