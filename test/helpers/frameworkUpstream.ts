import type { UpstreamHandler } from './upstream.js';

/**
 * A test upstream that routes the way common web frameworks do, so a test can assert on
 * what the upstream *executed*, not just on what keygate answered. Routes are written
 * `METHOD /path/:param`; a request runs the first route it matches after the readings
 * this upstream applies (all of them by default):
 *   caseInsensitive  Express, ASP.NET           `/Admin/x` runs `/admin/x`
 *   trailingSlash    Express (non-strict), Rails `/items/1/` runs `/items/:id`
 *   mergeSlashes     Tomcat, Spring, nginx       `/items//1` runs `/items/:id`
 *   pathParameters   Java servlet containers     `/admin;jsessionid=x/users` runs `/admin/users`
 *   format           Rails `(.:format)`          `/admin.json` runs `/admin`
 *   headAsGet        every framework             `HEAD /x` runs `GET /x`
 */
export interface Readings {
  readonly caseInsensitive: boolean;
  readonly trailingSlash: boolean;
  readonly mergeSlashes: boolean;
  readonly pathParameters: boolean;
  readonly format: boolean;
  readonly headAsGet: boolean;
}

export const EVERY_READING: Readings = {
  caseInsensitive: true,
  trailingSlash: true,
  mergeSlashes: true,
  pathParameters: true,
  format: true,
  headAsGet: true,
};

/** One request the framework ran: the route it chose and the path as it read it. */
export interface Executed {
  readonly route: string;
  readonly method: string;
  readonly url: string;
  readonly readPath: string;
}

export interface FrameworkUpstream {
  readonly handler: UpstreamHandler;
  /** Every route run, in order; a request no route matched (404) is not here. */
  readonly executed: Executed[];
}

export function frameworkUpstream(routes: readonly string[], readings: Readings = EVERY_READING): FrameworkUpstream {
  const compiled = routes.map((text) => {
    const [method, path] = text.split(' ');
    return { text, method, segments: path.slice(1).split('/') };
  });
  const executed: Executed[] = [];
  const handler: UpstreamHandler = (req, res) => {
    const url = req.url ?? '/';
    const readPath = readPathAs(url.split('?')[0], readings);
    const method = readings.headAsGet && req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    const segments = readPath.slice(1).split('/');
    const route = compiled.find((r) => r.method === method && segmentsMatch(r.segments, segments, readings.caseInsensitive));
    if (!route) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"executed":null}');
      return;
    }
    executed.push({ route: route.text, method: req.method ?? '', url, readPath });
    const body = JSON.stringify({ executed: route.text });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  return { handler, executed };
}

function readPathAs(path: string, r: Readings): string {
  let segments = path.slice(1).split('/');
  if (r.pathParameters) segments = segments.map((s) => s.split(';', 1)[0]);
  if (r.mergeSlashes) segments = segments.filter((s, i) => s !== '' || i === segments.length - 1);
  if (r.trailingSlash && segments.length > 1 && segments.at(-1) === '') segments = segments.slice(0, -1);
  if (r.format) {
    const last = segments.length - 1;
    const dot = segments[last].lastIndexOf('.');
    if (dot > 0) segments = [...segments.slice(0, last), segments[last].slice(0, dot)];
  }
  return `/${segments.join('/')}`;
}

function segmentsMatch(route: readonly string[], path: readonly string[], caseInsensitive: boolean): boolean {
  if (route.length !== path.length) return false;
  return route.every((r, i) =>
    r.startsWith(':') ? path[i] !== '' : caseInsensitive ? r.toLowerCase() === path[i].toLowerCase() : r === path[i],
  );
}
