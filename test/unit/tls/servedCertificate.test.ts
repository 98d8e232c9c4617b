import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { ServedCertificate } from '../../../src/tls/servedCertificate.js';
import { makeCertificate, type TestCertificate } from '../../helpers/certs.js';

describe('a served certificate asked to check while a check runs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-served-cert-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const settings = { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key'), minVersion: 'TLSv1.2' as const };
  const write = (pair: TestCertificate): void => {
    writeFileSync(settings.cert, pair.cert);
    writeFileSync(settings.key, pair.key);
  };

  it('runs a check of its own after it: a change the running check missed is not left for the periodic check', async () => {
    const [first, second] = [makeCertificate({ cn: 'first' }), makeCertificate({ cn: 'second' })];
    write(first);
    const served = await ServedCertificate.load('proxy', settings);
    const swapped: number[] = [];
    const target = { setSecureContext: (): number => swapped.push(Date.now()) };
    // Watched, but neither file events (a long debounce) nor the periodic check (0: off) start a check here.
    served.serve(target, { logger: pino({ enabled: false }), expiry: () => undefined }, { debounce: 60_000, interval: 0 });
    try {
      write(second);
      const running = served.check(false);
      const asked = served.check(false);
      const forced = served.check(true); // shares the check asked for during the same run
      expect(forced).toBe(asked);
      expect(asked).not.toBe(running);
      expect(await running).toBe('swapped');
      expect(served.sha256).toBe(second.sha256);
      expect(await asked).toBe('unchanged'); // a check of its own, after the running one
      expect(swapped).toHaveLength(1);
    } finally {
      served.close();
    }
  });
});
