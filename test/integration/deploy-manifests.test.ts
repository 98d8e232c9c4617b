import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { ServiceConfig, Snapshot } from '../../src/config/snapshot.js';
import { REPO } from '../helpers/config.js';
import { at, envoyAuthz, envoyGrpcAuthz, nginxSnippet, readYaml, readYamlDocuments, traefikForwardAuth } from '../helpers/fronts.js';
import { startKeygate, type RunningKeygate } from '../helpers/keygate.js';

/**
 * Every file under deploy/kubernetes, deploy/envoy, deploy/nginx and deploy/traefik
 * parses, and the wiring that breaks silently in production agrees: ports, probe
 * paths, volume mounts against the paths the config names, header lists against the
 * services' token headers, and metric names against what keygate exports.
 */

type Json = Record<string, unknown>;

const IDENTITY_HEADERS = ['x-keygate-user', 'x-keygate-key-id', 'x-keygate-key-name'];

function loadOk(mainFile: string): Snapshot {
  const loaded = loadConfig(mainFile, { env: {} });
  if (!loaded.ok) throw new Error(`${mainFile}: ${loaded.errors.map((e) => `${e.file}:${e.line}:${e.col} ${e.message}`).join('; ')}`);
  return loaded.snapshot;
}

/** The example config that the Envoy, nginx and Traefik examples front. */
const example = loadOk(join(REPO, 'config/keygate.yaml'));
const tokenHeaders = (s: Snapshot): string[] => [
  ...new Set(s.services.filter((x) => x.serviceToken.source.kind !== 'none').map((x) => x.serviceToken.header)),
];
const upstreamPort = (s: ServiceConfig): number => Number(s.upstream.port || 80);

// ---- Kubernetes --------------------------------------------------------------------------

const K8S = 'deploy/kubernetes';

interface Kustomization {
  resources: string[];
  images?: { name: string }[];
  configMapGenerator?: Generator[];
  secretGenerator?: Generator[];
}
interface Generator {
  name: string;
  files: string[];
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  [k: string]: unknown;
}

const kustomization = readYaml(`${K8S}/kustomization.yaml`) as unknown as Kustomization;
const objects = kustomization.resources.flatMap((r) => readYamlDocuments(`${K8S}/${r}`));
const byKind = (kind: string): Json[] => objects.filter((o) => o.kind === kind);
const deployment = byKind('Deployment')[0];
const podSpec = at(deployment, 'spec', 'template', 'spec') as Json;
const podLabels = at(deployment, 'spec', 'template', 'metadata', 'labels') as Record<string, string>;
const containers = at(podSpec, 'containers') as Container[];
const keygate = containers.find((c) => c.image === 'keygate' || c.image.includes('keygate'))!;
const app = containers.find((c) => c !== keygate)!;

/** A container port by name or number. */
function containerPort(ref: unknown): number | undefined {
  if (typeof ref === 'number') return keygate.ports?.some((p) => p.containerPort === ref) ? ref : undefined;
  return keygate.ports?.find((p) => p.name === ref)?.containerPort;
}

function matches(selector: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => podLabels[k] === v);
}

/** Lays out what the keygate container sees at its mount paths, from the generators' source files. */
function materialiseMounts(root: string): void {
  const generators = new Map(
    [...(kustomization.configMapGenerator ?? []), ...(kustomization.secretGenerator ?? [])].map((g) => [g.name, g]),
  );
  const volumes = at(podSpec, 'volumes') as Json[];
  for (const mount of at(keygate, 'volumeMounts') as { name: string; mountPath: string; subPath?: string }[]) {
    expect(mount.subPath, 'subPath mounts never update: hot reload would not see a change').toBeUndefined();
    const volume = volumes.find((v) => v.name === mount.name)!;
    if (volume.emptyDir) {
      mkdirSync(join(root, mount.mountPath), { recursive: true });
      continue;
    }
    const sources = volume.projected ? (at(volume, 'projected', 'sources') as Json[]) : [volume];
    for (const source of sources) {
      const ref = (source.configMap ?? source.secret) as { name: string; items?: { key: string; path: string }[] };
      const generator = generators.get(ref.name);
      if (!generator) throw new Error(`volume source ${ref.name} has no generator in kustomization.yaml`);
      const files = new Map(
        generator.files.map((f) => (f.includes('=') ? [f.split('=')[0], f.split('=')[1]] : [posix.basename(f), f]) as [string, string]),
      );
      for (const item of ref.items ?? [...files.keys()].map((key) => ({ key, path: key }))) {
        const file = files.get(item.key);
        if (!file) throw new Error(`${ref.name} has no key ${item.key}`);
        const target = join(root, mount.mountPath, item.path);
        mkdirSync(dirname(target), { recursive: true });
        cpSync(join(REPO, K8S, file), target);
      }
    }
  }
}

