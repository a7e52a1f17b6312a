// The linter for the project's own JavaScript: `make test-lint` runs it with `tsc` (js/tsconfig.json). The JS the crate
// binds (js/), the package's hand-written modules (pkg-template/), and the scripts, benchmarks and test support that
// run in Node. (The suites' own files in tests/js/ are left out: their page functions use the globals each page sets up.)
import js from '@eslint/js';
import globals from 'globals';
import reactHooks from 'eslint-plugin-react-hooks';

const strict = {
  eqeqeq: ['error', 'always', { null: 'ignore' }],
  'no-var': 'error',
  'prefer-const': 'error',
  'no-shadow': 'off',
  'no-unused-vars': ['error', { varsIgnorePattern: '^_', argsIgnorePattern: '^_' }],
};

export default [
  js.configs.recommended,
  {
    files: ['js/**/*.js'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.browser, ...globals.worker },
    },
    rules: { ...strict, 'no-implicit-globals': 'error' },
  },
  {
    // What the package ships beside the glue: it runs in browsers, workers, workerd, Deno and Node.
    files: ['pkg-template/**/*.js'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.browser, ...globals.worker },
    },
    rules: strict,
  },
  { files: ['pkg-template/deno.js'], languageOptions: { globals: { Deno: 'readonly' } } },
  { files: ['pkg-template/react.js'], plugins: { 'react-hooks': reactHooks }, rules: reactHooks.configs.recommended.rules },
  {
    files: ['scripts/**/*.mjs', 'bench/**/*.mjs', 'tests/support/**/*.mjs', 'eslint.config.js'],
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: 'module',
      globals: { ...globals.node },
    },
    rules: strict,
  },
  // These drive browsers: the functions they hand to `page.evaluate` run in the page.
  { files: ['bench/run.mjs', 'tests/support/**/*.mjs'], languageOptions: { globals: { ...globals.node, ...globals.browser } } },
  {
    // Modules the benchmarks' and the suites' pages load.
    files: ['bench/pages/**/*.js', 'tests/js/fixtures/**/*.js'],
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: globals.browser },
    rules: strict,
  },
];
