// Bench-only: `node --import ./bench/peers/knockouts.mjs bin/keygate.js serve ...` with
// KEYGATE_BENCH_KNOCKOUTS=metrics,decision,... switches stages of keygate's request path
// off, so the bench can measure what each one costs in situ. Nothing in src/ knows about
// it. The definitions are in knockoutHooks.mjs.
import { register } from 'node:module';

const wanted = (process.env.KEYGATE_BENCH_KNOCKOUTS ?? '').split(',').filter(Boolean);
if (wanted.length > 0) register('./knockoutHooks.mjs', import.meta.url, { data: { wanted } });
