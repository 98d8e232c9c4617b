/**
 * The protobuf work of one Check, per call: decode the CheckRequest and encode the
 * CheckResponse, with protobufjs (what @grpc/proto-loader gives grpc-js, keygate's
 * choice) and with @bufbuild/protobuf v2 (reflection over the same descriptors, as its
 * generated code would run). CPU time, median of batches, in this process.
 */
import { create, createFileRegistry, fromBinary, toBinary, type DescMessage } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { loadSync, type MessageTypeDefinition, type MethodDefinition, type ServiceDefinition } from '@grpc/proto-loader';
import { join } from 'node:path';
import { REPO } from '../peers/keygate.js';
import { median } from '../lib/stats.js';

const REQUEST = {
  attributes: {
    source: { address: { socket_address: { address: '10.0.0.7', port_value: 51234 } } },
    request: {
      http: {
        method: 'GET',
        path: '/compute/v2/p1/servers/s1',
        host: 'api.example',
        scheme: 'https',
        protocol: 'HTTP/2',
        headers: {
          ':authority': 'api.example',
          ':method': 'GET',
          ':path': '/compute/v2/p1/servers/s1',
          authorization: 'Bearer kg_AAAAAAAAAAAA_0123456789012345678901234567890123456789012345678',
          'user-agent': 'curl/8.5.0',
          accept: '*/*',
          'x-forwarded-for': '10.0.0.7',
          'x-forwarded-proto': 'https',
          'x-request-id': '4bf92f35-77b3-4da6-a3ce-929d0e0e4736',
        },
      },
    },
  },
};

const option = (key: string, value: string) => ({ header: { key, value }, append: { value: false }, append_action: 2 });
const RESPONSE = {
  status: { code: 0 },
  ok_response: {
    headers: [
      option('authorization', 'Bearer demo-compute-service-token'),
      option('x-keygate-user', 'joe'),
      option('x-keygate-key-id', 'AAAAAAAAAAAA'),
      option('x-keygate-key-name', 'bench-1'),
      option('x-keygate-assertion', `eyJhbGciOiJFZERTQSJ9.${'e'.repeat(260)}.${'s'.repeat(86)}`),
    ],
    headers_to_remove: ['x-api-key'],
    response_headers_to_add: [],
  },
};

export async function protoCodecs(quick: boolean): Promise<string[]> {
  const pkg = loadSync(['envoy/service/auth/v3/external_auth.proto'], {
    includeDirs: [join(REPO, 'proto')],
    keepCase: true,
    longs: String,
    enums: Number,
    defaults: false,
  });
  const check = (pkg['envoy.service.auth.v3.Authorization'] as ServiceDefinition).Check as MethodDefinition<object, object>;
  const requestBytes = check.requestSerialize(REQUEST);
  const protobufjs = (): void => {
    check.requestDeserialize(requestBytes);
    check.responseSerialize(RESPONSE);
  };
  // The same .proto files, as descriptors, for @bufbuild/protobuf's reflection.
  const files = (pkg['envoy.service.auth.v3.CheckRequest'] as MessageTypeDefinition<object, object>).fileDescriptorProtos.map((b: Buffer) =>
    fromBinary(FileDescriptorProtoSchema, b),
  );
  const responseFiles = (pkg['envoy.service.auth.v3.CheckResponse'] as MessageTypeDefinition<object, object>).fileDescriptorProtos.map(
    (b: Buffer) => fromBinary(FileDescriptorProtoSchema, b),
  );
  const byName = new Map([...files, ...responseFiles].map((f) => [f.name, f]));
  qualifyTypeNames([...byName.values()]);
  const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: dependenciesFirst([...byName.values()]) }));
  const requestDesc = registry.getMessage('envoy.service.auth.v3.CheckRequest') as DescMessage;
  const responseDesc = registry.getMessage('envoy.service.auth.v3.CheckResponse') as DescMessage;
  const camel = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(camel)
      : v && typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k.replace(/_(\w)/g, (_m, c: string) => c.toUpperCase()), camel(x)]))
        : v;
  const responseInit = camel(RESPONSE) as Record<string, unknown>;
  const bufbuild = (): void => {
    fromBinary(requestDesc, requestBytes);
    toBinary(responseDesc, create(responseDesc, { ...responseInit, httpResponse: { case: 'okResponse', value: responseInit.okResponse } }));
  };
  const same = toBinary(requestDesc, fromBinary(requestDesc, requestBytes)).length === requestBytes.length;
  const a = timeUs(protobufjs, quick);
  const b = timeUs(bufbuild, quick);
  return [
    'protobuf per Check (decode the CheckRequest + encode the CheckResponse), CPU µs per call, median of batches:',
    `| codec | µs per call |`,
    `|---|---|`,
    `| protobufjs via @grpc/proto-loader (used) | ${a.toFixed(2)} |`,
    `| @bufbuild/protobuf v2 (reflection) | ${b.toFixed(2)} |`,
    `bufbuild / protobufjs: ${(b / a).toFixed(2)}x${same ? '' : ' (round trip differed in size: check the descriptors)'}`,
  ];
}

