import * as grpc from '@grpc/grpc-js';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCertificate } from '../helpers/certs.js';
import { DEMO_KEYS } from '../helpers/config.js';
import { useKeygate } from '../helpers/fixture.js';

/**
 * gRPC through keygate end to end with @grpc/grpc-js on both sides: a TLS listener (h2)
 * in front, `protocol: grpc` forwarding over HTTP/2 behind. Unary and bidirectional
 * streaming, trailers both ways, and denials seen by the client as gRPC statuses.
 */
const pair = makeCertificate({ cn: 'grpc' });
const bytes = (b: Buffer): Buffer => b;
const method = (name: string, streams: boolean): grpc.MethodDefinition<Buffer, Buffer> => ({
  path: `/test.Echo/${name}`,
  requestStream: streams,
  responseStream: streams,
  requestSerialize: bytes,
  requestDeserialize: bytes,
  responseSerialize: bytes,
  responseDeserialize: bytes,
});
const ECHO = { Unary: method('Unary', false), Bidi: method('Bidi', true), Secret: method('Secret', false) };

interface Seen {
  readonly metadata: Record<string, unknown>;
}

function startGrpcServer(seen: Seen[]): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(ECHO, {
    Unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => {
      seen.push({ metadata: call.metadata.getMap() });
      const text = call.request.toString();
      const trailer = new grpc.Metadata();
      trailer.set('x-echo-trailer', `done:${text}`);
      if (text === 'missing') return done({ code: grpc.status.NOT_FOUND, details: 'no such thing', metadata: trailer });
      done(null, Buffer.from(`echo:${text}`), trailer);
    },
    Bidi: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      seen.push({ metadata: call.metadata.getMap() });
      call.on('data', (m: Buffer) => call.write(Buffer.from(`echo:${m.toString()}`)));
      call.on('end', () => {
        const trailer = new grpc.Metadata();
        trailer.set('x-echo-trailer', 'bidi-done');
        call.end(trailer);
      });
    },
    Secret: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => done(null, Buffer.from('secret')),
  });
  return new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve({ server, port }),
    ),
  );
}

interface UnaryAnswer {
  readonly error: grpc.ServiceError | null;
  readonly value: string | undefined;
  readonly status: grpc.StatusObject;
}

