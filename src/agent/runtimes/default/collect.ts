/**
 * Collects a process's stdout: in memory while small, spilled to a temporary file past
 * `spillBytes` (outputs up to the 1 GiB default cap are never held in memory), and stops at
 * `capBytes` by calling `onOverflow` (the runtime kills the process).
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { RunOutput } from '../runtime.js';

export class OutputCollector {
  private chunks: Buffer[] = [];
  private size = 0;
  private file: WriteStream | null = null;
  private readonly path: string;
  overflowed = false;

  constructor(
    private readonly o: {
      dir: string;
      name: string;
      spillBytes: number;
      capBytes: number;
      onOverflow(): void;
    },
  ) {
    this.path = join(o.dir, `out-${o.name}`);
  }

  /** Reads `stream` to its end (or to the cap). */
  consume(stream: Readable): Promise<void> {
    return new Promise((resolve, reject) => {
      stream.on('data', (chunk: Buffer) => {
        if (this.overflowed) return;
        if (this.size + chunk.length > this.o.capBytes) {
          this.overflowed = true;
          this.o.onOverflow();
          return;
        }
        this.size += chunk.length;
        if (!this.file && this.size > this.o.spillBytes) {
          // The work directory can be crossed by job users (see openToJobUsers): the spill is private.
          this.file = createWriteStream(this.path, { mode: 0o600 });
          this.file.on('error', reject);
          for (const c of this.chunks) this.file.write(c);
          this.chunks = [];
        }
        if (this.file) {
          // Back-pressure: let the disk keep up instead of buffering the process's output.
          if (!this.file.write(chunk)) {
            stream.pause();
            this.file.once('drain', () => stream.resume());
          }
        } else this.chunks.push(chunk);
      });
      stream.on('end', resolve);
      stream.on('error', reject);
    });
  }

  /** The collected output (call after `consume` resolved). */
  async output(): Promise<RunOutput> {
    if (!this.file) return { bytes: Buffer.concat(this.chunks, this.size) };
    const file = this.file;
    await new Promise<void>((resolve, reject) =>
      file.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
    return { path: this.path, size: this.size };
  }

  /** Deletes the spill file (when the output is not used). */
  async discard(): Promise<void> {
    this.chunks = [];
    if (this.file) {
      this.file.destroy();
      await rm(this.path, { force: true });
    }
  }
}
