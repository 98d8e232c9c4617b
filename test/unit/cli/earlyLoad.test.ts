import { afterAll, describe, expect, it } from 'vitest';
import { dropEarlyLoad, startEarlyLoad, takeEarlyLoad } from '../../../src/cli/earlyLoad.js';
import { tempConfig } from '../../helpers/config.js';

/**
 * `keygate serve` starts its first load before importing the serving code; the app takes
 * it over only for the same config file and environment. (End to end, every test that
 * runs `keygate serve` through bin/keygate.js goes through it.)
 */
const cfg = tempConfig('http://127.0.0.1:9');
afterAll(() => {
  dropEarlyLoad();
  cfg.cleanup();
});

describe('early load', () => {
  it('serve -c FILE: the app takes the running load of that file, once', async () => {
    const env = { ...process.env };
    startEarlyLoad(['serve', '-c', cfg.mainFile], env);
    const load = takeEarlyLoad(cfg.mainFile, env);
    expect(load).toBeDefined();
    const result = await load!;
    expect(result.ok && result.snapshot.keys.size).toBeGreaterThan(0);
    expect(takeEarlyLoad(cfg.mainFile, env)).toBeUndefined();
  });

  it('is dropped when the app loads another file or environment', () => {
    const env = { ...process.env };
    startEarlyLoad(['serve', '--config', cfg.mainFile], env);
    expect(takeEarlyLoad(cfg.path('other.yaml'), env)).toBeUndefined();
    startEarlyLoad(['serve', '--config', cfg.mainFile], env);
    expect(takeEarlyLoad(cfg.mainFile, { ...env })).toBeUndefined();
  });

  it('starts nothing for other commands, bad arguments or a --workers primary', () => {
    const env = { ...process.env, KEYGATE_CONFIG: cfg.mainFile };
    for (const argv of [['check'], ['serve', '--bogus'], ['serve', '--help'], ['serve', '--workers', '2']]) {
      startEarlyLoad(argv, env);
      expect(takeEarlyLoad(cfg.mainFile, env), argv.join(' ')).toBeUndefined();
    }
    startEarlyLoad(['serve', '--workers', '1'], env); // $KEYGATE_CONFIG, as serve reads it
    expect(takeEarlyLoad(cfg.mainFile, env)).toBeDefined();
  });
});
