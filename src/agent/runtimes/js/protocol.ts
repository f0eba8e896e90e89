/**
 * Messages between the `js` runtime and its engine threads. Each postMessage carries an array of
 * them: all that one side had to say in one turn of its event loop.
 */

/** One job for an engine thread: the module's source (types already stripped) and its limits. */
export interface JsRunMessage {
  type: 'run';
  id: number;
  source: string;
  /** Names the function's code (its blob's sha256): what a thread keeps per function is kept under it. */
  key: string;
  input: Uint8Array;
  /** For messages. */
  timeoutMs: number;
  /** Wall-clock time the job may take, awaiting included. */
  wallMs: number;
  /** Time the job may spend running JavaScript (awaiting not included). */
  cpuMs: number;
  memoryBytes: number;
  outputBytes: number;
}

/** Stops a job (canceled, lease lost): the thread drops its context without a reply. */
export interface JsAbortMessage {
  type: 'abort';
  id: number;
}

/** The answer to a host call the thread could not make itself (blobs, HTTP). */
export interface JsAnswerMessage {
  type: 'answer';
  id: number;
  call: number;
  ok: boolean;
  /** Bytes for `blob.get`/`http.*`. */
  bytes?: Uint8Array;
  /** The new blob id for `blob.post`, or the error message. */
  text?: string;
}

export type JsToThread = JsRunMessage | JsAbortMessage | JsAnswerMessage;

export type JsFailureKind = 'error' | 'timeout' | 'memory' | 'output_limit' | 'crash';

/** Host calls made by the main thread for a job. */
export type JsHostOp = 'blob.get' | 'blob.post' | 'http.get' | 'http.post';

export type JsFromThread =
  | { type: 'ready' }
  /** Wasm memory grew large: the thread takes no new job and exits once its jobs are done. */
  | { type: 'retiring' }
  | { type: 'log'; id: number; line: string }
  | { type: 'call'; id: number; call: number; op: JsHostOp; arg: string; bytes?: Uint8Array }
  | { type: 'done'; id: number; ok: true; output: Uint8Array; contextUs: number }
  | { type: 'done'; id: number; ok: false; kind: JsFailureKind; message: string; contextUs: number };
