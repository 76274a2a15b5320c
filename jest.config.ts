/**
 * jest runs the tests as ES modules with no transform: Node 22 strips the types itself, so what runs
 * under jest is the code `npm start` runs (see docs/development.md). One project per tier.
 */
import type { Config } from 'jest';

const TIERS = ['unit', 'service', 'cluster', 'hostile', 'batch', 'search'] as const;

const config: Config = {
  projects: TIERS.map((tier) => ({
    displayName: tier,
    testMatch: [`<rootDir>/test/${tier}/**/*.test.ts`],
    testEnvironment: '<rootDir>/test/jest/environment.ts',
    extensionsToTreatAsEsm: ['.ts'],
    transform: {},
  })),
  // The heavy tiers start servers, model pools and nats-server per file: one file at a time keeps
  // them from starving each other on a 2-core machine (`npm run test:unit` reads unit files in parallel).
  maxWorkers: 1,
  // Real models on a loaded machine: a whole file's pages can take minutes.
  testTimeout: 600_000,
  reporters: ['default', '<rootDir>/test/jest/closing-line.ts'],
  coverageProvider: 'v8',
  collectCoverageFrom: ['src/**/*.ts', 'services/**/*.ts', 'mixins/**/*.ts'],
  coverageReporters: ['text-summary', 'lcov'],
};

export default config;
