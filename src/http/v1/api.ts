/**
 * Route registration for the native API that also records what OpenAPI needs, so the document
 * at /openapi.json cannot drift from the handlers.
 */
import type { ServerResponse } from 'node:http';
import type { TSchema } from '@sinclair/typebox';
import type { HubError } from '../../core/errors.js';
import { Router, type Handler } from '../router.js';

export interface RouteDoc {
  method: string;
  path: string;
  summary: string;
  tag: string;
  body?: TSchema | 'binary';
  query?: Record<string, string>;
  responses: Record<number, string>;
  auth?: string;
}

export class Api {
  readonly router = new Router();
  readonly docs: RouteDoc[] = [];

  route(doc: RouteDoc, handler: Handler): void {
    this.docs.push(doc);
    this.router.on(doc.method, doc.path.replace(/\{(\w+)\}/g, ':$1'), handler);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The native error envelope: `{"error": {"code", "message", "details"?}}`. */
export function sendError(res: ServerResponse, err: HubError): void {
  const error: Record<string, unknown> = { code: err.code, message: err.message };
  if (err.details !== undefined) error.details = err.details;
  sendJson(res, err.status, { error });
}
