import { methodsText } from '../policy/methods.js';
import { keyState } from '../policy/model.js';
import { effectivePermissions, effectiveSources, effectiveText, type EffectiveRule } from '../policy/effective.js';
import { ruleText, type CompiledRule } from '../policy/rules.js';
import { limitView, type LimitView } from '../policy/rateLimits.js';
import type { KeyRecord, Snapshot } from '../config/snapshot.js';
import { CONFIG_OPTION, configPath, flag, parseCommand, requirePositional } from './args.js';
import { CommandFailed, EXIT, type CliIO } from './io.js';
import { keyIdArg } from './keyIdArg.js';
import { loadOrFail } from './loadOrFail.js';

export const permissionsHelp =
  "keygate permissions -c FILE ID [--json]   the key's effective rules (user ∩ key, minus deny rules and guardrails)";

export function runPermissions(argv: string[], io: CliIO): number {
  const args = parseCommand(argv, { ...CONFIG_OPTION, json: { type: 'boolean' } }, 1);
  const id = keyIdArg(requirePositional(args, 'key ID'), io, 'key ID');
  const snapshot = loadOrFail(configPath(args, io), io);
  const key = snapshot.keys.byId.get(id);
  if (!key) throw new CommandFailed(`unknown key id "${id}"`);
  const perms = effectivePermissions(snapshot, key);
  const state = keyState(snapshot, key, io.now());
  const user = snapshot.users.get(key.user);
  if (flag(args, 'json')) {
    io.out(
      JSON.stringify(
        {
          id: key.id,
          user: key.user,
          name: key.name,
          scope: key.scope,
          state,
          roles: user?.roles ?? [],
          allow: perms.allow.map(effectiveJson),
          deny: perms.deny.map(ruleJson),
          guardrails: perms.guardrails.map(ruleJson),
          rateLimits: limitsOf(snapshot, key),
        },
        null,
        2,
      ),
    );
    return EXIT.ok;
  }
  const lines = [
    `key ${key.id} "${key.name}" of user ${key.user} (${user ? `roles: ${user.roles.join(', ') || 'none'}` : 'user not in policy'})`,
    `scope: ${key.scope}   state: ${state}`,
    '',
    'allowed (user roles ∩ key):',
    ...(perms.allow.length
      ? perms.allow.map((r) => `  + ${effectiveText(r)}   (from ${effectiveSources(r).join('; ')})`)
      : ['  (nothing)']),
  ];
  if (perms.deny.length) lines.push('', "minus the key's deny rules:", ...perms.deny.map((r) => `  - ${ruleText(r)}`));
  if (perms.guardrails.length) lines.push('', 'minus guardrails:', ...perms.guardrails.map((r) => `  - ${ruleText(r)}`));
  const limits = limitsOf(snapshot, key);
  lines.push(
    '',
    'rate limits (every one that applies takes a token per request):',
    ...(limits.length ? limits.map((l) => `  ~ ${l.text}`) : ['  (none)']),
  );
  if (state !== 'active') lines.push('', `note: the key is ${state}; it can do nothing until that changes`);
  io.out(lines.join('\n'));
  return EXIT.ok;
}

function effectiveJson(r: EffectiveRule): Record<string, unknown> {
  return {
    service: r.service,
    method: methodsText(r.methods),
    path: r.path.text,
    ...(r.alsoPath ? { alsoPath: r.alsoPath.text } : {}),
    region: r.regions ? [...r.regions] : '*',
    from: effectiveSources(r),
  };
}

function ruleJson(r: CompiledRule): Record<string, unknown> {
  return {
    service: r.service,
    method: methodsText(r.methods),
    path: r.path.text,
    region: r.regions ? [...r.regions] : '*',
    from: `${r.origin.owner} rule ${r.origin.index + 1}`,
  };
}

/** The user's buckets (shared by all its keys) and the key's own, each with its service scope. */
function limitsOf(snapshot: Snapshot, key: KeyRecord): LimitView[] {
  const user = snapshot.users.get(key.user);
  return [
    ...(user?.rateLimits ?? []).map((limit) => limitView({ scope: 'user', owner: key.user, limit })),
    ...(snapshot.rateLimits.byKey.get(key.id) ?? []).map((limit) => limitView({ scope: 'key', owner: key.id, limit })),
  ];
}
