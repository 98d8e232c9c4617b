/** Edits of a temp keygate.yaml (see tempConfig's `edit`), so each test states only what differs. */

/** Replaces the whole `services:` list with `services` (YAML list items, indented two spaces). */
export function replaceServices(main: string, services: string): string {
  const start = main.indexOf('\nservices:\n');
  const end = main.indexOf('\npolicy:', start);
  if (start === -1 || end === -1) throw new Error('keygate.yaml has no services: … policy: block');
  return `${main.slice(0, start)}\nservices:\n${services.replace(/\n$/, '')}${main.slice(end)}`;
}

/** Appends top-level YAML (e.g. `limits: { body: 1KiB }`). */
export function appendTopLevel(main: string, yaml: string): string {
  return `${main.replace(/\n?$/, '\n')}${yaml}\n`;
}

/** Adds lines under `listen:` (e.g. `trustedProxies: [127.0.0.1/32]`). */
export function addListen(main: string, line: string): string {
  return main.replace('\nlisten:\n', `\nlisten:\n  ${line}\n`);
}
