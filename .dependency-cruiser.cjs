/**
 * The layering rules of src/ (docs/architecture.md), checked by dependency-cruiser in `npm test`
 * and `npm run check`. Type-only imports count: a face that names a store type depends on it.
 */
/* global module */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'Modules depend one way; a cycle means two modules are one, or a service is missing.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'core-is-pure',
      comment: 'src/core holds rules as pure functions: it imports only itself (and node built-ins).',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { pathNot: ['^src/core/'], dependencyTypesNot: ['core'] },
    },
    {
      name: 'faces-call-services',
      comment:
        'HTTP faces reach data through the services (src/jobs, src/kv, src/contest, src/auth), never the store or the blob store.',
      severity: 'error',
      from: { path: '^src/http/' },
      to: { path: ['^src/store/', '^src/blobs/', '^src/contest/store/'] },
    },
    {
      name: 'faces-below-the-root',
      comment: 'The composition root (src/app) builds the hub and mounts the faces, not the reverse.',
      severity: 'error',
      from: { path: '^src/http/' },
      to: { path: '^src/app/' },
    },
    {
      name: 'jobs-and-store-know-no-contest',
      comment: 'The contest is a module on top of the job service: the job side never names it.',
      severity: 'error',
      from: { path: ['^src/store/', '^src/jobs/', '^src/core/', '^src/blobs/', '^src/kv/', '^src/auth/'] },
      to: { path: '^src/contest/' },
    },
    {
      name: 'agent-is-a-client',
      comment: 'The worker agent (and the benchmarker supervisor) talks to a hub over HTTP only.',
      severity: 'error',
      from: { path: '^src/agent/' },
      to: { path: ['^src/(app|http|jobs|store|blobs|contest|auth|kv|metrics)/'] },
    },
    {
      name: 'drivers-named-by-the-root',
      comment: 'Only src/app/drivers.ts picks concrete drivers; everything else uses the interfaces.',
      severity: 'error',
      from: {
        path: '^src/',
        pathNot: [
          '^src/app/drivers\\.ts$',
          '^src/store/(sqlite|postgres)/',
          '^src/blobs/',
          '^src/contest/store/',
        ],
      },
      to: {
        path: [
          '^src/store/(sqlite|postgres)/',
          '^src/blobs/(fs|s3)-blob-store\\.ts$',
          '^src/contest/store/(sqlite|postgres)\\.ts$',
        ],
      },
    },
    {
      name: 'root-used-by-commands-only',
      comment: 'The composition root is used by the CLI (and tests), not by the modules it wires.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/app/', '^src/cli/'] },
      to: { path: '^src/app/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // The compiled JS files import '.js' names of TypeScript sources.
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
