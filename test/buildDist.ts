import { fileURLToPath } from 'node:url';
import { buildIfStale } from '../bench/lib/build.js';

/** vitest globalSetup: the config-loading worker and spawned CLIs run dist/, so it must match src/. */
export default function setup(): void {
  buildIfStale(fileURLToPath(new URL('..', import.meta.url)));
}
