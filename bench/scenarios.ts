/**
 * The hub's own benchmarks (method in bench/README.md). Each scenario talks to a hub running in
 * its own process over real HTTP with keep-alive, like workers and clients on other machines.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { Client, percentile, peakRssMiB, round, startHubProcess } from './lib.js';

/** No-op jobs end to end: batch create, W workers leasing up to L jobs, batch completion. */
export async function throughput(o: {
  jobs: number;
  workers: number;
  leaseLimit: number;
  createBatch: number;
}) {
  const hub = await startHubProcess();
  const client = new Client(hub.url, o.workers + 8);
  try {
    const workerIds: string[] = [];
    for (let i = 0; i < o.workers; i++) {
      const r = await client.json('POST', '/api/v1/workers', { runtimes: ['noop'], capacity: o.leaseLimit });
      workerIds.push(r.body.id);
    }
    let done = 0;
    const started = performance.now();
    const finished = new Promise<void>((resolve) => {
      const work = async (id: string) => {
        while (done < o.jobs) {
          const lease = await client.json('POST', `/api/v1/workers/${id}/lease`, {
            limit: o.leaseLimit,
            waitMs: 1000,
          });
          const jobs = lease.body.jobs as { id: string; token: string }[];
          if (jobs.length === 0) continue;
          const r = await client.json('POST', '/api/v1/complete', {
            completions: jobs.map((j) => ({ jobId: j.id, token: j.token })),
          });
          const ok = (r.body.results as { ok: boolean }[]).filter((x) => x.ok).length;
          done += ok;
          if (done >= o.jobs) resolve();
        }
      };
      for (const id of workerIds) void work(id);
    });
    // The producer: batches of `createBatch`, a few in flight, like several clients submitting.
    let created = 0;
    const produce = async () => {
      while (created < o.jobs) {
        const n = Math.min(o.createBatch, o.jobs - created);
        created += n;
        const r = await client.json('POST', '/api/v1/jobs/batch', {
          jobs: Array.from({ length: n }, () => ({ runtime: 'noop' })),
        });
        if (r.status !== 201) throw new Error(`create failed: ${r.status} ${JSON.stringify(r.body)}`);
      }
    };
    await Promise.all([produce(), produce(), produce(), produce()]);
    const createdAt = performance.now();
    await finished;
    const seconds = (performance.now() - started) / 1000;
    return {
      jobs: o.jobs,
      workers: o.workers,
      leaseLimit: o.leaseLimit,
      seconds: round(seconds, 3),
      jobsPerSecond: Math.round(o.jobs / seconds),
      enqueuePerSecond: Math.round(o.jobs / ((createdAt - started) / 1000)),
      hubPeakRssMiB: round(peakRssMiB(hub.pid), 1),
    };
  } finally {
    await client.close();
    await hub.stop();
  }
}

/**
 * Enqueue → a parked worker holds it: one worker long-polls; a client creates one job at a time;
 * latency is from sending the create to the worker's lease reply arriving.
 */
export async function latency(o: { samples: number }) {
  const hub = await startHubProcess();
  const client = new Client(hub.url, 4);
  try {
    const w = await client.json('POST', '/api/v1/workers', { runtimes: ['noop'] });
    const samples: number[] = [];
    for (let i = 0; i < o.samples + 50; i++) {
      const leased = client.json('POST', `/api/v1/workers/${w.body.id}/lease`, { limit: 1, waitMs: 30_000 });
      // Let the lease request arrive and park before the job is created.
      await new Promise((r) => setTimeout(r, 2));
      const t0 = performance.now();
      void client.json('POST', '/api/v1/jobs', { runtime: 'noop' });
      const lease = await leased;
      const t1 = performance.now();
      const job = lease.body.jobs[0];
      await client.json('POST', `/api/v1/jobs/${job.id}/complete`, { token: job.token });
      if (i >= 50) samples.push(t1 - t0); // the first 50 warm up the JIT and connections
    }
    samples.sort((a, b) => a - b);
    return {
      samples: samples.length,
      p50Ms: round(percentile(samples, 50), 3),
      p90Ms: round(percentile(samples, 90), 3),
      p99Ms: round(percentile(samples, 99), 3),
      maxMs: round(samples[samples.length - 1]!, 3),
    };
  } finally {
    await client.close();
    await hub.stop();
  }
}

/** A generated stream of `bytes` pseudo-random bytes, produced lazily in 1 MiB chunks. */
function generated(bytes: number): Readable {
  const chunk = createHash('sha512').update('jobhub').digest();
  const block = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < block.length; i += chunk.length) chunk.copy(block, i);
  let left = bytes;
  return new Readable({
    read() {
      if (left <= 0) return this.push(null);
      const n = Math.min(left, block.length);
      left -= n;
      this.push(n === block.length ? block : block.subarray(0, n));
    },
  });
}

/** Upload and download one big blob; MB/s and the hub's peak RSS. */
export async function blobs(o: { bytes: number }) {
  const hub = await startHubProcess();
  try {
    const rssBefore = peakRssMiB(hub.pid);
    let t0 = performance.now();
    const up = await request(`${hub.url}/api/v1/blobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(o.bytes) },
      body: generated(o.bytes),
    });
    const blob = (await up.body.json()) as { id: string; size: number };
    const upSeconds = (performance.now() - t0) / 1000;
    if (up.statusCode !== 201 || blob.size !== o.bytes) throw new Error(`upload failed: ${up.statusCode}`);
    t0 = performance.now();
    const down = await request(`${hub.url}/api/v1/blobs/${blob.id}`);
    let received = 0;
    for await (const part of down.body) received += (part as Buffer).length;
    const downSeconds = (performance.now() - t0) / 1000;
    if (received !== o.bytes) throw new Error(`download returned ${received} bytes`);
    const mb = o.bytes / 1e6;
    return {
      bytes: o.bytes,
      uploadMBps: Math.round(mb / upSeconds),
      downloadMBps: Math.round(mb / downSeconds),
      hubPeakRssBeforeMiB: round(rssBefore, 1),
      hubPeakRssAfterMiB: round(peakRssMiB(hub.pid), 1),
    };
  } finally {
    await hub.stop();
  }
}
