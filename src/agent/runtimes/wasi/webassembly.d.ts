/**
 * The parts of the WebAssembly JS API that the WASI runtime uses. Node has all of it, but
 * TypeScript declares it only in the DOM libraries, which this project does not load.
 */
declare namespace WebAssembly {
  // Opaque, and merged with @types/emscripten's declaration of the same name.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface Module {}
  interface ModuleImportDescriptor {
    module: string;
    name: string;
    kind: 'function' | 'table' | 'memory' | 'global' | 'tag';
  }
  interface Memory {
    readonly buffer: ArrayBuffer;
    grow(delta: number): number;
  }
  interface Instance {
    readonly exports: Record<string, unknown>;
  }
  type Imports = Record<string, Record<string, unknown>>;
  const Module: {
    new (bytes: Uint8Array | ArrayBuffer): Module;
    imports(module: Module): ModuleImportDescriptor[];
  };
  const Memory: {
    new (descriptor: { initial: number; maximum?: number }): Memory;
    prototype: Memory;
  };
  const Instance: {
    new (module: Module, imports?: Imports): Instance;
  };
  function compile(bytes: Uint8Array | ArrayBuffer): Promise<Module>;
  function validate(bytes: Uint8Array | ArrayBuffer): boolean;
}
