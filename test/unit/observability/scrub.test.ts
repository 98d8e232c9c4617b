import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { createLogger } from '../../../src/observability/logger.js';
import { scrubSecrets } from '../../../src/observability/scrub.js';
import { ConfigError } from '../../../src/reader/issues.js';
import { MAIN, edit, writeFixture } from '../config/fixtures.js';

/** The scrubber removes secrets, not prose: keygate's own error messages stay readable. */

/** The real messages of a config whose service token cannot be read (file missing, empty, env unset). */
function realTokenErrors(): string[] {
  const cases: Record<string, string | null>[] = [
    { 'compute.token': null },
    { 'compute.token': '  \n' },
    { 'keygate.yaml': edit(MAIN, 'file: ./compute.token', 'env: KEYGATE_TEST_UNSET_TOKEN') },
  ];
  return cases.flatMap((files) => {
    const fixture = writeFixture(files);
    try {
      const result = loadConfig(fixture.mainFile, { env: {} });
      return result.ok ? [] : result.errors.map((e) => e.message);
    } finally {
      fixture.cleanup();
    }
  });
}

describe('scrubSecrets', () => {
  it("leaves keygate's service-token errors as they are, in the text and in a logged error", () => {
    const messages = realTokenErrors();
    expect(messages).toHaveLength(3);
    expect(messages.join('\n')).toMatch(/cannot read service token file .*compute\.token/);
    for (const m of messages) expect(scrubSecrets(m)).toBe(m);
    const chunks: string[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (s: string) => void chunks.push(s) } });
    const err = new ConfigError(messages.map((message) => ({ file: 'keygate.yaml', line: 1, col: 1, message })));
    logger.error({ err, event: 'reload_failed' }, messages[0]);
    const logged = chunks.join('');
    expect(logged).not.toContain('[REDACTED]');
    expect(logged).toContain('cannot read service token file');
  });

  it.each([
    ['Authorization: Bearer abc.def-ghi, next', 'Authorization: Bearer [REDACTED], next'],
    ['basic dTpw', 'basic [REDACTED]'],
    ['Authorization: Token s3cr3t', 'Authorization: Token [REDACTED]'],
    ['token dXNlcjpwYXNz', 'token [REDACTED]'],
    ['ApiKey Zm9vYmFy', 'ApiKey [REDACTED]'],
    ['the token is not set', 'the token is not set'],
    ['token file /var/run/secrets/token', 'token file /var/run/secrets/token'],
    ['token /var/run/secrets/token', 'token /var/run/secrets/token'],
  ])('%j → %j', (text, scrubbed) => {
    expect(scrubSecrets(text)).toBe(scrubbed);
  });
});
