/**
 * Messages between the `js` runtime and an engine thread, in batches: all that one side posts in
 * one turn of its event loop goes as one postMessage (an array), with its transfer list. A
 * postMessage has a fixed cost (the copy, the other side's wake-up) that was a tenth of a no-op
 * job's when every job and reply went alone.
 */
export class Outbox<M> {
  private batch: M[] = [];
  private transfer: ArrayBuffer[] = [];

  constructor(private readonly send: (batch: M[], transfer: ArrayBuffer[]) => void) {}

  post(m: M, transfer: ArrayBuffer[] = []): void {
    if (this.batch.push(m) === 1) setImmediate(() => this.flush());
    for (const t of transfer) this.transfer.push(t);
  }

  /** Sends what is waiting now (before the thread exits, say). */
  flush(): void {
    if (this.batch.length === 0) return;
    const batch = this.batch;
    const transfer = this.transfer;
    this.batch = [];
    this.transfer = [];
    this.send(batch, transfer);
  }
}
