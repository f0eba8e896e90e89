/**
 * The portal store conformance suite against PostgreSQL, when JOBHUB_TEST_PG names a database.
 * Each test gets its own schema.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, it } from 'vitest';
import { PostgresStore } from '../../src/store/postgres/store.js';
import { organiserStoreConformance } from './organiser-store-conformance.js';
import { portalStoreConformance, type OpenPortalStore } from './store-conformance.js';

const url = process.env.JOBHUB_TEST_PG;

if (!url) {
  describe('PostgreSQL portal store', () => {
    it.skip('needs JOBHUB_TEST_PG=postgres://… to run', () => {});
  });
} else {
  const open: OpenPortalStore = async () => {
    const schema = `jobhub_portal_${randomBytes(6).toString('hex')}`;
    const core = await PostgresStore.open({ connectionString: url, schema, maxConnections: 8 });
    return {
      store: core.portal(),
      core,
      cleanup: async () => {
        await core.close();
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await client.end();
      },
    };
  };
  portalStoreConformance('postgres', open);
  organiserStoreConformance('postgres', open);
}
