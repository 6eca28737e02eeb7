/**
 * virsh's device commands (virsh-domain.c): attach-device, detach-device, update-device,
 * detach-device-alias, and attach-disk, detach-disk, attach-interface, detach-interface, which
 * build (or find in the domain's XML) the device XML and call the same API.
 */
import { statSync } from 'node:fs';
import { DomainDeviceModifyFlags, DomainXMLFlags } from '../core/enums.generated.js';
import type { Domain } from '../api/domain.js';
import { FAILED, type Cmd, type Handler } from './context.js';
import { readXMLFile } from './files.js';
import { escapeXml } from '../conf/xml.js';
import { DEVICE_DOCUMENT } from '../conf/device.js';
import { parseXML, type XMLElement } from './xml.js';

const { LIVE, CONFIG, FORCE } = DomainDeviceModifyFlags;

/** The impact options as virsh reads them: exclusivity, then CONFIG for --config/--persistent, LIVE for --live. */
function impact(cmd: Cmd, persistentOk = true): { flags: number; current: boolean; persistent: boolean } {
  const persistent = persistentOk && cmd.bool('persistent');
  if (persistentOk) cmd.exclusive('persistent', 'current');
  cmd.exclusive('current', 'live');
  cmd.exclusive('current', 'config');
  let flags = 0;
  if (cmd.bool('config') || persistent) flags |= CONFIG;
  if (cmd.bool('live')) flags |= LIVE;
  return { flags, current: cmd.bool('current'), persistent };
}

/** --persistent on a running domain also affects it live (virsh's rule). */
async function persistentLive(dom: Domain, persistent: boolean, flags: number): Promise<number> {
  return persistent && (await dom.isActive()) ? flags | LIVE : flags;
}

type FileCall = 'attach' | 'detach' | 'update';

function fileCommand(op: FileCall): Handler {
  const words = { attach: ['attach', 'attached'], detach: ['detach', 'detached'], update: ['update', 'updated'] }[op];
  return async (ctl, cmd) => {
    const im = impact(cmd);
    let flags = im.flags;
    if (op === 'update' && cmd.bool('force')) flags |= FORCE;
    const { dom } = await cmd.domain();
    flags = await persistentLive(dom, im.persistent, flags);
    const from = cmd.string('file')!;
    const xml = readXMLFile(ctl, from, DEVICE_DOCUMENT);
    const call = (): Promise<void> => {
      if (typeof xml !== 'string') return Promise.reject(xml);
      if (op === 'update') return dom.updateDeviceFlags(xml, flags);
      const withFlags = flags !== 0 || im.current;
      if (op === 'attach') return withFlags ? dom.attachDeviceFlags(xml, flags) : dom.attachDevice(xml);
      return withFlags ? dom.detachDeviceFlags(xml, flags) : dom.detachDevice(xml);
    };
    if ((await ctl.attempt(call)) === FAILED) {
      ctl.error(`Failed to ${words[0]} device from ${from}`);
      return false;
    }
    ctl.extra(`Device ${words[1]} successfully\n`);
    return true;
  };
}

const detachDeviceAlias: Handler = async (ctl, cmd) => {
  const { flags } = impact(cmd, false);
  const { dom } = await cmd.domain();
  const alias = cmd.string('alias')!;
  if ((await ctl.attempt(dom.detachDeviceAlias(alias, flags))) === FAILED) {
    ctl.error(`Failed to detach device with alias ${alias}`);
    return false;
  }
  ctl.extra('Device detach request sent successfully\n');
  return true;
};

/** `<name a='v' …/>` with virsh's escaping, attributes whose value is undefined left out. */
function tag(name: string, attrs: [string, string | undefined][], close = true): string {
  const a = attrs.filter((x): x is [string, string] => x[1] !== undefined).map(([k, v]) => ` ${k}='${escapeXml(v, true)}'`).join('');
  return `<${name}${a}${close ? '/' : ''}>`;
}

const DISK_MODES = ['readonly', 'shareable'];

