/**
 * Runs before every test file (setupFiles in the vitest configs), also when files share a worker
 * process: the helpers' cleanup after each test (cleanup.ts).
 */
import { afterEach } from 'vitest';
import { runCleanups } from './cleanup.js';

afterEach(runCleanups);
