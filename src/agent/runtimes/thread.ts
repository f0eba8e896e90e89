/**
 * Starts a runtime's worker thread from its compiled `.js` file, or, when running from the
 * TypeScript sources (tests, `tsx`), from the `.ts` file through tsx: worker threads do not
 * inherit the parent's module loader hooks, so the thread registers tsx itself.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** `jsUrl` is the compiled entry, e.g. `new URL('./thread.js', import.meta.url)`. */
export function startThread(jsUrl: URL, options: WorkerOptions = {}): Worker {
  if (existsSync(fileURLToPath(jsUrl))) return new Worker(jsUrl, options);
  const tsUrl = jsUrl.href.replace(/\.js$/, '.ts');
  if (!existsSync(fileURLToPath(tsUrl))) throw new Error(`runtime thread entry ${jsUrl.href} not found`);
  const boot = `import('tsx/esm/api').then((api) => api.tsImport(${JSON.stringify(tsUrl)}, ${JSON.stringify(tsUrl)}))`;
  return new Worker(boot, { ...options, eval: true });
}
