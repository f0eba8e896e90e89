/**
 * The OrganiserStore in SQL both SQLite and PostgreSQL accept (upserts with ON CONFLICT, RETURNING,
 * TRUE/FALSE literals, CAST), over a dialect's SqlRunner. Each method is a single statement, so
 * SQLite's group commit and PostgreSQL's autocommit make each one atomic without a transaction.
 */
import { idNum } from './rows.js';
import type {
  AnnouncementRecord,
  BenchmarkerHealthRecord,
  BenchmarkerJobStats,
  ClarificationRecord,
  OrganiserStore,
  PublicationRecord,
  ReviewRecord,
  SqlRunner,
  VerificationRecord,
} from './organisers.js';

type P<K extends keyof OrganiserStore> = Parameters<OrganiserStore[K]>[0];
const str = (v: number | null): string | null => (v === null ? null : String(v));

interface ClarificationRow {
  id: number;
  team_id: number | null;
  question: string;
  original_question: string | null;
  answer: string | null;
  disclosed: number | boolean;
  created_at: number;
  answered_at: number | null;
  updated_at: number;
}
const clarification = (r: ClarificationRow): ClarificationRecord => ({
  id: String(r.id),
  teamId: str(r.team_id),
  question: r.question,
  originalQuestion: r.original_question,
  answer: r.answer,
  disclosed: Boolean(r.disclosed),
  createdAt: r.created_at,
  answeredAt: r.answered_at,
  updatedAt: r.updated_at,
});

interface AnnouncementRow {
  id: number;
  title: string;
  body: string;
  pinned: number | boolean;
  created_at: number;
  updated_at: number;
  withdrawn_at: number | null;
}
const announcement = (r: AnnouncementRow): AnnouncementRecord => ({
  id: String(r.id),
  title: r.title,
  body: r.body,
  pinned: Boolean(r.pinned),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  withdrawnAt: r.withdrawn_at,
});

interface ReviewRow {
  team_id: number;
  disqualified: number | boolean;
  note: string;
  updated_at: number;
}
const review = (r: ReviewRow): ReviewRecord => ({
  teamId: String(r.team_id),
  disqualified: Boolean(r.disqualified),
  note: r.note,
  updatedAt: r.updated_at,
});

export class SqlOrganiserStore implements OrganiserStore {
  constructor(private readonly sql: SqlRunner) {}

  private async first<R>(rows: Promise<R[]>): Promise<R | null> {
    return (await rows)[0] ?? null;
  }

  async clarificationInsert(p: P<'clarificationInsert'>) {
    const [row] = await this.sql.write<ClarificationRow>(
      `INSERT INTO portal_clarifications (team_id, question, created_at, updated_at)
       VALUES (?, ?, ?, ?) RETURNING *`,
      [idNum(p.teamId), p.question, p.now, p.now],
    );
    return clarification(row!);
  }
  async clarificationAnswer(p: P<'clarificationAnswer'>) {
    const rewrite = p.question ?? null;
    const row = await this.first(
      this.sql.write<ClarificationRow>(
        `UPDATE portal_clarifications SET answer = ?, disclosed = ?, answered_at = ?, updated_at = ?,
           original_question = CASE WHEN CAST(? AS TEXT) IS NOT NULL AND CAST(? AS TEXT) <> question
             THEN COALESCE(original_question, question) ELSE original_question END,
           question = COALESCE(CAST(? AS TEXT), question)
         WHERE id = ? RETURNING *`,
        [p.answer, p.disclosed, p.now, p.now, rewrite, rewrite, rewrite, idNum(p.id)],
      ),
    );
    return row && clarification(row);
  }
  async clarificationGet(p: P<'clarificationGet'>) {
    const row = await this.first(
      this.sql.read<ClarificationRow>('SELECT * FROM portal_clarifications WHERE id = ?', [idNum(p.id)]),
    );
    return row && clarification(row);
  }
  async clarificationList(p: P<'clarificationList'>) {
    const where: string[] = [];
    const args: unknown[] = [];
    if (p.teamId !== undefined) {
      where.push('(team_id = ? OR (disclosed = TRUE AND answered_at IS NOT NULL))');
      args.push(idNum(p.teamId));
    }
    if (p.open) where.push('answered_at IS NULL');
    const rows = await this.sql.read<ClarificationRow>(
      `SELECT * FROM portal_clarifications ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY id DESC`,
      args,
    );
    return rows.map(clarification);
  }
  async clarificationReadGet(p: P<'clarificationReadGet'>) {
    const row = await this.first(
      this.sql.read<{ read_at: number }>('SELECT read_at FROM portal_clarification_reads WHERE team_id = ?', [
        idNum(p.teamId),
      ]),
    );
    return row?.read_at ?? null;
  }
  async clarificationReadSet(p: P<'clarificationReadSet'>) {
    await this.sql.write(
      `INSERT INTO portal_clarification_reads (team_id, read_at) VALUES (?, ?)
       ON CONFLICT (team_id) DO UPDATE SET read_at = CASE
         WHEN excluded.read_at > portal_clarification_reads.read_at THEN excluded.read_at
         ELSE portal_clarification_reads.read_at END`,
      [idNum(p.teamId), p.at],
    );
  }

