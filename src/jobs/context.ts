/** What every part of the hub service shares: the store, blobs, dispatch, events, clock, metrics. */
import type { Logger } from 'pino';
import type { BlobStore } from '../blobs/blob-store.js';
import type { HubConfig } from '../config/config.js';
import type { Dispatcher } from './dispatcher.js';
import type { JobEvents } from './job-events.js';
import { Registry, type Counter, type Histogram } from '../metrics/registry.js';
import type { Store } from '../store/store.js';

export type Clock = () => number;

/** Most runtime label values a metric carries (plus `other`). */
export const RUNTIME_SERIES = 50;

export interface HubMetrics {
  registry: Registry;
  jobsCreated: Counter;
  jobsFinished: Counter;
  leasesGranted: Counter;
  leaseExpiries: Counter;
  attemptsFailed: Counter;
  requestSeconds: Histogram;
  queueWaitSeconds: Histogram;
  connectionsShed: Counter;
}

export function createMetrics(): HubMetrics {
  const registry = new Registry();
  const latency = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
  return {
    registry,
    // Runtimes are named by clients: only those a live worker offers get their own series, and
    // at most RUNTIME_SERIES of them (see JobService); the rest count as runtime="other".
    jobsCreated: registry.counter('jobhub_jobs_created_total', 'Jobs created, by runtime.', {
      maxSeries: RUNTIME_SERIES,
      overflow: { runtime: 'other' },
    }),
    jobsFinished: registry.counter(
      'jobhub_jobs_finished_total',
      'Jobs that reached a final state, by state.',
    ),
    leasesGranted: registry.counter('jobhub_leases_granted_total', 'Leases handed to workers.'),
    leaseExpiries: registry.counter('jobhub_lease_expiries_total', 'Leases that ended because they expired.'),
    attemptsFailed: registry.counter('jobhub_attempts_failed_total', 'Attempts reported failed by workers.'),
    requestSeconds: registry.histogram(
      'jobhub_http_request_duration_seconds',
      'HTTP request latency by API face and status class (long-polls included).',
      latency,
    ),
    queueWaitSeconds: registry.histogram(
      'jobhub_job_queue_wait_seconds',
      'Time from a job becoming runnable to its lease.',
      latency,
    ),
    connectionsShed: registry.counter(
      'jobhub_http_connections_shed_total',
      'Connections answered 503 because the hub had too many open.',
    ),
  };
}

export interface HubContext {
  config: HubConfig;
  store: Store;
  blobs: BlobStore;
  dispatcher: Dispatcher;
  events: JobEvents;
  clock: Clock;
  log: Logger;
  metrics: HubMetrics;
  /** Aborted when the hub starts to stop: long-polls and event streams answer and end. */
  shutdown: AbortSignal;
}
