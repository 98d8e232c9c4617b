import type { RequestRecord } from '../observability/requestRecord.js';
import { mergeInto, minuteOf, type KeyUse, type UsageMap } from './keyUse.js';

/**
 * The request path's part of key usage: one Map lookup and a few field writes per
 * request (budget 1 µs), at the end of the request, from its record. Only keys that
 * authenticated are recorded (the record names their user), so the map never holds
 * more ids than the config has keys; unknown ids and wrong secrets leave no trace.
 * What changed since the last `take()` is all it keeps.
 */
export class UsageRecorder {
  #pending: UsageMap = new Map();

  constructor(private readonly now: () => number) {}

  record(r: RequestRecord): void {
    if (r.user === undefined || r.keyId === undefined) return;
    const minute = minuteOf(this.now());
    let use = this.#pending.get(r.keyId);
    if (use === undefined) {
      use = { used: 0, denied: 0, client: r.clientIp };
      this.#pending.set(r.keyId, use);
    }
    if (r.decision === 'allow') use.used = minute;
    else use.denied = minute;
    use.client = r.clientIp;
  }

  /** What was recorded since the last take; recording starts afresh. */
  take(): UsageMap {
    const taken = this.#pending;
    this.#pending = new Map();
    return taken;
  }

  /** Changes a failed write could not store: kept for the next one (newer uses win). */
  giveBack(changes: UsageMap): void {
    const newer = this.#pending;
    this.#pending = mergeInto(changes, newer);
  }

  get pending(): ReadonlyMap<string, KeyUse> {
    return this.#pending;
  }
}
