/**
 * tsvirtd's web console server (`tsvirtd --http ADDR:PORT`): the built UI, a JSON API over
 * tsvirt's public API, a WebSocket of lifecycle events, and WebSockets that carry a domain's
 * serial console (a libvirt console stream, as `virsh console`) and its VNC display (from QEMU's
 * private socket; QEMU's own ports are never offered to the browser).
 *
 * Access needs a token (./tokens.ts) sent as `Authorization: Bearer …`, or a session cookie got
 * by POSTing the token to /api/login (HttpOnly, SameSite=Strict). A token's role decides what it
 * may do, checked here on every request (the UI only hides what would be refused): a read-only
 * token gets read-only connections, no mutating route, a serial console whose input is dropped
 * and a VNC display through the view-only filter (./rfb-filter.ts); an operator token gets the
 * consoles and the power actions and no other mutating route; an admin token gets everything.
 *
 * Besides the URIs the daemon serves, the console may show other daemons (`--http-connect`),
 * reached with tsvirt's remote driver: each is one more URI, its domains labelled with its name.
 * A remote daemon that goes away is shown as disconnected and reached again on the next use
 * (the UI polls /api/hosts). Requests are checked for their Host
 * (DNS rebinding) and, when a browser says where they come from, their Origin (cross-site
 * requests and WebSockets are refused); every response carries a strict Content-Security-Policy.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { DomainDefineFlags, ErrorNumber } from '../core/enums.generated.js';
import { VirError } from '../core/errors.js';
import { parseDomainXML } from '../conf/domain.js';
import type { Connection } from '../index.js';
import { ACTIONS, MAX_TAGS, setDomainTags, TAG_RE, domainXML, listDomains, listSnapshots, runAction, snapshotDeleteFlags, summarize, undefineFlags, undefinePreview, type DomainAction } from './domains.js';
import type { DomainSummary, HostSummary, SessionSummary } from './json.js';
import { METRICS_INTERVAL_MS, MetricsSampler } from './metrics.js';
import { createVolume, listNetworks, listPools, listVolumes, VOLUME_FORMATS } from './resources.js';
import { RfbFilterError, RfbViewOnlyFilter } from './rfb-filter.js';
import { remoteURIProblem } from './remote-uri.js';
import type { WebRole, WebTokenInfo, WebTokens } from './tokens.js';

/** How the web console is set up. */
export interface WebConsoleOptions {
  /** Address to listen on (loopback unless the user gave another). */
  host: string;
  /** Port; 0 picks a free one. */
  port: number;
  tokens: WebTokens;
  /** The URIs the daemon serves, in the UI's order; the first is the default. */
  uris: readonly string[];
  /** What the UI calls this daemon's own URIs (default: the machine's host name). */
  localLabel?: string;
  /** Other daemons to show (tsvirt's remote driver URIs), each with the name its domains are labelled with. */
  remotes?: readonly { uri: string; label: string }[];
  /**
   * Opens a connection to `uri`: one the daemon serves (its shared drivers) or one of `remotes`
   * (a remote driver connection). Errors are VirError.
   */
  open(uri: string, readonly: boolean): Promise<Connection>;
  /** Directory of the built UI, or null when none is built. */
  uiRoot: string | null;
  /** How often the running domains' statistics are sampled for the metrics history (ms; default 5 s). */
  metricsIntervalMs?: number;
  /** The daemon's logger. Never given a token. */
  log(level: 'info' | 'warn' | 'debug', message: string): void;
}

/** A request's authenticated caller. */
interface Caller {
  token: WebTokenInfo;
  /** A read-only token: read-only connections, view-only consoles. */
  readonly: boolean;
}

/** The lifecycle actions an operator token may run: power, nothing that changes a definition or writes a save image. */
export const POWER_ACTIONS: readonly DomainAction[] = ['start', 'shutdown', 'reboot', 'reset', 'destroy', 'suspend', 'resume'];

/**
 * Whether `role` may make the mutating request `method` on the API path `parts` (after /api/).
 * Returns null when allowed, else why not. The one place the roles are enforced for HTTP routes.
 */
export function refusal(role: WebRole, method: string, parts: readonly string[]): string | null {
  if (role === 'admin') return null;
  if (role === 'readonly') return 'this token is read-only';
  const power = method === 'POST' && parts.length === 4 && parts[0] === 'domains' && parts[2] === 'actions' && (POWER_ACTIONS as readonly string[]).includes(parts[3]!);
  return power ? null : 'this token may only use the consoles and the power actions';
}

