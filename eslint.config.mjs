// @ts-check
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// Package boundaries (DESIGN.md): what is not exported from a package's src/index.ts does
// not exist for other packages.
const boundaryPatterns = [
  {
    group: ['@dep/*/src', '@dep/*/src/*', '@dep/*/dist', '@dep/*/dist/*'],
    message: 'Import the package entry ("@dep/x" or a subpath it exports), never its src/ or dist/ files.',
  },
  {
    group: ['@dep/*/internal', '@dep/*/internal/*'],
    message: "Another package's internals do not exist for you: use what its src/index.ts exports.",
  },
  {
    // ../../kernel/src/x, ../../../packages/kernel/src/x, ../../drivers/xe/internal/y …
    regex: '^(\\.\\./)+((packages|apps)/)?(drivers/)?[^./][^/]*/(src|dist|internal)(/|$)',
    message: 'A relative import must not climb into another package: import "@dep/<name>" instead.',
  },
];

// Library code runs in Node and in browsers: Node built-ins only behind a ./node subpath.
const nodeBuiltinPatterns = [
  {
    group: ['node:*', ...builtinModules.filter((m) => !m.startsWith('_'))],
    message: 'Library code runs in browsers too: Node built-ins only in src/node.ts or src/node/** (the ./node subpath).',
  },
];

export default defineConfig(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '**/.turbo/**',
      '**/coverage/**',
      '**/.tmp/**',
      '**/etc/**',
      'bench/results/**',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.node },
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'warn' },
    rules: {
      // The rules this project exists for.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true },
      ],
      '@typescript-eslint/no-deprecated': 'warn',
      'no-restricted-imports': ['error', { patterns: boundaryPatterns }],

      // Pragmatic relaxations.
      '@typescript-eslint/no-explicit-any': 'warn',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
      // An async API (the kernel's "may sleep" functions) need not await inside.
      '@typescript-eslint/require-await': 'off',
      // Kernel-style (fence, arg) callbacks pass methods around on purpose.
      '@typescript-eslint/unbound-method': 'off',
      // Style only; closures over `self` are common in executor code.
      '@typescript-eslint/no-this-alias': 'off',
      // Auto-fixable (`eslint --fix`) noise under noUncheckedIndexedAccess: warn, not fail.
      '@typescript-eslint/no-unnecessary-type-assertion': 'warn',
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true, allowNullish: true },
      ],
    },
  },
  {
    // Library source (not tests, not the ./node subpath): no Node built-ins.
    files: ['packages/**/src/**/*.ts'],
    ignores: ['**/*.test.ts', '**/*.test-d.ts', '**/src/node.ts', '**/src/node/**', '**/__fixtures__/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [...boundaryPatterns, ...nodeBuiltinPatterns] }],
    },
  },
  {
    // Tests may poke at values loosely.
    files: ['**/*.test.ts', '**/*.test-d.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
  {
    // Plain JS (scripts, bench runner): no type information.
    files: ['**/*.{js,mjs,cjs}'],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
