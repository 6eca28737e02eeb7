/**
 * tsvirt's import rules between the layers of src/ (npm run lint:deps; CI runs it after eslint).
 * From the ground up: core (libvirt's enums, VirError, the driver interface, shared paths) imports
 * nothing else of tsvirt; conf, rules and store build on core only; rpc (the wire protocol) on core
 * only; drivers never reach up into the API, the daemon or the CLI; the API names no driver
 * statically (connect() loads one with import(), or through the driver registry); and nothing in
 * src/ imports the tests or the benchmarks. Type-only imports count: a layer's types are part of
 * what it depends on.
 */
/* global module */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-is-the-ground',
      comment: 'src/core imports nothing else of tsvirt and no npm package: Node built-ins only.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { pathNot: '^src/core/', dependencyTypesNot: ['core'] },
    },
    {
      name: 'conf-rules-store-on-core-only',
      comment: 'src/conf, src/rules and src/store import only src/core and their own folder.',
      severity: 'error',
      from: { path: '^src/(conf|rules|store)/' },
      to: { path: '^src/', pathNot: ['^src/core/', '^src/$1/'] },
    },
    {
      name: 'rpc-on-core-only',
      comment: 'src/rpc (the wire protocol) imports only src/core and itself.',
      severity: 'error',
      from: { path: '^src/rpc/' },
      to: { path: '^src/', pathNot: ['^src/core/', '^src/rpc/'] },
    },
    {
      name: 'drivers-not-up',
      comment: 'A driver never imports the public API, the daemon or the CLI.',
      severity: 'error',
      from: { path: '^src/drivers/' },
      to: { path: '^src/(api|daemon|cli)/' },
    },
    {
      name: 'api-names-no-driver',
      comment: 'src/api loads drivers with import() (or reads the registry); no static import of a driver.',
      severity: 'error',
      from: { path: '^src/api/' },
      to: { path: '^src/drivers/', pathNot: '^src/drivers/registry\\.ts$', dynamic: false },
    },
    {
      name: 'web-on-the-api',
      comment: 'src/web (the web console server) works through the public API only, like any client.',
      severity: 'error',
      from: { path: '^src/web/' },
      to: { path: '^src/', pathNot: ['^src/(core|conf|rules|api|web)/', '^src/index\\.ts$'] },
    },
    {
      name: 'src-not-tests',
      comment: 'Nothing in src/ imports the tests or the benchmarks.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'src-resolves',
      comment: 'Every import in src/ resolves (else the rules above could not see it).',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports (erased by tsc) are dependencies too.
    tsPreCompilationDeps: true,
  },
};
