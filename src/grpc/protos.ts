import { fileURLToPath } from 'node:url';
import { loadSync, type MethodDefinition, type PackageDefinition, type ServiceDefinition } from '@grpc/proto-loader';

/** proto/ at the package root: Envoy's ext_authz and gRPC's health protos, trimmed (see their headers). */
const PROTO_ROOT = fileURLToPath(new URL('../../proto/', import.meta.url));

export const AUTHORIZATION_SERVICE = 'envoy.service.auth.v3.Authorization';
export const HEALTH_SERVICE = 'grpc.health.v1.Health';

/** The request a malformed message decodes to: answered INVALID_ARGUMENT, never decided. */
export const MALFORMED: unique symbol = Symbol('malformed protobuf');

/**
 * Loaded once per listener start with @grpc/proto-loader (protobufjs underneath); field
 * names as in the .proto files. A message that does not decode becomes MALFORMED instead
 * of grpc-js's INTERNAL, so the caller is told its request is at fault.
 */
export function loadServices(): { authorization: ServiceDefinition; health: ServiceDefinition } {
  const pkg: PackageDefinition = loadSync(['envoy/service/auth/v3/external_auth.proto', 'grpc/health/v1/health.proto'], {
    includeDirs: [PROTO_ROOT],
    keepCase: true,
    longs: String,
    enums: Number,
    defaults: false,
    oneofs: false,
  });
  const authorization = pkg[AUTHORIZATION_SERVICE] as ServiceDefinition;
  const health = pkg[HEALTH_SERVICE] as ServiceDefinition;
  return { authorization: { ...authorization, Check: tolerant(authorization.Check) }, health };
}

function tolerant(method: MethodDefinition<object, object> | undefined): MethodDefinition<object, object> {
  if (!method) throw new Error('proto/: envoy.service.auth.v3.Authorization has no Check');
  const decode = method.requestDeserialize;
  return {
    ...method,
    requestDeserialize: (bytes: Buffer) => {
      try {
        return decode(bytes);
      } catch {
        return { [MALFORMED]: true };
      }
    },
  };
}
