/**
 * The host tools some tests need, each with the Debian package that brings it, so that every test
 * that cannot run here skips with the same words: "xmllint is missing (Debian package
 * libxml2-utils)". `npm test` installs these packages first (scripts/host-deps.sh, as root) or
 * stops and prints the line to run; with TSVIRT_TEST_SETUP=0 it leaves them alone and the tests
 * skip instead. Every package named here is in scripts/host-deps.sh's list
 * (test/host-tools.test.ts checks).
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Whether an executable `name` is on PATH (found as the shell would; nothing is run). */
export function onPath(name: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      // next directory
    }
  }
  return false;
}

/** Debian's libvirt client library (libvirt0), whose exported symbols are libvirt's API. */
export const LIBVIRT_SO = '/usr/lib/x86_64-linux-gnu/libvirt.so.0';

interface Tool {
  /** The Debian package that brings it. */
  package: string;
  /** Whether it is usable here. */
  present: () => boolean;
}

const TOOLS = {
  xmllint: { package: 'libxml2-utils', present: () => onPath('xmllint') },
  "libvirt's RelaxNG schemas": { package: 'libvirt0', present: () => existsSync('/usr/share/libvirt/schemas/domain.rng') },
  "libvirt's shared library": { package: 'libvirt0', present: () => existsSync(LIBVIRT_SO) },
  virsh: { package: 'libvirt-clients', present: () => onPath('virsh') },
  libvirtd: { package: 'libvirt-daemon', present: () => existsSync('/usr/sbin/libvirtd') },
  python3: { package: 'python3', present: () => existsSync('/usr/bin/python3') },
  "python3's libvirt module": {
    package: 'python3-libvirt',
    present: () => spawnSync('/usr/bin/python3', ['-c', 'import libvirt'], { stdio: 'ignore' }).status === 0,
  },
  'qemu-system-x86_64': { package: 'qemu-system-x86', present: () => onPath('qemu-system-x86_64') },
  'qemu-img': { package: 'qemu-utils', present: () => onPath('qemu-img') },
  // The web console's browser tests: Playwright drives Debian's chromium.
  chromium: { package: 'chromium', present: () => existsSync('/usr/bin/chromium') },
  // A real terminal for `tsvirt console` (raw mode, the escape key), driven with send-keys.
  tmux: { package: 'tmux', present: () => onPath('tmux') },
  // The test guest needs busybox's acpid; Debian's busybox-static has it.
  busybox: {
    package: 'busybox-static',
    present: () => (spawnSync('busybox', ['--list'], { encoding: 'utf8' }).stdout ?? '').split('\n').includes('acpid'),
  },
  cpio: { package: 'cpio', present: () => onPath('cpio') },
  'a cloud kernel (/boot/vmlinuz-*-cloud-amd64)': {
    package: 'linux-image-cloud-amd64',
    present: () => {
      try {
        return readdirSync('/boot').some((f) => /^vmlinuz-.*-cloud-amd64$/.test(f));
      } catch {
        return false;
      }
    },
  },
  // Virtual networks: bridges and taps (ip), DHCP/DNS (dnsmasq), NAT (nft), and a real client.
  ip: { package: 'iproute2', present: () => onPath('ip') },
  // The TLS tests make their CA and certificates at test time.
  openssl: { package: 'openssl', present: () => onPath('openssl') },
  dnsmasq: { package: 'dnsmasq-base', present: () => onPath('dnsmasq') },
  nft: { package: 'nftables', present: () => onPath('nft') },
  'virt-install': { package: 'virtinst', present: () => onPath('virt-install') },
  // The +ssh transport: an sshd the test starts, the client, and nc on the remote side.
  sshd: { package: 'openssh-server', present: () => existsSync('/usr/sbin/sshd') },
  ssh: { package: 'openssh-client', present: () => onPath('ssh') && onPath('ssh-keygen') },
  nc: { package: 'netcat-openbsd', present: () => onPath('nc') },
  'virt-ssh-helper': { package: 'libvirt-daemon', present: () => onPath('virt-ssh-helper') },
  go: { package: 'golang-go', present: () => onPath('go') },
  "govmomi's sources": {
    package: 'golang-github-vmware-govmomi-dev',
    present: () => existsSync('/usr/share/gocode/src/github.com/vmware/govmomi/simulator'),
  },
  "google/uuid's sources": {
    package: 'golang-github-google-uuid-dev',
    present: () => existsSync('/usr/share/gocode/src/github.com/google/uuid'),
  },
} satisfies Record<string, Tool>;

/** A host tool a test may need. */
export type HostTool = keyof typeof TOOLS;

/** The Debian package of each tool. */
export function debianPackage(tool: HostTool): string {
  return TOOLS[tool].package;
}

/** Every tool with its package. */
export function hostTools(): { tool: HostTool; package: string }[] {
  return (Object.keys(TOOLS) as HostTool[]).map((tool) => ({ tool, package: TOOLS[tool].package }));
}

const seen = new Map<HostTool, boolean>();

/** Whether `tool` is here (asked once per process). */
export function have(tool: HostTool): boolean {
  let v = seen.get(tool);
  if (v === undefined) {
    v = TOOLS[tool].present();
    seen.set(tool, v);
  }
  return v;
}

/**
 * Why a test needing `tools` cannot run here, for node:test's `skip` option or `t.skip()`:
 * "xmllint is missing (Debian package libxml2-utils)", "virsh and python3 are missing (Debian
 * packages libvirt-clients, python3)"; false when all are here.
 */
export function missing(...tools: HostTool[]): string | false {
  const gone = tools.filter((t) => !have(t));
  if (gone.length === 0) return false;
  const pkgs = [...new Set(gone.map((t) => TOOLS[t].package))];
  const names = gone.length === 1 ? gone[0] : `${gone.slice(0, -1).join(', ')} and ${gone[gone.length - 1]}`;
  return `${names} ${gone.length === 1 ? 'is' : 'are'} missing (Debian package${pkgs.length === 1 ? '' : 's'} ${pkgs.join(', ')})`;
}

/** What the real-QEMU tests need: QEMU, qemu-img and what scripts/build-test-guest.sh builds the guest from. */
export const QEMU_TOOLS: HostTool[] = ['qemu-system-x86_64', 'qemu-img', 'busybox', 'cpio', 'a cloud kernel (/boot/vmlinuz-*-cloud-amd64)'];
