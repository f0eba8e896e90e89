/**
 * Runs once per `vitest run`, before any test file: gives the run an id, so that the first test
 * file that needs the built CLI (bin/jobhub.js runs dist/) builds it and the others reuse that
 * build (buildCli in worker.ts). A run that needs no CLI builds nothing.
 */
import { randomUUID } from 'node:crypto';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Unique to one `vitest run`: the build stamp that says "built during this run". */
    testRunId: string;
  }
}

export default function setup(project: TestProject): void {
  project.provide('testRunId', randomUUID());
}
