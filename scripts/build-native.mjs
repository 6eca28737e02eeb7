#!/usr/bin/env node
/**
 * Builds tsvirt's small N-API addon (native/fdpass.cc: file-descriptor passing over unix
 * sockets, for virDomainOpenGraphicsFD) into OUTDIR/src/native/fdpass.node.
 *
 *   node scripts/build-native.mjs [OUTDIR]      (default dist)
 *
 * Optional by design: without a C++ compiler or Node's headers it says so and exits 0, and
 * tsvirt answers the calls that need the addon with VIR_ERR_NO_SUPPORT. It is compiled with the
 * compiler directly (an N-API addon links against nothing: Node resolves its symbols at load),
 * against the headers of the Node that runs this script, so nothing is downloaded.
 * TSVIRT_NO_NATIVE=1 skips it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = resolve(root, process.argv[2] ?? 'dist');
const source = join(root, 'native', 'fdpass.cc');
const target = join(outDir, 'src', 'native', 'fdpass.node');

function skip(why) {
  console.warn(`build-native: fdpass addon not built (${why}); openGraphicsFD will answer VIR_ERR_NO_SUPPORT`);
  process.exit(0);
}

if (process.env.TSVIRT_NO_NATIVE === '1') skip('TSVIRT_NO_NATIVE=1');
if (process.platform !== 'linux') skip(`platform ${process.platform}`);
const headerDirs = [
  join(dirname(process.execPath), '..', 'include', 'node'),
  '/usr/include/node',
  '/usr/local/include/node',
];
const headers = headerDirs.find((d) => existsSync(join(d, 'node_api.h')));
if (headers === undefined) skip(`no node_api.h in ${headerDirs.join(', ')}`);
const cxx = process.env.CXX ?? 'c++';
mkdirSync(dirname(target), { recursive: true });
const r = spawnSync(
  cxx,
  ['-shared', '-fPIC', '-O2', '-Wall', '-DNAPI_VERSION=8', '-DNODE_GYP_MODULE_NAME=fdpass', `-I${headers}`, source, '-o', target],
  { stdio: ['ignore', 'inherit', 'inherit'] },
);
if (r.error !== undefined || r.status !== 0) {
  rmSync(target, { force: true });
  skip(r.error !== undefined ? `${cxx}: ${r.error.message}` : `${cxx} exited with ${r.status}`);
}