describe('gRPC upstreams (protocol: grpc)', () => {
  const seen: Seen[] = [];
  let grpcServer: { server: grpc.Server; port: number };
  let client: grpc.Client;
  const Client = grpc.makeGenericClientConstructor(ECHO, 'Echo');

  beforeAll(async () => {
    grpcServer = await startGrpcServer(seen);
  });
  const fx = useKeygate({
    edit: (main) =>
      main
        .replace('proxy: 127.0.0.1:0', 'proxy: { address: 127.0.0.1:0, tls: { cert: ./tls.crt, key: ./tls.key } }')
        .replace(
          '\nservices:\n',
          `\nservices:\n  - name: echo\n    route: { pathPrefix: /test.Echo }\n    upstream: http://127.0.0.1:${grpcServer.port}\n    protocol: grpc\n`,
        ),
    prepare: (cfg) => {
      writeFileSync(cfg.path('tls.crt'), pair.cert);
      writeFileSync(cfg.path('tls.key'), pair.key);
      const policy = cfg
        .read('policy.yaml')
        .replace(
          'roles:\n',
          'roles:\n  grpc-caller:\n    - { service: echo, path: /test.Echo/Unary }\n    - { service: echo, path: /test.Echo/Bidi }\n',
        )
        .replace('roles: [compute-admin, reader]', 'roles: [compute-admin, reader, grpc-caller]');
      cfg.write('policy.yaml', policy);
    },
  });
  beforeAll(() => {
    client = new Client(`127.0.0.1:${fx.kg.app.port('proxy')}`, grpc.credentials.createSsl(Buffer.from(pair.cert)));
  });
  afterAll(() => {
    client?.close();
    grpcServer?.server.forceShutdown();
  });

  const withKey = (key: string | null): grpc.Metadata => {
    const m = new grpc.Metadata();
    if (key) m.set('authorization', `Bearer ${key}`);
    return m;
  };

  function unary(name: 'Unary' | 'Secret', text: string, key: string | null = DEMO_KEYS.deploy.key): Promise<UnaryAnswer> {
    return new Promise((resolve) => {
      let error: grpc.ServiceError | null = null;
      let value: string | undefined;
      const call = client.makeUnaryRequest(ECHO[name].path, bytes, bytes, Buffer.from(text), withKey(key), (err, res) => {
        error = err;
        value = res?.toString();
      });
      call.on('status', (status: grpc.StatusObject) => setImmediate(() => resolve({ error, value, status })));
    });
  }

  it('forwards an allowed unary call and brings back the answer and its trailers', async () => {
    const before = seen.length;
    const answer = await unary('Unary', 'hello');
    expect(answer.error).toBeNull();
    expect(answer.value).toBe('echo:hello');
    expect(answer.status.code).toBe(grpc.status.OK);
    expect(answer.status.metadata.get('x-echo-trailer')).toEqual(['done:hello']);
    expect(seen.length).toBe(before + 1);
    expect(seen.at(-1)!.metadata['x-keygate-user']).toBe('joe');
    expect(seen.at(-1)!.metadata.authorization).toBeUndefined(); // the key never reaches the upstream
  });

  it("passes the upstream's own error status and message through the trailers", async () => {
    const answer = await unary('Unary', 'missing');
    expect(answer.status.code).toBe(grpc.status.NOT_FOUND);
    expect(answer.status.details).toBe('no such thing');
    expect(answer.status.metadata.get('x-echo-trailer')).toEqual(['done:missing']);
  });

  it('streams both ways at once: each message is answered before the client sends the next', async () => {
    const call = client.makeBidiStreamRequest(ECHO.Bidi.path, bytes, bytes, withKey(DEMO_KEYS.deploy.key));
    const answers: string[] = [];
    const next = (): Promise<string> => new Promise((resolve) => call.once('data', (m: Buffer) => resolve(m.toString())));
    for (const text of ['one', 'two', 'three']) {
      const answered = next();
      call.write(Buffer.from(text));
      answers.push(await answered); // the stream is still open: the upstream answered mid-stream
    }
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.end();
    call.on('data', () => undefined);
    const final = await status;
    expect(answers).toEqual(['echo:one', 'echo:two', 'echo:three']);
    expect(final.code).toBe(grpc.status.OK);
    expect(final.metadata.get('x-echo-trailer')).toEqual(['bidi-done']);
  });

  it('refuses without a key as UNAUTHENTICATED, a method the key may not call as PERMISSION_DENIED; the upstream never sees either', async () => {
    const before = seen.length;
    const anonymous = await unary('Unary', 'x', null);
    expect(anonymous.status.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(anonymous.status.details).toBe('Missing credentials');
    const wrongKey = await unary('Unary', 'x', `${DEMO_KEYS.deploy.key.slice(0, -1)}x`);
    expect(wrongKey.status.code).toBe(grpc.status.UNAUTHENTICATED);
    const forbidden = await unary('Secret', 'x');
    expect(forbidden.status.code).toBe(grpc.status.PERMISSION_DENIED);
    const bidi = client.makeBidiStreamRequest(ECHO.Bidi.path, bytes, bytes, withKey(null));
    bidi.on('data', () => undefined);
    bidi.on('error', () => undefined);
    const bidiStatus = await new Promise<grpc.StatusObject>((resolve) => bidi.on('status', resolve));
    expect(bidiStatus.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(seen.length).toBe(before);
  });

  it('answers UNAVAILABLE when the gRPC upstream is down', async () => {
    const { server, port } = await startGrpcServer([]);
    server.forceShutdown();
    const main = fx.cfg.read('keygate.yaml').replace(`upstream: http://127.0.0.1:${grpcServer.port}`, `upstream: http://127.0.0.1:${port}`);
    fx.cfg.write('keygate.yaml', main);
    await fx.kg.app.reload('api');
    const answer = await unary('Unary', 'x');
    expect(answer.status.code).toBe(grpc.status.UNAVAILABLE);
  });
});
