// ESLint: the import boundaries of src/ (test/unit/boundaries.test.ts checks the same rules
// through what each file reaches) and no `any` in src/. Layout is Prettier's job.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Modules that read files or parse YAML: proxy/ and check/ decide from memory only. */
const FILE_READERS = ['fs', 'node:fs', 'fs/promises', 'node:fs/promises', 'yaml', 'js-yaml'];
/** What pure decision logic never touches. */
const IO = [...FILE_READERS, 'http', 'node:http', 'https', 'node:https', 'http2', 'node:http2', 'pino', 'prom-client', 'undici'];

/** Our modules outside the folder, except the reason table every folder may use. */
const oursButErrors = (message) => ({ group: ['../*', '!../errors.js'], message });

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' },
    },
  },
  {
    // Tests and benchmarks change most; an unused import there is worth a warning, not a red build.
    files: ['test/**', 'bench/**'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['warn', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    files: ['src/policy/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: IO, patterns: [oursButErrors('policy/ imports nothing of ours but errors.ts')] }],
    },
  },
  {
    files: ['src/proxy/**', 'src/check/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: FILE_READERS.map((name) => ({ name, message: 'proxy/ and check/ read no files' })) }],
    },
  },
  {
    files: ['src/observability/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [oursButErrors('observability/ imports no configuration: nothing of ours but errors.ts')] },
      ],
    },
  },
);
