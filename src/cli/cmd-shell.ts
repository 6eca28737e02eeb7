/**
 * The commands of the shell itself (virsh's "Virsh itself" group): help, echo, quit, exit,
 * connect; and the program's usage and long version texts.
 */
import { homedir } from 'node:os';
import { COMMANDS, GROUPS, findCommand, type CmdDef, type OptDef } from './defs.js';
import { CmdFailed, type Cmd, type Ctl, type Handler } from './context.js';
import { escapeShell, escapeXML, stringToArray } from './text.js';

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));

/** vshCmddefHelp: NAME, SYNOPSIS, DESCRIPTION and OPTIONS of one command. */
export function commandHelp(def: CmdDef): string {
  let out = '  NAME\n';
  out += `    ${def.name} - ${def.help}\n`;
  out += '\n  SYNOPSIS\n';
  out += `    ${def.name}`;
  let shortopt = false;
  const visible = def.opts.filter((o) => o.type !== 'alias');
  for (const o of visible) {
    let fmt: string;
    switch (o.type) {
      case 'bool':
        fmt = `[--${o.name}]`;
        break;
      case 'int':
        fmt = o.required === true ? `<${o.name}>` : `[--${o.name} <number>]`;
        if (o.reqOpt !== true) shortopt = true;
        break;
      case 'string':
        fmt = `[--${o.name} <string>]`;
        if (o.reqOpt !== true) shortopt = true;
        break;
      case 'data':
        fmt = o.required === true ? `<${o.name}>` : `[<${o.name}>]`;
        if (o.reqOpt !== true) shortopt = true;
        break;
      default:
        // argv
        if (shortopt) fmt = o.required === true ? `{[--${o.name}] <string>}...` : `[[--${o.name}] <string>]...`;
        else fmt = o.required === true ? `<${o.name}>...` : `[<${o.name}>]...`;
        break;
    }
    out += ` ${fmt}`;
  }
  out += '\n';
  if (def.desc !== '') out += `\n  DESCRIPTION\n    ${def.desc}\n`;
  if (def.opts.length > 0) {
    out += '\n  OPTIONS\n';
    for (const o of visible) {
      out += `    ${pad(optionLabel(o, shortopt), 15)}  ${o.help}\n`;
    }
  }
  out += '\n';
  return out;
}

function optionLabel(o: OptDef, shortopt: boolean): string {
  switch (o.type) {
    case 'bool':
      return `--${o.name}`;
    case 'int':
      return o.required === true ? `[--${o.name}] <number>` : `--${o.name} <number>`;
    case 'string':
      return `--${o.name} <string>`;
    case 'data':
      return `[--${o.name}] <string>`;
    default:
      return shortopt ? `[--${o.name}] <string>` : `<${o.name}>`;
  }
}

/** vshCmdGrpHelp. */
function groupHelp(key: string, title: string): string {
  let out = ` ${title} (help keyword '${key}'):\n`;
  for (const c of COMMANDS) if (c.group === key) out += `    ${pad(c.name, 30)} ${c.help}\n`;
  return out;
}

/** virsh's usage text (`-h`), with tsvirt's commands. */
export function printUsage(ctl: Ctl): void {
  const p = ctl.progname;
  let out =
    `\n${p} [options]... [<command_string>]` +
    `\n${p} [options]... <command> [args...]\n\n` +
    '  options:\n' +
    '    -c | --connect=URI      hypervisor connection URI\n' +
    '    -d | --debug=NUM        debug level [0-4]\n' +
    '    -e | --escape <char>    set escape sequence for console\n' +
    '    -h | --help             this help\n' +
    '    -k | --keepalive-interval=NUM\n' +
    '                            keepalive interval in seconds, 0 for disable\n' +
    '    -K | --keepalive-count=NUM\n' +
    '                            number of possible missed keepalive messages\n' +
    '    -l | --log=FILE         output logging to file\n' +
    '    -q | --quiet            quiet mode\n' +
    '    -r | --readonly         connect readonly\n' +
    '    -t | --timing           print timing information\n' +
    '    -v                      short version\n' +
    '    -V                      long version\n' +
    '         --version[=TYPE]   version, TYPE is short or long (default short)\n' +
    '  commands (non interactive mode):\n\n';
  for (const [key, title] of GROUPS) {
    out += ` ${title} (help keyword '${key}')\n`;
    for (const c of COMMANDS) if (c.group === key) out += `    ${pad(c.name, 30)} ${c.help}\n`;
    out += '\n';
  }
  out += '\n  (specify help <group> for details about the commands in the group)\n';
  out += '\n  (specify help <command> for details about the command)\n\n';
  ctl.print(out);
}