/** How long opening a connection to a remote daemon may take before it counts as unreachable. */
const REMOTE_OPEN_TIMEOUT_MS = 10_000;
/** How long GET /api/session waits for the remote daemons before answering. */
const SESSION_HOSTS_WAIT_MS = 1500;
/** How often an event socket of a remote URI checks that its connection still lives. */
const LIVENESS_INTERVAL_MS = 2000;

interface Session {
  tokenId: string;
  role: WebRole;
  expires: number;
}

const SESSION_COOKIE = 'tsvirt_session';
const SESSION_TTL_MS = 12 * 3600_000;
const MAX_BODY = 1 << 20;
/** A WebSocket client that lets this much of our output queue up is too slow: it is dropped. */
const MAX_WS_BUFFERED = 8 << 20;

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // Styles may be inline: xterm.js and PatternFly's popups create style elements at run time.
  // Scripts may not: only the UI's own files run.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
  '.map': 'application/json',
};

/** An HTTP error with its status, sent as `{ error: { message } }`. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The HTTP status for a VirError of the API. */
function statusOf(err: VirError): number {
  switch (err.code) {
    case ErrorNumber.NO_DOMAIN:
    case ErrorNumber.NO_DOMAIN_SNAPSHOT:
    case ErrorNumber.NO_CONNECT:
    case ErrorNumber.NO_STORAGE_POOL:
    case ErrorNumber.NO_STORAGE_VOL:
    case ErrorNumber.NO_NETWORK:
      return 404;
    case ErrorNumber.OPERATION_DENIED:
      return 403;
    case ErrorNumber.OPERATION_INVALID:
    case ErrorNumber.DOM_EXIST:
    case ErrorNumber.OPERATION_FAILED:
    case ErrorNumber.STORAGE_VOL_EXIST:
      return 409;
    case ErrorNumber.INVALID_ARG:
    case ErrorNumber.XML_ERROR:
    case ErrorNumber.XML_DETAIL:
    case ErrorNumber.XML_INVALID_SCHEMA:
    case ErrorNumber.CONFIG_UNSUPPORTED:
      return 400;
    case ErrorNumber.NO_SUPPORT:
      return 501;
    default:
      return 500;
  }
}

/** The web console server (see the file comment). */
export class WebConsole {
  private readonly server: Server;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  private readonly sessions = new Map<string, Session>();
  private readonly conns = new Map<string, Promise<Connection>>();
  /** Open WebSockets with the token they were opened with, to end them when it is revoked. */
  private readonly sockets = new Map<WebSocket, string>();
  private readonly revocationTimer: NodeJS.Timeout;
  /** A metrics sampler per URI, started when the URI is first used. */
  private readonly samplers = new Map<string, MetricsSampler>();
  /** The remote daemons by URI, with the last attempt's failure. */
  private readonly remotes = new Map<string, { label: string; error: string | null }>();
  private readonly localLabel: string;
  private port = 0;

