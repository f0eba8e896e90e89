/** Messages between the WASI runtime and its host threads. */

export interface WasiRunMessage {
  type: 'run';
  id: number;
  /** Compiled once by the runtime (memory limit already written into it); cloned cheaply. */
  module: WebAssembly.Module;
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
