import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The import rules that keep each folder of src/ to its one job (STYLE.md, "The shape we
 * aim at"). Rules name folders, never files, so moving a file inside a folder or adding a
 * folder keeps them true; a rule about a folder that no longer exists fails loudly.
 */

const SRC = resolve(import.meta.dirname, '../../src');

interface Import {
  readonly specifier: string;
  /** The .ts file it resolves to, for our own modules. */
  readonly file?: string;
  /** `import type` / `export type`: erased at build, so it cannot do anything at run time. */
  readonly typeOnly: boolean;
}

/** Modules that touch the file system or parse YAML: what "reads files" means here. */
const FILE_READERS = /^(node:)?fs(\/promises)?$|^yaml$|^js-yaml$/;

const IMPORT = /^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm;
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const found: Import[] = [];
  for (const m of text.matchAll(IMPORT)) found.push(resolved(file, m[3], m[2] !== undefined));
  for (const m of text.matchAll(DYNAMIC)) found.push(resolved(file, m[1], false));
  return found;
}

function resolved(from: string, specifier: string, typeOnly: boolean): Import {
  if (!specifier.startsWith('.')) return { specifier, typeOnly };
  const target = resolve(dirname(from), specifier).replace(/\.js$/, '.ts');
  return { specifier, typeOnly, file: existsSync(target) ? target : resolve(dirname(from), specifier) };
}

/** `proxy` for src/proxy/pipeline.ts, `` for src/errors.ts. */
function folderOf(file: string): string {
  const parts = relative(SRC, file).split(sep);
  return parts.length > 1 ? parts[0] : '';
}

const FILES = sourceFiles(SRC);
const GRAPH = new Map(FILES.map((f) => [f, importsOf(f)]));
const FOLDERS = [...new Set(FILES.map(folderOf).filter(Boolean))].sort();

function filesIn(folder: string): string[] {
  expect(FOLDERS, `src/${folder}/ is named by a rule but does not exist`).toContain(folder);
  return FILES.filter((f) => folderOf(f) === folder);
}

/** Every module a file runs (type-only imports skipped), itself included. */
function reachable(start: string): Set<string> {
  const seen = new Set<string>();
  const todo = [start];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const i of GRAPH.get(file) ?? []) if (i.file && !i.typeOnly) todo.push(i.file);
  }
  return seen;
}

/** Files that read files themselves: they import fs or a YAML parser. */
const READERS = new Set(FILES.filter((f) => GRAPH.get(f)!.some((i) => FILE_READERS.test(i.specifier))));

function show(file: string): string {
  return relative(SRC, file);
}

describe('import boundaries', () => {
  it('finds the imports it checks (the reader of this test works)', () => {
    expect(FOLDERS).toEqual(expect.arrayContaining(['policy', 'proxy', 'check', 'observability']));
    expect(READERS.size).toBeGreaterThan(0);
    expect(
      FILES.some((f) => !READERS.has(f) && [...reachable(f)].some((r) => READERS.has(r))),
      'some file reaches a reader through another',
    ).toBe(true);
    const pipeline = FILES.find((f) => show(f).startsWith('proxy') && GRAPH.get(f)!.some((i) => folderOf(i.file ?? '') === 'policy'));
    expect(pipeline, 'some proxy/ file imports policy/').toBeDefined();
  });

  it('policy/ imports nothing of ours but errors.ts: it is pure decision logic', () => {
    const outside = filesIn('policy').flatMap((f) =>
      GRAPH.get(f)!
        .filter((i) => i.file && folderOf(i.file) !== 'policy' && i.file !== join(SRC, 'errors.ts'))
        .map((i) => `${show(f)} → ${i.specifier}`),
    );
    expect(outside).toEqual([]);
  });

  it('policy/ does no I/O: no file system, network server, logger or metrics', () => {
    const io =
      /^(node:)?(fs|fs\/promises|http|https|http2|net\/server|child_process|worker_threads)$|^(pino|prom-client|undici|yaml|js-yaml)$/;
    const found = filesIn('policy').flatMap((f) =>
      GRAPH.get(f)!
        .filter((i) => io.test(i.specifier))
        .map((i) => `${show(f)} → ${i.specifier}`),
    );
    expect(found).toEqual([]);
  });

  it.each(['proxy', 'check'])('%s/ reads no files, not even through what it imports', (folder) => {
    const found = filesIn(folder).flatMap((f) => [...reachable(f)].filter((r) => READERS.has(r)).map((r) => `${show(f)} ⇒ ${show(r)}`));
    expect(found).toEqual([]);
  });

  it('observability/ imports no configuration: nothing of ours but errors.ts', () => {
    const found = filesIn('observability').flatMap((f) =>
      GRAPH.get(f)!
        .filter((i) => i.file !== undefined && folderOf(i.file) !== 'observability' && i.file !== join(SRC, 'errors.ts'))
        .map((i) => `${show(f)} → ${i.specifier}`),
    );
    expect(found).toEqual([]);
  });

  it("every folder of src/ has its one job written in the README's layout list", () => {
    const readme = readFileSync(resolve(SRC, '../README.md'), 'utf8');
    const listed = [...readme.matchAll(/^- `src\/([a-z]+)\/` — \S/gm)].map((m) => m[1]);
    expect(FOLDERS.filter((f) => !listed.includes(f))).toEqual([]);
    expect(
      listed.filter((f) => !FOLDERS.includes(f)),
      'listed but gone',
    ).toEqual([]);
  });

  it('check/ uses at most three files of proxy/: the opening, the header builder and the problem answer', () => {
    const used = new Set(
      filesIn('check').flatMap((f) =>
        GRAPH.get(f)!
          .filter((i) => i.file && folderOf(i.file) === 'proxy')
          .map((i) => show(i.file!)),
      ),
    );
    expect(used.size, [...used].join(', ')).toBeLessThanOrEqual(3);
  });
});
