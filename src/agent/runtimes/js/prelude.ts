/**
 * The JavaScript side of the sandbox, in two parts.
 *
 * JS_PRELUDE is evaluated in every fresh QuickJS context and called once with the host's few
 * native functions. It keeps the host object in its own closure, defines the small globals
 * (sleep, yieldNow, blockingSleep) and returns `start(input)`, which imports the job's module,
 * calls its default export and hands the result or the error to the host.
 *
 * The larger globals (console, TextEncoder/TextDecoder, ByteData, HttpClient) and the `pleiades`
 * module's objects are JS_LIBS: each is compiled into the job's context only when the job first
 * touches it (a global getter asks the host for its source). Compiling costs QuickJS about 0.1 ms
 * per KiB, and most of a no-op job's fresh context went to compiling libraries it never used.
 * The job can replace any of them (they are plain configurable globals); they are no security
 * boundary: the host functions check what they are given.
 *
 * Host functions (all take and return plain values or ArrayBuffers):
 *   log(level, text) · encode(text) → ArrayBuffer · decode(ArrayBuffer, fatal) → text
 *   call(op, arg, ArrayBuffer?) → Promise · blockingSleep(ms) · done(kind, value) · fail(message, stack, oom)
 *   lib(name) → the library's factory function, `(host, need) => value`
 */
export const JS_PRELUDE = String.raw`(function (host) {
  'use strict';
  const G = globalThis;
  const libs = Object.create(null);
  const need = (name) => (name in libs ? libs[name] : (libs[name] = host.lib(name)(host, need)));
  const define = (name, value) =>
    Object.defineProperty(G, name, { value, writable: true, configurable: true, enumerable: false });
  for (const name of ['console', 'TextEncoder', 'TextDecoder', 'ByteData', 'HttpClient'])
    Object.defineProperty(G, name, {
      configurable: true,
      enumerable: false,
      get() { const v = need(name); define(name, v); return v; },
      set(v) { define(name, v); },
    });
  Object.defineProperty(G, Symbol.for('jobhub.pleiades'), { get: () => need('pleiades') });
  const ms = (v) => Math.max(0, Number(v) || 0);
  define('sleep', (t) => host.call('sleep', String(ms(t))));
  define('yieldNow', () => host.call('yield', ''));
  define('blockingSleep', (t) => { host.blockingSleep(ms(t)); });

  const describe = (e) => {
    try {
      if (e instanceof Error) return [e.name + ': ' + e.message, String(e.stack || '')];
      return ['Uncaught ' + need('show')(e, 0), ''];
    } catch (x) {
      return ['an error that cannot be shown', ''];
    }
  };
  return function start(input) {
    return import('function.js')
      .then((m) => {
        const f = m.default;
        if (typeof f !== 'function')
          throw new TypeError('the module must have a default export: export default async function fetch(input) { ... }');
        return f(new Uint8Array(input));
      })
      .then((r) => {
        if (r === null || r === undefined) host.done(0);
        else if (r instanceof Uint8Array || r instanceof ArrayBuffer) host.done(1, need('bufferOf')(r));
        else host.done(2, String(r));
      })
      .catch((e) => {
        const [message, stack] = describe(e);
        host.fail(message, stack, e instanceof Error && e.name === 'InternalError' && /out of memory/.test(e.message));
      });
  };
})`;

