/**
 * The HTTP faces of a hub and the paths each serves (the composition root, src/app/start.ts,
 * mounts them on the server), and the version the hub reports.
 */
import { VERSION } from '../config/version.js';
import { opsFace } from './ops/face.js';
import { pleiadesFace } from './pleiades/face.js';
import { internalFace } from './internal/face.js';
import { portalFace } from './portal/face.js';
import type { FaceMount } from './server.js';
import { nativeApi } from './v1/face.js';
import { openApiDocument } from './v1/openapi.js';
import { webMount } from './web/face.js';

const PLEIADES_ROOTS = /^\/(ping|data|lambda|job|worker|kv)(\/|$)/;
const OPS = /^\/(metrics|healthz|readyz|docs|openapi\.json)$/;

export { VERSION };

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
