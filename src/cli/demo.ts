import { startEchoUpstream } from '../demo/echoUpstream.js';
import { CONFIG_OPTION, configPath, flag, parseCommand } from './args.js';
import { EXIT, type CliIO } from './io.js';
import { startOrExplain, waitForSignals } from './serve.js';
import type { KeygateApp } from './app.js';

export const demoHelp =
  "keygate demo -c FILE [--json]   the demo: an echo API on the first upstream's address, with keygate in front (--json: one line { proxy, admin, upstream, keys })";

const DEMO_KEYS = {
  monitoring: 'kg_DT7nOCBZHjkw_39obQwlTUVXh04TTl8BRKNwUqp2NUFK1YRt57xe2lcr0kLJdL',
  deploy: 'kg_ZzPjRE9uyI9s_jXZNwqV4BSf1h8GNbhUNLv3oiUBr1ZiMIe85CQwr83k195ZU6',
};

/** What else the example config turns on: the assertion's public keys and the gRPC ext_authz port. */
function extras(app: KeygateApp): string[] {
  const s = app.snapshot();
  const out: string[] = [];
  if (s.services.some((svc) => svc.assertion)) {
    out.push(`  curl http://127.0.0.1:${app.port('admin')}/.well-known/jwks.json   # keys that verify X-Keygate-Assertion (echoed above)`);
  }
  if (s.listen.grpc)
    out.push(`gRPC ext_authz (envoy.service.auth.v3.Authorization/Check) and grpc.health.v1 on 127.0.0.1:${app.port('grpc')}`);
  return out;
}

export async function runDemo(argv: string[], io: CliIO): Promise<number> {
  const args = parseCommand(argv, { ...CONFIG_OPTION, json: { type: 'boolean' } });
  const app = await startOrExplain(configPath(args, io), io);
  if (!app) return EXIT.failed;
  const upstream = app.snapshot().services[0].upstream;
  const echo = await startEchoUpstream(upstream.hostname, Number(upstream.port || 80));
  const proxy = `http://127.0.0.1:${app.port('proxy')}`;
  Object.values(DEMO_KEYS).forEach((k) => io.reveal?.(k)); // public demo keys, shown on purpose
  if (flag(args, 'json')) {
    const admin = `http://127.0.0.1:${app.port('admin')}`;
    io.out(JSON.stringify({ proxy, admin, upstream: upstream.origin, keys: DEMO_KEYS }));
    return waitForSignals(app, () => echo.close());
  }
  io.err(
    [
      `demo: echo API on ${upstream.origin}, keygate on ${proxy} (Ctrl-C stops both). Try:`,
      `  curl -H 'Authorization: Bearer ${DEMO_KEYS.monitoring}' ${proxy}/compute/v2/p1/servers/42    # 200`,
      `  curl -X POST -H 'Authorization: Bearer ${DEMO_KEYS.monitoring}' ${proxy}/compute/v2/p1/servers  # 403`,
      `  curl ${proxy}/compute/v2/p1/servers                                                           # 401`,
      ...extras(app),
    ].join('\n'),
  );
  return waitForSignals(app, () => echo.close());
}
