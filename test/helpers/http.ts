import { request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders, type RequestOptions } from 'node:http';

export interface HttpResult {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/**
 * node:http instead of fetch where fetch refuses (a Host header, a raw header list).
 * `headers` may be an object or a flat [name, value, …] list kept in order.
 */
export function httpSend(
  url: string,
  options: { method?: string; headers?: OutgoingHttpHeaders | string[]; body?: string | Buffer } = {},
): Promise<HttpResult> {
  const u = new URL(url);
  return httpExchange(
    { host: u.hostname, port: u.port, path: u.pathname + u.search, method: options.method ?? 'GET', headers: options.headers },
    options.body,
  );
}

/** One request on a fresh connection (no agent), the whole answer collected as text. */
export function httpExchange(options: RequestOptions, body?: string | Buffer): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ ...options, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
