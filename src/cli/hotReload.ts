import type { Logger } from 'pino';
import type { SourceMetas, Sources } from '../config/fingerprint.js';
import { formatIssue, type ConfigIssue } from '../reader/issues.js';
import { Reloader, type ReloadOutcome } from '../reload/reloader.js';
import type { Snapshot } from '../config/snapshot.js';
import type { Metrics } from '../observability/metrics.js';

/** The parts of KeygateApp that hot reload touches. */
export interface ReloadableApp {
  readonly logger: Logger;
  readonly metrics: Pick<Metrics, 'configReloaded'>;
  snapshot(): Snapshot;
  apply(next: Snapshot): void;
}

export interface HotReloadOptions {
  readonly configFile: string;
  readonly env: NodeJS.ProcessEnv;
  /** What the start-up load read. */
  readonly sources: Sources;
  readonly metas?: SourceMetas;
  readonly watch?: boolean;
}

/** Issues logged per reload; a broken 100,000-key file must not flood the log. */
const MAX_LOGGED_ISSUES = 100;

/** Watches the config files and reloads into `app`; every outcome is logged and counted. */
export function startHotReload(app: ReloadableApp, options: HotReloadOptions): Reloader {
  return new Reloader({
    mainFile: options.configFile,
    env: options.env,
    sources: options.sources,
    ...(options.metas ? { metas: options.metas } : {}),
    ...(options.watch !== undefined ? { watch: options.watch } : {}),
    current: () => app.snapshot(),
    apply: (next) => app.apply(next),
    report: (outcome) => report(app, outcome),
  });
}

function report(app: ReloadableApp, o: ReloadOutcome): void {
  const { logger, metrics } = app;
  if (o.result === 'success') {
    logger.level = o.snapshot.log.level;
    logIssues(logger, 'warn', 'config_warning', o.warnings);
    if (o.restartRequired.length) {
      logger.warn(
        { event: 'restart_required', fields: o.restartRequired, generation: o.snapshot.generation },
        `changed settings need a restart to take effect: ${o.restartRequired.join(', ')}; everything else is applied`,
      );
    }
    reportShadow(logger, o.snapshot);
    metrics.configReloaded('success', o.snapshot.generation);
    logger.info(
      {
        event: 'reloaded',
        trigger: o.trigger,
        generation: o.snapshot.generation,
        changed: o.changed,
        keys: o.snapshot.keys.size,
        shadow: shadowState(o.snapshot),
        durationMs: Math.round(o.durationMs),
      },
      'config reloaded',
    );
  } else if (o.result === 'failure') {
    metrics.configReloaded('failure');
    if (o.cause)
      logger.error(
        { event: 'reload_failed', trigger: o.trigger, err: o.cause },
        'config reload failed inside keygate; the previous config keeps serving',
      );
    logIssues(logger, 'error', 'reload_failed', o.errors, { trigger: o.trigger, servingGeneration: app.snapshot().generation });
    logIssues(logger, 'warn', 'config_warning', o.warnings);
  }
}

/** keygate.yaml `shadow`: judging requests (`on`), configured but invalid and ignored, or not configured. */
export function shadowState(s: Snapshot): 'on' | 'invalid' | 'off' {
  return s.shadow ? 'on' : s.shadowErrors?.length ? 'invalid' : 'off';
}

/** An invalid shadow candidate is logged (every problem, located) and ignored: the live config it came with serves. */
export function reportShadow(logger: Logger, s: Snapshot): void {
  for (const issue of (s.shadowErrors ?? []).slice(0, MAX_LOGGED_ISSUES)) {
    const { file, line, col } = issue;
    logger.error(
      { event: 'shadow_invalid', file, line, col, generation: s.generation },
      `${formatIssue(issue)} (the shadow candidate is ignored; the live config serves unaffected)`,
    );
  }
}

function logIssues(
  logger: Logger,
  level: 'warn' | 'error',
  event: string,
  issues: readonly ConfigIssue[],
  extra: Record<string, unknown> = {},
): void {
  for (const issue of issues.slice(0, MAX_LOGGED_ISSUES)) {
    const { file, line, col } = issue;
    logger[level](
      { event, file, line, col, ...extra },
      level === 'error' ? `${formatIssue(issue)} (keeping the last good config)` : formatIssue(issue),
    );
  }
  if (issues.length > MAX_LOGGED_ISSUES)
    logger[level](
      { event, omitted: issues.length - MAX_LOGGED_ISSUES, ...extra },
      `${issues.length - MAX_LOGGED_ISSUES} more not logged; run keygate check`,
    );
}
