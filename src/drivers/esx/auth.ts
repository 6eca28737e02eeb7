/**
 * Credentials for an ESX or vCenter login, found where libvirt finds them (virauth.c,
 * virauthconfig.c), so one auth file serves virsh and tsvirt:
 *
 * 1. the user name written in the URI (`esx://root@host/`);
 * 2. libvirt's auth file: the URI's `authfile` parameter, else `$LIBVIRT_AUTH_FILE`, else
 *    `$XDG_CONFIG_HOME/libvirt/auth.conf` (`~/.config/libvirt/auth.conf`), else
 *    `/etc/libvirt/auth.conf` — group `auth-esx-HOST` (else `auth-esx-default`) names a
 *    `credentials-NAME` group holding `username` and `password`;
 * 3. the credentials callback given to `connect()`;
 * 4. a prompt on the terminal, when standard input is one.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError } from '../../core/errors.js';
import { ConnectCredentialType, type ConnectAuthCallback, type ConnectCredential } from '../../core/auth.js';

/** The service name libvirt's esx driver looks up in the auth file, for esx:// and vpx:// alike. */
const SERVICE = 'esx';

/** Where the credentials come from, besides the URI and the auth file. */
export interface CredentialSources {
  callback?: ConnectAuthCallback;
  env?: NodeJS.ProcessEnv;
  /** The URI's `authfile` query parameter. */
  uriAuthFile?: string;
  /** A terminal to prompt on; undefined when there is none. */
  prompt?: TerminalPrompt;
}

/** Asks the user on a terminal. */
export interface TerminalPrompt {
  ask(question: string, echo: boolean): Promise<string>;
}

/** The user name and password to log in with. */
export interface Credentials {
  username: string;
  password: string;
}

/**
 * The auth file libvirt would read (virAuthGetConfigFilePathURI): the first that exists of the
 * URI's authfile, $LIBVIRT_AUTH_FILE, the user's config directory, /etc/libvirt; undefined when
 * none does.
 */
export function authFilePath(env: NodeJS.ProcessEnv, uriAuthFile?: string): string | undefined {
  // An explicitly named file is used even if it cannot be read (libvirt does the same).
  if (uriAuthFile !== undefined && uriAuthFile !== '') return uriAuthFile;
  if (env.LIBVIRT_AUTH_FILE !== undefined && env.LIBVIRT_AUTH_FILE !== '') return env.LIBVIRT_AUTH_FILE;
  const configHome = env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : join(env.HOME ?? homedir(), '.config');
  for (const candidate of [join(configHome, 'libvirt', 'auth.conf'), '/etc/libvirt/auth.conf']) {
    try {
      readFileSync(candidate);
      return candidate;
    } catch {
      // Not there or not readable: libvirt moves on to the next candidate.
    }
  }
  return undefined;
}

