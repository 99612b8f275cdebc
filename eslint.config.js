import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'test-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { ...globals.node },
      // Type information for the type-aware rules below, from the tsconfig.json nearest each file.
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      // A promise nobody awaits or catches is an unhandled rejection waiting to happen; `void p`
      // says "on purpose" (and then its errors must be handled inside).
      '@typescript-eslint/no-floating-promises': 'error',
      // An async function where a void callback is expected (event listeners, Array#forEach,
      // setTimeout): its rejection goes nowhere.
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    // Plain JavaScript outside tsconfig.json (example pages, build and set-up scripts, this file):
    // linted without type information.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['client-sdk/src/**', 'examples/**'],
    languageOptions: { globals: { ...globals.browser } },
  },
);
