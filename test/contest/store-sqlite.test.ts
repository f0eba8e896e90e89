/** The portal store conformance suite against SQLite (a fresh database file per test). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { organiserStoreConformance } from './organiser-store-conformance.js';
import { portalStoreConformance, type OpenPortalStore } from './store-conformance.js';

const open: OpenPortalStore = async () => {
  const dir = mkdtempSync(join(tmpdir(), 'jobhub-portal-'));
  const core = SqliteStore.open({ path: join(dir, 'hub.db') });
  return {
    store: core.portal(),
    core,
    cleanup: async () => {
      await core.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

portalStoreConformance('sqlite', open);
organiserStoreConformance('sqlite', open);
