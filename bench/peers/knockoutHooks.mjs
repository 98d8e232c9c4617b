// Module-load hooks (node:module register) for bench/peers/knockouts.mjs. Each knockout
// appends a few lines to one compiled module of dist/ that replace one stage with the
// cheapest stand-in that still lets the request through unchanged for the bench:
// module-level function declarations are mutable, live bindings, so reassigning one
// here is what every importer calls.
//
// When you rename or move a function named here, update its knockout: a knockout whose
// target is gone throws at start-up (ReferenceError), and one whose file was never
// loaded is reported by the bench (each prints "bench knockout applied: NAME").
//
// To add a knockout (e.g. `ratelimit`): add an entry { file, code } below, then a
// variant that names it in bench/scenarios/stages.ts.

const applied = (name) => `process.stderr.write(${JSON.stringify(`bench knockout applied: ${name}\n`)});`;

export const KNOCKOUTS = {
  // Per-request metrics: every hot-path method of Metrics does nothing.
  metrics: {
    file: '/dist/observability/metrics.js',
    code: `
{
  const noop = function () {};
  for (const m of ['record', 'requestArrived', 'requestFinished', 'decisionTime', 'upstreamFinished', 'upstreamError']) {
    if (typeof Metrics.prototype[m] !== 'function') throw new Error('bench knockout metrics: Metrics.' + m + ' is gone');
    Metrics.prototype[m] = noop;
  }
  ${applied('metrics')}
}`,
  },
  // The decision (path safety, route, credential, key lookup + hash, rules): the first
  // allowed outcome is kept and returned for every later request.
  decision: {
    file: '/dist/proxy/access.js',
    code: `
{
  const real = checkAccess;
  let memo;
  checkAccess = function (...args) {
    if (memo !== undefined) return memo;
    const out = real(...args);
    if (out instanceof Promise) void out.then((o) => { if (o.allow) memo = out; });
    else if (out.allow) memo = out;
    return out;
  };
  ${applied('decision')}
}`,
  },
  // Upstream header rewriting: the first request's rewritten headers are reused.
  headers: {
    file: '/dist/proxy/headers.js',
    code: `
{
  const real = upstreamRequestHeaders;
  let memo;
  upstreamRequestHeaders = function (...args) { return (memo ??= real(...args)); };
  ${applied('headers')}
}`,
  },
  // The request-meaning checks before the key is verified (upgrades, method overrides,
  // duplicate Host, TRACE): the header scan finds nothing and no override is read.
  meaning: {
    file: '/dist/proxy/requestMeaning.js',
    code: `
{
  const nothing = { upgrades: [], h2cHint: false, methodOverrides: [], hosts: 1 };
  const none = { ok: true, methods: [] };
  scanHeaders = function () { return nothing; };
  checkMethodOverrides = function () { return none; };
  ${applied('meaning')}
}`,
  },
  // The identity assertion: the first token signed is returned for every later request
  // (no cache lookup, no signing); the header is still sent, so only the token's making is measured.
  assertion: {
    file: '/dist/assertion/signer.js',
    code: `
{
  const real = AssertionSigner.prototype.tokenFor;
  let memo;
  AssertionSigner.prototype.tokenFor = function (...args) {
    if (memo !== undefined) return memo;
    const out = real.apply(this, args);
    if (typeof out === 'string') memo = out;
    return out;
  };
  ${applied('assertion')}
}`,
  },
  // Key usage (last used): the recorder the observer calls for every finished request does nothing.
  usage: {
    file: '/dist/usage/recorder.js',
    code: `
{
  if (typeof UsageRecorder.prototype.record !== 'function') throw new Error('bench knockout usage: UsageRecorder.record is gone');
  UsageRecorder.prototype.record = function () {};
  ${applied('usage')}
}`,
  },
};

let wanted = [];

export function initialize(data) {
  wanted = data.wanted;
  for (const name of wanted)
    if (!KNOCKOUTS[name]) throw new Error(`unknown bench knockout ${name} (known: ${Object.keys(KNOCKOUTS).join(', ')})`);
}

export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  const extra = wanted.filter((n) => url.endsWith(KNOCKOUTS[n].file)).map((n) => KNOCKOUTS[n].code);
  if (extra.length === 0) return result;
  return { ...result, source: `${String(result.source)}\n${extra.join('\n')}\n` };
}
