/**
 * The composition root's one list of concrete drivers: which store, blob store and contest store
 * a configuration means. Each driver is imported only when chosen, so a hub on SQLite never loads
 * the PostgreSQL client (and the reverse), and one with filesystem blobs never loads the AWS SDK.
 * Nothing else in src names SqliteStore, PostgresStore, FsBlobStore, S3BlobStore or the contest's
 * store drivers.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { BlobStore } from '../blobs/blob-store.js';
import type { HubConfig } from '../config/config.js';
import type { PortalStore } from '../contest/store/store.js';
import type { PostgresStore } from '../store/postgres/store.js';
import type { Store } from '../store/store.js';

/** The store the configuration names: PostgreSQL for a database URL, else SQLite in the data directory. */
export async function openStore(config: HubConfig, log: Logger): Promise<Store> {
  if (config.database) {
    const { PostgresStore } = await import('../store/postgres/store.js');
    const store = await PostgresStore.open({
      connectionString: config.database,
      durability: config.durability,
    });
    if (store.durability === 'full') await warnUnflushed(store, log);
    return store;
  }
  const { SqliteStore } = await import('../store/sqlite/store.js');
  return SqliteStore.open({ path: join(config.dataDir, 'jobhub.db'), durability: config.durability });
}

/** The blob store: an S3 bucket when configured, else files under the data directory. */
export async function openBlobs(config: HubConfig): Promise<BlobStore> {
  // Imported only when configured: the AWS SDK takes ~0.2 s to load.
  if (config.blobs) return (await import('../blobs/s3-blob-store.js')).S3BlobStore.fromUrl(config.blobs);
  const { FsBlobStore } = await import('../blobs/fs-blob-store.js');
  return new FsBlobStore({ dir: join(config.dataDir, 'blobs') });
}

/**
 * The contest's tables on the job store's database, sharing its connection and transaction
 * helper; null for a store of another kind (a test double), where the portal is unavailable.
 */
export async function openContestStore(store: Store): Promise<PortalStore | null> {
  if (store.dialect === 'sqlite') {
    const { SqliteStore } = await import('../store/sqlite/store.js');
    if (!(store instanceof SqliteStore)) return null;
    const { SqlitePortalStore } = await import('../contest/store/sqlite.js');
    return new SqlitePortalStore(store.shared());
  }
  const { PostgresStore } = await import('../store/postgres/store.js');
  if (!(store instanceof PostgresStore)) return null;
  const { PostgresPortalStore } = await import('../contest/store/postgres.js');
  return new PostgresPortalStore(store.shared());
}

/**
 * `full` durability on PostgreSQL leaves `synchronous_commit` as the server has it; a server (or
 * database, role, URL) that turned it off acknowledges commits before their flush, which is what
 * `relaxed` means. Said once at startup, since the operator believes otherwise.
 */
async function warnUnflushed(store: PostgresStore, log: Logger): Promise<void> {
  let setting: string;
  try {
    setting = await store.synchronousCommit();
  } catch (err) {
    // A check, not a condition to start: a failure here is said, and the hub goes on.
    log.warn({ err }, 'could not read synchronous_commit from PostgreSQL');
    return;
  }
  if (setting !== 'off') return;
  log.warn(
    { synchronous_commit: setting },
    'durability is full, but PostgreSQL acknowledges commits before their WAL is flushed ' +
      '(synchronous_commit=off in its configuration or the database URL): a crash of the PostgreSQL ' +
      'server or its machine can lose acknowledged writes; set synchronous_commit=on for full durability',
  );
}
