// ESLint 9 flat config as in Moleculer's TypeScript template: typescript-eslint with type information
// (rules that find bugs types can see: floating promises, misused promises, needless assertions), style
// left to Prettier (eslint-config-prettier turns ESLint's formatting rules off; max-len is back for
// comments), and the architecture rules of src/README.md that a type checker does not see.
import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const ENV_ONLY_AT_ENTRY = {
  object: 'process',
  property: 'env',
  message: 'Configuration is read once, by src/config/ from the entry point (src/bin/): take it from the NodeConfig handed in.',
};

export default tseslint.config(
  { ignores: ['node_modules/', 'coverage/', 'bench/out/', 'scratch/', 'tmp/'] },
  eslint.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  prettier,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // PDF, XML and protobuf code matches control characters on purpose.
      'no-control-regex': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
      // Prettier wraps code at 140 columns; this catches the comments it does not wrap.
      'max-len': ['error', { code: 160, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true }],
      'no-restricted-syntax': [
        'error',
        {
          selector: "TSAsExpression[expression.type='TSAsExpression'][expression.typeAnnotation.type='TSUnknownKeyword']",
          message: "No `as unknown as`: augment the library's types (types/*.d.ts), check the value, or declare what it is.",
        },
      ],
    },
  },
  {
    files: ['src/**/*.ts', 'services/**/*.ts', 'mixins/**/*.ts', 'types/**/*.ts'],
    ignores: ['src/config/**', 'src/bin/**'],
    rules: { 'no-restricted-properties': ['error', ENV_ONLY_AT_ENTRY] },
  },
  {
    // Tests and benchmarks read JSON replies and child output loosely: typing every reply would add
    // nothing a failing assertion does not show. Async callbacks without await are handed to APIs that want promises.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
  { files: ['eslint.config.js'], extends: [tseslint.configs.disableTypeChecked] },
  // The web page's own scripts: plain browser modules, outside the TypeScript project.
  { files: ['web/**/*.js'], extends: [tseslint.configs.disableTypeChecked], languageOptions: { globals: globals.browser } },
);
