import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/** Clock ticks per second for /proc/<pid>/stat utime and stime (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = readTicksPerSecond();

function readTicksPerSecond(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

/**
 * CPU time of a process (all its threads) in microseconds, from the scheduler's own
 * nanosecond account (/proc/<pid>/task/<tid>/schedstat). utime+stime in /proc/<pid>/stat
 * is sampled at the clock tick, and a process woken by timers at low request rates is
 * running at the tick far more often than its share: at 100 req/s it reads 5-10x high.
 * Falls back to utime+stime where schedstat is missing. Undefined once the process is gone.
 */
export function cpuMicros(pid: number): number | undefined {
  const precise = schedMicros(pid);
  return precise ?? tickMicros(pid);
}

function schedMicros(pid: number): number | undefined {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    }
    return Number.isFinite(ns) && ns > 0 ? ns / 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** User + system CPU from /proc/<pid>/stat, at clock-tick resolution. */
export function tickMicros(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: fields are counted after its closing paren.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1e6) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** Resident set size (VmRSS) and its peak (VmHWM) in MiB. */
export function memoryMiB(pid: number): { rss: number; peak: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

/** Whether the process catches a signal (SigCgt bit), e.g. SIGHUP = 1: sending an uncaught one kills it. */
export function catchesSignal(pid: number, signal: number): boolean {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const mask = /^SigCgt:\s+([0-9a-f]+)/m.exec(status)?.[1];
    return mask !== undefined && (BigInt(`0x${mask}`) & (1n << BigInt(signal - 1))) !== 0n;
  } catch {
    return false;
  }
}

/** Direct children of a process (nginx's workers). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Summed CPU of several processes; undefined if any is gone. */
export function totalCpuMicros(pids: readonly number[]): number | undefined {
  let sum = 0;
  for (const pid of pids) {
    const v = cpuMicros(pid);
    if (v === undefined) return undefined;
    sum += v;
  }
  return sum;
}
