import { envoyAllowance } from '../check/answer.js';
import { clientReason } from '../errors.js';
import { requestIdFrom } from '../observability/requestId.js';
import { allowedLimitHeaders } from '../proxy/headers.js';
import { openInbound, type DecisionRuntime } from '../proxy/opening.js';
import { problemAnswer } from '../proxy/problem.js';
import { readCheckRequest, type CheckRequestMessage } from './checkRequest.js';
import { allowedResponse, deniedResponse, type CheckResponseMessage } from './checkResponse.js';

/** A Check's answer: a CheckResponse, or a gRPC status for a request that is no request (INVALID_ARGUMENT). */
export type CheckAnswer = { readonly response: CheckResponseMessage } | { readonly invalid: string };

/**
 * One envoy.service.auth.v3.Authorization/Check, on the opening every entry point shares:
 *   read (INVALID_ARGUMENT) → header size (431) → path safety (400) → route (404)
 *   → authenticate (401) → authorize (403) → rate limits (429) → OK with the headers to set.
 * An unreadable message changes nothing: no record, no rate-limit state.
 */
export async function handleGrpcCheck(rt: DecisionRuntime, msg: CheckRequestMessage, peer: string): Promise<CheckAnswer> {
  const snapshot = rt.snapshot();
  const read = readCheckRequest(msg, peer, snapshot.listen.trustedProxies);
  if (!read.ok) return { invalid: read.detail };
  if (read.headerBytes > snapshot.limits.headers) {
    const answer = problemAnswer('headers_too_large', requestIdFrom(read.requestId), 'request headers larger than limits.headers');
    return { response: deniedResponse(answer, 'headers_too_large') };
  }
  const opened = await openInbound(rt, snapshot, read.inbound, read.requestId);
  const { outcome, requestId } = opened;
  let response: CheckResponseMessage;
  if (outcome.allow) {
    const allowance = envoyAllowance(outcome, read.inbound.rawHeaders, opened.identity(outcome.key));
    response = allowedResponse(allowance, allowedLimitHeaders(outcome.limits));
  } else {
    response = deniedResponse(problemAnswer(outcome.reason, requestId, outcome.detail, outcome.limits), clientReason(outcome.reason));
  }
  opened.finish();
  return { response };
}
