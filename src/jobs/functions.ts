/** The function service: a runtime name, an optional code blob, default tags and limits. */
import { notFound } from '../core/errors.js';
import { canonicalRuntime } from '../core/runtime.js';
import { validateTags } from '../core/tags.js';
import type { FunctionRecord } from '../store/store.js';
import type { Principal } from '../auth/auth.js';
import type { BlobService } from './blobs.js';
import type { HubContext } from './context.js';

export type { FunctionRecord };

export class FunctionService {
  constructor(
    private readonly ctx: HubContext,
    private readonly blobs: BlobService,
  ) {}

  async create(
    p: {
      name?: string;
      runtime: string;
      codeBlobId?: string;
      tags?: string[];
      timeoutMs?: number;
      maxAttempts?: number;
    },
    creator?: Principal,
  ): Promise<FunctionRecord> {
    // Code must be the creator's to give: a function is not a way to run someone else's blob.
    if (p.codeBlobId !== undefined) await this.blobs.get(p.codeBlobId, creator);
    // Checked here, kept as spelled: clients read back the name they sent (jobs of the function
    // match workers by the canonical form, in jobs.ts).
    canonicalRuntime(p.runtime);
    return this.ctx.store.functionInsert({
      name: p.name ?? null,
      runtime: p.runtime,
      codeBlobId: p.codeBlobId ?? null,
      tags: validateTags(p.tags ?? []),
      timeoutMs: p.timeoutMs ?? this.ctx.config.jobTimeoutMs,
      maxAttempts: p.maxAttempts ?? this.ctx.config.maxAttempts,
      createdAt: this.ctx.clock(),
    });
  }

  async get(id: string): Promise<FunctionRecord> {
    const fn = /^\d{1,18}$/.test(id) ? await this.ctx.store.functionGet({ id }) : null;
    if (!fn) throw notFound('function', id);
    return fn;
  }

  /** Functions newest first, `limit` at most, those with ids below `beforeId` when given. */
  list(p: { beforeId?: string; limit: number }): Promise<FunctionRecord[]> {
    return this.ctx.store.functionList(p);
  }
}
