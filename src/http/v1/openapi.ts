/** The OpenAPI 3.1 document of the native API, built from the registered routes and schemas. */
import type { RouteDoc } from './api.js';
import { ErrorEnvelope } from './schemas.js';

export function openApiDocument(docs: RouteDoc[], version: string): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const d of docs) {
    const params = [...d.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const query = Object.entries(d.query ?? {}).map(([name, description]) => ({
      name,
      in: 'query',
      required: false,
      description,
      schema: { type: 'string' },
    }));
    const responses: Record<string, unknown> = {};
    for (const [status, description] of Object.entries(d.responses)) responses[status] = { description };
    responses['4XX'] = {
      description: 'An error: the envelope with a stable code',
      content: { 'application/json': { schema: ErrorEnvelope } },
    };
    const op: Record<string, unknown> = {
      summary: d.summary,
      tags: [d.tag],
      parameters: [...params, ...query],
      responses,
    };
    if (d.body === 'binary') {
      op.requestBody = {
        required: true,
        content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
      };
    } else if (d.body) {
      op.requestBody = { required: true, content: { 'application/json': { schema: d.body } } };
    }
    (paths[d.path] ??= {})[d.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'jobhub native API',
      version,
      description: 'Jobs, blobs, functions and the worker protocol. See docs/protocol.md for the rules.',
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths,
  };
}