const attachDisk: Handler = async (ctl, cmd) => {
  const im = impact(cmd);
  const source = cmd.string('source')!;
  const target = cmd.string('target')!;
  const mode = cmd.string('mode');
  if (mode !== undefined && !DISK_MODES.includes(mode)) {
    ctl.error(`No support for ${mode} in command 'attach-disk'`);
    return false;
  }
  for (const unsupported of ['source-protocol', 'source-host-name', 'source-host-transport', 'source-host-socket', 'address']) {
    if (cmd.string(unsupported) !== undefined) {
      ctl.error(`tsvirt does not support --${unsupported} in command 'attach-disk'`);
      return false;
    }
  }
  let sourceType = cmd.string('sourcetype');
  if (sourceType === undefined) {
    try {
      sourceType = statSync(source).isBlockDevice() ? 'block' : 'file';
    } catch {
      sourceType = 'file';
    }
  }
  if (sourceType !== 'file' && sourceType !== 'block') {
    ctl.error(`Unknown source type: '${sourceType}'`);
    return false;
  }
  const lines: string[] = [tag('disk', [['type', sourceType], ['device', cmd.string('type')], ['rawio', cmd.bool('rawio') ? 'yes' : undefined]], false)];
  const driverAttrs: [string, string | undefined][] = [
    ['name', cmd.string('driver')],
    ['type', cmd.string('subdriver')],
    ['iothread', cmd.string('iothread')],
    ['cache', cmd.string('cache')],
    ['io', cmd.string('io')],
  ];
  if (driverAttrs.some(([, v]) => v !== undefined)) lines.push(`  ${tag('driver', driverAttrs)}`);
  lines.push(`  ${tag('source', [[sourceType === 'block' ? 'dev' : 'file', source]])}`);
  lines.push(`  ${tag('target', [['dev', target], ['bus', cmd.string('targetbus')]])}`);
  if (mode !== undefined) lines.push(`  <${mode}/>`);
  const serial = cmd.string('serial');
  if (serial !== undefined) lines.push(`  <serial>${escapeXml(serial)}</serial>`);
  const wwn = cmd.string('wwn');
  if (wwn !== undefined) lines.push(`  <wwn>${escapeXml(wwn)}</wwn>`);
  const alias = cmd.string('alias');
  if (alias !== undefined) lines.push(`  ${tag('alias', [['name', alias]])}`);
  lines.push('</disk>');
  const xml = `${lines.join('\n')}\n`;
  if (cmd.bool('print-xml')) {
    ctl.print(xml);
    return true;
  }
  const { dom } = await cmd.domain();
  const flags = await persistentLive(dom, im.persistent, im.flags);
  const r = await ctl.attempt(flags !== 0 || im.current ? dom.attachDeviceFlags(xml, flags) : dom.attachDevice(xml));
  if (r === FAILED) {
    ctl.error('Failed to attach disk');
    return false;
  }
  ctl.print('Disk attached successfully\n');
  return true;
};

/** libvirt's virDomainNetType names. */
const NET_TYPES = ['user', 'ethernet', 'vhostuser', 'server', 'client', 'mcast', 'network', 'bridge', 'internal', 'direct', 'hostdev', 'udp', 'vdpa', 'null', 'vds'];

const attachInterface: Handler = async (ctl, cmd) => {
  const im = impact(cmd);
  const type = cmd.string('type')!;
  const source = cmd.string('source')!;
  if (!NET_TYPES.includes(type)) {
    ctl.error(`No support for ${type} in command 'attach-interface'`);
    return false;
  }
  const lines: string[] = [tag('interface', [['type', type]], false)];
  if (type === 'network' || type === 'bridge') lines.push(`  ${tag('source', [[type, source]])}`);
  else if (type === 'direct') lines.push(`  ${tag('source', [['dev', source], ['mode', cmd.string('source-mode') ?? 'private']])}`);
  else {
    ctl.error(`No support for ${type} in command 'attach-interface'`);
    return false;
  }
  const target = cmd.string('target');
  if (target !== undefined) lines.push(`  ${tag('target', [['dev', target]])}`);
  const mac = cmd.string('mac');
  if (mac !== undefined) lines.push(`  ${tag('mac', [['address', mac]])}`);
  const script = cmd.string('script');
  if (script !== undefined) lines.push(`  ${tag('script', [['path', script]])}`);
  const model = cmd.string('model');
  if (model !== undefined) lines.push(`  ${tag('model', [['type', model]])}`);
  const alias = cmd.string('alias');
  if (alias !== undefined) lines.push(`  ${tag('alias', [['name', alias]])}`);
  if (cmd.string('inbound') !== undefined || cmd.string('outbound') !== undefined) {
    ctl.error("tsvirt does not support --inbound/--outbound in command 'attach-interface'");
    return false;
  }
  lines.push('</interface>');
  const xml = `${lines.join('\n')}\n`;
  if (cmd.bool('print-xml')) {
    ctl.print(xml);
    return true;
  }
  const { dom } = await cmd.domain();
  const flags = await persistentLive(dom, im.persistent, im.flags);
  const r = await ctl.attempt(flags !== 0 || im.current ? dom.attachDeviceFlags(xml, flags) : dom.attachDevice(xml));
  if (r === FAILED) {
    ctl.error('Failed to attach interface');
    return false;
  }
  ctl.extra('Interface attached successfully\n');
  return true;
};

/**
 * The `index`-th `<name>` element of `doc` as libxml's xmlNodeDump writes it (what virsh sends
 * and prints): its lines as the document has them, attributes in double quotes.
 */
