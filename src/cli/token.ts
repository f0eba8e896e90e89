/**
 * `jobhub token create|list|revoke`: manage tokens directly in the hub's store (data directory or
 * database). A revoked token is refused by every hub on that store within a second (the hubs
 * cache a lookup for half a second only, see auth/auth.ts).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { loadConfig } from '../config/config.js';
import { Hub } from '../app/hub.js';
import type { Role } from '../auth/auth.js';
import type { TokenRecord } from '../store/store.js';

interface StoreOptions {
  dataDir?: string;
  database?: string;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--expires`: a duration from now (`90m`, `12h`, `30d`) or an ISO 8601 time. */
export function parseExpiry(raw: string, now = Date.now()): number {
  const m = /^(\d{1,9})([smhd])$/.exec(raw.trim());
  if (m) return now + Number(m[1]) * UNITS[m[2]!]!;
  const at = /^\d{4}-\d{2}-\d{2}/.test(raw) ? Date.parse(raw) : NaN;
  if (!Number.isFinite(at)) {
    throw new InvalidArgumentError(
      'give a duration like 30d, 12h, 90m, 45s, or an ISO time like 2027-01-31T00:00:00Z',
    );
  }
  if (at <= now) throw new InvalidArgumentError('that time has passed');
  return at;
}

function withStore(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'the hub data directory')
    .option('--database <url>', "the hubs' PostgreSQL database, when they share one");
}

async function withHub<T>(o: StoreOptions, fn: (hub: Hub) => Promise<T>): Promise<T> {
  const hub = await Hub.open(
    loadConfig(process.env, { dataDir: o.dataDir, database: o.database, logLevel: 'silent' }),
  );
  try {
    return await fn(hub);
  } finally {
    await hub.close();
  }
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function tokenJson(t: TokenRecord) {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    created: iso(t.createdAt),
    lastUsed: iso(t.lastUsedAt),
    expires: iso(t.expiresAt),
  };
}

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function tokenCommand(): Command {
  const token = new Command('token').description('Manage API tokens');
  withStore(
    token
      .command('create')
      .description('Create a token and print it (it is stored only as a hash)')
      .addOption(
        new Option('--role <role>', 'what the token may do')
          .choices(['admin', 'client', 'worker'])
          .makeOptionMandatory(),
      )
      .option('--name <name>', 'a label for people')
      .option('--expires <when>', 'refuse the token after this: 30d, 12h, 90m, or an ISO time', (v) =>
        parseExpiry(v),
      ),
  ).action(async (o: StoreOptions & { role: Role; name?: string; expires?: number }) => {
    await withHub(o, async (hub) => {
      const { token: secret, record } = await hub.auth.create(o.role, o.name ?? null, o.expires ?? null);
      process.stdout.write(`${secret}\n`);
      process.stderr.write(
        `created ${record.role} token ${record.id}${record.name ? ` (${record.name})` : ''}` +
          `${record.expiresAt === null ? '' : `, expires ${iso(record.expiresAt)}`}\n`,
      );
    });
  });

  withStore(
    token
      .command('list')
      .description('List tokens: id, name, role, created, last used, expiry (never the secrets)')
      .option('--json', 'one JSON array'),
  ).action(async (o: StoreOptions & { json?: boolean }) => {
    await withHub(o, async (hub) => {
      const tokens = (await hub.auth.list()).map(tokenJson);
      if (o.json) {
        process.stdout.write(`${JSON.stringify(tokens)}\n`);
        return;
      }
      const rows = [['ID', 'NAME', 'ROLE', 'CREATED', 'LAST USED', 'EXPIRES']];
      for (const t of tokens) {
        rows.push([
          t.id,
          t.name ?? '-',
          t.role,
          t.created ?? '-',
          t.lastUsed ?? 'never',
          t.expires ?? 'never',
        ]);
      }
      process.stdout.write(`${table(rows)}\n`);
    });
  });

  withStore(
    token
      .command('revoke')
      .description('Delete a token: every hub on this store refuses it within a second')
      .argument('<id>', 'the token id (see `jobhub token list`)'),
  ).action(async (id: string, o: StoreOptions) => {
    const gone = await withHub(o, (hub) => hub.auth.revoke(id));
    if (!gone) {
      process.stderr.write(`no token with id ${JSON.stringify(id)}\n`);
      process.exitCode = 1;
      return;
    }
    process.stderr.write(`revoked token ${id}\n`);
  });
  return token;
}
