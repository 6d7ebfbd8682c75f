// Lint: typescript-eslint's strict, type-aware rules over src/ and test/. Formatting is prettier's
// (npm run format); no stylistic rules here.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'fixtures/**', 'coverage/**', '.tap/**'] },
  eslint.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: './tsconfig.lint.json', tsconfigRootDir: import.meta.dirname },
    },
  },
  {
    rules: {
      // Numbers, booleans and null in messages are well defined and the point of most templates here.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true, allowNullish: true }],
      // `() => stream.destroy()` callbacks: the shorthand returning void is idiomatic, not confusing.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // Its narrowing ignores state that changes across an await or inside a callback (`if
      // (this.stopping) return` after an await, flags set by onIssue callbacks), which the code
      // relies on; strict TS with noUncheckedIndexedAccess already rejects the real nullish slips.
      '@typescript-eslint/no-unnecessary-condition': 'off',
    },
  },
  {
    files: ['test/bench/**/*.ts'],
    rules: {
      // Argument loops read `if (k === '--runs') ((a.runs = num(k, v)), i++);`: one flag a line.
      '@typescript-eslint/no-unused-expressions': 'off',
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // tap queues t.test() subtests and awaits them itself; awaiting each by hand adds nothing.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafePromises: [{ from: 'package', package: '@tapjs/core', name: 'PromiseWithSubtest' }] }],
      // tap subtest callbacks are async by convention, whether or not they await.
      '@typescript-eslint/require-await': 'off',
      // A test that dereferences what it just asserted present fails either way; `!` keeps it short.
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  { files: ['**/*.mjs'], extends: [tseslint.configs.disableTypeChecked] },
);
