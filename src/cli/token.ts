/** `jobhub token create --role R`: make a token directly in the hub's store (data dir or database). */
import { Command, Option } from 'commander';
import { loadConfig } from '../config/config.js';
import { Hub } from '../hub/hub.js';
import type { Role } from '../hub/auth.js';

export function tokenCommand(): Command {
  const token = new Command('token').description('Manage API tokens');
  token
    .command('create')
    .description('Create a token and print it (it is stored only as a hash)')
    .addOption(
      new Option('--role <role>', 'what the token may do')
        .choices(['admin', 'client', 'worker'])
        .makeOptionMandatory(),
    )
    .option('--name <name>', 'a label for people')
    .option('--data-dir <dir>', 'the hub data directory')
    .option('--database <url>', "the hubs' PostgreSQL database, when they share one")
    .action(async (o: { role: Role; name?: string; dataDir?: string; database?: string }) => {
      const hub = await Hub.open(
        loadConfig(process.env, { dataDir: o.dataDir, database: o.database, logLevel: 'silent' }),
      );
      try {
        const { token: secret, record } = await hub.auth.create(o.role, o.name ?? null);
        process.stdout.write(`${secret}\n`);
        process.stderr.write(
          `created ${record.role} token ${record.id}${record.name ? ` (${record.name})` : ''}\n`,
        );
      } finally {
        await hub.close();
      }
    });
  return token;
}
