import { credentials, loadPackageDefinition, Metadata, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { join } from 'node:path';
import { REPO } from './config.js';

/**
 * A grpc-js client with the repository's protos (what a front proxy's gRPC ext_authz
 * client sends), for envoy.service.auth.v3.Authorization/Check and grpc.health.v1.Health.
 */

export interface CheckResponse {
  status?: { code?: number; message?: string };
  ok_response?: {
    headers?: { header?: { key: string; value: string }; append?: { value: boolean }; append_action?: number }[];
    headers_to_remove?: string[];
    response_headers_to_add?: { header?: { key: string; value: string } }[];
  };
  denied_response?: { status?: { code?: number }; headers?: { header?: { key: string; value: string } }[]; body?: string };
}

export interface HttpAttributes {
  method: string;
  path: string;
  host?: string;
  headers?: Record<string, string>;
  header_map?: { headers: { key: string; value?: string; raw_value?: Buffer }[] };
}

type Unary<Req, Res> = (req: Req, meta: Metadata, options: { deadline?: number }, cb: (err: ServiceError | null, res: Res) => void) => void;

export interface AuthzClient {
  check(http: HttpAttributes, source?: string, deadlineMs?: number): Promise<CheckResponse>;
  /** Any message, e.g. bytes that are no CheckRequest. */
  raw(bytes: Buffer): Promise<unknown>;
  health(service?: string): Promise<{ status?: number }>;
  close(): void;
}

const PACKAGE = loadSync(['envoy/service/auth/v3/external_auth.proto', 'grpc/health/v1/health.proto'], {
  includeDirs: [join(REPO, 'proto')],
  keepCase: true,
  longs: String,
  enums: Number,
  defaults: false,
});

export function authzClient(target: string): AuthzClient {
  const loaded = loadPackageDefinition(PACKAGE) as unknown as {
    envoy: { service: { auth: { v3: { Authorization: new (t: string, c: ReturnType<typeof credentials.createInsecure>) => Client } } } };
    grpc: { health: { v1: { Health: new (t: string, c: ReturnType<typeof credentials.createInsecure>) => Client } } };
  };
  const authz = new loaded.envoy.service.auth.v3.Authorization(target, credentials.createInsecure()) as Client & {
    Check: Unary<object, CheckResponse>;
  };
  const health = new loaded.grpc.health.v1.Health(target, credentials.createInsecure()) as Client & {
    Check: Unary<object, { status?: number }>;
  };
  const call = <Res>(fn: Unary<object, Res>, req: object, deadlineMs = 10_000): Promise<Res> =>
    new Promise((resolve, reject) =>
      fn(req, new Metadata(), { deadline: Date.now() + deadlineMs }, (e, r) => (e ? reject(e) : resolve(r))),
    );
  return {
    check: (http, source, deadlineMs) =>
      call(
        authz.Check.bind(authz),
        {
          attributes: {
            ...(source ? { source: { address: { socket_address: { address: source, port_value: 40000 } } } } : {}),
            request: { http: { protocol: 'HTTP/1.1', scheme: 'http', ...http } },
          },
        },
        deadlineMs,
      ),
    raw: (bytes) =>
      new Promise((resolve, reject) =>
        authz.makeUnaryRequest(
          '/envoy.service.auth.v3.Authorization/Check',
          (b: Buffer) => b,
          (b: Buffer) => b,
          bytes,
          (e, r) => (e ? reject(e) : resolve(r)),
        ),
      ),
    health: (service = '') => call(health.Check.bind(health), { service }),
    close: () => {
      authz.close();
      health.close();
    },
  };
}
