#!/usr/bin/env node
/**
 * A stand-in for VirtualBox's VBoxManage, for tsvirt's vbox driver tests (VirtualBox cannot be
 * installed here). It keeps a small machine model in a JSON state file (env
 * VBOXSTANDIN_STATE) and answers the subcommands the driver uses with output assembled only from
 * the formats in test/fixtures/vbox/vboxmanage-<version>.json, which were written from
 * VirtualBox's source and documentation (see that folder's README). It is not VirtualBox: it
 * models machine state, the snapshot tree and the errors, nothing else.
 *
 * Subcommands: --version; list vms|runningvms; showvminfo VM --machinereadable; startvm VM
 * [--type headless]; controlvm VM acpipowerbutton|poweroff|pause|resume|reset; unregistervm VM;
 * snapshot VM take NAME [--description D] [--live] | list --machinereadable | restore NAME |
 * delete NAME. VM is a name or UUID, NAME a snapshot name or UUID.
 *
 * Faults for tests, in the state file: "faults": { "<subcommand>": "hang" | "garbage" | "crash" }.
 * A machine's "acpi": "ignore" makes it ignore the power button (the guest ignores it).
 */
import { readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'vbox');
const statePath = process.env.VBOXSTANDIN_STATE;
if (!statePath) {
  process.stderr.write('VBoxManage stand-in: VBOXSTANDIN_STATE is not set\n');
  process.exit(2);
}
const state = JSON.parse(readFileSync(statePath, 'utf8'));
const F = JSON.parse(readFileSync(join(FIXTURES, `vboxmanage-${state.version ?? '7.0'}.json`), 'utf8'));

