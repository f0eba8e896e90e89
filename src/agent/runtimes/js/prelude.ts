/**
 * The JavaScript side of the sandbox: a function expression evaluated in every fresh QuickJS
 * context and called once with the host's few native functions. It defines the globals a
 * Pleiades function may use (console, TextEncoder/TextDecoder, sleep, blockingSleep, yieldNow,
 * ByteData, HttpClient) and the `pleiades` module's objects, keeps the host object in its own
 * closure (the job's code never sees it), and returns `start(input)`, which imports the job's
 * module, calls its default export and hands the result or the error to the host.
 *
 * Host functions (all take and return plain values or ArrayBuffers):
 *   log(level, text) · encode(text) → ArrayBuffer · decode(ArrayBuffer, fatal) → text
 *   call(op, arg, ArrayBuffer?) → Promise · blockingSleep(ms) · done(kind, value) · fail(message, stack, oom)
 */
export const JS_PRELUDE = String.raw`(function (host) {
  'use strict';
  const G = globalThis;
  const define = (name, value) =>
    Object.defineProperty(G, name, { value, writable: true, configurable: true, enumerable: false });
  const bufferOf = (v, what) => {
    if (v instanceof ArrayBuffer) return v.slice(0);
    if (ArrayBuffer.isView(v)) return v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength);
    if (typeof v === 'string') return host.encode(v);
    throw new TypeError(what + ' expects a Uint8Array, ByteData, ArrayBuffer or string, got ' + typeof v);
  };

  /** Bytes from the host: a Uint8Array with the two conversions pleiades-worker offers. */
  class ByteData extends Uint8Array {
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
  }

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
  const logger = (level) => (...args) => host.log(level, args.map((a) => show(a, 0)).join(' '));
  define('console', Object.freeze({
    log: logger('info'), info: logger('info'), debug: logger('debug'),
    warn: logger('warn'), error: logger('error'), trace: logger('debug'),
  }));

  class TextEncoder {
    get encoding() { return 'utf-8'; }
    encode(text = '') { return new Uint8Array(host.encode(String(text))); }
  }
  class TextDecoder {
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
  }

  const ms = (v) => Math.max(0, Number(v) || 0);
  class HttpClient {
    get(url) {
      return host.call('http.get', String(url)).then((b) => new ByteData(b));
    }
    post(url, body) {
      return host.call('http.post', String(url), bufferOf(body === undefined ? '' : body, 'HttpClient.post'))
        .then((b) => new ByteData(b));
    }
  }
  define('ByteData', ByteData);
  define('TextEncoder', TextEncoder);
  define('TextDecoder', TextDecoder);
  define('HttpClient', HttpClient);
  define('sleep', (t) => host.call('sleep', String(ms(t))));
  define('yieldNow', () => host.call('yield', ''));
  define('blockingSleep', (t) => { host.blockingSleep(ms(t)); });

  const blob = Object.freeze({
    get: (id) => host.call('blob.get', String(id)).then((b) => new ByteData(b)),
    post: (data) => host.call('blob.post', '', bufferOf(data, 'blob.post')),
  });
  const ai = Object.freeze({
    infer: () => Promise.reject(new Error('ai.infer is not available: this worker has no model runtime configured')),
  });
  // The pleiades module (see the module loader) exports these.
  Object.defineProperty(G, Symbol.for('jobhub.pleiades'), { value: Object.freeze({ blob, ai }) });

  const describe = (e) => {
    try {
      if (e instanceof Error) return [e.name + ': ' + e.message, String(e.stack || '')];
      return ['Uncaught ' + show(e, 0), ''];
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
        else if (r instanceof Uint8Array || r instanceof ArrayBuffer) host.done(1, bufferOf(r));
        else host.done(2, String(r));
      })
      .catch((e) => {
        const [message, stack] = describe(e);
        host.fail(message, stack, e instanceof Error && e.name === 'InternalError' && /out of memory/.test(e.message));
      });
  };
})`;

/** The `pleiades` module: what the prelude put aside for it. */
export const PLEIADES_MODULE = `const p = globalThis[Symbol.for('jobhub.pleiades')];
export const blob = p.blob;
export const ai = p.ai;
export default p;
`;
