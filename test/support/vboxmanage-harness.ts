/**
 * The VirtualBox test world: a private directory with the stand-in VBoxManage's state file
 * (test/support/vboxmanage-standin.mjs), a few machines in it, and a `vbox:///session`
 * connection that runs the stand-in. Everything is removed when the test ends, also on failure.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type Connection } from '../../src/index.js';

/** The stand-in executable (it stays in the source tree). */
export const STANDIN = fileURLToPath(new URL('../../../test/support/vboxmanage-standin.mjs', import.meta.url));
/** The compiled CLI. */
export const TSVIRT_CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** A machine in the stand-in's model (see the stand-in's file comment). */
export interface StandinVM {
  name: string;
  uuid: string;
  state: string;
  ostype?: string;
  memory?: number;
  cpus?: number;
  description?: string;
  autostart?: boolean;
  acpi?: 'ignore';
  controllers?: {
    name: string;
    type: string;
    attachments: { port: number; dev: number; kind: 'disk' | 'dvd' | 'empty-dvd' | 'none'; path?: string; mediumuuid?: string }[];
  }[];
  nics?: { kind: 'nat' | 'bridged' | 'hostonly' | 'none'; mac?: string; nictype?: string; network?: string }[];
  snapshots?: { name: string; uuid: string; description?: string; parent: string | null; time: string; online: boolean }[];
  current?: string | null;
}

/** The stand-in's whole state. */
export interface StandinState {
  version: '7.0' | '6.1';
  home: string;
  faults?: Record<string, 'hang' | 'garbage' | 'crash'>;
  vms: StandinVM[];
}

export const WEB_UUID = '5f1a3c2e-8d4b-4e6f-9a1b-2c3d4e5f6a7b';
export const DB_UUID = '0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b';
export const BARE_UUID = 'c0ffee00-1234-4abc-8def-0123456789ab';

/** Three machines: `web` (running, disk + DVD + two NICs), `db` (off, two snapshots), `bare` (off, nothing). */
export function defaultVMs(): StandinVM[] {
  return [
    {
      name: 'web',
      uuid: WEB_UUID,
      state: 'running',
      ostype: 'Ubuntu_64',
      memory: 2048,
      cpus: 2,
      description: 'front end "blue"\nsecond line',
      controllers: [
        { name: 'IDE', type: 'PIIX4', attachments: [{ port: 1, dev: 0, kind: 'empty-dvd' }] },
        {
          name: 'SATA',
          type: 'IntelAhci',
          attachments: [{ port: 0, dev: 0, kind: 'disk', path: '/vms/web/web.vdi', mediumuuid: '11111111-2222-4333-8444-555555555555' }],
        },
      ],
      nics: [
        { kind: 'nat', mac: '080027A1B2C3', nictype: '82540EM' },
        { kind: 'bridged', mac: '080027D4E5F6', nictype: 'virtio', network: 'eth0' },
      ],
      snapshots: [],
      current: null,
    },
    {
      name: 'db',
      uuid: DB_UUID,
      state: 'poweroff',
      ostype: 'Debian_64',
      memory: 4096,
      cpus: 4,
      controllers: [
        { name: 'SATA', type: 'IntelAhci', attachments: [{ port: 0, dev: 0, kind: 'disk', path: '/vms/db/db.vdi', mediumuuid: '66666666-7777-4888-8999-aaaaaaaaaaaa' }] },
      ],
      nics: [{ kind: 'nat', mac: '0800271A2B3C', nictype: '82540EM' }],
      snapshots: [
        { name: 'base', uuid: 'aaaaaaaa-0000-4000-8000-000000000001', description: 'fresh install', parent: null, time: '2024-01-10T08:00:00Z', online: false },
        { name: 'tuned', uuid: 'aaaaaaaa-0000-4000-8000-000000000002', parent: 'aaaaaaaa-0000-4000-8000-000000000001', time: '2024-01-11T08:00:00Z', online: true },
      ],
      current: 'aaaaaaaa-0000-4000-8000-000000000002',
    },
    { name: 'bare', uuid: BARE_UUID, state: 'poweroff', memory: 512, cpus: 1, snapshots: [], current: null },
  ];
}

/** A stand-in world in a private directory. */
export class StandinWorld {
  readonly dir: string;
  readonly statePath: string;

  constructor(state: Partial<StandinState> = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'tsvirt-vbox-'));
    this.statePath = join(this.dir, 'vbox-state.json');
    this.write({ version: '7.0', home: join(this.dir, 'VirtualBox VMs'), vms: defaultVMs(), ...state });
  }

  read(): StandinState {
    return JSON.parse(readFileSync(this.statePath, 'utf8')) as StandinState;
  }
  write(state: StandinState): void {
    writeFileSync(this.statePath, JSON.stringify(state, null, 1));
  }
  /** Changes the world behind tsvirt's back (what the GUI or another VBoxManage would do). */
  edit(fn: (s: StandinState) => void): void {
    const s = this.read();
    fn(s);
    this.write(s);
  }
  vm(name: string): StandinVM | undefined {
    return this.read().vms.find((v) => v.name === name);
  }

  /** The environment that makes tsvirt run the stand-in. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return { TSVIRT_VBOXMANAGE: STANDIN, VBOXSTANDIN_STATE: this.statePath, TSVIRT_VBOX_POLL_MS: '0', ...extra };
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Runs `fn` with a `vbox:///session` connection on a fresh stand-in world; closes the connection,
 * restores the environment and removes the world even when `fn` fails.
 */
export async function withVBox<T>(
  fn: (conn: Connection, world: StandinWorld) => Promise<T>,
  options: { state?: Partial<StandinState>; env?: Record<string, string> } = {},
): Promise<T> {
  const world = new StandinWorld(options.state);
  const env = world.env(options.env);
  const saved = new Map<string, string | undefined>();
  for (const [k, v] of Object.entries(env)) {
    saved.set(k, process.env[k]);
    process.env[k] = v;
  }
  let conn: Connection | undefined;
  try {
    conn = await connect('vbox:///session');
    return await fn(conn, world);
  } finally {
    await conn?.close();
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    world.cleanup();
  }
}
