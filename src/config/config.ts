/**
 * Typed configuration with every default in one place. The environment is read only here
 * (`loadConfig`), command-line flags arrive as overrides, and every bound is checked at start
 * with the setting's name in the error.
 */
import { parseS3Url } from '../blobs/s3-url.js';

/**
 * What an acknowledged write survives. `full`: a crash of the hub, of the database and of the
 * machine (power loss): every commit is flushed to disk before the reply. `relaxed`: a crash or
 * `kill -9` of the hub; the last commits before a crash of the machine (and, on PostgreSQL, of the
 * database server) may be lost, in exchange for no flush on the reply's path.
 */
export const DURABILITIES = ['full', 'relaxed'] as const;
export type Durability = (typeof DURABILITIES)[number];

export interface HubConfig {
  host: string;
  port: number;
  dataDir: string;
  /** `postgres://…` to share state with other hubs; null = the embedded SQLite file in dataDir. */
  database: string | null;
  /** `s3://bucket[/prefix]?endpoint=…` for an S3-compatible blob store; null = files in dataDir. */
  blobs: string | null;
  durability: Durability;
  /** Require tokens. Forced on when `host` is not a loopback address. */
  auth: boolean;
  /** Lease length for native workers; they heartbeat about every third of it. */
  leaseMs: number;
  /** Longest a lease/contract/wait long-poll is held, whatever the client asks. */
  maxWaitMs: number;
  /**
   * Longest a Pleiades long-poll (job wait, contract) is held: below the clients' own HTTP
   * timeouts (pypleiades gives up after 30 s), so that a held request answers before they do.
   */
  pleiadesMaxWaitMs: number;
  /** Default per-job timeout and attempts when neither the job nor its function says. */
  jobTimeoutMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** How often expired leases are looked for. */
  reapIntervalMs: number;
  /** With a shared database: how often parked workers look for jobs whose notification was lost. */
  safetyPollMs: number;
  /** Largest blob accepted. */
  maxBlobBytes: number;
  /** Largest JSON body accepted. */
  maxJsonBytes: number;
  /** Inputs up to this size travel inline in a lease reply; also the inline input/output cap. */
  inlineBytes: number;
  /** Finished jobs, unreferenced blobs and done webhook deliveries are removed after this long. */
  retentionMs: number;
  retentionIntervalMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** Contest portal: a running benchmark without a report after this long is aborted. */
  benchTimeoutMs: number;
  /** Contest portal: peers (IPs or CIDRs) whose X-Forwarded-For names the benchmarker. */
  trustedProxies: string[];
  /** Contest portal: most servers a team may register. */
  maxServersPerTeam: number;
  /**
   * Webhooks: blocks (CIDR or single IPs) a webhook may be sent to although they are loopback,
   * link-local or private (refused otherwise).
   */
  webhookAllow: string[];
  /** Webhooks: the first retry of a failed delivery comes after this; each next one after twice as long (≤ 1 h). */
  webhookRetryBaseMs: number;
  /** A client must send its whole request head within this (then 408 and the connection closes). */
  headersTimeoutMs: number;
  /**
   * A client must send its whole request, body included, within this. Waiting for the reply does
   * not count: long-polls and event streams are held after the request is received.
   */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** Open connections beyond this are answered 503 and closed; 0 = derived from the file limit. */
  maxConnections: number;
  /** Live log lines kept per running job for watchers, in bytes (the oldest go first). */
  logTailBytes: number;
  /** Live log lines kept for all running jobs together, in bytes. */
  logTailTotalBytes: number;
}

export const DEFAULTS: HubConfig = {
  host: '127.0.0.1',
  port: 8080,
  dataDir: './data',
  database: null,
  blobs: null,
  durability: 'full',
  auth: false,
  leaseMs: 15_000,
  maxWaitMs: 30_000,
  pleiadesMaxWaitMs: 20_000,
  jobTimeoutMs: 600_000,
  maxAttempts: 3,
  retryBaseMs: 1_000,
  retryMaxMs: 300_000,
  reapIntervalMs: 1_000,
  safetyPollMs: 5_000,
  maxBlobBytes: 1024 ** 3,
  maxJsonBytes: 8 * 1024 ** 2,
  inlineBytes: 64 * 1024,
  retentionMs: 7 * 24 * 3600_000,
  retentionIntervalMs: 60_000,
  logLevel: 'info',
  benchTimeoutMs: 300_000,
  trustedProxies: [],
  maxServersPerTeam: 3,
  webhookAllow: [],
  webhookRetryBaseMs: 1_000,
  headersTimeoutMs: 60_000,
  requestTimeoutMs: 300_000,
  keepAliveTimeoutMs: 65_000,
  maxConnections: 0,
  logTailBytes: 256 * 1024,
  logTailTotalBytes: 64 * 1024 ** 2,
};