describe('deploy/kubernetes', () => {
  let root: string;
  let snapshot: Snapshot;
  let kg: RunningKeygate;
  let metricsText: string;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'keygate-k8s-'));
    materialiseMounts(root);
    const configArg = keygate.args![keygate.args!.indexOf('-c') + 1];
    // The container's file system is `root`: its state.dir (an absolute path) too.
    const mainFile = join(root, configArg);
    writeFileSync(
      mainFile,
      readFileSync(mainFile, 'utf8').replace(/^(\s+dir: )(\/.*)$/m, (_, lead: string, dir: string) => lead + join(root, dir)),
    );
    snapshot = loadOk(join(root, configArg));
    kg = await startKeygate(join(root, configArg), { env: {} });
    metricsText = await (await fetch(`${kg.url('admin')}/metrics`)).text();
  });
  afterAll(async () => {
    await kg?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('every manifest parses and names its kind', () => {
    expect(objects.length).toBeGreaterThanOrEqual(4);
    for (const o of objects) {
      expect(o.apiVersion).toBeTruthy();
      expect(o.kind).toBeTruthy();
      expect(at(o, 'metadata', 'name')).toBeTruthy();
    }
    expect(byKind('Service')).toHaveLength(1);
    expect(byKind('NetworkPolicy')).toHaveLength(1);
    expect([...byKind('PodMonitor'), ...byKind('ServiceMonitor')]).toHaveLength(1);
    expect(kustomization.images?.map((i) => i.name)).toContain(keygate.image);
  });

  it('the mounted config loads, and every file it names comes from a mounted ConfigMap or Secret', () => {
    for (const file of snapshot.watchedFiles) expect(relative(root, file).startsWith('..'), file).toBe(false);
    expect(snapshot.services.every((s) => s.serviceToken.source.kind === 'file')).toBe(true);
  });

  it('state.dir is a writable emptyDir mount (the config volume is read-only)', () => {
    const mounts = at(keygate, 'volumeMounts') as { name: string; mountPath: string; readOnly?: boolean }[];
    const volumes = at(podSpec, 'volumes') as Json[];
    const stateMount = mounts.find((m) => join(root, m.mountPath) === snapshot.state.dir);
    expect(stateMount, `no volume is mounted at state.dir ${snapshot.state.dir}`).toBeDefined();
    expect(stateMount!.readOnly).not.toBe(true);
    expect(volumes.find((v) => v.name === stateMount!.name)?.emptyDir).toBeDefined();
    expect(kg.logs().some((l) => l.event === 'state_dir_unwritable')).toBe(false);
  });

  it("keygate's user can read what is mounted for it", () => {
    const volume = (at(podSpec, 'volumes') as Json[]).find((v) => v.name === (at(keygate, 'volumeMounts', 0, 'name') as string))!;
    const mode = (at(volume, 'projected') as { defaultMode?: number }).defaultMode ?? 0o644;
    const fsGroup = at(podSpec, 'securityContext', 'fsGroup');
    const groupReads = (mode & 0o040) !== 0 && fsGroup === at(keygate, 'securityContext', 'runAsGroup');
    expect((mode & 0o004) !== 0 || groupReads).toBe(true);
  });

  it("the container ports are keygate's listen ports, reachable on the pod IP", () => {
    expect(containerPort('http')).toBe(snapshot.listen.proxy.port);
    expect(containerPort('admin')).toBe(snapshot.listen.admin.port);
    expect(snapshot.listen.proxy.host).toBe('0.0.0.0');
    expect(snapshot.listen.admin.host).toBe('0.0.0.0'); // kubelet probes and Prometheus come from outside the pod
  });

  it('the probes hit /healthz and /readyz on the admin port, and both answer', async () => {
    const liveness = at(keygate, 'livenessProbe', 'httpGet') as { path: string; port: unknown };
    const readiness = at(keygate, 'readinessProbe', 'httpGet') as { path: string; port: unknown };
    expect([liveness.path, readiness.path]).toEqual(['/healthz', '/readyz']);
    expect(containerPort(liveness.port)).toBe(snapshot.listen.admin.port);
    expect(containerPort(readiness.port)).toBe(snapshot.listen.admin.port);
    for (const path of [liveness.path, readiness.path]) expect((await fetch(`${kg.url('admin')}${path}`)).status).toBe(200);
  });

  it('the app listens on loopback only, where keygate forwards, and exposes no port', () => {
    const [service] = snapshot.services;
    expect(service.upstream.hostname).toBe('127.0.0.1');
    expect(JSON.stringify(app.args)).toContain(`127.0.0.1:${upstreamPort(service)}`);
    expect(app.ports ?? []).toEqual([]);
  });

  it("the Service targets keygate's proxy port", () => {
    const svc = byKind('Service')[0];
    expect(matches(at(svc, 'spec', 'selector') as Record<string, string>)).toBe(true);
    const ports = at(svc, 'spec', 'ports') as { targetPort: unknown }[];
    for (const p of ports) expect(containerPort(p.targetPort)).toBe(snapshot.listen.proxy.port);
  });

  it('Prometheus scrapes /metrics on the admin port', () => {
    const monitor = [...byKind('PodMonitor'), ...byKind('ServiceMonitor')][0];
    expect(matches(at(monitor, 'spec', 'selector', 'matchLabels') as Record<string, string>)).toBe(true);
    const [endpoint] = at(monitor, 'spec', 'podMetricsEndpoints') as { port: string; path: string }[];
    expect(containerPort(endpoint.port)).toBe(snapshot.listen.admin.port);
    expect(endpoint.path).toBe('/metrics');
  });

  it("the NetworkPolicy admits keygate's ports and never the app's", () => {
    const policy = byKind('NetworkPolicy')[0];
    expect(matches(at(policy, 'spec', 'podSelector', 'matchLabels') as Record<string, string>)).toBe(true);
    const ports = (at(policy, 'spec', 'ingress') as { ports?: { port: number }[] }[]).flatMap((r) => r.ports ?? []).map((p) => p.port);
    expect(ports.length).toBeGreaterThan(0); // a rule without ports would admit every port
    expect(new Set(ports)).toEqual(new Set([snapshot.listen.proxy.port, snapshot.listen.admin.port]));
    expect(ports).not.toContain(upstreamPort(snapshot.services[0]));
  });

  it('every container is locked down and has resources', () => {
    expect(at(podSpec, 'securityContext', 'runAsNonRoot')).toBe(true);
    for (const c of containers) {
      expect(c.securityContext, c.name).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
      expect(at(c, 'resources', 'requests', 'memory'), c.name).toBeTruthy();
      expect(at(c, 'resources', 'limits', 'memory'), c.name).toBeTruthy();
    }
  });

  it("the grace period outlasts keygate's shutdown.delay + shutdown.timeout", () => {
    const grace = at(podSpec, 'terminationGracePeriodSeconds') as number;
    expect(grace * 1000).toBeGreaterThan(snapshot.shutdown.delay + snapshot.shutdown.timeout);
  });

  const kustomize = findKustomize();
  it.skipIf(!kustomize)(`renders with kustomize${kustomize ? '' : ' (SKIPPED: neither kubectl nor kustomize is installed)'}`, () => {
    const r = spawnSync(kustomize![0], [...kustomize!.slice(1), join(REPO, K8S)], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const rendered = parseAllDocuments(r.stdout).map((d) => d.toJSON() as Json);
    const names = rendered.map((o) => `${String(o.kind)}/${String(at(o, 'metadata', 'name'))}`);
    // no name-suffix hashes: the projected volume's sources are found by these exact names
    for (const source of at(podSpec, 'volumes', 0, 'projected', 'sources') as Json[]) {
      const ref = (source.configMap ?? source.secret) as { name: string };
      expect(names).toContain(`${source.configMap ? 'ConfigMap' : 'Secret'}/${ref.name}`);
    }
    const image = (
      at(
        rendered.find((o) => o.kind === 'Deployment'),
        'spec',
        'template',
        'spec',
        'containers',
      ) as Container[]
    ).find((c) => c.name === keygate.name)!.image;
    expect(image).toMatch(/keygate:\d+\.\d+\.\d+$/);
  });

  it('every metric named in docs/deploy.md and deploy/kubernetes is exported', () => {
    const exported = new Set(
      [...metricsText.matchAll(/^# TYPE (\S+) (\w+)/gm)].flatMap(([, name, type]) =>
        type === 'histogram' ? [name, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name],
      ),
    );
    const texts = [readFileSync(join(REPO, 'docs/deploy.md'), 'utf8'), ...filesUnder(join(REPO, K8S)).map((f) => readFileSync(f, 'utf8'))];
    const named = new Set(texts.flatMap((t) => [...t.matchAll(/(?<![\w$@-])(keygate_[a-z_]+)(?=\{|\[|`|\s|\)|$)/gm)].map((m) => m[1])));
    const notMetrics = new Set(envoyClusterNames());
    const referenced = [...named].filter((n) => !notMetrics.has(n));
    expect(referenced.length).toBeGreaterThan(0);
    for (const name of referenced) expect(exported, name).toContain(name);
  });
});

/** `kubectl kustomize` or `kustomize build`, whichever is installed. */
function findKustomize(): string[] | undefined {
  for (const cmd of [
    ['kubectl', 'kustomize'],
    ['kustomize', 'build'],
  ]) {
    if (spawnSync(cmd[0], ['version', ...(cmd[0] === 'kubectl' ? ['--client'] : [])], { encoding: 'utf8' }).status === 0) return cmd;
  }
  return undefined;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

// ---- Envoy, nginx, Traefik ------------------------------------------------------------------

function envoyClusterNames(): string[] {
  return (at(readYaml('deploy/envoy/envoy.yaml'), 'static_resources', 'clusters') as { name: string }[]).map((c) => c.name);
}

function clusterPort(name: string): number {
  const cluster = (at(readYaml('deploy/envoy/envoy.yaml'), 'static_resources', 'clusters') as Json[]).find((c) => c.name === name);
  return at(cluster, 'load_assignment', 'endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address', 'socket_address', 'port_value') as number;
}

describe('deploy/envoy', () => {
  const envoy = readYaml('deploy/envoy/envoy.yaml');
  const authz = envoyAuthz();
  const hcm = at(envoy, 'static_resources', 'listeners', 0, 'filter_chains', 0, 'filters', 0, 'typed_config') as Json;

  it("asks keygate's check port, with the client's own path, and fails closed", () => {
    const uri = at(authz.filter, 'http_service', 'server_uri') as { uri: string; cluster: string };
    expect(clusterPort(uri.cluster)).toBe(example.listen.check!.port);
    expect(Number(new URL(uri.uri).port)).toBe(example.listen.check!.port);
    expect(authz.pathPrefix ?? '').toBe('');
    expect(authz.filter.failure_mode_allow).toBe(false);
  });

  it("sends keygate the credential headers and X-Forwarded-For, never another dialect's headers", () => {
    const sent = (name: string): boolean =>
      authz.allowedHeaders.some((p) => p.exact === name || (p.prefix !== undefined && name.startsWith(p.prefix)));
    for (const name of ['x-api-key', 'x-forwarded-for']) expect(sent(name), name).toBe(true);
    for (const name of ['x-original-uri', 'x-original-method', 'x-forwarded-uri', 'x-forwarded-method', 'x-forwarded-host'])
      expect(sent(name), name).toBe(false);
    expect(hcm.use_remote_address).toBe(true);
    expect(['DROP_HEADER', 'REJECT_REQUEST']).toContain(at(hcm, 'common_http_protocol_options', 'headers_with_underscores_action'));
  });

  it("copies every service's token header and the identity headers upstream", () => {
    for (const h of [...tokenHeaders(example), ...IDENTITY_HEADERS]) expect(authz.allowedUpstreamHeaders).toContain(h);
  });

  it("routes each service's prefix to a cluster on its upstream port", () => {
    const routes = at(hcm, 'route_config', 'virtual_hosts', 0, 'routes') as { match: { prefix: string }; route: { cluster: string } }[];
    for (const s of example.services) {
      const route = routes.find((r) => r.match.prefix === `${s.pathPrefix}/`);
      expect(route, s.name).toBeDefined();
      expect(clusterPort(route!.route.cluster)).toBe(upstreamPort(s));
    }
  });
});

describe('deploy/nginx', () => {
  const snippet = nginxSnippet();

  it("sends the subrequest to keygate's check port, in the nginx dialect, without the body", () => {
    const m = /location = \/_keygate \{[^}]*proxy_pass http:\/\/127\.0\.0\.1:(\d+);/.exec(snippet.text);
    expect(Number(m?.[1])).toBe(example.listen.check!.port);
    expect(snippet.text).toMatch(/proxy_pass_request_body off;/);
    const check = new Map(snippet.checkHeaders);
    expect(check.get('x-original-uri')).toBe('$request_uri');
    expect(check.get('x-original-method')).toBe('$request_method');
    expect(check.get('content-length')).toBe('');
  });

  it("sets every service's token header and the identity headers from keygate's answer, and drops X-Api-Key", () => {
    const upstream = new Map(snippet.upstreamHeaders);
    for (const h of [...tokenHeaders(example), ...IDENTITY_HEADERS]) {
      const variable = /^\$(\w+)$/.exec(upstream.get(h) ?? '')?.[1];
      expect(variable, h).toBeDefined();
      expect(snippet.fromAnswer.get(variable!), h).toBe(h);
    }
    expect(upstream.get('x-api-key')).toBe('');
  });
});

describe('deploy/traefik', () => {
  const fa = traefikForwardAuth();
  const crds = readYamlDocuments('deploy/traefik/middleware.yaml');

  it("asks keygate's check port with only the credential headers, never trusting client X-Forwarded-*", () => {
    expect(Number(new URL(fa.address).port)).toBe(example.listen.check!.port);
    expect(fa.authRequestHeaders).toEqual(expect.arrayContaining(['authorization', 'x-api-key']));
    expect(fa.authRequestHeaders).not.toContain('x-original-uri');
    expect(at(readYaml('deploy/traefik/dynamic.yaml'), 'http', 'middlewares', 'keygate', 'forwardAuth', 'trustForwardHeader')).toBe(false);
  });

  it("copies every service's token header and the identity headers, and strips X-Api-Key", () => {
    for (const h of [...tokenHeaders(example), ...IDENTITY_HEADERS]) expect(fa.authResponseHeaders).toContain(h);
    expect(fa.stripped).toContain('x-api-key');
  });

  it('runs keygate first on every router, so it sees the route prefix', () => {
    const routers = at(readYaml('deploy/traefik/dynamic.yaml'), 'http', 'routers') as Record<string, { middlewares: string[] }>;
    for (const [name, r] of Object.entries(routers)) {
      expect(r.middlewares[0], name).toBe('keygate');
      expect(r.middlewares, name).toContain('keygate-strip-key');
    }
  });

  it('the CRD variant carries the same header lists', () => {
    const crd = at(
      crds.find((d) => at(d, 'metadata', 'name') === 'keygate'),
      'spec',
      'forwardAuth',
    ) as Json;
    const file = at(readYaml('deploy/traefik/dynamic.yaml'), 'http', 'middlewares', 'keygate', 'forwardAuth') as Json;
    for (const field of ['authRequestHeaders', 'authResponseHeaders', 'authResponseHeadersRegex', 'trustForwardHeader'])
      expect(crd[field], field).toEqual(file[field]);
    const strip = at(
      crds.find((d) => at(d, 'metadata', 'name') === 'keygate-strip-key'),
      'spec',
      'headers',
      'customRequestHeaders',
    );
    expect(strip).toEqual(
      at(readYaml('deploy/traefik/dynamic.yaml'), 'http', 'middlewares', 'keygate-strip-key', 'headers', 'customRequestHeaders'),
    );
    expect(strip).toMatchObject({ 'X-Api-Key': '', 'X-Original-URL': '', Forwarded: '' });
  });
});

describe('deploy/envoy gRPC variant', () => {
  const { filter, cluster, hcm } = envoyGrpcAuthz();
  const http = readYaml('deploy/envoy/envoy.yaml');

  it("asks keygate's listen.grpc over HTTP/2, fails closed, health-checks it with grpc.health.v1", () => {
    const address = at(cluster, 'load_assignment', 'endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address', 'socket_address') as Json;
    expect(address.port_value).toBe(example.listen.grpc!.port);
    expect(filter.failure_mode_allow).toBe(false);
    expect(filter.transport_api_version).toBe('V3');
    expect(filter).not.toHaveProperty('with_request_body'); // keygate never reads a body
    const options = at(cluster, 'typed_extension_protocol_options', 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions') as Json;
    expect(at(options, 'explicit_http_config')).toHaveProperty('http2_protocol_options');
    expect(at(cluster, 'health_checks', 0, 'grpc_health_check', 'service_name')).toBe('envoy.service.auth.v3.Authorization');
  });

  it('fronts the same routes as the HTTP variant, with the same header hygiene', () => {
    const httpHcm = at(http, 'static_resources', 'listeners', 0, 'filter_chains', 0, 'filters', 0, 'typed_config') as Json;
    expect(at(hcm, 'route_config')).toEqual(at(httpHcm, 'route_config'));
    expect(hcm.use_remote_address).toBe(true);
    expect(at(hcm, 'common_http_protocol_options', 'headers_with_underscores_action')).toBe('DROP_HEADER');
  });
});

describe('deploy/kubernetes/decision and deploy/istio', () => {
  const DIR = 'deploy/kubernetes/decision';
  const kz = readYaml(`${DIR}/kustomization.yaml`) as unknown as Kustomization;
  const objs = kz.resources.flatMap((r) => readYamlDocuments(`${DIR}/${r}`));
  const dep = objs.find((o) => o.kind === 'Deployment')!;
  const svc = objs.find((o) => o.kind === 'Service')!;
  const decision = loadOk(join(REPO, DIR, 'keygate/keygate.yaml'));
  const container = (at(dep, 'spec', 'template', 'spec', 'containers') as Container[])[0];
  const portOf = (name: unknown): number | undefined => container.ports?.find((p) => p.name === name)?.containerPort;
  const servicePort = (port: number): Json => (at(svc, 'spec', 'ports') as Json[]).find((p) => p.port === port)!;

  it("is the Service the Traefik middleware points at, on the check port pinned to Traefik's dialect", () => {
    const address = new URL(at(readYamlDocuments('deploy/traefik/middleware.yaml')[0], 'spec', 'forwardAuth', 'address') as string);
    const [name, namespace] = address.hostname.split('.');
    expect(at(svc, 'metadata', 'name')).toBe(name);
    expect(namespace).toBe('keygate'); // kubectl apply -n keygate
    const port = servicePort(Number(address.port));
    expect(portOf(port.targetPort)).toBe(decision.listen.check!.port);
    expect(decision.listen.checkDialect).toBe('traefik');
    expect(at(svc, 'spec', 'selector')).toEqual(at(dep, 'spec', 'template', 'metadata', 'labels'));
  });

  it("is the gRPC provider Istio's mesh config names, on listen.grpc", () => {
    const mesh = readYaml('deploy/istio/mesh-config.yaml');
    const provider = (at(mesh, 'spec', 'meshConfig', 'extensionProviders') as Json[]).find((p) => p.envoyExtAuthzGrpc)!;
    const grpc = at(provider, 'envoyExtAuthzGrpc') as { service: string; port: number; failOpen: boolean };
    expect(grpc.service).toBe(`${String(at(svc, 'metadata', 'name'))}.keygate.svc.cluster.local`);
    expect(grpc.failOpen).toBe(false);
    const port = servicePort(grpc.port);
    expect(String(port.name)).toMatch(/^grpc/); // Istio picks the protocol from the port name
    expect(portOf(port.targetPort)).toBe(decision.listen.grpc!.port);
    const policy = readYaml('deploy/istio/authorization-policy.yaml');
    expect(policy.kind).toBe('AuthorizationPolicy');
    expect(at(policy, 'spec', 'action')).toBe('CUSTOM');
    expect(at(policy, 'spec', 'provider', 'name')).toBe(provider.name);
  });

  it('probes the admin port: liveness /healthz, readiness /readyz; mounts what the generators make', () => {
    expect(at(container, 'livenessProbe', 'httpGet')).toMatchObject({ path: '/healthz' });
    expect(at(container, 'readinessProbe', 'httpGet')).toMatchObject({ path: '/readyz' });
    expect(portOf(at(container, 'readinessProbe', 'httpGet', 'port'))).toBe(decision.listen.admin.port);
    const generated = [...(kz.configMapGenerator ?? []), ...(kz.secretGenerator ?? [])].map((g) => g.name);
    const sources = at(dep, 'spec', 'template', 'spec', 'volumes', 0, 'projected', 'sources') as Json[];
    for (const src of sources) expect(generated).toContain(((src.configMap ?? src.secret) as { name: string }).name);
    expect(container.args).toEqual(['serve', '-c', '/etc/keygate/keygate.yaml']);
  });
});

it('every YAML file under deploy/ parses', () => {
  const files = ['deploy/kubernetes', 'deploy/envoy', 'deploy/traefik', 'deploy/istio']
    .flatMap((d) => filesUnder(join(REPO, d)))
    .filter((f) => /\.ya?ml$/.test(f));
  expect(files.length).toBeGreaterThan(6);
  for (const f of files) expect(() => readYamlDocuments(relative(REPO, f)), f).not.toThrow();
  expect(existsSync(join(REPO, 'deploy/nginx/keygate.conf'))).toBe(true);
});
