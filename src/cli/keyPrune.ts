import { dropEndedGrace } from '../keys/editor.js';
import { CONFIG_OPTION, configPath, flag, parseCommand } from './args.js';
import { EXIT, type CliIO } from './io.js';
import { writeKeys } from './keyStore.js';
import { displayPath } from './keyView.js';
import { loadOrFail } from './loadOrFail.js';

export const keyPruneHelp = 'keygate key prune -c FILE [--json]   remove old secrets whose rotation grace (key rotate --grace) has ended';

/** Every keys file: drop the previous hashes whose grace ended. A file with none is not written. */
export async function runKeyPrune(argv: string[], io: CliIO): Promise<number> {
  const args = parseCommand(argv, { ...CONFIG_OPTION, json: { type: 'boolean' } });
  const configFile = configPath(args, io);
  const snapshot = loadOrFail(configFile, io);
  const now = io.now();
  const ended = snapshot.keys.list().filter((k) => k.previous !== undefined && k.previous.expires <= now);
  const pruned: string[] = [];
  for (const file of new Set(ended.map((k) => k.file))) {
    await writeKeys(configFile, file, io, (current) => {
      const next = dropEndedGrace(current, now);
      return next === current ? undefined : next;
    });
    pruned.push(...ended.filter((k) => k.file === file).map((k) => k.id));
  }
  if (flag(args, 'json')) {
    io.out(JSON.stringify({ pruned }, null, 2));
    return EXIT.ok;
  }
  io.out(
    pruned.length
      ? `Removed the old secret of ${pruned.length} key(s) whose grace ended: ${pruned.join(', ')} (in ${[...new Set(ended.map((k) => displayPath(k.file)))].join(', ')}).`
      : 'No old secrets to remove: no rotation grace has ended.',
  );
  return EXIT.ok;
}
