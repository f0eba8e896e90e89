/**
 * The web UI build: `vite build --config web/vite.config.ts` (part of `npm run build`) writes
 * dist/web, which the hub serves at `/` and `/ui/` (src/http/web/face.ts). Preact through
 * esbuild's automatic JSX runtime; no external requests at run time.
 *
 * The build goes to a staging directory that then replaces dist/web in two renames, so a hub
 * serving dist/web (tests run builds while other tests browse) never sees it half-written.
 */
import { existsSync, renameSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const OUT = here('../dist/web');
const STAGING = `${OUT}.next-${process.pid}`;

function swapIntoPlace(): Plugin {
  return {
    name: 'jobhub-swap-out-dir',
    apply: 'build',
    closeBundle() {
      const old = `${OUT}.old-${process.pid}`;
      if (existsSync(OUT)) renameSync(OUT, old);
      renameSync(STAGING, OUT);
      rmSync(old, { recursive: true, force: true });
    },
  };
}

export default defineConfig({
  root: here('.'),
  base: '/ui/',
  publicDir: here('public'),
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  plugins: [swapIntoPlace()],
  build: {
    outDir: STAGING,
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    reportCompressedSize: false,
  },
  server: {
    // `npx vite --config web/vite.config.ts` while working on the UI: the APIs come from a hub.
    proxy: Object.fromEntries(
      ['/api', '/metrics', '/healthz', '/readyz', '/t'].map((p) => [
        p,
        process.env.JOBHUB_URL ?? 'http://127.0.0.1:8080',
      ]),
    ),
  },
});
