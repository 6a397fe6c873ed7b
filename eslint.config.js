import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'docs/', '.scratch/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Memory shares key helpers with etcd through backends/shared, never by importing etcd.
    files: ['src/backends/memory/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/etcd', '**/etcd/*'], message: 'shared key helpers live in src/backends/shared' },
          ],
        },
      ],
    },
  },
  {
    // The conformance suite names no backend: test/conformance/backends.ts is its only list of them.
    files: ['test/conformance/suite.test.ts', 'test/conformance/harness.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: '../../src/index.js',
              importNames: ['etcd', 'memory', 'EtcdMode', 'EtcdOptions', 'MemoryBackend', 'MemoryOptions'],
              message: 'add the backend to test/conformance/backends.ts instead',
            },
          ],
          patterns: [
            {
              group: ['**/backends/**', '**/fixtures/**', './*-harness.js'],
              message: 'add the backend to test/conformance/backends.ts instead',
            },
          ],
        },
      ],
    },
  },
);