const ENV: Partial<Record<keyof HubConfig, string>> = {
  host: 'JOBHUB_HOST',
  port: 'JOBHUB_PORT',
  dataDir: 'JOBHUB_DATA_DIR',
  database: 'JOBHUB_DATABASE',
  blobs: 'JOBHUB_BLOBS',
  durability: 'JOBHUB_DURABILITY',
  auth: 'JOBHUB_AUTH',
  leaseMs: 'JOBHUB_LEASE_MS',
  maxWaitMs: 'JOBHUB_MAX_WAIT_MS',
  pleiadesMaxWaitMs: 'JOBHUB_PLEIADES_MAX_WAIT_MS',
  jobTimeoutMs: 'JOBHUB_JOB_TIMEOUT_MS',
  maxAttempts: 'JOBHUB_MAX_ATTEMPTS',
  maxBlobBytes: 'JOBHUB_MAX_BLOB_BYTES',
  retentionMs: 'JOBHUB_RETENTION_MS',
  logLevel: 'JOBHUB_LOG_LEVEL',
  benchTimeoutMs: 'JOBHUB_BENCH_TIMEOUT_MS',
  trustedProxies: 'JOBHUB_TRUSTED_PROXIES',
  webhookAllow: 'JOBHUB_WEBHOOK_ALLOW',
  webhookRetryBaseMs: 'JOBHUB_WEBHOOK_RETRY_BASE_MS',
  maxServersPerTeam: 'JOBHUB_MAX_SERVERS_PER_TEAM',
  headersTimeoutMs: 'JOBHUB_HEADERS_TIMEOUT_MS',
  requestTimeoutMs: 'JOBHUB_REQUEST_TIMEOUT_MS',
  keepAliveTimeoutMs: 'JOBHUB_KEEP_ALIVE_TIMEOUT_MS',
  maxConnections: 'JOBHUB_MAX_CONNECTIONS',
  logTailBytes: 'JOBHUB_LOG_TAIL_BYTES',
  logTailTotalBytes: 'JOBHUB_LOG_TAIL_TOTAL_BYTES',
};

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
}

function coerce(key: keyof HubConfig, raw: string): unknown {
  const d = DEFAULTS[key];
  if (typeof d === 'number') return Number(raw);
  if (typeof d === 'boolean') return raw === '1' || raw.toLowerCase() === 'true';
  if (Array.isArray(d))
    return raw
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  return raw;
}

export class ConfigError extends Error {}

/** Builds the configuration from defaults, the environment, then explicit overrides. */
export function loadConfig(env: NodeJS.ProcessEnv = {}, overrides: Partial<HubConfig> = {}): HubConfig {
  const fromEnv: Partial<Record<keyof HubConfig, unknown>> = {};
  for (const [key, name] of Object.entries(ENV) as [keyof HubConfig, string][]) {
    const raw = env[name];
    if (raw !== undefined && raw !== '') fromEnv[key] = coerce(key, raw);
  }
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const c = { ...DEFAULTS, ...fromEnv, ...defined } as HubConfig;
  const int = (key: keyof HubConfig, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new ConfigError(`${key} must be an integer in [${min}, ${max}], got ${String(v)}`);
    }
  };
  int('port', 0, 65535);
  int('leaseMs', 100);
  int('maxWaitMs', 0, 3_600_000);
  int('pleiadesMaxWaitMs', 0, 3_600_000);
  int('jobTimeoutMs', 100);
  int('maxAttempts', 1, 1000);
  int('retryBaseMs', 0);
  int('retryMaxMs', 0);
  int('reapIntervalMs', 10);
  int('safetyPollMs', 10);
  int('maxBlobBytes', 1);
  int('maxJsonBytes', 1024);
  int('inlineBytes', 0, 16 * 1024 * 1024);
  int('retentionMs', 0);
  int('retentionIntervalMs', 10);
  int('benchTimeoutMs', 100);
  int('maxServersPerTeam', 1, 1000);
  int('headersTimeoutMs', 100, 3_600_000);
  int('requestTimeoutMs', 100, 24 * 3_600_000);
  int('keepAliveTimeoutMs', 100, 3_600_000);
  int('maxConnections', 0, 10_000_000);
  int('logTailBytes', 1024);
  int('logTailTotalBytes', 1024);
  if (c.headersTimeoutMs > c.requestTimeoutMs) {
    // Node refuses it, and a head cannot take longer than the whole request anyway.
    throw new ConfigError(
      `headersTimeoutMs (${c.headersTimeoutMs}) must not exceed requestTimeoutMs (${c.requestTimeoutMs})`,
    );
  }
  if (!Array.isArray(c.trustedProxies) || c.trustedProxies.some((x) => typeof x !== 'string')) {
    throw new ConfigError('trustedProxies must be a list of IP addresses or CIDR blocks');
  }
  if (!Array.isArray(c.webhookAllow) || c.webhookAllow.some((x) => typeof x !== 'string')) {
    throw new ConfigError('webhookAllow must be a list of IP addresses or CIDR blocks');
  }
  int('webhookRetryBaseMs', 10);
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(c.logLevel)) {
    throw new ConfigError(`logLevel must be one of debug, info, warn, error, silent, got ${c.logLevel}`);
  }
  if (!DURABILITIES.includes(c.durability)) {
    throw new ConfigError(`durability must be ${DURABILITIES.join(' or ')}, got ${String(c.durability)}`);
  }
  if (c.database !== null && !/^postgres(ql)?:\/\//.test(c.database)) {
    throw new ConfigError(
      `database must be a postgres:// URL (or unset for the embedded SQLite), got ${c.database}`,
    );
  }
  if (c.blobs !== null) {
    if (!c.blobs.startsWith('s3://')) {
      throw new ConfigError(
        `blobs must be an s3:// URL (or unset for files in the data dir), got ${c.blobs}`,
      );
    }
    try {
      parseS3Url(c.blobs);
    } catch (err) {
      throw new ConfigError(`blobs: ${(err as Error).message}`);
    }
  }
  if (!isLoopback(c.host)) c.auth = true;
  return c;
}
