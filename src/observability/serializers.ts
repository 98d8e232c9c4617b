import { scrubSecrets } from './scrub.js';

/**
 * Log serializers copy only fields known to be safe. HTTP clients attach the request
 * (headers, config, body) to their errors, and a request object carries every header:
 * neither is ever logged whole.
 */

export interface SerializedError {
  type: string;
  message: string;
  code?: string;
  syscall?: string;
  stack?: string;
  cause?: SerializedError;
  errors?: SerializedError[];
}

const MAX_CAUSE_DEPTH = 3;

/** Name, message, code, syscall, stack and causes, with key strings and credentials scrubbed. */
export function serializeError(err: unknown, depth = 0): SerializedError {
  if (!(err instanceof Error)) return { type: typeof err, message: scrubSecrets(String(err)) };
  const out: SerializedError = { type: err.name, message: scrubSecrets(err.message) };
  const code = stringProp(err, 'code');
  const syscall = stringProp(err, 'syscall');
  if (code !== undefined) out.code = code;
  if (syscall !== undefined) out.syscall = syscall;
  if (err.stack !== undefined) out.stack = scrubSecrets(err.stack);
  if (depth < MAX_CAUSE_DEPTH && err.cause !== undefined) out.cause = serializeError(err.cause, depth + 1);
  if (depth < MAX_CAUSE_DEPTH && err instanceof AggregateError) {
    out.errors = err.errors.slice(0, 5).map((e: unknown) => serializeError(e, depth + 1));
  }
  return out;
}

export interface SerializedRequest {
  method?: string;
  path?: string;
  remoteAddress?: string;
}

/** A request as method, path without query (queries may carry `?api_key=`) and peer address. */
export function serializeRequest(req: unknown): SerializedRequest {
  if (typeof req !== 'object' || req === null) return {};
  const out: SerializedRequest = {};
  const method = stringProp(req, 'method');
  const url = stringProp(req, 'url');
  if (method !== undefined) out.method = method;
  if (url !== undefined) out.path = pathWithoutQuery(url);
  const socket = 'socket' in req ? req.socket : undefined;
  const remote = typeof socket === 'object' && socket !== null ? stringProp(socket, 'remoteAddress') : undefined;
  if (remote !== undefined) out.remoteAddress = remote;
  return out;
}

/** A response as its status code only. */
export function serializeResponse(res: unknown): { statusCode?: number } {
  const status = typeof res === 'object' && res !== null ? (res as Record<string, unknown>).statusCode : undefined;
  return typeof status === 'number' ? { statusCode: status } : {};
}

/** Cuts the query and fragment; long targets are truncated so one request cannot flood the log. */
export function pathWithoutQuery(target: string, max = 2048): string {
  const end = target.search(/[?#]/);
  const path = end === -1 ? target : target.slice(0, end);
  return path.length > max ? `${path.slice(0, max)}…` : path;
}

function stringProp(obj: object, name: string): string | undefined {
  const value: unknown = (obj as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}
