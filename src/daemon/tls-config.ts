/**
 * The TLS keys of a libvirtd.conf-style file (tsvirtd --config), so that an admin's libvirtd.conf
 * serves as it is: `listen_tls`, `listen_addr`, `tls_port`, `ca_file`, `cert_file`, `key_file`,
 * `crl_file`, `tls_allowed_dn_list`, `max_anonymous_clients`. Other keys are ignored (libvirtd's
 * file holds many that tsvirtd has no use for).
 *
 * The syntax is libvirt's virConf: `key = value` lines, `#` comments, values a "string" (or
 * 'string'), a whole number, or a list `[ "a", "b" ]` that may span lines.
 */
import { readFileSync } from 'node:fs';
import type { TlsListenOptions } from './tls-listener.js';

type ConfValue = string | number | string[];

/** Parses virConf text into its keys; throws naming the line of a syntax error. */
export function parseConf(text: string, file = 'config'): Map<string, ConfValue> {
  const out = new Map<string, ConfValue>();
  let i = 0;
  let line = 1;
  const err = (msg: string): Error => new Error(`${file}:${line}: ${msg}`);
  const skipSpace = (newlines: boolean): void => {
    while (i < text.length) {
      const c = text[i]!;
      if (c === '#') {
        while (i < text.length && text[i] !== '\n') i++;
      } else if (c === ' ' || c === '\t' || c === '\r') {
        i++;
      } else if (newlines && c === '\n') {
        line++;
        i++;
      } else {
        break;
      }
    }
  };
  const str = (): string => {
    const q = text[i]!;
    const end = text.indexOf(q, i + 1);
    if (end < 0 || text.slice(i + 1, end).includes('\n')) throw err('unterminated string');
    const v = text.slice(i + 1, end);
    i = end + 1;
    return v;
  };
  while (true) {
    skipSpace(true);
    if (i >= text.length) break;
    const m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(text.slice(i, i + 200));
    if (m === null) throw err('expecting a name');
    const key = m[0];
    i += key.length;
    skipSpace(false);
    if (text[i] !== '=') throw err(`expecting '=' after ${key}`);
    i++;
    skipSpace(false);
    let value: ConfValue;
    const c = text[i];
    if (c === '"' || c === "'") {
      value = str();
    } else if (c === '[') {
      i++;
      const list: string[] = [];
      while (true) {
        skipSpace(true);
        if (text[i] === ']') {
          i++;
          break;
        }
        if (text[i] !== '"' && text[i] !== "'") throw err(`${key}: a list holds strings`);
        list.push(str());
        skipSpace(true);
        if (text[i] === ',') i++;
        else if (text[i] !== ']') throw err(`${key}: expecting ',' or ']'`);
      }
      value = list;
    } else {
      const n = /^-?\d+/.exec(text.slice(i, i + 40));
      if (n === null) throw err(`${key}: expecting a value`);
      value = Number(n[0]);
      i += n[0].length;
    }
    skipSpace(false);
    if (i < text.length && text[i] !== '\n') throw err(`${key}: unexpected text after the value`);
    out.set(key, value);
  }
  return out;
}

/** The TLS settings of a libvirtd.conf-style file; listen_tls defaults to on, as libvirtd's. */
export function readTlsConfig(path: string): { listenTls: boolean; tls: TlsListenOptions } {
  const conf = parseConf(readFileSync(path, 'utf8'), path);
  const s = (k: string): string | undefined => {
    const v = conf.get(k);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new Error(`${path}: ${k} must be a string`);
    return v;
  };
  const n = (k: string): number | undefined => {
    const v = conf.get(k);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || v < 0) throw new Error(`${path}: ${k} must be a whole number`);
    return v;
  };
  const port = conf.get('tls_port');
  let tlsPort: number | undefined;
  // libvirtd.conf writes the port as a string ("16514").
  if (port !== undefined) {
    tlsPort = Number(port);
    if (!Number.isInteger(tlsPort) || tlsPort < 1 || tlsPort > 65535) throw new Error(`${path}: tls_port must be a port number`);
  }
  const dns = conf.get('tls_allowed_dn_list');
  if (dns !== undefined && !Array.isArray(dns)) throw new Error(`${path}: tls_allowed_dn_list must be a list of strings`);
  const files: TlsListenOptions['files'] = {};
  const ca = s('ca_file');
  const cert = s('cert_file');
  const key = s('key_file');
  const crl = s('crl_file');
  if (ca !== undefined) files.caFile = ca;
  if (cert !== undefined) files.certFile = cert;
  if (key !== undefined) files.keyFile = key;
  if (crl !== undefined) files.crlFile = crl;
  return {
    listenTls: (n('listen_tls') ?? 1) !== 0,
    tls: {
      host: s('listen_addr'),
      port: tlsPort,
      files,
      allowedDNs: dns ?? null,
      maxAnonymousClients: n('max_anonymous_clients'),
    },
  };
}
