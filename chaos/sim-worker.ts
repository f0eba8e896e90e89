/**
 * A simulated worker in its own process, so that it can be killed with SIGKILL mid-job:
 * `node --import tsx chaos/sim-worker.ts '<json options>'`. Every event (registered, leased,
 * completed, stale) is printed as one JSON line the moment it happens; the parent keeps the
 * ledger, so what the worker was told survives its death.
 */
import { Ledger, fixed, simWorker, type WorkerOptions } from './lib.js';

const o = JSON.parse(process.argv[2] ?? '{}') as WorkerOptions & { hubs: string[] };
const w = simWorker(fixed(...o.hubs), new Ledger(), {
  ...o,
  onEvent: (e) => process.stdout.write(JSON.stringify(e) + '\n'),
});
process.once('SIGTERM', () => void w.stop().then(() => process.exit(0)));
