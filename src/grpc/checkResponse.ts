import type { Allowance } from '../check/answer.js';
import type { ProblemAnswer } from '../proxy/problem.js';

/** google.rpc.Code values keygate answers with. */
export const GRPC_CODE = { OK: 0, INVALID_ARGUMENT: 3, PERMISSION_DENIED: 7, UNAUTHENTICATED: 16 } as const;

/** envoy.config.core.v3.HeaderValueOption.HeaderAppendAction */
const OVERWRITE_IF_EXISTS_OR_ADD = 2;

interface HeaderValueOption {
  readonly header: { readonly key: string; readonly value: string };
  readonly append: { readonly value: false };
  readonly append_action: number;
}

export interface CheckResponseMessage {
  readonly status: { readonly code: number; readonly message?: string };
  readonly ok_response?: {
    readonly headers: HeaderValueOption[];
    readonly headers_to_remove: readonly string[];
    readonly response_headers_to_add: HeaderValueOption[];
  };
  readonly denied_response?: { readonly status: { readonly code: number }; readonly headers: HeaderValueOption[]; readonly body: string };
}

/**
 * Allowed: the headers keygate sets replace the client's (`append: false`, and the
 * newer `append_action` saying the same), the client's credential and every header
 * keygate owns are removed; RateLimit fields go to the client.
 */
export function allowedResponse(allowance: Allowance, clientHeaders: Record<string, string> | undefined): CheckResponseMessage {
  return {
    status: { code: GRPC_CODE.OK },
    ok_response: {
      headers: options(allowance.upstream),
      headers_to_remove: allowance.remove,
      response_headers_to_add: options(clientHeaders ?? {}),
    },
  };
}

/** Denied: the same status, problem+json body and headers as the HTTP answer (Envoy sets content-length). */
export function deniedResponse(answer: ProblemAnswer, reason: string): CheckResponseMessage {
  const { 'content-length': _length, ...headers } = answer.headers;
  return {
    status: { code: answer.status === 401 ? GRPC_CODE.UNAUTHENTICATED : GRPC_CODE.PERMISSION_DENIED, message: reason },
    denied_response: { status: { code: answer.status }, headers: options(headers), body: answer.body },
  };
}

function options(headers: Record<string, string>): HeaderValueOption[] {
  return Object.entries(headers).map(([key, value]) => ({
    header: { key, value },
    append: { value: false },
    append_action: OVERWRITE_IF_EXISTS_OR_ADD,
  }));
}
