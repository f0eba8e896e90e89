/**
 * Assembles a running hub: the service, the HTTP server with its faces, and an orderly stop.
 */
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import type { HubConfig } from '../config/config.js';
import { Hub, type HubDeps } from '../app/hub.js';
import { opsFace } from './ops/face.js';
import { pleiadesFace } from './pleiades/face.js';
import { internalFace } from './internal/face.js';
import { portalFace } from './portal/face.js';
import { createHttpServer, type FaceMount, type HttpServer } from './server.js';
import { nativeApi } from './v1/face.js';
import { openApiDocument } from './v1/openapi.js';
import { webMount } from './web/face.js';

const PLEIADES_ROOTS = /^\/(ping|data|lambda|job|worker|kv)(\/|$)/;
const OPS = /^\/(metrics|healthz|readyz|docs|openapi\.json)$/;

export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export interface RunningHub {
  hub: Hub;
  http: HttpServer;
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  /** Stop accepting, finish in-flight requests, stop loops, close the store. */
  stop(): Promise<void>;
}

export function faceMounts(): FaceMount[] {
  const { face: native, api } = nativeApi();
  const pleiades = pleiadesFace();
  const ops = opsFace(openApiDocument(api.docs, VERSION));
  return [
    { face: native, serves: (p) => p.startsWith('/api/v1/') || p === '/api/v1' },
    {
      face: pleiades,
      serves: (p) => p.startsWith('/api/v0.5/') || PLEIADES_ROOTS.test(p),
      strip: (p) => (p.startsWith('/api/v0.5/') ? p.slice('/api/v0.5'.length) : p),
    },
    { face: internalFace(), serves: (p) => p.startsWith('/internal/') },
    { face: portalFace(), serves: (p) => p === '/api/portal' || p.startsWith('/api/portal/') },
    // The web UI: `/` and `/ui/…` only, so it never shadows an API path.
    webMount(),
    // Last: also answers unknown paths (404 in the native envelope).
    { face: ops, serves: (p) => OPS.test(p) },
  ];
}

export async function startHub(config: HubConfig, deps: HubDeps = {}): Promise<RunningHub> {
  const hub = await Hub.open(config, deps);
  await hub.start();
  const http = createHttpServer(hub, faceMounts());
  await new Promise<void>((resolve, reject) => {
    http.server.once('error', reject);
    http.server.listen(config.port, config.host, () => {
      // Later errors are accept(2) failures, which the server survives (see createHttpServer).
      http.server.off('error', reject);
      resolve();
    });
  });
  hub.ctx.metrics.registry.gauge('jobhub_http_connections', 'Open HTTP connections, and the cap.', () => [
    { labels: { kind: 'open' }, value: http.connections },
    { labels: { kind: 'cap' }, value: http.connectionCap },
  ]);
  const addr = http.server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  let stopping: Promise<void> | null = null;
  return {
    hub,
    http,
    url: `http://${host}:${addr.port}`,
    stop() {
      stopping ??= (async () => {
        // Parked long-polls answer now (empty) so that in-flight requests can finish.
        hub.beginShutdown();
        await http.close();
        await hub.close();
      })();
      return stopping;
    },
  };
}