  async announcementInsert(p: P<'announcementInsert'>) {
    const [row] = await this.sql.write<AnnouncementRow>(
      `INSERT INTO portal_announcements (title, body, pinned, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?) RETURNING *`,
      [p.title, p.body, p.pinned, p.now, p.now],
    );
    return announcement(row!);
  }
  async announcementUpdate(p: P<'announcementUpdate'>) {
    const cols = ['updated_at = ?'];
    const args: unknown[] = [p.now];
    const set = (col: string, v: unknown) => {
      if (v === undefined) return;
      cols.push(`${col} = ?`);
      args.push(v);
    };
    set('title', p.title);
    set('body', p.body);
    set('pinned', p.pinned);
    if (p.withdrawn !== undefined) set('withdrawn_at', p.withdrawn ? p.now : null);
    const row = await this.first(
      this.sql.write<AnnouncementRow>(
        `UPDATE portal_announcements SET ${cols.join(', ')} WHERE id = ? RETURNING *`,
        [...args, idNum(p.id)],
      ),
    );
    return row && announcement(row);
  }
  async announcementList(p: P<'announcementList'>) {
    const rows = await this.sql.read<AnnouncementRow>(
      `SELECT * FROM portal_announcements ${p.withdrawn ? '' : 'WHERE withdrawn_at IS NULL'}
       ORDER BY pinned DESC, id DESC`,
    );
    return rows.map(announcement);
  }

  async healthList(): Promise<BenchmarkerHealthRecord[]> {
    const rows = await this.sql.read<{
      id: number;
      out_of_service: number | boolean;
      last_seen_at: number | null;
    }>('SELECT id, out_of_service, last_seen_at FROM portal_benchmarkers ORDER BY id');
    return rows.map((r) => ({
      benchmarkerId: String(r.id),
      outOfService: Boolean(r.out_of_service),
      lastDequeueAt: r.last_seen_at,
    }));
  }
  async healthSetService(p: P<'healthSetService'>) {
    await this.sql.write('UPDATE portal_benchmarkers SET out_of_service = ? WHERE id = ?', [
      p.outOfService,
      idNum(p.benchmarkerId),
    ]);
  }
  async healthSeen(p: P<'healthSeen'>) {
    await this.sql.write(
      'UPDATE portal_benchmarkers SET last_seen_at = ? WHERE id = ? AND (last_seen_at IS NULL OR last_seen_at < ?)',
      [p.at, idNum(p.benchmarkerId), p.at],
    );
  }
  async benchmarkerJobStats(p: P<'benchmarkerJobStats'>): Promise<BenchmarkerJobStats[]> {
    const rows = await this.sql.read<{
      worker_id: number;
      jobs: number;
      aborted: number;
      running_job_id: number | null;
    }>(
      `SELECT lease_worker_id AS worker_id, CAST(count(*) AS INTEGER) AS jobs,
         CAST(sum(CASE WHEN state = 'failed' THEN 1 ELSE 0 END) AS INTEGER) AS aborted,
         max(CASE WHEN state = 'running' THEN id END) AS running_job_id
       FROM jobs WHERE runtime = ? AND lease_worker_id IS NOT NULL GROUP BY lease_worker_id`,
      [p.runtime],
    );
    return rows.map((r) => ({
      workerId: String(r.worker_id),
      jobs: Number(r.jobs),
      aborted: Number(r.aborted),
      runningJobId: r.running_job_id === null ? null : String(r.running_job_id),
    }));
  }

