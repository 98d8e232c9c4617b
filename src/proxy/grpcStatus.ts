import type { IncomingMessage } from 'node:http';
import type { Problem } from './problem.js';

/**
 * gRPC callers (`content-type: application/grpc…`) are refused the way gRPC says, not with a
 * problem document they cannot read: HTTP 200 and a trailers-only answer carrying
 * `grpc-status` and `grpc-message`. Codes after gRPC's HTTP-to-gRPC mapping
 * (doc/http-grpc-status-mapping.md), except that limits (413, 429, 431) are
 * RESOURCE_EXHAUSTED, as gRPC servers answer a quota.
 */
export const GRPC = {
  INTERNAL: 13,
  UNAUTHENTICATED: 16,
  PERMISSION_DENIED: 7,
  UNIMPLEMENTED: 12,
  RESOURCE_EXHAUSTED: 8,
  UNAVAILABLE: 14,
  DEADLINE_EXCEEDED: 4,
  UNKNOWN: 2,
} as const;

const BY_HTTP_STATUS: Readonly<Record<number, number>> = {
  400: GRPC.INTERNAL,
  401: GRPC.UNAUTHENTICATED,
  403: GRPC.PERMISSION_DENIED,
  404: GRPC.UNIMPLEMENTED,
  405: GRPC.UNIMPLEMENTED,
  408: GRPC.DEADLINE_EXCEEDED,
  413: GRPC.RESOURCE_EXHAUSTED,
  429: GRPC.RESOURCE_EXHAUSTED,
  431: GRPC.RESOURCE_EXHAUSTED,
  502: GRPC.UNAVAILABLE,
  503: GRPC.UNAVAILABLE,
  504: GRPC.UNAVAILABLE,
};

export function isGrpcRequest(req: IncomingMessage | undefined): boolean {
  const type = req?.headers['content-type'];
  return typeof type === 'string' && type.startsWith('application/grpc');
}

export function grpcStatusOf(httpStatus: number): number {
  return BY_HTTP_STATUS[httpStatus] ?? GRPC.UNKNOWN;
}

/** The headers of a trailers-only gRPC answer for `problem` (the same words the problem document has). */
export function grpcRefusalHeaders(problem: Problem): Record<string, string> {
  return {
    'content-type': 'application/grpc',
    'grpc-status': String(grpcStatusOf(problem.status)),
    'grpc-message': percentEncode(problem.detail ? `${problem.title}: ${problem.detail}` : problem.title),
    'cache-control': 'no-store',
    'x-request-id': problem.requestId,
  };
}

/** gRPC's grpc-message encoding: UTF-8, with bytes outside printable ASCII and `%` as %XX. */
function percentEncode(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
