/**
 * Group commit for a synchronous SQLite connection. Write operations queued during one turn of
 * the event loop run in a single transaction, each inside its own savepoint (so one failing
 * operation rolls back alone), and are all acknowledged after the one COMMIT. With
 * `synchronous=FULL` that is one fsync for the whole group instead of one per request.
 */
import type { Database, Statement } from 'better-sqlite3';

interface PendingOp {
  fn: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export class GroupCommit {
  private pending: PendingOp[] = [];
  private scheduled = false;
  private readonly begin: Statement;
  private readonly commit: Statement;
  private readonly rollback: Statement;
  private readonly savepoint: Statement;
  private readonly release: Statement;
  private readonly rollbackTo: Statement;
  /** Number of commits and operations, for metrics and tests. */
  commits = 0;
  operations = 0;

  constructor(private readonly db: Database) {
    this.begin = db.prepare('BEGIN IMMEDIATE');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
    this.savepoint = db.prepare('SAVEPOINT op');
    this.release = db.prepare('RELEASE op');
    this.rollbackTo = db.prepare('ROLLBACK TO op');
  }

  /** Runs `fn` inside the next group transaction; resolves after that transaction commits. */
  run<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // setImmediate, not nextTick: let the I/O callbacks of this loop turn add their writes.
        setImmediate(() => this.flush());
      }
    });
  }

  /** Runs whatever is queued now (also used on close). */
  flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      this.begin.run();
      for (const op of batch) {
        this.savepoint.run();
        try {
          outcomes.push({ ok: true, value: op.fn() });
          this.release.run();
        } catch (error) {
          this.rollbackTo.run();
          this.release.run();
          outcomes.push({ ok: false, value: error });
        }
      }
      this.commit.run();
    } catch (error) {
      // The commit itself failed (disk full, I/O error): nothing of this group is durable.
      if (this.db.inTransaction) this.rollback.run();
      for (const op of batch) op.reject(error);
      return;
    }
    this.commits++;
    this.operations += batch.length;
    batch.forEach((op, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) op.resolve(outcome.value);
      else op.reject(outcome.value);
    });
  }
}
