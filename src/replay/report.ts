import type { Changes, Direction, Example, Group, ReplaySummary } from './replay.js';

/** Allowed → denied first: those are what would break a client. */
const DIRECTIONS: readonly Direction[] = ['allowed_to_denied', 'denied_to_allowed'];
const TITLES: Record<Direction, string> = { allowed_to_denied: 'allowed → denied', denied_to_allowed: 'denied → allowed' };

/** Biggest groups first; ties by name, so the output is stable. */
function sorted<G extends Group>(groups: Map<string, G>): G[] {
  return [...groups].sort(([a, ga], [b, gb]) => gb.count - ga.count || (a < b ? -1 : a > b ? 1 : 0)).map(([, g]) => g);
}

export function reportText(s: ReplaySummary, candidateFile: string): string {
  const out = [
    `replayed ${s.replayed} request(s) against ${candidateFile} (${s.lines} line(s) read, ${s.considered - s.replayed} access line(s) not decided by the policy${s.unreadable ? `, ${s.unreadable} unreadable` : ''})`,
    `${s.changes.allowed_to_denied.count + s.changes.denied_to_allowed.count} would change: ${s.changes.allowed_to_denied.count} allowed → denied, ${s.changes.denied_to_allowed.count} denied → allowed`,
  ];
  for (const d of DIRECTIONS) if (s.changes[d].count > 0) out.push('', ...directionText(d, s.changes[d]));
  return out.join('\n');
}

function directionText(d: Direction, c: Changes): string[] {
  const width = String(c.count).length;
  const n = (count: number): string => String(count).padStart(width);
  return [
    `${TITLES[d]}: ${c.count}`,
    '  by key:',
    ...sorted(c.byKey).flatMap((g) => [
      `    ${n(g.count)}  ${g.keyId}${g.user !== null ? ` (${g.user}/${g.keyName ?? ''})` : ''}`,
      `    ${' '.repeat(width)}  e.g. ${exampleText(g.example)}`,
    ]),
    '  by rule:',
    ...sorted(c.byRule).flatMap((g) => [`    ${n(g.count)}  ${g.rule}`, `    ${' '.repeat(width)}  e.g. ${exampleText(g.example)}`]),
  ];
}

function exampleText(e: Example): string {
  return `${e.time} ${e.method} ${e.host ?? ''}${e.path} key ${e.keyId} from ${e.clientIp}: ${e.live} → ${e.candidate}`;
}

export function reportJson(s: ReplaySummary, candidateFile: string): unknown {
  const direction = (c: Changes): unknown => ({
    count: c.count,
    byKey: sorted(c.byKey),
    byRule: sorted(c.byRule),
  });
  return {
    candidate: candidateFile,
    lines: s.lines,
    considered: s.considered,
    replayed: s.replayed,
    unreadable: s.unreadable,
    allowedToDenied: direction(s.changes.allowed_to_denied),
    deniedToAllowed: direction(s.changes.denied_to_allowed),
  };
}