function nodeText(doc: string, name: string, index: number): string {
  const lines = doc.split('\n');
  let seen = -1;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const m = new RegExp(`^(\\s*)<${name}[\\s/>]`).exec(line);
    if (m === null || ++seen !== index) continue;
    const indent = m[1] as string;
    const out: string[] = [line.slice(indent.length)];
    if (!/\/>\s*$/.test(line)) {
      for (let j = i + 1; j < lines.length; j++) {
        out.push(lines[j] as string);
        if ((lines[j] as string) === `${indent}</${name}>`) break;
      }
    }
    return out.map((l) => l.replace(/(\s[\w:.-]+)='([^']*)'/g, (_, k: string, v: string) => `${k}="${v.replace(/&apos;/g, "'").replace(/"/g, '&quot;')}"`)).join('\n');
  }
  return '';
}

function domainRoot(doc: string): XMLElement {
  const top = parseXML(doc);
  return top.children.find((c) => c.name === 'domain') ?? top;
}

/** The domain's XML as virsh reads it for detach-disk/-interface: inactive when only CONFIG. */
async function domainDoc(dom: Domain, flags: number): Promise<string> {
  return dom.XMLDesc(flags === CONFIG ? DomainXMLFlags.INACTIVE : 0);
}

const detachDisk: Handler = async (ctl, cmd) => {
  const im = impact(cmd);
  const { dom } = await cmd.domain();
  const target = cmd.string('target')!;
  const doc = await domainDoc(dom, im.flags);
  const flags = await persistentLive(dom, im.persistent, im.flags);
  const disks = domainRoot(doc).children.find((c) => c.name === 'devices')?.children.filter((c) => c.name === 'disk') ?? [];
  const index = disks.findIndex((d) => {
    const t = d.children.find((c) => c.name === 'target');
    const s = d.children.find((c) => c.name === 'source');
    if (t?.attrs.dev === target) return true;
    return s !== undefined && ['file', 'dev', 'dir', 'name'].some((a) => s.attrs[a] === target);
  });
  if (index < 0) {
    ctl.error(`No disk found whose source path or target is ${target}`);
    return false;
  }
  const xml = nodeText(doc, 'disk', index);
  if (cmd.bool('print-xml')) {
    ctl.print(xml);
    return true;
  }
  const r = await ctl.attempt(flags !== 0 || im.current ? dom.detachDeviceFlags(xml, flags) : dom.detachDevice(xml));
  if (r === FAILED) {
    ctl.error('Failed to detach disk');
    return false;
  }
  ctl.extra('Disk detached successfully\n');
  return true;
};

const detachInterface: Handler = async (ctl, cmd) => {
  const im = impact(cmd);
  const { dom } = await cmd.domain();
  const type = cmd.string('type')!;
  const mac = cmd.string('mac');
  const doc = await domainDoc(dom, im.flags);
  const flags = await persistentLive(dom, im.persistent, im.flags);
  const fail = (): boolean => {
    ctl.error('Failed to detach interface');
    return false;
  };
  const all = domainRoot(doc).children.find((c) => c.name === 'devices')?.children.filter((c) => c.name === 'interface') ?? [];
  const ofType = all.map((el, i) => ({ el, i })).filter((x) => x.el.attrs.type === type);
  if (ofType.length === 0) {
    ctl.error(`No interface found whose type is ${type}`);
    return fail();
  }
  let pick: number;
  if (mac === undefined) {
    if (ofType.length !== 1) {
      ctl.error(`Domain has ${ofType.length} interfaces. Please specify which one to detach using --mac`);
      return fail();
    }
    pick = ofType[0]!.i;
  } else {
    const want = mac.toLowerCase();
    const found = ofType.find((x) => x.el.children.find((c) => c.name === 'mac')?.attrs.address?.toLowerCase() === want);
    if (found === undefined) {
      ctl.error(`No interface with MAC address ${mac} was found`);
      return fail();
    }
    pick = found.i;
  }
  const xml = nodeText(doc, 'interface', pick);
  if (cmd.bool('print-xml')) {
    ctl.print(xml);
    return true;
  }
  const r = await ctl.attempt(flags !== 0 || im.current ? dom.detachDeviceFlags(xml, flags) : dom.detachDevice(xml));
  if (r === FAILED) return fail();
  ctl.extra('Interface detached successfully\n');
  return true;
};

export const handlers: Record<string, Handler> = {
  'attach-device': fileCommand('attach'),
  'detach-device': fileCommand('detach'),
  'update-device': fileCommand('update'),
  'detach-device-alias': detachDeviceAlias,
  'attach-disk': attachDisk,
  'detach-disk': detachDisk,
  'attach-interface': attachInterface,
  'detach-interface': detachInterface,
};


