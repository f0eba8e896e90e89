/** Messages between the WASI runtime and its host threads. */

export interface WasiRunMessage {
  type: 'run';
  id: number;
  /**
   * The checked module (limits already written into it), shared by the engine host; the thread
   * compiles it once per key (V8 shares the compiled code between threads of a process).
   */
  code: { key: string; bytes: Uint8Array };
  input: Uint8Array;
  memoryBytes: number;
  outputBytes: number;
}

export type WasiThreadMessage =
  | { type: 'ready' }
  | { type: 'log'; id: number; line: string }
  | { type: 'done'; id: number; ok: true; output: Uint8Array }
  | {
      type: 'done';
      id: number;
      ok: false;
      kind: 'exit' | 'error' | 'memory' | 'output_limit' | 'bad_code';
      message: string;
      exitStatus?: number;
    };
