/**
 * `jobhub webhooks create|list|delete|deliveries` with the real command (child processes)
 * against a hub with auth in this process and real HTTP receivers: a failing receiver's delivery
 * shows its status, error and next try; a working one's shows it delivered; the hub and token
 * come from the flags or from JOBHUB_URL/JOBHUB_TOKEN; mistakes end with one line and a status
 * from the exit-code table.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/exit-codes.js';
import { api, testHub } from '../helpers/hub.js';
import { bearer, buildCli, runCliAsync, until } from '../helpers/worker.js';
import { scaled } from '../helpers/time.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A receiver answering every POST with `status`; counts what it got. */
async function receiver(status: number) {
  const got: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      got.push(body);
      res.writeHead(status).end();
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got };
}

beforeAll(() => buildCli(), scaled(120_000));

describe('jobhub webhooks', { timeout: scaled(120_000) }, () => {
  it('creates, lists and deletes webhooks and shows deliveries with their results', async () => {
    // A long retry base: the failing delivery stays pending with a next try while we look.
    const { url, hub } = await testHub({
      auth: true,
      webhookAllow: ['127.0.0.0/8'],
      webhookRetryBaseMs: 3_600_000,
    });
    const token = (await hub.auth.create('client', 'cli')).token;
    // The hub and token from the environment, as a script would set them.
    const cli = (args: string[]) => runCliAsync(args, { JOBHUB_URL: url, JOBHUB_TOKEN: token });
    const down = await receiver(500);
    const up = await receiver(204);

    const a = await cli([
      'webhooks',
      'create',
      '--url',
      down.url,
      '--events',
      'job.canceled,job.failed',
      '--secret',
      'a-long-secret',
      '--json',
    ]);
    expect(a.code, a.stderr).toBe(0);
    const hookA = JSON.parse(a.stdout);
    expect(hookA).toMatchObject({ url: down.url, events: ['job.canceled', 'job.failed'] });
    expect(hookA.secret).toBeUndefined();
    // The flags instead of the environment.
    const b = await runCliAsync([
      'webhooks',
      'create',
      '--hub',
      url,
      '--token',
      token,
      '--url',
      up.url,
      '--events',
      'job.canceled',
      '--secret',
      'another-secret',
    ]);
    expect(b.code, b.stderr).toBe(0);
    const hookB = b.stdout.trim();
    expect(hookB).toMatch(/^\d+$/);

    const listed = await cli(['webhooks', 'list']);
    expect(listed.code, listed.stderr).toBe(0);
    const lines = listed.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+URL\s+EVENTS\s+CREATED$/);
    expect(lines[1]!.split(/\s+/).slice(0, 3)).toEqual([hookA.id, down.url, 'job.canceled,job.failed']);
    expect(lines[2]!.split(/\s+/).slice(0, 3)).toEqual([hookB, up.url, 'job.canceled']);

    const job = (await api(url, 'POST', '/api/v1/jobs', { runtime: 'wh-cli' }, bearer(token))).body;
    await api(url, 'POST', `/api/v1/jobs/${job.id}/cancel`, undefined, bearer(token));
    await until(async () => down.got.length === 1 && up.got.length === 1, scaled(15_000));

    const deliveriesOf = async (args: string[]) => {
      const r = await cli(['webhooks', 'deliveries', ...args, '--json']);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as Record<string, unknown>[];
    };
    // Both outcomes are recorded once the receivers have answered.
    await until(async () => {
      const all = await deliveriesOf([]);
      return all.length === 2 && all.every((d) => d.attempts === 1 && d.lastStatus !== null);
    }, scaled(15_000));
    const failing = await deliveriesOf([hookA.id]);
    expect(failing).toEqual([
      expect.objectContaining({
        webhookId: hookA.id,
        jobId: job.id,
        event: 'job.canceled',
        state: 'pending',
        attempts: 1,
        lastStatus: 500,
        lastError: 'the receiver answered 500',
      }),
    ]);
    expect(Date.parse(failing[0]!.nextAttemptAt as string)).toBeGreaterThan(Date.now() + 60_000);

    const text = await cli(['webhooks', 'deliveries']);
    expect(text.code, text.stderr).toBe(0);
    const rows = text.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^ID\s+WEBHOOK\s+EVENT\s+JOB\s+STATE\s+STATUS\s+ATTEMPTS\s+NEXT-TRY\s+ERROR$/);
    // Newest first: B's delivery was added after A's (webhooks in id order).
    const [newest, older] = rows.slice(1).map((r) => r.split(/\s+/));
    expect(newest!.slice(1, 9)).toEqual([hookB, 'job.canceled', job.id, 'delivered', '204', '1', '-', '-']);
    expect(older!.slice(1, 7)).toEqual([hookA.id, 'job.canceled', job.id, 'pending', '500', '1']);
    expect(older!.slice(8).join(' ')).toBe('the receiver answered 500');
    expect((await deliveriesOf(['--limit', '1'])).map((d) => d.webhookId)).toEqual([hookB]);

    const deleted = await cli(['webhooks', 'delete', hookA.id, '--json']);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(JSON.parse(deleted.stdout)).toEqual({ deleted: hookA.id });
    expect(
      JSON.parse((await cli(['webhooks', 'list', '--json'])).stdout).map((h: { id: string }) => h.id),
    ).toEqual([hookB]);
    // Gone: deleting again or asking for its deliveries is refused by the hub (65), in one line.
    for (const args of [
      ['webhooks', 'delete', hookA.id],
      ['webhooks', 'deliveries', hookA.id],
    ]) {
      const r = await cli(args);
      expect(r.code, r.stderr).toBe(EXIT.DATA);
      expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toContain('webhook');
    }
    // Another client sees none of these.
    const other = (await hub.auth.create('client', 'other')).token;
    const theirs = await runCliAsync(['webhooks', 'list', '--json'], {
      JOBHUB_URL: url,
      JOBHUB_TOKEN: other,
    });
    expect(JSON.parse(theirs.stdout)).toEqual([]);
  });

  it('refuses bad flags, refused targets and missing tokens with one line and its status', async () => {
    const { url } = await testHub({ auth: true });
    const create = (extra: string[]) => [
      'webhooks',
      'create',
      '--hub',
      url,
      '--secret',
      'a-long-secret',
      ...extra,
    ];
    const cases: [string[], number, RegExp][] = [
      [create(['--url', 'http://example.com/', '--events', 'job.started']), EXIT.USAGE, /job.succeeded/],
      [create(['--url', 'http://example.com/']), EXIT.USAGE, /--events/],
      [['webhooks', 'deliveries', '--hub', url, '--limit', '0'], EXIT.USAGE, /positive/],
      // No token for a hub with auth.
      [create(['--url', 'http://example.com/', '--events', 'job.failed']), EXIT.NO_PERMISSION, /token/],
    ];
    for (const [args, code, says] of cases) {
      const r = await runCliAsync(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(code);
      expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(says);
    }
  });

  it('passes the hub refusal of a loopback target on as one line', async () => {
    const { url } = await testHub();
    const r = await runCliAsync([
      'webhooks',
      'create',
      '--hub',
      url,
      '--url',
      'http://127.0.0.1:9/hook',
      '--events',
      'job.failed',
      '--secret',
      'a-long-secret',
    ]);
    expect(r.code, r.stderr).toBe(EXIT.DATA);
    expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).toContain('--webhook-allow');
  });
});
