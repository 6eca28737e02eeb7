/**
 * Two processes on the same qemu:///session state — tsvirtd (through virsh) and the tsvirt CLI
 * opening the state itself — start, then destroy, one network at the same instant, many times,
 * inside a network namespace of the test's own: each time one wins and the other gets libvirt's
 * refusal, and the namespace has one bridge and one dnsmasq while the network runs, none after.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { virsh, virshSkip } from './support/daemon-harness.js';
import { inNs, netnsSkip, nsProcesses, startNetnsDaemon, type NetnsDaemon } from './support/netns.js';

const skip = netnsSkip() || virshSkip();
const ROUNDS = 10;
const BRIDGE = 'hardrace0';
const CLI = fileURLToPath(new URL('../src/cli/tsvirt.cjs', import.meta.url));

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Outcome> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('two processes racing on one network (network namespace)', { skip, timeout: 600_000 }, () => {
  let d: NetnsDaemon;

  before(async () => {
    d = await startNetnsDaemon();
  });
  after(async () => {
    await d?.dispose();
  });

  const bridges = (): number => inNs(d.ns, ['ip', '-br', 'link']).stdout.split('\n').filter((l) => l.startsWith(`${BRIDGE} `)).length;
  const dnsmasqs = (): number => nsProcesses(d.ns).filter((p) => /dnsmasq/.test(p.args)).length;
  /** virsh through tsvirtd, and two CLIs on the state directly, at the same time. */
  const race = (command: string): Promise<Outcome[]> => {
    const cli = () => run('ip', ['netns', 'exec', d.ns, process.execPath, CLI, '-c', 'qemu:///session', command, 'hardening-race'], { ...process.env, TSVIRT_STATE_DIR: d.stateDir });
    return Promise.all([run('virsh', ['-q', '-c', d.uri, command, 'hardening-race'], process.env), cli(), cli()]);
  };

  test(`start and destroy raced ${ROUNDS} times: one wins, the other is refused; one bridge and one dnsmasq`, async () => {
    const xml = join(d.dir, 'race.xml');
    writeFileSync(
      xml,
      `<network><name>hardening-race</name><forward mode='nat'/><bridge name='${BRIDGE}'/><ip address='10.77.31.1' prefix='24'><dhcp><range start='10.77.31.2' end='10.77.31.20'/></dhcp></ip></network>\n`,
    );
    const def = virsh(d.uri, 'net-define', xml);
    assert.equal(def.code, 0, def.stderr);
    for (let i = 0; i < ROUNDS; i++) {
      const started = await race('net-start');
      const won = started.filter((o) => o.code === 0);
      assert.equal(won.length, 1, `round ${i}: exactly one start succeeds:\n${JSON.stringify(started, null, 1)}`);
      for (const lost of started.filter((o) => o.code !== 0)) {
        assert.match(lost.stderr, /already (running|active)|Requested operation is not valid/, JSON.stringify(started));
      }
      assert.equal(bridges(), 1, `round ${i}: one bridge`);
      assert.equal(dnsmasqs(), 1, `round ${i}: one dnsmasq`);

      const destroyed = await race('net-destroy');
      assert.equal(destroyed.filter((o) => o.code === 0).length, 1, `round ${i}: exactly one destroy succeeds:\n${JSON.stringify(destroyed, null, 1)}`);
      for (const lost of destroyed.filter((o) => o.code !== 0)) {
        assert.match(lost.stderr, /not active|Requested operation is not valid/, JSON.stringify(destroyed));
      }
      assert.equal(bridges(), 0, `round ${i}: no bridge left`);
      assert.equal(dnsmasqs(), 0, `round ${i}: no dnsmasq left`);
    }
  });
});
