// @ts-check
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

/** Pure core packages take bytes and return values: no disk, network, clock or process state. */
const pureCoreRestrictions = {
  'no-restricted-imports': [
    'error',
    {
      paths: [
        'fs',
        'node:fs',
        'fs/promises',
        'node:fs/promises',
        'http',
        'node:http',
        'https',
        'node:https',
        'net',
        'node:net',
        'child_process',
        'node:child_process',
        'process',
        'node:process',
      ].map((name) => ({ name, message: 'Core packages do no I/O: take bytes, return values.' })),
    },
  ],
  'no-restricted-globals': [
    'error',
    { name: 'fetch', message: 'Core packages do no I/O.' },
    { name: 'process', message: 'Core packages do not read process state; take it as an argument.' },
  ],
}

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'data/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        console: 'readonly',
        process: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setImmediate: 'readonly',
        fetch: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        performance: 'readonly',
        structuredClone: 'readonly',
        queueMicrotask: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  { files: ['packages/tlog/src/**/*.ts', 'packages/attestation/src/**/*.ts'], rules: pureCoreRestrictions },
)