  async settingsGet() {
    const row = await this.first(
      this.sql.read<{ data: string }>('SELECT data FROM portal_settings WHERE id = 1'),
    );
    return row ? (JSON.parse(row.data) as Record<string, unknown>) : {};
  }
  async settingsSet(p: P<'settingsSet'>) {
    await this.sql.write(
      `INSERT INTO portal_settings (id, data, updated_at) VALUES (1, ?, ?)
       ON CONFLICT (id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`,
      [JSON.stringify(p.data), p.now],
    );
  }
  async onceClaim(p: P<'onceClaim'>) {
    const rows = await this.sql.write(
      'INSERT INTO portal_once (key, at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING RETURNING key',
      [p.key, p.now],
    );
    return rows.length > 0;
  }

  async verificationInsert(p: P<'verificationInsert'>) {
    await this.sql.write(
      `INSERT INTO portal_verifications (job_id, team_id, created_at) VALUES (?, ?, ?)
       ON CONFLICT (job_id) DO NOTHING`,
      [idNum(p.jobId), idNum(p.teamId), p.now],
    );
  }
  async verificationList(): Promise<VerificationRecord[]> {
    const rows = await this.sql.read<{ job_id: number; team_id: number; created_at: number }>(
      'SELECT * FROM portal_verifications ORDER BY job_id',
    );
    return rows.map((r) => ({ jobId: String(r.job_id), teamId: String(r.team_id), createdAt: r.created_at }));
  }
  async reviewSet(p: P<'reviewSet'>) {
    const [row] = await this.sql.write<ReviewRow>(
      `INSERT INTO portal_reviews (team_id, disqualified, note, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (team_id) DO UPDATE SET disqualified = excluded.disqualified, note = excluded.note,
         updated_at = excluded.updated_at RETURNING *`,
      [idNum(p.teamId), p.disqualified, p.note, p.now],
    );
    return review(row!);
  }
  async reviewList() {
    return (await this.sql.read<ReviewRow>('SELECT * FROM portal_reviews ORDER BY team_id')).map(review);
  }
  async publicationSet(p: P<'publicationSet'>): Promise<PublicationRecord> {
    const [row] = await this.sql.write<{ body: string; published_at: number }>(
      `INSERT INTO portal_publication (id, body, published_at) VALUES (1, ?, ?)
       ON CONFLICT (id) DO UPDATE SET body = excluded.body, published_at = excluded.published_at
       RETURNING body, published_at`,
      [p.body, p.now],
    );
    return { body: row!.body, publishedAt: row!.published_at };
  }
  async publicationGet() {
    const row = await this.first(
      this.sql.read<{ body: string; published_at: number }>('SELECT * FROM portal_publication WHERE id = 1'),
    );
    return row && { body: row.body, publishedAt: row.published_at };
  }
  async publicationDelete() {
    return (await this.sql.write('DELETE FROM portal_publication WHERE id = 1 RETURNING id')).length > 0;
  }
}
