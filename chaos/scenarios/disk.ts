/**
 * The disk fills up. A small tmpfs is mounted either under the blob directory only (`blobs`: 8 MiB;
 * the SQLite file stays on the big disk) or under the whole data directory (`all`: 24 MiB; SQLite
 * and its WAL fill up too). Under steady job traffic, blobs are uploaded until the disk is full;
 * the hub must refuse with a clear 503 (never a 500), keep every acknowledged job, and serve again
 * once the tmpfs is grown (space returns). recovery_s runs from the space returning until a blob
 * upload and a job both go through again.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  Ledger,
  fixed,
  mountTmpfs,
  probe,
  produce,
  resizeTmpfs,
  round,
  settle,
  simWorker,
  skipped,
  sleep,
  startHub,
  statusCounts,
  stopHub,
  tempDir,
  unmount,
  type Scenario,
} from '../lib.js';

const LEASE_MS = 1000;

async function upload(base: string, bytes: number): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(`${base}/api/v1/blobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: randomBytes(bytes),
      signal: AbortSignal.timeout(10_000),
    });
    const body = await res.text();
    statusCounts.set(res.status, (statusCounts.get(res.status) ?? 0) + 1);
    return { status: res.status, body };
  } catch (err) {
    return { status: 0, body: (err as Error).message };
  }
}

async function pleiadesUpload(base: string, bytes: number): Promise<{ status: number; body: string }> {
  const form = new FormData();
  form.append('file', new Blob([randomBytes(bytes)]), 'data.bin');
  try {
    const res = await fetch(`${base}/api/v0.5/data`, {
      method: 'POST',
      body: form,
      signal: AbortSignal.timeout(10_000),
    });
    statusCounts.set(res.status, (statusCounts.get(res.status) ?? 0) + 1);
    return { status: res.status, body: await res.text() };
  } catch (err) {
    return { status: 0, body: (err as Error).message };
  }
}

/** Uploads blobs of `bytes` until one is refused; returns the refusal (or null after `max`). */
async function fillWith(base: string, bytes: number, max: number) {
  for (let i = 0; i < max; i++) {
    const r = await upload(base, bytes);
    if (r.status !== 201) return { ...r, uploaded: i };
  }
  return null;
}

export function diskFull(where: 'blobs' | 'all'): Scenario {
  return {
    name: where === 'blobs' ? 'disk-full' : 'disk-full-all',
    store: 'sqlite',
    what:
      where === 'blobs'
        ? 'the blob disk fills up (8 MiB tmpfs under the blob directory) under load, then grows again'
        : 'the whole data disk fills up (24 MiB tmpfs: SQLite, WAL and blobs) under load, then grows again',
    async run(ctx) {
      const dir = tempDir();
      const mountPoint = where === 'blobs' ? join(dir, 'blobs') : dir;
      const problem = await mountTmpfs(mountPoint, where === 'blobs' ? '8m' : '24m');
      if (problem) {
        rmSync(dir, { recursive: true, force: true });
        return skipped(`cannot mount a tmpfs (needs root): ${problem}`);
      }
      const hub = await startHub({
        dataDir: dir,
        logFile: join(ctx.runDir, `${where === 'blobs' ? 'disk-full' : 'disk-full-all'}.log`),
        leaseMs: LEASE_MS,
      });
      const ledger = new Ledger();
      const runtime = 'disk';
      const base = hub.url;
      statusCounts.clear();
      const workers = Array.from({ length: 2 }, (_, i) =>
        simWorker(fixed(base), ledger, {
          runtime,
          leaseMs: LEASE_MS,
          workMs: [0, 20],
          limit: 8,
          name: `w${i}`,
        }),
      );
      const load = produce(fixed(base), ledger, { runtime, rate: 100, producers: 2, batch: 5 });
      const checks: { name: string; ok: boolean; detail?: string }[] = [];
      try {
        await sleep(1000);
        const full = await fillWith(base, 256 * 1024, 400);
        // Then the crumbs: small blobs until even those no longer fit.
        const crumbs = full ? await fillWith(base, 4 * 1024, 3000) : null;
        const refusal = full ?? crumbs;
        const parsed = ((): { error?: { code?: string; message?: string } } | null => {
          try {
            return refusal
              ? (JSON.parse(refusal.body) as { error?: { code?: string; message?: string } })
              : null;
          } catch {
            return null;
          }
        })();
        checks.push({
          name: 'a full disk is refused with 503 unavailable and says so',
          ok:
            refusal?.status === 503 &&
            parsed?.error?.code === 'unavailable' &&
            /disk/i.test(parsed.error.message ?? ''),
          detail: refusal
            ? `${refusal.status} ${refusal.body.slice(0, 200)} after ${full?.uploaded} blobs`
            : 'never refused',
        });
        const pl = await pleiadesUpload(base, 64 * 1024);
        checks.push({
          name: 'the Pleiades face refuses an upload with a 503 too',
          ok: pl.status === 503 && /disk/i.test(pl.body),
          detail: `${pl.status} ${pl.body.slice(0, 200)}`,
        });
        // Traffic goes on while the disk is full (jobs carry inline input: no blob needed).
        await sleep(2000);
        const whileFull = ledger.created.size;
        const healthy = await fetch(`${base}/healthz`).then(
          (r) => r.status,
          () => 0,
        );
        checks.push({
          name: 'the hub process is alive and answers /healthz while full',
          ok: healthy === 200 && hub.alive,
        });
        // Space returns.
        const t0 = Date.now();
        await resizeTmpfs(mountPoint, '256m');
        let recovery = Infinity;
        for (let i = 0; i < 600; i++) {
          if ((await upload(base, 256 * 1024)).status === 201 && (await probe(base))) {
            recovery = (Date.now() - t0) / 1000;
            break;
          }
          await sleep(100);
        }
        ctx.log(
          `  refused after ${full?.uploaded ?? '?'} blobs; serving again ${round(recovery)} s after space returned`,
        );
        await sleep(1500);
        const after = ledger.created.size;
        await load.stop();
        const f = await settle(() => [base], runtime, ledger, workers);
        const debris = readdirSync(join(dir, 'blobs', 'tmp'));
        checks.push({
          name: 'no half-written upload left behind',
          ok: debris.length === 0,
          detail: debris.slice(0, 5).join(','),
        });
        checks.push({
          name: 'jobs were created after space returned',
          ok: after > whileFull,
          detail: `${whileFull} → ${after}`,
        });
        checks.push({
          name: 'no request was answered 500',
          ok: (statusCounts.get(500) ?? 0) === 0,
          detail: JSON.stringify(Object.fromEntries(statusCounts)),
        });
        checks.push({ name: 'queue drained', ok: f.drained });
        return {
          jobs_lost: f.jobs_lost,
          completed_twice: f.completed_twice,
          recovery_s: round(recovery),
          created: f.created,
          completed: f.completed,
          checks,
          extra: {
            blobs_before_full: full?.uploaded ?? -1,
            http_503: statusCounts.get(503) ?? 0,
            http_500: statusCounts.get(500) ?? 0,
          },
          details: f.details,
        };
      } finally {
        await load.stop();
        await Promise.all(workers.map((w) => w.stop()));
        await stopHub(hub);
        await unmount(mountPoint);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
