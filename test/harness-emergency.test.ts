/**
 * The harnesses leave nothing running when their process dies early: a test or benchmark that
 * started tsvirtd and then throws, is sent SIGTERM, or writes into a closed pipe takes the
 * daemon and its temporary directory with it (test/support/emergency.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HARNESS = join(dirname(fileURLToPath(import.meta.url)), 'support', 'daemon-harness.js');

/** A child that starts tsvirtd, prints its pid and directory, then ends as `how` says. */
const CHILD = `
const { startDaemon } = await import(process.argv[1]);
const d = await startDaemon({ verbose: false });
process.stdout.write(JSON.stringify({ pid: d.proc.pid, dir: d.dir }) + '\\n');
const how = process.argv[2];
if (how === 'throw') setTimeout(() => { throw new Error('test failed badly'); }, 50);
if (how === 'sigterm') setInterval(() => {}, 1000);
if (how === 'epipe') setInterval(() => console.log('more output'), 10);
`;

/** Running, and not a zombie waiting to be reaped (which still answers kill(pid, 0)). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

for (const how of ['throw', 'sigterm', 'epipe'] as const) {
  test(`a process that started tsvirtd and ends by ${how} leaves no daemon and no directory behind`, async () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, HARNESS, how], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const started = await new Promise<{ pid: number; dir: string }>((resolve, reject) => {
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        const nl = out.indexOf('\n');
        if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)) as { pid: number; dir: string });
      });
      child.once('exit', (code) => reject(new Error(`child exited (${code}) before starting the daemon: ${out}`)));
    });
    try {
      assert.ok(alive(started.pid), 'the daemon runs');
      assert.ok(existsSync(started.dir));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      if (how === 'sigterm') child.kill('SIGTERM');
      if (how === 'epipe') child.stdout.destroy();
      const code = await exited;
      assert.notEqual(code, 0, 'the child failed');
      const end = Date.now() + 5000;
      while (alive(started.pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      assert.equal(alive(started.pid), false, 'the daemon outlived the process that started it');
      assert.equal(existsSync(started.dir), false, 'its directory was left behind');
    } finally {
      if (alive(started.pid)) process.kill(started.pid, 'SIGKILL');
      child.kill('SIGKILL');
      rmSync(started.dir, { recursive: true, force: true });
    }
  });
}