type FileProto = ReturnType<typeof fromBinary<typeof FileDescriptorProtoSchema>>;
type MessageProto = FileProto['messageType'][number];

/** protobufjs writes field type names relative to the package; @bufbuild/protobuf wants them fully qualified. */
function qualifyTypeNames(files: FileProto[]): void {
  const known = new Set<string>();
  const collect = (prefix: string, m: MessageProto): void => {
    const name = `${prefix}.${m.name}`;
    known.add(name);
    for (const e of m.enumType) known.add(`${name}.${e.name}`);
    for (const n of m.nestedType) collect(name, n);
  };
  for (const f of files) {
    for (const m of f.messageType) collect(`.${f.package}`, m);
    for (const e of f.enumType) known.add(`.${f.package}.${e.name}`);
  }
  const fix = (scope: string, m: MessageProto): void => {
    const here = `${scope}.${m.name}`;
    for (const field of m.field) {
      if (!field.typeName || field.typeName.startsWith('.')) continue;
      const parts = here.slice(1).split('.');
      for (let i = parts.length; i >= 0; i--) {
        const candidate = `.${[...parts.slice(0, i), field.typeName].join('.')}`;
        if (known.has(candidate)) {
          field.typeName = candidate;
          break;
        }
      }
    }
    for (const n of m.nestedType) fix(here, n);
  };
  for (const f of files) for (const m of f.messageType) fix(`.${f.package}`, m);
  // protobufjs leaves `dependency` empty: name the files whose types each one uses.
  const fieldsOf = (m: MessageProto): MessageProto['field'] => [...m.field, ...m.nestedType.flatMap(fieldsOf)];
  for (const f of files) {
    const used = new Set(f.messageType.flatMap(fieldsOf).map((x) => x.typeName));
    f.dependency = files.filter((o) => o !== f && [...used].some((t) => t.startsWith(`.${o.package}.`))).map((o) => o.name);
  }
}

function dependenciesFirst(files: FileProto[]): FileProto[] {
  const out: FileProto[] = [];
  const done = new Set<string>();
  while (out.length < files.length) {
    const next = files.find((f) => !done.has(f.name) && f.dependency.every((d) => done.has(d) || !files.some((x) => x.name === d)));
    if (!next) throw new Error('bench: circular proto imports');
    out.push(next);
    done.add(next.name);
  }
  return out;
}

function timeUs(op: () => void, quick: boolean): number {
  for (let i = 0; i < 2000; i++) op();
  const per: number[] = [];
  const n = quick ? 2000 : 10_000;
  for (let b = 0; b < (quick ? 5 : 9); b++) {
    const start = process.cpuUsage();
    for (let i = 0; i < n; i++) op();
    const used = process.cpuUsage(start);
    per.push((used.user + used.system) / n);
  }
  return median(per);
}
