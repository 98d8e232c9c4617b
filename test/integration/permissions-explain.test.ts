import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config/load.js';
import type { Snapshot } from '../../src/config/snapshot.js';
import { compilePattern, matchesPattern, pathSegments, type PathPattern } from '../../src/policy/pathPattern.js';
import type { CompiledRule } from '../../src/policy/rules.js';
import { REPO } from '../helpers/config.js';

/**
 * `permissions` and `explain` must never disagree. For every key of the example config,
 * requests are built from every rule the config holds (role rules, key allow and deny
 * rules, guardrails); what `permissions --json` predicts for each must be what
 * `explain --json` decides.
 */

const CONFIG = `${REPO}/config/keygate.yaml`;
const AT = Date.parse('2026-12-01T00:00:00Z'); // the example's expiries never move these answers

interface PermRule {
  service: string;
  method: string;
  path: string;
  alsoPath?: string;
  region: string[] | '*';
}

interface Permissions {
  state: string;
  allow: PermRule[];
  deny: PermRule[];
  guardrails: PermRule[];
}

async function cli<T>(...args: string[]): Promise<{ code: number; body: T }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([...args, '-c', CONFIG, '--json'], {
    out: (t) => void out.push(t),
    err: (t) => void err.push(t),
    env: {},
    now: () => AT,
  });
  if (code === 2) throw new Error(`usage error: ${err.join('\n')}`);
  return { code, body: JSON.parse(out.join('\n')) as T };
}

const pattern = (text: string): PathPattern => compilePattern(text) as PathPattern;

function admits(rule: PermRule, service: string, method: string, path: string, region: string): boolean {
  const segments = pathSegments(path);
  return (
    (rule.service === '*' || rule.service === service) &&
    (rule.method === '*' || rule.method.split(',').includes(method)) &&
    (rule.region === '*' || rule.region.includes(region)) &&
    matchesPattern(pattern(rule.path), segments) &&
    (rule.alsoPath === undefined || matchesPattern(pattern(rule.alsoPath), segments))
  );
}

/** What permissions says about one request. */
function predicted(p: Permissions, service: string, method: string, path: string, region: string): 'allow' | 'deny' {
  if (p.state !== 'active') return 'deny';
  const allowed = p.allow.some((r) => admits(r, service, method, path, region));
  const taken = [...p.deny, ...p.guardrails].some((r) => admits(r, service, method, path, region));
  return allowed && !taken ? 'allow' : 'deny';
}

/** Concrete paths a pattern matches: `*` and `{x}` as one segment, `**` as none, one or two. */
function samplePaths(text: string): string[] {
  let paths = [''];
  for (const seg of text.slice(1).split('/')) {
    if (seg === '**') paths = paths.flatMap((p) => [p, `${p}/x`, `${p}/x/y`]);
    else if (seg === '*' || /^\{.*\}$/.test(seg)) paths = paths.map((p) => `${p}/x`);
    else paths = paths.map((p) => `${p}/${seg}`);
  }
  return paths.map((p) => p || '/');
}

function everyRule(s: Snapshot): CompiledRule[] {
  return [
    ...[...s.users.values()].flatMap((u) => u.rules.rules),
    ...s.keys.list().flatMap((k) => [...k.allow.rules, ...k.deny.rules]),
    ...s.guardrails.rules,
  ];
}

describe('permissions and explain agree', () => {
  const loaded = loadConfig(CONFIG, { serviceTokens: false });
  if (!loaded.ok) throw new Error('the example config must load');
  const snapshot = loaded.snapshot;
  const services = snapshot.services.map((s) => s.name);
  const requests = everyRule(snapshot).flatMap((rule) => {
    const methods = rule.methods ? [...rule.methods, 'HEAD', 'PATCH'] : ['GET', 'HEAD', 'POST', 'DELETE'];
    const targets = rule.service === '*' ? services : [rule.service];
    return targets.flatMap((service) =>
      samplePaths(rule.path.text).flatMap((path) => methods.map((method) => ({ service, method, path }))),
    );
  });
  const unique = [...new Map(requests.map((r) => [`${r.service} ${r.method} ${r.path}`, r])).values()];

  it.each(snapshot.keys.list().map((k) => ({ id: k.id, name: k.name })))(
    'on every rule of the example config, for key $id ($name)',
    async ({ id }) => {
      expect(unique.length).toBeGreaterThan(20);
      const { body: perms } = await cli<Permissions>('permissions', id);
      const disagreements: string[] = [];
      let allowed = 0;
      for (const r of unique) {
        const { code, body } = await cli<{ decision: string; reason: string }>(
          'explain',
          '--key',
          id,
          '--service',
          r.service,
          '--method',
          r.method,
          '--path',
          r.path,
          '--at',
          new Date(AT).toISOString(),
        );
        const expected = predicted(perms, r.service, r.method, r.path, snapshot.region);
        if (body.decision !== expected || code !== (expected === 'allow' ? 0 : 1)) {
          disagreements.push(
            `${r.service} ${r.method} ${r.path}: permissions says ${expected}, explain says ${body.decision} (${body.reason})`,
          );
        }
        if (expected === 'allow') allowed++;
      }
      expect(disagreements).toEqual([]);
      expect(allowed).toBeGreaterThan(0); // each example key can do something, so both answers were exercised
    },
  );
});
