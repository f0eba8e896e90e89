/**
 * Assembles a running hub: the services, the HTTP server with its faces, and an orderly stop.
 */
import type { AddressInfo } from 'node:net';
import type { HubConfig } from '../config/config.js';
import { faceMounts } from '../http/app.js';
import { createHttpServer, type HttpServer } from '../http/server.js';
import { Hub, type HubDeps } from './hub.js';

export interface RunningHub {
  hub: Hub;
  http: HttpServer;
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  /** Stop accepting, finish in-flight requests, stop loops, close the store. */
  stop(): Promise<void>;
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
