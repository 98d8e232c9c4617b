import { KEYS, MAIN, POLICY, edit } from './fixtures.js';

/**
 * Invalid configurations, one mistake each: loadConfig must report exactly one error at
 * `at` (load.test.ts), and the JSON Schemas in schema/ must give the same verdict, except
 * for the mistakes only \`keygate check\` can see (test/unit/config/schema.test.ts lists those).
 */
export interface BadFile {
  desc: string;
  files: Record<string, string | null>;
  /** `file:line:col` of the one error, pointing at the offending node. */
  at: string;
  /** The offending value, which the message names. */
  names: string;
  env?: NodeJS.ProcessEnv;
}

export const BAD_FILES: BadFile[] = [
  { desc: 'an unknown top-level field', files: { 'keygate.yaml': `${MAIN}regoin: eu-west-2\n` }, at: 'keygate.yaml:11:1', names: 'regoin' },
  { desc: 'an unknown service field', files: { 'keygate.yaml': edit(MAIN, '    timeouts:', '    timeout:') }, at: 'keygate.yaml:8:5', names: 'timeout' },
  { desc: 'an unknown rule field', files: { 'policy.yaml': edit(POLICY, 'path: "/**" }', 'path: "/**", verb: GET }') }, at: 'policy.yaml:3:50', names: 'verb' },
  { desc: 'an unknown key field', files: { 'keys.yaml': `${KEYS}    colour: red\n` }, at: 'keys.yaml:10:5', names: 'colour' },
  { desc: 'an unknown role', files: { 'policy.yaml': edit(POLICY, 'compute-admin, reader]', 'compute-admin, readr]') }, at: 'policy.yaml:8:28', names: 'readr' },
  { desc: 'an unknown service in a role rule', files: { 'policy.yaml': edit(POLICY, 'service: compute, path', 'service: storage, path') }, at: 'policy.yaml:5:18', names: 'storage' },
  { desc: 'an unknown service in a key rule', files: { 'keys.yaml': edit(KEYS, 'service: compute', 'service: storage') }, at: 'keys.yaml:7:20', names: 'storage' },
  { desc: 'an unknown service in a guardrail', files: { 'policy.yaml': edit(POLICY, 'service: compute, method: DELETE', 'service: storage, method: DELETE') }, at: 'policy.yaml:11:16', names: 'storage' },
  {
    desc: 'a key id used in two keys files',
    files: { 'keygate.yaml': edit(MAIN, '[./keys.yaml]', '[./keys.yaml, ./more-keys.yaml]'), 'more-keys.yaml': KEYS },
    at: 'more-keys.yaml:2:5',
    names: 'AAAAAAAAAAAA',
  },
  {
    desc: 'a key id used twice in one keys file',
    files: { 'keys.yaml': KEYS + KEYS.replace('keys:\n', '') },
    at: 'keys.yaml:10:5',
    names: 'AAAAAAAAAAAA',
  },
  { desc: 'a date that is not in the calendar', files: { 'policy.yaml': edit(POLICY, '2030-06-30T', '2030-02-30T') }, at: 'policy.yaml:9:14', names: '2030-02-30' },
  { desc: 'a date that is not RFC 3339', files: { 'keys.yaml': edit(KEYS, 'expires: 2029-01-01T00:00:00Z', 'expires: next week') }, at: 'keys.yaml:9:14', names: 'next week' },
  { desc: 'a bad notBefore', files: { 'keys.yaml': `${KEYS}    notBefore: 2027-01-01T25:00:00Z\n` }, at: 'keys.yaml:10:16', names: '25:00' },
  { desc: 'a bad IPv4 CIDR, second in its list', files: { 'keys.yaml': edit(KEYS, '[10.0.0.0/8]', '[10.0.0.0/8, 10.0.0.0/33]') }, at: 'keys.yaml:8:29', names: '10.0.0.0/33' },
  { desc: 'a bad IPv6 CIDR', files: { 'keys.yaml': edit(KEYS, '[10.0.0.0/8]', '["2001:db8::/129"]') }, at: 'keys.yaml:8:17', names: '2001:db8::/129' },
  { desc: 'a CIDR that is not an address', files: { 'keys.yaml': edit(KEYS, '[10.0.0.0/8]', '[office]') }, at: 'keys.yaml:8:17', names: 'office' },
  { desc: 'a bad trustedProxies CIDR', files: { 'keygate.yaml': `${MAIN}listen:\n  trustedProxies: [10.0.0.0/8, 300.0.0.0/8]\n` }, at: 'keygate.yaml:12:32', names: '300.0.0.0/8' },
  { desc: 'a wildcard inside a path segment', files: { 'keys.yaml': edit(KEYS, 'path: "/v2/**"', 'path: "/v2/a*"') }, at: 'keys.yaml:7:49', names: '/v2/a*' },
  { desc: 'a path pattern not starting with /', files: { 'policy.yaml': edit(POLICY, 'path: "/**"', 'path: "**"') }, at: 'policy.yaml:3:43', names: '**' },
  { desc: 'a dot segment in a path pattern', files: { 'keys.yaml': edit(KEYS, 'path: "/v2/**"', 'path: "/v2/../x"') }, at: 'keys.yaml:7:49', names: '/v2/../x' },
  { desc: 'a bad method', files: { 'keys.yaml': edit(KEYS, 'method: read', 'method: "GE T"') }, at: 'keys.yaml:7:37', names: 'GE T' },
  { desc: 'a bad method in a list', files: { 'policy.yaml': edit(POLICY, 'method: DELETE', 'method: [DELETE, "P@TCH"]') }, at: 'policy.yaml:11:42', names: 'P@TCH' },
  { desc: 'a plaintext secret field', files: { 'keys.yaml': `${KEYS}    secret: hunter2hunter2\n` }, at: 'keys.yaml:10:5', names: 'secret' },
  { desc: 'a hash without an algorithm tag', files: { 'keys.yaml': edit(KEYS, /hash: ".*"/.exec(KEYS)![0], 'hash: "correct-horse-battery-staple"') }, at: 'keys.yaml:4:11', names: '<algorithm>$' },
  { desc: 'an unknown hash algorithm', files: { 'keys.yaml': edit(KEYS, /hash: ".*"/.exec(KEYS)![0], 'hash: "md5$0123456789abcdef"') }, at: 'keys.yaml:4:11', names: 'md5' },
  { desc: 'a YAML syntax error', files: { 'policy.yaml': edit(POLICY, 'expires: 2030-06-30T00:00:00Z', 'expires: at: 2030') }, at: 'policy.yaml:9:14', names: 'Nested mappings' },
  { desc: 'a duplicate mapping key', files: { 'keys.yaml': `${KEYS}    user: joe\n` }, at: 'keys.yaml:10:5', names: 'unique' },
  { desc: 'a key without a required field', files: { 'keys.yaml': edit(KEYS, '    user: joe\n', '') }, at: 'keys.yaml:2:5', names: 'user' },
  { desc: 'a rule without a path', files: { 'policy.yaml': edit(POLICY, ', path: "/**" }', ' }') }, at: 'policy.yaml:3:7', names: 'path' },
  { desc: 'a service without an upstream', files: { 'keygate.yaml': edit(MAIN, '    upstream: http://127.0.0.1:3000\n', '') }, at: 'keygate.yaml:3:5', names: 'upstream' },
  { desc: 'keygate.yaml without a policy', files: { 'keygate.yaml': edit(MAIN, 'policy: ./policy.yaml\n', '') }, at: 'keygate.yaml:1:1', names: 'policy' },
  { desc: 'a bad duration', files: { 'keygate.yaml': edit(MAIN, 'connect: 2s', 'connect: 2 seconds') }, at: 'keygate.yaml:8:26', names: '2 seconds' },
  { desc: 'a missing service token file', files: { 'keygate.yaml': edit(MAIN, './compute.token', './missing.token') }, at: 'keygate.yaml:7:13', names: 'missing.token' },
  { desc: 'an empty service token file', files: { 'compute.token': ' \n' }, at: 'keygate.yaml:7:13', names: 'compute.token' },
  { desc: 'an unset service token variable', files: { 'keygate.yaml': edit(MAIN, 'file: ./compute.token', 'env: COMPUTE_TOKEN') }, at: 'keygate.yaml:7:12', names: 'COMPUTE_TOKEN' },
  { desc: 'a bad key scope', files: { 'keys.yaml': edit(KEYS, 'scope: restricted', 'scope: everything') }, at: 'keys.yaml:5:12', names: 'everything' },
  { desc: 'a malformed key id', files: { 'keys.yaml': edit(KEYS, 'id: AAAAAAAAAAAA', 'id: short') }, at: 'keys.yaml:2:9', names: 'short' },
  { desc: 'a flag that is not a boolean', files: { 'keys.yaml': `${KEYS}    disabled: yes\n` }, at: 'keys.yaml:10:15', names: 'disabled' },
  { desc: 'a pathPrefix with a wildcard', files: { 'keygate.yaml': edit(MAIN, 'pathPrefix: /compute', 'pathPrefix: /compute/*') }, at: 'keygate.yaml:4:26', names: '/compute/*' },
  { desc: 'a missing policy file', files: { 'policy.yaml': null }, at: 'policy.yaml:1:1', names: 'ENOENT' },
  { desc: 'a route host that is not a host name', files: { 'keygate.yaml': edit(MAIN, 'pathPrefix: /compute,', 'host: "a..b", pathPrefix: /compute,') }, at: 'keygate.yaml:4:20', names: 'a..b' },
  { desc: 'a path-reading flag that is not a boolean', files: { 'keygate.yaml': edit(MAIN, 'stripPrefix: true', 'stripPrefix: true, caseInsensitive: sometimes') }, at: 'keygate.yaml:4:72', names: 'caseInsensitive' },
  { desc: 'an unknown upstream protocol', files: { 'keygate.yaml': edit(MAIN, '    upstream: http://127.0.0.1:3000\n', '    upstream: http://127.0.0.1:3000\n    protocol: http3\n') }, at: 'keygate.yaml:6:15', names: 'http3' },
  { desc: 'a key bound to two client certificate matchers', files: { 'keys.yaml': `${KEYS}    clientCert: { subject: CN=a, san: "DNS:a" }\n` }, at: 'keys.yaml:10:17', names: 'clientCert' },
  { desc: 'a shadow block naming no candidate', files: { 'keygate.yaml': `${MAIN}shadow: {}\n` }, at: 'keygate.yaml:11:9', names: 'shadow' },
  { desc: 'a key maxAge that is not a duration', files: { 'policy.yaml': `${POLICY}keys: { maxAge: a year }\n` }, at: 'policy.yaml:12:17', names: 'maxAge' },
  { desc: 'a previousHashExpires that is not a timestamp', files: { 'keys.yaml': `${KEYS}    previousHash: "sha256$RRwO9N4IE4dFdcjZ-PjBV285W3M_z8Zg66qhTU_ZUFA"\n    previousHashExpires: soon\n` }, at: 'keys.yaml:11:26', names: 'soon' },
  {
    desc: 'a credential header keygate owns',
    files: { 'keygate.yaml': edit(MAIN, '    timeouts:', '    credentials: { headers: [Host] }\n    timeouts:') },
    at: 'keygate.yaml:8:30',
    names: 'Host',
  },
  {
    desc: 'a credential query parameter that is not a plain name',
    files: { 'keygate.yaml': edit(MAIN, '    timeouts:', '    credentials: { query: "api key" }\n    timeouts:') },
    at: 'keygate.yaml:8:27',
    names: 'api key',
  },
  {
    desc: 'credentials with no source',
    files: { 'keygate.yaml': edit(MAIN, '    timeouts:', '    credentials: { headers: [] }\n    timeouts:') },
    at: 'keygate.yaml:8:18',
    names: 'credentials',
  },
];
