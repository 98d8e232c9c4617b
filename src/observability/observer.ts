import type { AccessLog } from './accessLog.js';
import type { Metrics } from './metrics.js';
import type { RequestObserver, RequestRecord } from './requestRecord.js';

/**
 * Turns each finished request into metrics and, when the access log is on, one access
 * line. One instance per process: nothing is allocated per request beyond the line.
 */
export class RequestObservations implements RequestObserver {
  constructor(
    private readonly metrics: Metrics,
    private readonly accessLog: AccessLog,
    /** `log.access` of the config in use (a reload can switch it) and the log level allowing info. */
    private readonly accessLogOn: () => boolean,
    /** Whatever else learns from every finished request (key usage). */
    private readonly also: RecordSink = NO_SINK,
  ) {}

  started(): void {
    this.metrics.requestArrived();
  }

  finished(record: RequestRecord): void {
    this.metrics.record(record);
    if (this.accessLogOn()) this.accessLog.write(record);
    this.also.record(record);
  }
}

/** Reads a finished request's record; must be cheap (it runs for every request). */
export interface RecordSink {
  record(record: RequestRecord): void;
}

const NO_SINK: RecordSink = { record: () => undefined };
