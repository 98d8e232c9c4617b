import type { SecureContextOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { TlsSettings } from '../config/snapshot.js';
import { ConfigWatcher, type WatchTiming } from '../reload/watch.js';
import { readCertificatePair, type CertificatePair } from './certificatePair.js';

/** Where a swapped pair goes: a TLS server (`tls.Server.setSecureContext`). */
export interface SecureContextTarget {
  setSecureContext(options: SecureContextOptions): void;
}

export interface CertificateEvents {
  readonly logger: Logger;
  /** The served leaf's notAfter (seconds since the epoch), at start and after every swap. */
  readonly expiry: (listener: string, seconds: number) => void;
}

export type CertificateCheck = 'unchanged' | 'swapped' | 'kept';

/**
 * The certificate one listener serves, kept current: the files are watched like every
 * config file (src/reload/watch.ts: in-place edits, rename-over, Kubernetes `..data`
 * swaps), a changed pair is read and checked whole, and only a good pair reaches the
 * server, through `setSecureContext`: new handshakes get it, open connections keep the
 * one they made. A bad pair is logged (file and reason) and the last good one keeps serving.
 */
export class ServedCertificate {
  #pair: CertificatePair;
  #target: SecureContextTarget | undefined;
  #events: CertificateEvents | undefined;
  #watcher: ConfigWatcher | undefined;
  #running: Promise<CertificateCheck> | undefined;
  /** Asked for while a check ran: runs once that one is done, forced if any asker forced. */
  #next: { readonly promise: Promise<CertificateCheck>; force: boolean } | undefined;

  private constructor(
    readonly listener: string,
    private readonly settings: TlsSettings,
    pair: CertificatePair,
  ) {
    this.#pair = pair;
  }

  /** The pair as it is now; throws (file and reason) when it cannot be served, which stops the start. */
  static async load(listener: string, settings: TlsSettings): Promise<ServedCertificate> {
    const read = await readCertificatePair(settings);
    if (!read.ok) throw new Error(`listen.${listener}.tls: ${read.problem.file}: ${read.problem.reason}`);
    return new ServedCertificate(listener, settings, read.pair);
  }

  /** The options a TLS server starts with. */
  get options(): SecureContextOptions {
    return this.#pair.options;
  }

  get sha256(): string {
    return this.#pair.sha256;
  }

  /** Starts following the files for `target`; `timing: undefined` = no watch (reloads only on `check()`). */
  serve(target: SecureContextTarget, events: CertificateEvents, timing: WatchTiming | undefined): void {
    this.#target = target;
    this.#events = events;
    events.expiry(this.listener, Math.floor(this.#pair.expiresAt / 1000));
    if (timing === undefined) return;
    this.#watcher = new ConfigWatcher({ timing, onCheck: () => void this.check(false) });
    this.#watcher.follow(this.#pair.sources);
  }

  /**
   * Reads the pair again (`force`, e.g. SIGHUP) or only when a file changed since the last
   * read; swaps it in when good. One check at a time: a call during one gets a check of its
   * own after it (calls during the same check share one). Sharing the running check
   * instead lost files that changed after it had looked, and a SIGHUP during a check that
   * was not forced, until the next periodic check (as config reloads queue, reloader.ts).
   */
  check(force = true): Promise<CertificateCheck> {
    if (this.#next !== undefined) {
      this.#next.force ||= force;
      return this.#next.promise;
    }
    if (this.#running === undefined) return this.#start(force);
    const after = (): Promise<CertificateCheck> => {
      const next = this.#next!;
      this.#next = undefined;
      return this.#start(next.force);
    };
    this.#next = { promise: this.#running.then(after, after), force };
    return this.#next.promise;
  }

  close(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  #start(force: boolean): Promise<CertificateCheck> {
    const run = this.#check(force).finally(() => {
      if (this.#running === run) this.#running = undefined;
    });
    this.#running = run;
    return run;
  }

  async #check(force: boolean): Promise<CertificateCheck> {
    if (!force && this.#watcher && (await this.#watcher.changed()).length === 0) return 'unchanged';
    const read = await readCertificatePair(this.settings);
    const logger = this.#events?.logger;
    if (!read.ok) {
      // Followed as read: the same broken files are reported once, and any change to them is looked at again.
      this.#watcher?.follow(read.problem.sources);
      const { file, reason } = read.problem;
      logger?.error(
        { event: 'tls_reload_failed', listener: this.listener, file, reason, servingSha256: this.#pair.sha256 },
        `${file}: ${reason} (listen.${this.listener} keeps serving the last good certificate)`,
      );
      return 'kept';
    }
    this.#watcher?.follow(read.pair.sources);
    if (read.pair.sha256 === this.#pair.sha256 && sameKey(read.pair, this.#pair)) return 'unchanged';
    this.#target?.setSecureContext(read.pair.options);
    this.#pair = read.pair;
    const expires = Math.floor(read.pair.expiresAt / 1000);
    this.#events?.expiry(this.listener, expires);
    logger?.info(
      { event: 'tls_reloaded', listener: this.listener, sha256: read.pair.sha256, expires: new Date(read.pair.expiresAt).toISOString() },
      `listen.${this.listener} serves a new certificate`,
    );
    return 'swapped';
  }
}

function sameKey(a: CertificatePair, b: CertificatePair): boolean {
  return String(a.options.key) === String(b.options.key) && String(a.options.ca) === String(b.options.ca);
}