const out = [];
const err = [];
function save() {
  const tmp = `${statePath}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 1));
  renameSync(tmp, statePath);
}
function finish(status) {
  if (out.length) process.stdout.write(out.join('\n') + '\n');
  if (err.length) process.stderr.write(err.join('\n') + '\n');
  process.exitCode = status;
}

/** outputMachineReadableString's escaping: backslash before `"` and `\`. */
const q = (v) => String(v).replace(/["\\]/g, (c) => '\\' + c);
const x = (v) => String(v).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** Fills `{{key}}`, `{{key|q}}` (escaped), `{{key|x}}` (XML attribute) from `vars`. */
function fill(template, vars) {
  return template.replace(/\{\{(\w+)(?:\|([qx]))?\}\}/g, (all, key, filter) => {
    if (!(key in vars)) throw new Error(`stand-in: no value for ${key} in '${template}'`);
    const v = vars[key];
    return filter === 'q' ? q(v) : filter === 'x' ? x(v) : String(v);
  });
}
/** Expands a list of line templates; a `{{@block}}` line is replaced by blocks[block] (lines). */
function lines(templates, vars, blocks = {}) {
  const res = [];
  for (const t of Array.isArray(templates) ? templates : [templates]) {
    const m = /^\{\{@(\w+)\}\}$/.exec(t);
    if (m) res.push(...(blocks[m[1]] ?? []));
    else res.push(fill(t, vars));
  }
  return res;
}
function fail(kind, vars) {
  const e = F.errors[kind];
  const v = { line: 0, context: '', file: '', ...vars };
  if (e.stdout) out.push(...lines(e.stdout, v));
  if (e.stderr) err.push(...lines(e.stderr, v));
  finish(e.status);
  process.exit();
}

const LONG = { poweroff: 'PoweredOff', running: 'Running', paused: 'Paused', saved: 'Saved', aborted: 'Aborted' };
const ONLINE = new Set(['running', 'paused']);

function findVM(arg, context, file) {
  const vm = state.vms.find((m) => m.uuid === arg.toLowerCase().replace(/^\{|\}$/g, '') || m.name === arg);
  if (!vm) {
    const isUUID = /^\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?$/i.test(arg);
    fail(isUUID ? 'machine-not-found-uuid' : 'machine-not-found-name', { vm: arg.replace(/^\{|\}$/g, ''), context, file, line: 42 });
  }
  return vm;
}
function vars(vm) {
  const home = join(state.home, vm.name);
  return {
    name: vm.name,
    uuid: vm.uuid,
    ostype: vm.ostype ?? 'Ubuntu_64',
    cfgfile: join(home, `${vm.name}.vbox`),
    snapfldr: join(home, 'Snapshots'),
    logfldr: join(home, 'Logs'),
    memory: vm.memory ?? 1024,
    cpus: vm.cpus ?? 1,
    pae: vm.pae ? 'on' : 'off',
    acpi: vm.acpiEnabled === false ? 'off' : 'on',
    ioapic: vm.ioapic === false ? 'off' : 'on',
    rtcuseutc: vm.rtcuseutc ? 'on' : 'off',
    autostart: vm.autostart ? 'on' : 'off',
    state: vm.state,
    statetime: vm.stateTime ?? '2024-01-15T09:30:00.000000000Z',
    statefile: join(home, 'Snapshots', `${vm.uuid}.sav`),
    description: vm.description ?? '',
    settingsversion: F.settingsversion ?? '1.19-linux',
  };
}
function setState(vm, s) {
  vm.state = s;
  vm.stateTime = new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

/** The snapshot tree in VirtualBox's order (children in creation order), with path suffixes. */
function snapshotWalk(vm) {
  const res = [];
  const kids = (uuid) => vm.snapshots.filter((s) => s.parent === uuid);
  const walk = (s, path) => {
    res.push({ s, path });
    kids(s.uuid).forEach((c, i) => walk(c, `${path}-${i + 1}`));
  };
  const root = kids(null)[0];
  if (root) walk(root, '');
  return res;
}
function snapshotLines(vm) {
  const res = [];
  for (const { s, path } of snapshotWalk(vm)) {
    const v = { path, snapname: s.name, snapuuid: s.uuid, snapdesc: s.description ?? '' };
    res.push(
      ...lines(F.snapshot, v, {
        snapdesc: s.description ? [fill(F['snapshot-description'], v)] : [],
        current: vm.current === s.uuid ? lines(F['snapshot-current'], v) : [],
      }),
    );
  }
  return res;
}
/** The settings file (.vbox) with the snapshot elements the driver reads times from. */
function writeSettings(vm) {
  const v = vars(vm);
  const S = F.settings;
  const cur = vm.snapshots.find((s) => s.uuid === vm.current);
  const res = lines(S.head, v, { currentattr: cur ? [fill(S.currentattr, { snapuuid: cur.uuid })] : [] });
  const head = res.pop();
  res.push(head.replace('{{@currentattr}}', cur ? fill(S.currentattr, { snapuuid: cur.uuid }) : ''));
  const emit = (s, depth) => {
    const indent = '  '.repeat(depth);
    const sv = { indent, snapuuid: s.uuid, snapname: s.name, snaptime: s.time, snapfile: s.time.replace(/:/g, '-') };
    res.push(fill(S['snapshot-open'], sv).replace('{{@statefileattr}}', s.online ? fill(S.statefileattr, sv) : ''));
    const kids = vm.snapshots.filter((c) => c.parent === s.uuid);
    if (kids.length) {
      res.push(fill(S['snapshots-open'], { indent: indent + '  ' }));
      for (const c of kids) emit(c, depth + 2);
      res.push(fill(S['snapshots-close'], { indent: indent + '  ' }));
    }
    res.push(fill(S['snapshot-close'], { indent }));
  };
  const root = vm.snapshots.find((s) => s.parent === null);
  if (root) emit(root, 2);
  res.push(...S.tail);
  mkdirSync(dirname(v.cfgfile), { recursive: true });
  writeFileSync(v.cfgfile, res.join('\n') + '\n');
}

function showvminfo(vm) {
  const v = vars(vm);
  const controllers = [];
  const attachments = [];
  (vm.controllers ?? []).forEach((c, i) => {
    controllers.push(...lines(F.controller, { i, ctl: c.name, ctltype: c.type, ports: c.ports ?? 2, maxports: c.maxports ?? 2 }));
  });
  for (const c of vm.controllers ?? []) {
    for (const a of c.attachments ?? []) {
      const av = { ctl: c.name, port: a.port, dev: a.dev, path: a.path ?? '', mediumuuid: a.mediumuuid ?? '' };
      const hot = /^(sata|usb)$/i.test(c.name) ? [fill(F['attachment-hotplug'], av)] : [];
      attachments.push(...lines(F[`attachment-${a.kind}`], av, { hotplug: hot }));
    }
  }
  const nics = [];
  (vm.nics ?? []).forEach((n, i) => {
    nics.push(...lines(F[`nic-${n.kind}`], { n: i + 1, mac: n.mac ?? '', nictype: n.nictype ?? '82540EM', network: n.network ?? '' }));
  });
  return lines(F.showvminfo, v, {
    statefile: vm.state === 'saved' ? [fill(F.statefile, v)] : [],
    controllers,
    attachments,
    nics,
    session: ONLINE.has(vm.state) ? [F.session] : [],
    description: vm.description ? [fill(F.description, v)] : [],
    snapshots: snapshotLines(vm),
  });
}

function fault(sub) {
  const f = state.faults?.[sub];
  if (f === 'hang') setInterval(() => {}, 1 << 30);
  if (f === 'garbage') {
    process.stdout.write('\u0000\u0001garbage{{{ not VBoxManage output\n=\n"unterminated\n');
    process.exit(0);
  }
  if (f === 'crash') process.kill(process.pid, 'SIGSEGV');
  return f !== undefined;
}

function findSnapshot(vm, arg) {
  const s = vm.snapshots.find((t) => t.uuid === arg.toLowerCase().replace(/^\{|\}$/g, '')) ?? vm.snapshots.find((t) => t.name === arg);
  if (!s) fail('snapshot-not-found', { snap: arg, line: 420 });
  return s;
}

const [sub, ...args] = process.argv.slice(2);
if (sub !== undefined && fault(sub)) {
  // a hang keeps the process alive; nothing else to do
} else {
  switch (sub) {
    case '--version':
      out.push(F.version);
      finish(0);
      break;
    case 'list': {
      const running = args[0] === 'runningvms';
      for (const vm of state.vms) if (!running || ONLINE.has(vm.state)) out.push(fill(F.list, vm));
      finish(0);
      break;
    }
    case 'showvminfo': {
      const vm = findVM(args[0], 'FindMachine(Bstr(VMNameOrUuid).raw(), machine.asOutParam())', 'VBoxManageInfo.cpp');
      writeSettings(vm);
      out.push(...showvminfo(vm));
      finish(0);
      break;
    }
    case 'startvm': {
      const vm = findVM(args[0], 'FindMachine(Bstr(VMName).raw(), machine.asOutParam())', 'VBoxManageMisc.cpp');
      if (ONLINE.has(vm.state)) fail('already-locked', { name: vm.name, line: 881 });
      out.push(...lines(F.startvm, { vm: args[0] }));
      setState(vm, 'running');
      save();
      finish(0);
      break;
    }
    case 'controlvm': {
      const vm = findVM(args[0], 'FindMachine(Bstr(a->argv[0]).raw(), machine.asOutParam())', 'VBoxManageControlVM.cpp');
      if (!ONLINE.has(vm.state)) fail('not-running', { vm: args[0] });
      const v = { statelong: LONG[vm.state] ?? vm.state, line: 200 };
      switch (args[1]) {
        case 'pause':
          if (vm.state !== 'running') fail('cannot-pause', v);
          setState(vm, 'paused');
          break;
        case 'resume':
          if (vm.state !== 'paused') fail('cannot-resume', v);
          setState(vm, 'running');
          break;
        case 'poweroff':
          err.push(F.progress);
          setState(vm, 'poweroff');
          break;
        case 'acpipowerbutton':
          if (vm.acpi !== 'ignore') setState(vm, 'poweroff');
          break;
        case 'reset':
          break;
        default:
          err.push(`VBoxManage: error: Invalid parameter '${args[1]}'`);
          finish(2);
          process.exit();
      }
      save();
      finish(0);
      break;
    }
    case 'unregistervm': {
      const vm = findVM(args[0], 'FindMachine(Bstr(VMName).raw(), machine.asOutParam())', 'VBoxManageMisc.cpp');
      if (ONLINE.has(vm.state)) fail('unregister-locked', { name: vm.name, line: 180 });
      state.vms = state.vms.filter((m) => m !== vm);
      save();
      finish(0);
      break;
    }
    case 'snapshot': {
      const vm = findVM(args[0], 'FindMachine(bstrMachine.raw(), pMachine.asOutParam())', 'VBoxManageSnapshot.cpp');
      vm.snapshots ??= [];
      const cmd = args[1];
      if (cmd === 'take') {
        const name = args[2];
        const di = args.indexOf('--description');
        const uuid = randomUUID();
        const time = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
        vm.snapshots.push({ name, uuid, description: di > 0 ? args[di + 1] : '', parent: vm.current ?? null, time, online: ONLINE.has(vm.state) });
        vm.current = uuid;
        err.push(F.progress);
        out.push(fill(F.take, { snapuuid: uuid }));
      } else if (cmd === 'list') {
        if (vm.snapshots.length === 0) fail('no-snapshots', {});
        out.push(...snapshotLines(vm));
      } else if (cmd === 'restore') {
        const s = findSnapshot(vm, args[2]);
        if (ONLINE.has(vm.state)) fail('restore-running', { statelong: LONG[vm.state], line: 500 });
        out.push(fill(F.restore, { snapname: s.name, snapuuid: s.uuid }));
        err.push(F.progress);
        vm.current = s.uuid;
        setState(vm, s.online ? 'saved' : 'poweroff');
      } else if (cmd === 'delete') {
        const s = findSnapshot(vm, args[2]);
        const kids = vm.snapshots.filter((c) => c.parent === s.uuid);
        if (kids.length > 1) fail('snapshot-many-children', { snap: s.name, name: vm.name, count: kids.length, line: 480 });
        out.push(fill(F.delete, { snapname: s.name, snapuuid: s.uuid }));
        err.push(F.progress);
        for (const c of kids) c.parent = s.parent;
        vm.snapshots = vm.snapshots.filter((c) => c !== s);
        if (vm.current === s.uuid) vm.current = s.parent;
      } else {
        err.push(`VBoxManage: error: Invalid parameter '${cmd}'`);
        finish(2);
        process.exit();
      }
      save();
      finish(0);
      break;
    }
    default:
      err.push(`VBoxManage: error: Invalid command '${sub ?? ''}'`);
      finish(2);
  }
}