/** Parses a GKeyFile-style ini file: `[group]`, `key=value`, `#` comments. */
export function parseKeyFile(text: string): Map<string, Map<string, string>> {
  const groups = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const group = /^\[(.+)\]$/.exec(line);
    if (group !== null) {
      current = new Map();
      groups.set(group[1] as string, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (current === undefined || eq < 0) continue;
    current.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return groups;
}

/**
 * One credential from the auth file (virAuthConfigLookup): `auth-esx-HOST` or
 * `auth-esx-default` names the credentials group. Errors: VIR_ERR_CONF_SYNTAX-like
 * VIR_ERR_INTERNAL_ERROR with libvirt's wording when a referenced group is missing.
 */
export function lookupAuthFile(file: string, hostname: string, item: 'username' | 'password'): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const groups = parseKeyFile(text);
  const authGroupName = groups.has(`auth-${SERVICE}-${hostname}`) ? `auth-${SERVICE}-${hostname}` : `auth-${SERVICE}-default`;
  const authGroup = groups.get(authGroupName);
  if (authGroup === undefined) return undefined;
  const credName = authGroup.get('credentials');
  if (credName === undefined) {
    throw VirError.report(ErrorDomain.CONF, ErrorNumber.INTERNAL_ERROR, `Missing item 'credentials' in group '${authGroupName}' in '${file}'`);
  }
  const credGroup = groups.get(`credentials-${credName}`);
  if (credGroup === undefined) {
    throw VirError.report(
      ErrorDomain.CONF,
      ErrorNumber.INTERNAL_ERROR,
      `Missing group 'credentials-${credName}' referenced from group '${authGroupName}' in '${file}'`,
    );
  }
  return credGroup.get(item);
}

async function askCallback(callback: ConnectAuthCallback, cred: ConnectCredential): Promise<string | undefined> {
  let ok: boolean | void;
  try {
    ok = await callback([cred]);
  } catch (e) {
    if (e instanceof VirError) throw e;
    ok = false;
  }
  if (ok === false) return undefined;
  return cred.result ?? cred.defresult;
}

/**
 * Finds the user name and password for `hostname`, libvirt's way (see the file comment).
 * `defaultUser` is libvirt's default: `root` for an ESX host, `administrator` for a vCenter.
 * Errors: VIR_ERR_AUTH_FAILED "Username request failed" / "Password request failed" when a
 * callback or prompt refuses; VIR_ERR_AUTH_UNAVAILABLE when no source has the password.
 */
export async function findCredentials(
  hostname: string,
  uriUser: string | undefined,
  defaultUser: string,
  sources: CredentialSources,
): Promise<Credentials> {
  const env = sources.env ?? process.env;
  const file = authFilePath(env, sources.uriAuthFile);
  let username = uriUser;
  if (username === undefined && file !== undefined) username = lookupAuthFile(file, hostname, 'username');
  if (username === undefined) {
    const question = `Enter username for ${hostname} [${defaultUser}]`;
    if (sources.callback !== undefined) {
      username = await askCallback(sources.callback, {
        type: ConnectCredentialType.AUTHNAME,
        prompt: question,
        defresult: defaultUser,
      });
      if (username === undefined) throw VirError.report(ErrorDomain.AUTH, ErrorNumber.AUTH_FAILED, 'Username request failed');
    } else if (sources.prompt !== undefined) {
      const answer = await sources.prompt.ask(`${question}: `, true);
      username = answer === '' ? defaultUser : answer;
    } else {
      username = defaultUser;
    }
  }
  let password = file !== undefined ? lookupAuthFile(file, hostname, 'password') : undefined;
  if (password === undefined) {
    const question = `Enter ${username}'s password for ${hostname}`;
    if (sources.callback !== undefined) {
      password = await askCallback(sources.callback, { type: ConnectCredentialType.PASSPHRASE, prompt: question });
      if (password === undefined) throw VirError.report(ErrorDomain.AUTH, ErrorNumber.AUTH_FAILED, 'Password request failed');
    } else if (sources.prompt !== undefined) {
      password = await sources.prompt.ask(`${question}: `, false);
    } else {
      throw VirError.report(
        ErrorDomain.AUTH,
        ErrorNumber.AUTH_UNAVAILABLE,
        `no password for ${username}@${hostname}: none in libvirt's auth file (${file ?? 'none found'}), ` +
          'no credentials callback given to connect(), and no terminal to prompt on',
      );
    }
  }
  return { username, password };
}

/**
 * A prompt on the process's terminal, or undefined when standard input is not one (a script,
 * a test, a daemon): then nothing is asked and the caller reports what is missing.
 */
export function terminalPrompt(): TerminalPrompt | undefined {
  const stdin = process.stdin;
  if (!stdin.isTTY) return undefined;
  return {
    ask(question: string, echo: boolean): Promise<string> {
      return new Promise((resolve, reject) => {
        process.stderr.write(question);
        let answer = '';
        const wasRaw = stdin.isRaw;
        if (!echo) stdin.setRawMode(true);
        stdin.setEncoding('utf8');
        const finish = (err?: VirError) => {
          stdin.off('data', onData);
          if (!echo) stdin.setRawMode(wasRaw);
          stdin.pause();
          if (!echo) process.stderr.write('\n');
          if (err !== undefined) reject(err);
          else resolve(answer);
        };
        const onData = (chunk: string) => {
          for (const ch of chunk) {
            if (ch === '\r' || ch === '\n') return finish();
            if (ch === '\u0003' || ch === '\u0004') {
              return finish(VirError.report(ErrorDomain.AUTH, ErrorNumber.AUTH_CANCELLED, 'Password request failed'));
            }
            if (ch === '\u007f' || ch === '\b') answer = answer.slice(0, -1);
            else answer += ch;
          }
        };
        stdin.on('data', onData);
        stdin.resume();
      });
    },
  };
}