  private constructor(private readonly opts: WebConsoleOptions) {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.upgrade(req, socket, head));
    // A revoked token's WebSockets end within a second (its HTTP calls fail at once).
    this.revocationTimer = setInterval(() => this.dropRevoked(), 1000);
    this.revocationTimer.unref();
    this.localLabel = opts.localLabel ?? hostname();
    for (const r of opts.remotes ?? []) if (!opts.uris.includes(r.uri)) this.remotes.set(r.uri, { label: r.label, error: null });
  }

  /** Every URI the console shows: the daemon's own, then the remote daemons'. */
  private allURIs(): string[] {
    return [...this.opts.uris, ...this.remotes.keys()];
  }

  private serves(uri: string): boolean {
    return this.opts.uris.includes(uri) || this.remotes.has(uri);
  }

  /**
   * The hosts and whether each answers: a remote daemon's connection is checked (and opened
   * again when it was lost); the daemon's own URIs are always there. With `waitMs`, a daemon
   * still connecting after that long is reported as not connected yet (the page asks again).
   */
  private async hosts(caller: Caller, waitMs = REMOTE_OPEN_TIMEOUT_MS): Promise<HostSummary[]> {
    const local = this.opts.uris.map((uri) => ({ uri, label: this.localLabel, remote: false, connected: true, error: null }));
    const remote = await Promise.all(
      [...this.remotes].map(async ([uri, r]) => {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), waitMs)));
        const state = await Promise.race([
          this.connection(uri, caller.readonly).then(
            () => 'up' as const,
            () => 'down' as const,
          ),
          late,
        ]);
        clearTimeout(timer);
        return { uri, label: r.label, remote: true, connected: state === 'up', error: state === 'up' ? null : state === 'late' ? 'connecting' : r.error };
      }),
    );
    return [...local, ...remote];
  }

  /** Starts listening. Errors: the listen error (address in use, …). */
  static async start(opts: WebConsoleOptions): Promise<WebConsole> {
    const w = new WebConsole(opts);
    await new Promise<void>((resolve, reject) => {
      w.server.once('error', reject);
      w.server.listen(opts.port, opts.host, () => {
        w.server.off('error', reject);
        resolve();
      });
    });
    const addr = w.server.address();
    w.port = typeof addr === 'object' && addr !== null ? addr.port : opts.port;
    return w;
  }

  /** The address the server listens on. */
  address(): { host: string; port: number } {
    return { host: this.opts.host, port: this.port };
  }

  /** The URL to open in a browser (the token goes in the fragment, which no server log sees). */
  url(token?: string): string {
    const host = this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
    return `http://${host}:${this.port}/${token === undefined ? '' : `#token=${token}`}`;
  }

  /** Stops listening, ends every WebSocket and closes the connections it opened. */
  async close(): Promise<void> {
    clearInterval(this.revocationTimer);
    for (const s of this.samplers.values()) s.stop();
    for (const ws of this.sockets.keys()) ws.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    const conns = [...this.conns.values()];
    this.conns.clear();
    await Promise.all(conns.map((p) => p.then((c) => c.close()).catch(() => undefined)));
  }

  // Requests.

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    setSecurityHeaders(res);
    try {
      this.checkHost(req);
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (!url.pathname.startsWith('/api/')) {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'method not allowed');
        await this.serveUI(url.pathname, req, res);
        return;
      }
      res.setHeader('Cache-Control', 'no-store');
      const mutating = req.method !== 'GET' && req.method !== 'HEAD';
      if (mutating) this.checkSameOrigin(req, true);
      else this.checkSameOrigin(req, false);
      if (url.pathname === '/api/login' && req.method === 'POST') {
        await this.login(req, res);
        return;
      }
      const caller = this.authenticate(req);
      if (caller === null) throw new HttpError(401, 'a valid token is needed');
      if (url.pathname === '/api/logout' && req.method === 'POST') {
        this.logout(req, res);
        return;
      }
      if (mutating) {
        const why = refusal(caller.token.role, req.method ?? 'POST', url.pathname.split('/').slice(2).map(decodeURIComponent));
        if (why !== null) throw new HttpError(403, why);
      }
      const body = mutating ? await readJSON(req) : {};
      const result = await this.route(req.method ?? 'GET', url, caller, body);
      sendJSON(res, result === undefined ? 204 : 200, result);
    } catch (err) {
      this.fail(res, err);
    }
  }

  private fail(res: ServerResponse, err: unknown): void {
    if (err instanceof HttpError) {
      sendJSON(res, err.status, { error: { message: err.message } });
    } else if (err instanceof VirError) {
      sendJSON(res, statusOf(err), { error: { code: err.code, domain: err.domain, message: err.message } });
    } else {
      this.opts.log('warn', `web console: ${err instanceof Error ? err.message : String(err)}`);
      sendJSON(res, 500, { error: { message: 'internal error' } });
    }
  }

  /** The JSON API's routes. */
  private async route(method: string, url: URL, caller: Caller, body: Record<string, unknown>): Promise<unknown> {
    const parts = url.pathname.split('/').slice(2).map(decodeURIComponent);
    const is = (m: string, ...path: (string | null)[]): boolean =>
      method === m && parts.length === path.length && path.every((p, i) => p === null || p === parts[i]);
    if (is('GET', 'session')) {
      // The first page waits for no slow daemon: one still connecting is listed once it answers.
      const session: SessionSummary = { role: caller.token.role, tokenId: caller.token.id, uris: this.allURIs(), hosts: await this.hosts(caller, SESSION_HOSTS_WAIT_MS) };
      return session;
    }
    if (is('GET', 'hosts')) return this.hosts(caller);
    if (is('POST', 'hosts')) return this.addHost(caller, body);
    if (is('DELETE', 'hosts')) {
      this.removeHost(stringField(body, 'uri'));
      return undefined;
    }
    const uri = url.searchParams.get('uri') ?? this.opts.uris[0]!;
    if (!this.serves(uri)) throw new HttpError(404, `this daemon does not serve ${uri}`);
    const remote = this.remotes.get(uri);
    // A remote daemon that cannot be reached is a 503, not the 404 its NO_CONNECT would give.
    const conn = (): Promise<Connection> =>
      remote === undefined
        ? this.connection(uri, caller.readonly)
        : this.connection(uri, caller.readonly).catch((err: unknown) => {
            throw new HttpError(503, `${remote.label} is unreachable: ${err instanceof Error ? err.message : String(err)}`);
          });
    const sampler = this.sampler(uri);

    if (is('GET', 'domains')) return listDomains(await conn());
    if (is('POST', 'domains')) {
      const xml = stringField(body, 'xml');
      const dom = await (await conn()).defineXML(xml);
      return summarize(dom);
    }
    if (is('GET', 'pools')) return listPools(await conn());
    if (is('GET', 'pools', null, 'volumes')) return listVolumes(await (await conn()).storagePoolLookupByName(parts[1]!));
    if (is('POST', 'pools', null, 'volumes')) {
      const name = stringField(body, 'name');
      if (!/^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,254}$/.test(name)) throw new HttpError(400, "'name' must be a file name of letters, digits, '_', '.', '+' and '-'");
      const capacity = body.capacity;
      if (typeof capacity !== 'number' || !Number.isSafeInteger(capacity) || capacity <= 0) throw new HttpError(400, "'capacity' must be a positive number of bytes");
      const format = body.format === undefined ? 'qcow2' : stringField(body, 'format');
      if (!(VOLUME_FORMATS as readonly string[]).includes(format)) throw new HttpError(400, `'format' must be one of ${VOLUME_FORMATS.join(', ')}`);
      return createVolume(await (await conn()).storagePoolLookupByName(parts[1]!), name, capacity, format);
    }
    if (is('GET', 'networks')) return listNetworks(await conn());
    if (parts[0] !== 'domains' || parts.length < 2) throw new HttpError(404, 'no such route');
    const dom = await (await conn()).lookupByUUIDString(parts[1]!);
    if (is('GET', 'domains', null)) return summarize(dom);
    if (is('GET', 'domains', null, 'xml')) return { xml: await domainXML(dom, url.searchParams.get('inactive') === '1') };
    if (is('PUT', 'domains', null, 'xml')) {
      const xml = stringField(body, 'xml');
      // Defining XML of another UUID would define another domain, not edit this one.
      const other = /<uuid>\s*([^<\s]+)\s*<\/uuid>/.exec(xml)?.[1];
      if (other !== undefined && other.toLowerCase().replace(/-/g, '') !== dom.UUIDString().replace(/-/g, '')) {
        throw new HttpError(400, `the XML's UUID ${other} is not this domain's (${dom.UUIDString()})`);
      }
      const saved = await (await conn()).defineXMLFlags(xml, DomainDefineFlags.VALIDATE);
      return { summary: await summarize(saved), xml: await domainXML(saved, true) };
    }
    if (is('PUT', 'domains', null, 'tags')) {
      const tags = body.tags;
      if (!Array.isArray(tags) || !tags.every((t): t is string => typeof t === 'string' && TAG_RE.test(t))) {
        throw new HttpError(400, "'tags' must be a list of tags of 1 to 64 letters, digits and '_ . : + -'");
      }
      const unique = [...new Set(tags)];
      if (unique.length > MAX_TAGS) throw new HttpError(400, `at most ${MAX_TAGS} tags`);
      await setDomainTags(dom, unique);
      return summarize(dom);
    }
    if (is('GET', 'domains', null, 'metrics')) return { intervalMs: this.opts.metricsIntervalMs ?? METRICS_INTERVAL_MS, samples: sampler.history(dom.UUIDString()) };
    if (is('POST', 'domains', null, 'actions', null)) {
      const action = parts[3] as DomainAction;
      if (!(ACTIONS as readonly string[]).includes(action)) throw new HttpError(404, `unknown action '${parts[3]}'`);
      await runAction(dom, action);
      return summarize(dom);
    }
    if (is('GET', 'domains', null, 'snapshots')) return listSnapshots(dom);
    if (is('POST', 'domains', null, 'snapshots')) {
      const snap = await dom.snapshotCreateXML(stringField(body, 'xml'), numberField(body, 'flags'));
      return { name: snap.getName() };
    }
    if (is('GET', 'domains', null, 'snapshots', null, 'xml')) return { xml: await (await dom.snapshotLookupByName(parts[3]!)).getXMLDesc() };
    if (is('POST', 'domains', null, 'snapshots', null, 'revert')) {
      await dom.revertToSnapshot(await dom.snapshotLookupByName(parts[3]!), numberField(body, 'flags'));
      return summarize(dom);
    }
    if (is('DELETE', 'domains', null, 'snapshots', null)) {
      const snap = await dom.snapshotLookupByName(parts[3]!);
      await snap.delete(snapshotDeleteFlags({ children: body.children === true, childrenOnly: body.childrenOnly === true, metadataOnly: body.metadataOnly === true }));
      return undefined;
    }
    if (is('GET', 'domains', null, 'undefine')) return undefinePreview(dom);
    if (is('POST', 'domains', null, 'undefine')) {
      const flags = body.flags === undefined ? [] : body.flags;
      if (!Array.isArray(flags) || !flags.every((f): f is string => typeof f === 'string')) throw new HttpError(400, "'flags' must be a list of flag names");
      await dom.undefineFlags(undefineFlags(flags));
      return undefined;
    }
    throw new HttpError(404, 'no such route');
  }

  /**
   * POST /api/hosts `{uri, label?}` (an admin's): shows one more daemon from now on, as
   * `--http-connect` does, until the daemon stops or it is removed. It is added even when it
   * cannot be reached yet (shown as disconnected); the answer says which.
   */
  private async addHost(caller: Caller, body: Record<string, unknown>): Promise<HostSummary> {
    const uri = stringField(body, 'uri').trim();
    const problem = remoteURIProblem(uri);
    if (problem !== null) throw new HttpError(400, problem);
    const host = new URL(uri).hostname;
    const label = body.label === undefined || body.label === '' ? (host === '' ? uri : host) : stringField(body, 'label');
    if (!/^[A-Za-z0-9_.:+-]{1,64}$/.test(label) && label !== uri) throw new HttpError(400, "'label' must be 1 to 64 letters, digits and '_ . : + -'");
    if (this.serves(uri)) throw new HttpError(409, `${uri} is shown already`);
    this.remotes.set(uri, { label, error: null });
    this.opts.log('info', `web console: token ${caller.token.id} added ${uri} as '${label}'`);
    return (await this.hosts(caller)).find((h) => h.uri === uri)!;
  }

  /** DELETE /api/hosts `{uri}` (an admin's): stops showing a daemon added by --http-connect or POST. */
  private removeHost(uri: string): void {
    if (this.opts.uris.includes(uri)) throw new HttpError(409, `${uri} is one of this daemon's own URIs`);
    if (!this.remotes.delete(uri)) throw new HttpError(404, `${uri} is not shown`);
    this.samplers.get(uri)?.stop();
    this.samplers.delete(uri);
    for (const key of [`ro ${uri}`, `rw ${uri}`]) {
      const p = this.conns.get(key);
      this.conns.delete(key);
      void p?.then((c) => c.close()).catch(() => undefined);
    }
  }

  /** The URI's metrics sampler, started on its first request (a read-only connection is enough). */
  private sampler(uri: string): MetricsSampler {
    let s = this.samplers.get(uri);
    if (s === undefined) {
      s = new MetricsSampler(
        () => this.connection(uri, true),
        this.opts.metricsIntervalMs,
        (err) => this.opts.log('debug', `web console: metrics of ${uri}: ${err instanceof Error ? err.message : String(err)}`),
      );
      this.samplers.set(uri, s);
      s.start();
    }
    return s;
  }

  /**
   * One shared connection per URI and access level, opened on first use. A remote daemon's
   * connection that was lost (the daemon stopped, the network went) is dropped and opened anew.
   */
  private async connection(uri: string, readonly: boolean): Promise<Connection> {
    const key = `${readonly ? 'ro' : 'rw'} ${uri}`;
    const remote = this.remotes.get(uri);
    for (;;) {
      let p = this.conns.get(key);
      if (p === undefined) {
        p = remote === undefined ? this.opts.open(uri, readonly) : withTimeout(this.opts.open(uri, readonly), REMOTE_OPEN_TIMEOUT_MS, `${uri} did not answer`);
        this.conns.set(key, p);
        p.then(
          () => {
            if (remote !== undefined) remote.error = null;
          },
          (err: unknown) => {
            if (this.conns.get(key) === p) this.conns.delete(key);
            if (remote !== undefined) {
              remote.error = err instanceof Error ? err.message : String(err);
              this.opts.log('info', `web console: ${uri} is unreachable: ${remote.error}`);
            }
          },
        );
        return p;
      }
      if (remote === undefined) return p;
      const c = await p;
      if (await c.isAlive().catch(() => false)) return c;
      // Lost: forget it (once, whoever notices first) and open again.
      if (this.conns.get(key) === p) {
        this.conns.delete(key);
        remote.error = 'the connection was lost';
        this.opts.log('info', `web console: lost the connection to ${uri}`);
        void c.close().catch(() => undefined);
      }
    }
  }

  // Authentication.

  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJSON(req);
    const token = typeof body.token === 'string' ? this.opts.tokens.verify(body.token) : null;
    if (token === null) {
      this.opts.log('info', 'web console: refused a login with an unknown token');
      throw new HttpError(401, 'unknown token');
    }
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, { tokenId: token.id, role: token.role, expires: Date.now() + SESSION_TTL_MS });
    res.setHeader('Set-Cookie', `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_TTL_MS / 1000}`);
    this.opts.log('info', `web console: session opened with token ${token.id} (${token.role})`);
    sendJSON(res, 200, { role: token.role, tokenId: token.id });
  }

  private logout(req: IncomingMessage, res: ServerResponse): void {
    const sid = cookie(req, SESSION_COOKIE);
    if (sid !== null) this.sessions.delete(sid);
    res.setHeader('Set-Cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
    sendJSON(res, 204, undefined);
  }

  /** The caller of `req` by its bearer token or session cookie; null when neither is valid. */
  private authenticate(req: IncomingMessage): Caller | null {
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const m = /^Bearer\s+(\S+)$/i.exec(auth);
      const token = m === null ? null : this.opts.tokens.verify(m[1]!);
      return token === null ? null : { token, readonly: token.role === 'readonly' };
    }
    const sid = cookie(req, SESSION_COOKIE);
    if (sid === null) return null;
    const s = this.sessions.get(sid);
    if (s === undefined) return null;
    if (s.expires < Date.now() || !this.opts.tokens.has(s.tokenId)) {
      this.sessions.delete(sid);
      return null;
    }
    return { token: { id: s.tokenId, role: s.role, label: '' }, readonly: s.role === 'readonly' };
  }

  /** Ends the WebSockets and sessions of tokens no longer in the token file. */
  private dropRevoked(): void {
    for (const [ws, tokenId] of this.sockets) {
      if (!this.opts.tokens.has(tokenId)) ws.close(4401, 'token revoked');
    }
    for (const [sid, s] of this.sessions) if (!this.opts.tokens.has(s.tokenId) || s.expires < Date.now()) this.sessions.delete(sid);
  }

  /**
   * DNS rebinding: a page of another site that resolves its name to this address must not reach
   * the API, so the Host header must name this server (its address, or localhost on loopback).
   */
  private checkHost(req: IncomingMessage): void {
    const host = req.headers.host;
    if (host === undefined) throw new HttpError(400, 'no Host header');
    const allowed = new Set([`${this.opts.host}:${this.port}`, `[${this.opts.host}]:${this.port}`]);
    if (isLoopback(this.opts.host)) for (const h of ['localhost', '127.0.0.1', '[::1]']) allowed.add(`${h}:${this.port}`);
    if (!allowed.has(host.toLowerCase())) throw new HttpError(421, `this server does not answer for host '${host}'`);
  }

  /**
   * Cross-site requests are refused: a browser's Origin (or Sec-Fetch-Site) must say the request
   * comes from this very server. Mutating requests must also be JSON, which no plain HTML form
   * can send, so a forged form post fails even from a browser that omits both headers.
   */
  private checkSameOrigin(req: IncomingMessage, mutating: boolean): void {
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host ?? ''}`) throw new HttpError(403, 'cross-origin request refused');
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new HttpError(403, 'cross-site request refused');
    if (mutating && !/^application\/json\b/i.test(req.headers['content-type'] ?? '')) throw new HttpError(415, 'the body must be application/json');
  }

  // The UI's files.

  private async serveUI(pathname: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.opts.uiRoot === null) {
      if (pathname !== '/') throw new HttpError(404, 'not found');
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>tsvirt</title><p>The web console UI is not built. Run <code>npm run build</code>.</p>');
      return;
    }
    const rel = normalize(decodeURIComponent(pathname)).replace(/^(\.\.(\/|\\|$))+/, '');
    let file = join(this.opts.uiRoot, rel);
    if (file !== this.opts.uiRoot && !file.startsWith(this.opts.uiRoot + sep)) throw new HttpError(404, 'not found');
    const st = await stat(file).catch(() => null);
    // Client-side routes get the page itself.
    if (st === null || st.isDirectory()) file = join(this.opts.uiRoot, 'index.html');
    const data = await readFile(file).catch(() => null);
    if (data === null) throw new HttpError(404, 'not found');
    res.writeHead(200, {
      'Content-Type': MIME[extname(file)] ?? 'application/octet-stream',
      'Content-Length': data.length,
      'Cache-Control': file.includes(`${sep}assets${sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : data);
  }

  // WebSockets.

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const refuse = (status: number, text: string): void => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    let caller: Caller | null;
    let url: URL;
    try {
      this.checkHost(req);
      // Browsers always send Origin on a WebSocket: a foreign page cannot open one with our cookie.
      this.checkSameOrigin(req, false);
      url = new URL(req.url ?? '/', 'http://localhost');
      caller = this.authenticate(req);
    } catch (err) {
      refuse(err instanceof HttpError ? err.status : 400, 'Refused');
      return;
    }
    if (caller === null) {
      refuse(401, 'Unauthorized');
      return;
    }
    const parts = url.pathname.split('/').slice(2).map(decodeURIComponent);
    const uri = url.searchParams.get('uri') ?? this.opts.uris[0]!;
    if (!this.serves(uri)) {
      refuse(404, 'Not Found');
      return;
    }
    const kind =
      parts.length === 1 && parts[0] === 'events'
        ? 'events'
        : parts.length === 4 && parts[0] === 'domains' && parts[2] === 'console' && (parts[3] === 'serial' || parts[3] === 'vnc')
          ? parts[3]
          : null;
    if (kind === null) {
      refuse(404, 'Not Found');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const tokenId = caller.token.id;
      this.sockets.set(ws, tokenId);
      ws.on('close', () => this.sockets.delete(ws));
      const run =
        kind === 'events'
          ? this.events(ws, uri, caller)
          : kind === 'serial'
            ? this.serial(ws, uri, parts[1]!, caller, url.searchParams)
            : this.vnc(ws, uri, parts[1]!, caller);
      run.catch((err: unknown) => {
        const message = err instanceof VirError || err instanceof HttpError ? err.message : 'internal error';
        if (!(err instanceof VirError || err instanceof HttpError)) this.opts.log('warn', `web console: ${err instanceof Error ? err.message : String(err)}`);
        if (ws.readyState === ws.OPEN) {
          ws.send(JSON.stringify({ error: { message } }));
          ws.close(4000, message.slice(0, 120));
        }
      });
    });
  }

  /** Lifecycle events of `uri`, one JSON message each, until the socket closes. */
  private async events(ws: WebSocket, uri: string, caller: Caller): Promise<void> {
    const conn = await this.connection(uri, caller.readonly);
    const abort = new AbortController();
    ws.on('close', () => abort.abort());
    if (this.remotes.has(uri)) {
      // A lost remote daemon sends no more events: end the socket so the page knows and retries.
      const timer = setInterval(() => {
        void conn.isAlive().then(
          (alive) => {
            if (!alive && ws.readyState === ws.OPEN) ws.close(4503, 'connection lost');
          },
          () => undefined,
        );
      }, LIVENESS_INTERVAL_MS);
      timer.unref();
      ws.on('close', () => clearInterval(timer));
    }
    for await (const ev of conn.events({ signal: abort.signal })) {
      if (ws.readyState !== ws.OPEN) break;
      if (ws.bufferedAmount > MAX_WS_BUFFERED) {
        ws.close(4008, 'too slow');
        break;
      }
      // The domain's new summary rides along, so a page updates its row without asking again;
      // none when the domain is gone (undefined while inactive, or a transient one stopped).
      let summary: DomainSummary | null = null;
      try {
        summary = await summarize(ev.domain);
      } catch (err) {
        if (!(err instanceof VirError && err.code === ErrorNumber.NO_DOMAIN)) throw err;
      }
      ws.send(JSON.stringify({ uri, uuid: ev.domain.UUIDString(), name: ev.domain.name(), event: ev.event, detail: ev.detail, summary }));
    }
  }

  /**
   * The domain's serial console over a libvirt console stream. Binary messages both ways; a
   * read-only caller's input is dropped. `?force=1` takes the console over from another session
   * (VIR_DOMAIN_CONSOLE_FORCE); `?dev=NAME` picks the device.
   */
  private async serial(ws: WebSocket, uri: string, uuid: string, caller: Caller, params: URLSearchParams): Promise<void> {
    const conn = await this.connection(uri, caller.readonly);
    const dom = await conn.lookupByUUIDString(uuid);
    const stream = conn.newStream();
    // A read-only connection may not open a console (libvirt refuses it): the read-only token's
    // view comes through the daemon's read-write connection, and its input never reaches it.
    const consoleConn = caller.readonly ? await this.connection(uri, false) : conn;
    const target = consoleConn === conn ? dom : await consoleConn.lookupByUUIDString(uuid);
    const s = consoleConn === conn ? stream : consoleConn.newStream();
    await target.openConsole(params.get('dev'), s, params.get('force') === '1' ? 1 : 0);
    if (s !== stream) void stream.abort().catch(() => undefined);
    const duplex = s.toDuplex();
    this.bridge(ws, duplex, caller.readonly ? null : (data) => data);
  }

  /** The domain's VNC display, from QEMU's socket, through the view-only filter for a read-only caller. */
  private async vnc(ws: WebSocket, uri: string, uuid: string, caller: Caller): Promise<void> {
    const conn = await this.connection(uri, caller.readonly);
    const dom = await conn.lookupByUUIDString(uuid);
    const def = parseDomainXML(await dom.XMLDesc());
    const g = def.devices.graphics.find((x) => x.type === 'vnc');
    if (g === undefined) throw new HttpError(404, 'the domain has no VNC display');
    let sock: Socket;
    if (g.socket !== undefined) sock = netConnect(g.socket);
    else if (g.port !== undefined && g.port > 0) sock = netConnect(g.port, isLoopback(g.listen ?? '127.0.0.1') ? (g.listen ?? '127.0.0.1') : '127.0.0.1');
    else throw new HttpError(409, 'the domain is not running');
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    const filter = caller.readonly ? new RfbViewOnlyFilter() : null;
    this.bridge(ws, sock, filter === null ? (data) => data : (data) => filter.push(data));
  }

  /**
   * Carries bytes between a WebSocket and a byte stream until either ends. `input` maps what the
   * browser sends before it goes on (null drops it all); a throw there ends both sides.
   */
  private bridge(ws: WebSocket, channel: Duplex, input: ((data: Buffer) => Buffer) | null): void {
    let closed = false;
    const end = (): void => {
      if (closed) return;
      closed = true;
      channel.destroy();
      if (ws.readyState === ws.OPEN) ws.close(1000, 'closed');
    };
    channel.on('data', (chunk: Buffer) => {
      if (ws.readyState !== ws.OPEN) return;
      ws.send(chunk, { binary: true });
      // Backpressure: stop reading the guest while the browser lags.
      if (ws.bufferedAmount > MAX_WS_BUFFERED / 4) {
        channel.pause();
        const resume = setInterval(() => {
          if (closed || ws.bufferedAmount < MAX_WS_BUFFERED / 16) {
            clearInterval(resume);
            if (!closed) channel.resume();
          }
        }, 10);
      }
    });
    channel.on('end', end);
    channel.on('close', end);
    channel.on('error', end);
    ws.on('message', (data: RawData) => {
      if (input === null) return;
      try {
        const out = input(toBuffer(data));
        if (out.length > 0) channel.write(out);
      } catch (err) {
        if (!(err instanceof RfbFilterError)) throw err;
        this.opts.log('info', `web console: view-only VNC client sent what the filter refuses: ${err.message}`);
        end();
      }
    });
    ws.on('close', end);
    ws.on('error', end);
  }
}

function setSecurityHeaders(res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
}

function sendJSON(res: ServerResponse, status: number, value: unknown): void {
  if (status === 204 || value === undefined) {
    res.writeHead(status === 200 ? 204 : status);
    res.end();
    return;
  }
  const body = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

async function readJSON(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, `the body exceeds ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpError(400, 'the body must be a JSON object');
  return value as Record<string, unknown>;
}

function stringField(body: Record<string, unknown>, name: string): string {
  const v = body[name];
  if (typeof v !== 'string') throw new HttpError(400, `'${name}' must be a string`);
  return v;
}

function numberField(body: Record<string, unknown>, name: string): number {
  const v = body[name] ?? 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new HttpError(400, `'${name}' must be a non-negative integer`);
  return v;
}

function cookie(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return null;
}

/** `p`, or a 504 HttpError after `ms` (a connection that comes later is closed). */
function withTimeout(p: Promise<Connection>, ms: number, message: string): Promise<Connection> {
  return new Promise((resolve, reject) => {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      reject(new HttpError(504, message));
    }, ms);
    p.then(
      (c) => {
        clearTimeout(timer);
        if (late) void c.close().catch(() => undefined);
        else resolve(c);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