/** Library sources by name: each a function expression `(host, need) => value`. */
export const JS_LIBS: Record<string, string> = {
  bufferOf: String.raw`(function (host) {
  'use strict';
  return (v, what) => {
    if (v instanceof ArrayBuffer) return v.slice(0);
    if (ArrayBuffer.isView(v)) return v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength);
    if (typeof v === 'string') return host.encode(v);
    throw new TypeError(what + ' expects a Uint8Array, ByteData, ArrayBuffer or string, got ' + typeof v);
  };
})`,

  /** Bytes from the host: a Uint8Array with the two conversions pleiades-worker offers. */
  ByteData: String.raw`(function (host, need) {
  'use strict';
  const bufferOf = need('bufferOf');
  return class ByteData extends Uint8Array {
    static fromIntU8Array(array) {
      if (!(array instanceof Uint8Array)) throw new TypeError('ByteData.fromIntU8Array expects a Uint8Array');
      return new ByteData(bufferOf(array));
    }
    static toIntU8Array(data) {
      return new Uint8Array(bufferOf(data, 'ByteData.toIntU8Array'));
    }
    toIntU8Array() {
      return new Uint8Array(bufferOf(this));
    }
  };
})`,

  show: String.raw`(function () {
  'use strict';
  const show = (v, depth) => {
    if (typeof v === 'string') return v;
    if (v instanceof Error) return v.stack ? v.name + ': ' + v.message + '\n' + v.stack.trimEnd() : String(v);
    if (ArrayBuffer.isView(v)) {
      const items = Array.prototype.slice.call(v, 0, 64).join(', ');
      return v.constructor.name + '(' + v.length + ') [' + items + (v.length > 64 ? ', …' : '') + ']';
    }
    if (typeof v === 'function') return '[Function ' + (v.name || 'anonymous') + ']';
    if (v && typeof v === 'object' && depth < 2) {
      try {
        return JSON.stringify(v, (k, x) => (typeof x === 'bigint' ? String(x) : x));
      } catch (e) {
        return String(v);
      }
    }
    return String(v);
  };
  return show;
})`,

  console: String.raw`(function (host, need) {
  'use strict';
  const show = need('show');
  const logger = (level) => (...args) => host.log(level, args.map((a) => show(a, 0)).join(' '));
  return Object.freeze({
    log: logger('info'), info: logger('info'), debug: logger('debug'),
    warn: logger('warn'), error: logger('error'), trace: logger('debug'),
  });
})`,

  TextEncoder: String.raw`(function (host) {
  'use strict';
  return class TextEncoder {
    get encoding() { return 'utf-8'; }
    encode(text = '') { return new Uint8Array(host.encode(String(text))); }
  };
})`,

  TextDecoder: String.raw`(function (host, need) {
  'use strict';
  const bufferOf = need('bufferOf');
  return class TextDecoder {
    constructor(label = 'utf-8', options = {}) {
      const l = String(label).toLowerCase();
      if (l !== 'utf-8' && l !== 'utf8') throw new RangeError('TextDecoder supports utf-8 only, not ' + label);
      this.fatal = Boolean(options && options.fatal);
    }
    get encoding() { return 'utf-8'; }
    decode(data) {
      if (data === undefined) return '';
      return host.decode(bufferOf(data, 'TextDecoder.decode'), this.fatal);
    }
  };
})`,

  HttpClient: String.raw`(function (host, need) {
  'use strict';
  const bufferOf = need('bufferOf');
  const ByteData = need('ByteData');
  return class HttpClient {
    get(url) {
      return host.call('http.get', String(url)).then((b) => new ByteData(b));
    }
    post(url, body) {
      return host.call('http.post', String(url), bufferOf(body === undefined ? '' : body, 'HttpClient.post'))
        .then((b) => new ByteData(b));
    }
  };
})`,

  /** The pleiades module's objects (see PLEIADES_MODULE). */
  pleiades: String.raw`(function (host, need) {
  'use strict';
  const bufferOf = need('bufferOf');
  const ByteData = need('ByteData');
  const blob = Object.freeze({
    get: (id) => host.call('blob.get', String(id)).then((b) => new ByteData(b)),
    post: (data) => host.call('blob.post', '', bufferOf(data, 'blob.post')),
  });
  const ai = Object.freeze({
    infer: () => Promise.reject(new Error('ai.infer is not available: this worker has no model runtime configured')),
  });
  return Object.freeze({ blob, ai });
})`,
};

/** The `pleiades` module: what the prelude keeps for it. */
export const PLEIADES_MODULE = `const p = globalThis[Symbol.for('jobhub.pleiades')];
export const blob = p.blob;
export const ai = p.ai;
export default p;
`;

/** What an engine thread runs to warm up (see thread.ts): a little of every common path. */
export const WARM_UP_SOURCE = `export default async function fetch(input) {
  const text = new TextDecoder().decode(new TextEncoder().encode('warm ' + input[0]));
  await Promise.resolve();
  return ByteData.fromIntU8Array(new TextEncoder().encode(text.repeat(2)));
}`;