/** The long version text (`-V`), after virsh's. */
export function printLongVersion(ctl: Ctl, version: string): void {
  ctl.print(
    `tsvirt command line tool ${version}, compatible with virsh of libvirt 9.0.0\n\n` +
      'Compiled with support for:\n' +
      ' Hypervisors: Test\n' +
      ' Miscellaneous: Debug\n',
  );
}

const help: Handler = async (ctl, cmd) => {
  let name: string | undefined;
  try {
    name = cmd.stringQuiet('command');
  } catch (err) {
    if (!(err instanceof CmdFailed)) throw err;
    name = undefined;
  }
  if (name === undefined) {
    let out = 'Grouped commands:\n\n';
    for (const [key, title] of GROUPS) out += groupHelp(key, title) + '\n';
    ctl.print(out);
    return true;
  }
  const def = findCommand(name);
  if (def !== undefined) {
    ctl.flush();
    ctl.print(commandHelp(def));
    return true;
  }
  const group = GROUPS.find(([key, title]) => key === name || title === name);
  if (group !== undefined) {
    ctl.print(groupHelp(group[0], group[1]));
    return true;
  }
  ctl.error(`command or command group '${name}' doesn't exist`);
  return false;
};

const echo: Handler = async (ctl, cmd) => {
  const shell = cmd.bool('shell');
  const xml = cmd.bool('xml');
  const err = cmd.bool('err');
  const split = cmd.bool('split');
  if (shell && xml) return exclusive(ctl, 'shell', 'xml');
  if (shell && split) return exclusive(ctl, 'shell', 'split');
  if (xml && split) return exclusive(ctl, 'xml', 'split');
  const parts: string[] = [];
  for (const arg of cmd.argv('string')) {
    if (xml) parts.push(escapeXML(arg));
    else if (shell) parts.push(escapeShell(arg));
    else if (split) parts.push(stringToArray(arg).map((s) => `${s}\n`).join(''));
    else parts.push(arg);
  }
  if (parts.length === 0) return true;
  const text = parts.join(' ');
  if (err) ctl.error(text);
  else ctl.print(text);
  return true;
};

function exclusive(ctl: Ctl, a: string, b: string): boolean {
  ctl.error(`Options --${a} and --${b} are mutually exclusive`);
  return false;
}

const quit: Handler = async (ctl) => {
  ctl.imode = false;
  return true;
};

const cd: Handler = async (ctl, cmd) => {
  if (!ctl.imode) {
    ctl.error('cd: command valid only in interactive mode');
    return false;
  }
  let dir: string | undefined;
  try {
    dir = cmd.stringQuiet('dir');
  } catch (err) {
    if (!(err instanceof CmdFailed)) throw err;
  }
  if (dir === undefined) dir = homedir() || '/';
  try {
    process.chdir(dir);
  } catch (err) {
    const { strerror } = await import('./files.js');
    ctl.error(`cd: ${strerror(err)}: ${dir}`);
    return false;
  }
  return true;
};

const pwd: Handler = async (ctl) => {
  ctl.print(`${process.cwd()}\n`);
  return true;
};

const connect: Handler = async (ctl: Ctl, cmd: Cmd) => {
  const readonly = cmd.bool('readonly');
  const name = cmd.string('name');
  return ctl.reconnect(name ?? null, readonly);
};

export const handlers: Record<string, Handler> = { help, echo, quit, exit: quit, connect, cd, pwd };
