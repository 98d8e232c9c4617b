/** Why a keys-file edit failed; `keygate key` maps each code to its message and exit 1. */
export type KeysFileErrorCode =
  | 'KEYGATE_KEYS_UNPARSABLE'
  | 'KEYGATE_KEYS_UNKNOWN_ID'
  | 'KEYGATE_KEYS_SYMLINK'
  | 'KEYGATE_KEYS_LOCKED'
  | 'KEYGATE_KEYS_IO'
  | 'KEYGATE_KEYS_NO_SHADOW'
  | 'KEYGATE_KEYS_ALIAS';

export class KeysFileError extends Error {
  constructor(
    readonly code: KeysFileErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function ioError(what: string, e: unknown): KeysFileError {
  return new KeysFileError('KEYGATE_KEYS_IO', `${what}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
}
