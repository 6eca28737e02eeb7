/**
 * One client of tsvirtd: its socket, its frame reader, its hypervisor Connection, its event
 * registrations and its keepalive state. Calls are answered in order, one at a time, as virsh
 * and python-libvirt issue them; events and keepalive messages go out between replies.
 *
 * Limits (docs/security.md): as libvirtd's max_client_requests, a call counts until its reply has
 * left for the kernel, and while a client has that many the daemon stops reading its socket, so a
 * client that pipelines calls and never reads the replies holds a few replies and some kernel
 * buffer, not the daemon's memory. Unflushed output is bounded in bytes and in messages (events go
 * out whether or not the client reads), and event callbacks per client are capped.
 */
import type { Socket } from 'node:net';
import { Domain, DomainEventID, VirError, type Connection } from '../index.js';
import { ErrorDomain, ErrorNumber } from '../core/enums.generated.js';
import { FrameReader, MessageStatus, MessageType, encodeFrame, type Frame, type MessageHeader } from '../rpc/message.js';
import { XdrError, XdrWriter, decode } from '../rpc/xdr.js';
import {
  KEEPALIVE_PROGRAM,
  KEEPALIVE_PROTOCOL_VERSION,
  DrvFeature,
  KeepaliveProc,
  REMOTE_PROGRAM,
  REMOTE_PROTOCOL_VERSION,
  VIR_CONNECT_RO,
  uuidToString,
  xError,
  type WireDomain,
  type WireError,
} from '../rpc/protocol.js';
import {
  Proc,
  isTableProc,
  legacyLifecycleMsg,
  lifecycleMsg,
  procedure,
  readOnlyRefusal,
  type ArgsOf,
  type RetOf,
  type TableProc,
} from '../rpc/procedures.js';
import { unservedCall } from '../rpc/unsupported.js';
import { DOMAIN_DOCUMENT, SNAPSHOT_DOCUMENT, decodeXmlBytes } from '../conf/xml.js';
import { HANDLERS, wireDomain, type HandlerContext } from './handlers.js';
import { anyToWireError, notOpenError, rpcError, toWireError } from './errors.js';
import type { ConnectionFactory } from './connections.js';
import type { Logger } from './log.js';

/**
 * The answer to arguments that do not decode. libvirtd passes a string's bytes on as they are,
 * so a document that is not UTF-8 reaches libxml2, which refuses it: tsvirtd gives that same XML
 * error. Anything else is libvirtd's "Unable to decode message payload".
 */
function undecodableArgs(proc: TableProc, err: XdrError): WireError {
  if (err.code === 'XDR_BAD_UTF8' && err.field === 'xml' && err.bytes !== undefined) {
    const kind = proc === Proc.DOMAIN_SNAPSHOT_CREATE_XML ? SNAPSHOT_DOCUMENT : DOMAIN_DOCUMENT;
    try {
      decodeXmlBytes(err.bytes, kind);
    } catch (xmlErr) {
      if (xmlErr instanceof VirError) return toWireError(xmlErr);
    }
  }
  return rpcError('Unable to decode message payload');
}

/** Bytes a client may leave unread before it is dropped (two of libvirt's largest messages). */
export const MAX_PENDING_OUTPUT = 64 * 1024 * 1024;
/**
 * Messages a client may leave unread before it is dropped: each costs Node a write request beyond
 * its bytes, so many small event messages would outgrow MAX_PENDING_OUTPUT's bound in memory.
 */
export const MAX_PENDING_MESSAGES = 10_000;
/** libvirtd's max_client_requests: calls of one client queued or in flight at once. */
export const MAX_CLIENT_REQUESTS = 5;
/**
 * Event callbacks one client may hold. libvirtd has no such limit; each costs memory and a call
 * per event, so without one a single client could slow every event for everyone.
 */
export const MAX_EVENT_CALLBACKS = 1024;

/** libvirtd's keepalive defaults: a ping after 5 s of silence, drop after 5 unanswered. */
export const KEEPALIVE_INTERVAL_MS = 5000;
export const KEEPALIVE_COUNT = 5;

export interface ClientOptions {
  id: number;
  socket: Socket;
  /** Accepted on libvirt-sock-ro: every connection it opens is read-only. */
  readonlySocket: boolean;
  factory: ConnectionFactory;
  log: Logger;
  keepaliveIntervalMs?: number;
  keepaliveCount?: number;
  /** Bytes a client may leave unread before it is dropped (default MAX_PENDING_OUTPUT). */
  maxPendingOutput?: number;
  /** Messages a client may leave unread before it is dropped (default MAX_PENDING_MESSAGES). */
  maxPendingMessages?: number;
  /** Calls queued or unanswered before the socket is no longer read (default MAX_CLIENT_REQUESTS). */
  maxClientRequests?: number;
  /** Event callbacks (both kinds) the client may hold (default MAX_EVENT_CALLBACKS). */
  maxEventCallbacks?: number;
  /**
   * Advertise VIR_DRV_FEATURE_REMOTE_EVENT_CALLBACK (default true). Without it, libvirt's clients
   * register events with the legacy procedures (105/106) and get proc 107 messages, as from a
   * libvirtd older than 1.2.1.
   */
  eventCallbacks?: boolean;
  onClose: (client: Client) => void;
}

interface EventRegistration {
  eventID: number;
  /** Connection-level registration, for lifecycle events; null for events tsvirt never raises. */
  tsvirtID: number | null;
}

export class Client implements HandlerContext {
  readonly id: number;
  private readonly socket: Socket;
  private readonly reader = new FrameReader();
  private connection: Connection | null = null;
  /** The open connection's durability barrier (group commit; see connections.ts). */
  private durable: () => Promise<void> = alreadyDurable;
  private readonlyConn = false;
  private readonly events = new Map<number, EventRegistration>();
  /** Connection-level ID of the legacy lifecycle registration (proc 105), if any. */
  private legacyEvent: number | null = null;
  private nextCallbackID = 0;
  /** Calls read and not yet dispatched (at most max_client_requests). */
  private readonly calls: Frame[] = [];
  /** Calls read whose reply has not left for the kernel yet (libvirtd's nrequests). */
  private requests = 0;
  private readonly maxRequests: number;
  /** The socket is paused: the client has maxRequests calls outstanding. */
  private paused = false;
  /** Called once the reply of the call being dispatched has been flushed (or was never sent). */
  private replyFlushed: (() => void) | null = null;
  /** Writes not yet handed to the kernel. */
  private unflushed = 0;
  /** The dispatch loop, while it runs (shutdown waits for it). */
  private queue: Promise<void> = Promise.resolve();
  private running = false;
  private closed = false;
  private keepalive = false;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private lastReceived = Date.now();
  private unanswered = 0;
  private readonly kaInterval: number;
  private readonly kaCount: number;

  constructor(private readonly opts: ClientOptions) {
    this.id = opts.id;
    this.socket = opts.socket;
    this.kaInterval = opts.keepaliveIntervalMs ?? KEEPALIVE_INTERVAL_MS;
    this.kaCount = opts.keepaliveCount ?? KEEPALIVE_COUNT;
    this.maxRequests = Math.max(1, opts.maxClientRequests ?? MAX_CLIENT_REQUESTS);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err) => opts.log.debug(`client ${this.id}: socket error: ${err.message}`));
    this.socket.on('close', () => void this.shutdown('peer closed'));
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.lastReceived = Date.now();
    this.unanswered = 0;
    this.reader.append(chunk);
    this.readFrames();
  }

  /**
   * Takes frames from what was read while the client has fewer than max_client_requests calls
   * outstanding; at the limit the rest waits, unparsed, and the socket is no longer read.
   */
  private readFrames(): void {
    while (!this.closed && this.requests < this.maxRequests) {
      let frame: Frame | null;
      try {
        frame = this.reader.next();
      } catch (err) {
        // A length word outside 28..32 MiB: the stream cannot be resynchronised. libvirtd drops
        // the client too.
        this.opts.log.warn(`client ${this.id}: ${(err as Error).message}; closing`);
        void this.shutdown('protocol error');
        return;
      }
      if (frame === null) break;
      this.onFrame(frame);
    }
    if (this.closed) return;
    const full = this.requests >= this.maxRequests;
    if (full === this.paused) return;
    this.paused = full;
    if (full) this.socket.pause();
    else this.socket.resume();
  }

  private onFrame(frame: Frame): void {
    const h = frame.header;
    if (h.prog === KEEPALIVE_PROGRAM) {
      if (h.type === MessageType.MESSAGE && h.proc === KeepaliveProc.PING) {
        this.keepalive = true;
        this.send({ ...keepaliveHeader(KeepaliveProc.PONG) });
      }
      // PONG (or anything else): receiving it already counted as life.
      return;
    }
    if (h.type !== MessageType.CALL) {
      // Replies, stream data and messages from a client have no meaning for us: ignore them.
      this.opts.log.debug(`client ${this.id}: ignoring message type ${h.type} proc ${h.proc}`);
      return;
    }
    // Calls are answered in order, one at a time.
    this.calls.push(frame);
    this.requests++;
    this.pump();
  }

  private pump(): void {
    if (this.running || this.closed) return;
    this.running = true;
    this.queue = (async () => {
      for (let frame = this.calls.shift(); frame !== undefined && !this.closed; frame = this.calls.shift()) {
        let done = false;
        const finish = (): void => {
          if (done) return;
          done = true;
          this.callAnswered();
        };
        this.replyFlushed = finish;
        try {
          await this.dispatch(frame);
        } catch (err) {
          this.opts.log.error(`client ${this.id}: dispatch failed: ${(err as Error).stack ?? String(err)}`);
        }
        // No reply went out (the client is gone, or the send was refused): the call is over.
        if (this.replyFlushed === finish) {
          this.replyFlushed = null;
          finish();
        }
      }
      this.running = false;
    })();
  }

  /** A call's reply has left: below the limit again, what waits is read. */
  private callAnswered(): void {
    this.requests--;
    if (!this.closed) this.readFrames();
  }

  /** Answers one CALL. Never throws. */
  async dispatch(frame: Frame): Promise<void> {
    const h = frame.header;
    if (this.closed) return;
    if (h.prog !== REMOTE_PROGRAM || h.vers !== REMOTE_PROTOCOL_VERSION) {
      this.replyError(h, rpcError(`Cannot find program ${h.prog} version ${h.vers}`));
      return;
    }
    if (!isTableProc(h.proc)) {
      // Not implemented here: answer as libvirtd does with a driver lacking the function.
      const answer = unservedCall(h.proc, this.readonlyConn);
      if (answer.kind === 'unknown') {
        this.opts.log.info(`client ${this.id}: unknown procedure ${h.proc}`);
        this.replyError(h, rpcError(`unknown procedure: ${h.proc}`));
      } else if (answer.notOpen !== null && this.connection === null) {
        this.replyError(h, toWireError(answer.notOpen));
      } else {
        this.opts.log.debug(`client ${this.id}: unsupported procedure ${h.proc}`);
        this.replyError(h, toWireError(answer.error));
      }
      return;
    }
    await this.serve(h.proc, h, frame.payload);
  }

  /** Answers one call of a procedure of the table, typed by its entry. Never throws. */
  private async serve<P extends TableProc>(proc: P, h: MessageHeader, payload: Buffer): Promise<void> {
    const spec = procedure(proc);
    if (this.opts.log.enabled('debug')) this.opts.log.debug(`client ${this.id}: call ${Proc[proc]} serial ${h.serial}`);
    let args: ArgsOf<P>;
    try {
      args = decode(spec.args, payload);
    } catch (err) {
      if (!(err instanceof XdrError)) throw err;
      this.opts.log.debug(`client ${this.id}: ${Proc[proc]}: ${err.message}`);
      this.replyError(h, undecodableArgs(proc, err));
      return;
    }
    if (this.connection === null && !spec.beforeOpen) {
      this.replyError(h, notOpenError());
      return;
    }
    if (this.connection !== null && this.readonlyConn) {
      const refusal = readOnlyRefusal(proc);
      if (refusal !== null) {
        this.replyError(h, toWireError(refusal));
        return;
      }
    }
    let result: RetOf<P>;
    // Taken before the call: CONNECT_CLOSE drops the connection, yet what it saw must be durable.
    let durable = this.durable;
    try {
      result = await HANDLERS[proc](this, args);
      durable = this.durable === alreadyDurable ? durable : this.durable;
      // No reply before what the call changed — or read of another client's uncommitted change —
      // is on disk: with group commit the COMMIT comes at the end of this loop turn.
      await durable();
    } catch (err) {
      if (!(err instanceof VirError)) this.opts.log.warn(`client ${this.id}: ${Proc[proc]}: ${(err as Error)?.stack ?? String(err)}`);
      // A refused call changed nothing, but may have read another client's pending change.
      await durable().catch(() => {});
      this.replyError(h, anyToWireError(err));
      return;
    }
    let out: Buffer;
    try {
      const w = new XdrWriter();
      spec.ret.enc(w, result);
      out = w.finish();
    } catch (err) {
      this.replyError(h, anyToWireError(err));
      return;
    }
    this.send({ ...h, type: MessageType.REPLY, status: MessageStatus.OK }, out);
  }

  private replyError(h: MessageHeader, e: WireError): void {
    const w = new XdrWriter();
    xError.enc(w, e);
    this.send({ ...h, type: MessageType.REPLY, status: MessageStatus.ERROR }, w.finish());
  }

  private send(h: MessageHeader, payload?: Buffer): void {
    if (this.closed || this.socket.destroyed) return;
    // A client that stops reading (events keep coming) must not make the daemon buffer without
    // bound: past the limit it is dropped, as libvirtd drops a client whose queue overflows.
    const limit = this.opts.maxPendingOutput ?? MAX_PENDING_OUTPUT;
    const maxMessages = this.opts.maxPendingMessages ?? MAX_PENDING_MESSAGES;
    if (this.socket.writableLength > limit || this.unflushed >= maxMessages) {
      this.opts.log.warn(`client ${this.id}: more than ${this.unflushed >= maxMessages ? `${maxMessages} messages` : `${limit} bytes`} unread; closing`);
      void this.shutdown('output queue full');
      return;
    }
    // The reply of the call being dispatched frees its place once it has left.
    const answered = h.type === MessageType.REPLY ? this.replyFlushed : null;
    if (answered !== null) this.replyFlushed = null;
    this.unflushed++;
    try {
      this.socket.write(encodeFrame(h, payload), () => {
        // Also called, with an error, for what a destroyed socket never sent.
        this.unflushed--;
        answered?.();
      });
    } catch (err) {
      this.opts.log.warn(`client ${this.id}: cannot send: ${(err as Error).message}`);
      void this.shutdown('send failed');
    }
  }

  // HandlerContext.

  conn(): Connection {
    if (this.connection === null) {
      throw VirError.report(ErrorDomain.RPC, ErrorNumber.INTERNAL_ERROR, 'hypervisor connection not open');
    }
    return this.connection;
  }

  async open(name: string | null, flags: number): Promise<void> {
    if (this.connection !== null) {
      throw VirError.report(ErrorDomain.RPC, ErrorNumber.INTERNAL_ERROR, 'connection already open');
    }
    const readonly = this.opts.readonlySocket || (flags & VIR_CONNECT_RO) !== 0;
    const uri = name ?? process.env.TSVIRT_DEFAULT_URI ?? process.env.LIBVIRT_DEFAULT_URI ?? 'test:///session';
    const opened = await this.opts.factory.open(uri, readonly);
    this.connection = opened.connection;
    this.durable = opened.durable;
    this.readonlyConn = readonly;
    if (this.closed) {
      // The peer went away while the driver opened.
      await this.connection.close().catch(() => {});
      this.connection = null;
      this.durable = alreadyDurable;
      return;
    }
    this.opts.log.info(`client ${this.id}: opened ${uri}${readonly ? ' (read-only)' : ''}`);
  }

  async close(): Promise<void> {
    await this.releaseConnection();
  }

  registerEvent(eventID: number, dom: WireDomain | null): number {
    const conn = this.conn();
    if (!Number.isInteger(eventID) || eventID < 0 || eventID > 255) {
      throw VirError.invalidArg(ErrorDomain.DOMAIN, `unsupported event ID ${eventID}`);
    }
    this.checkEventLimit();
    const callbackID = this.nextCallbackID++;
    let tsvirtID: number | null = null;
    if (eventID === DomainEventID.LIFECYCLE) {
      const filter = dom === null ? null : new Domain(conn, { name: dom.name, uuid: uuidToString(dom.uuid), id: dom.id });
      tsvirtID = conn.domainEventRegisterAny(filter, DomainEventID.LIFECYCLE, (_c, d, event, detail) => {
        const w = new XdrWriter(64);
        lifecycleMsg.enc(w, { callbackID, dom: wireDomain(d), event, detail });
        this.sendEvent(Proc.DOMAIN_EVENT_CALLBACK_LIFECYCLE, w.finish());
      });
    }
    // Other event IDs are accepted, as libvirtd accepts them for any driver; tsvirt never raises them.
    this.events.set(callbackID, { eventID, tsvirtID });
    return callbackID;
  }

  registerLegacyEvent(): void {
    const conn = this.conn();
    // One per client, as libvirtd (its client library adds further callbacks on its own side).
    if (this.legacyEvent !== null) throw VirError.report(ErrorDomain.NONE, ErrorNumber.INVALID_ARG, 'event callback already tracked');
    this.checkEventLimit();
    this.legacyEvent = conn.domainEventRegisterAny(null, DomainEventID.LIFECYCLE, (_c, d, event, detail) => {
      const w = new XdrWriter(64);
      legacyLifecycleMsg.enc(w, { dom: wireDomain(d), event, detail });
      this.sendEvent(Proc.DOMAIN_EVENT_LIFECYCLE, w.finish());
    });
  }

  deregisterLegacyEvent(): void {
    const conn = this.conn();
    if (this.legacyEvent === null) {
      throw VirError.report(ErrorDomain.RPC, ErrorNumber.INTERNAL_ERROR, `domain event ${DomainEventID.LIFECYCLE} not registered`);
    }
    conn.domainEventDeregisterAny(this.legacyEvent);
    this.legacyEvent = null;
  }

  /** Refuses one more event callback past the client's limit (both kinds count). */
  private checkEventLimit(): void {
    const max = this.opts.maxEventCallbacks ?? MAX_EVENT_CALLBACKS;
    if (this.events.size + (this.legacyEvent !== null ? 1 : 0) >= max) {
      throw VirError.report(ErrorDomain.RPC, ErrorNumber.OPERATION_FAILED, `too many event callbacks registered by this client (limit ${max})`);
    }
  }

  /** An event MESSAGE; libvirtd sends them with serial 1. */
  private sendEvent(proc: Proc, payload: Buffer): void {
    this.send({ prog: REMOTE_PROGRAM, vers: REMOTE_PROTOCOL_VERSION, proc, type: MessageType.MESSAGE, serial: 1, status: MessageStatus.OK }, payload);
  }

  deregisterEvent(callbackID: number): void {
    const reg = this.events.get(callbackID);
    if (reg === undefined) {
      throw VirError.invalidArg(ErrorDomain.RPC, `callbackID ${callbackID} not registered`);
    }
    if (reg.tsvirtID !== null && this.connection !== null) this.connection.domainEventDeregisterAny(reg.tsvirtID);
    this.events.delete(callbackID);
  }

  supportsFeature(feature: number): boolean {
    if (feature === DrvFeature.REMOTE_EVENT_CALLBACK) return this.opts.eventCallbacks !== false;
    // TYPED_PARAM_STRING: the typed parameter codec carries strings (libvirtd's test driver says so too).
    return feature === DrvFeature.PROGRAM_KEEPALIVE || feature === DrvFeature.REMOTE_CLOSE_CALLBACK || feature === DrvFeature.TYPED_PARAM_STRING;
  }

  wantsKeepalive(): void {
    if (this.keepalive && this.keepaliveTimer !== undefined) return;
    this.keepalive = true;
    this.startKeepalive();
  }

  private startKeepalive(): void {
    if (this.keepaliveTimer !== undefined || this.kaInterval <= 0) return;
    this.keepaliveTimer = setInterval(() => {
      if (this.closed) return;
      if (Date.now() - this.lastReceived < this.kaInterval) return;
      if (this.unanswered >= this.kaCount) {
        this.opts.log.warn(`client ${this.id}: connection closed due to keepalive timeout`);
        void this.shutdown('keepalive timeout');
        return;
      }
      this.unanswered++;
      this.send(keepaliveHeader(KeepaliveProc.PING));
    }, this.kaInterval);
    this.keepaliveTimer.unref();
  }

  private async releaseConnection(): Promise<void> {
    const conn = this.connection;
    this.connection = null;
    this.durable = alreadyDurable;
    for (const reg of this.events.values()) {
      if (reg.tsvirtID !== null && conn !== null) {
        try {
          conn.domainEventDeregisterAny(reg.tsvirtID);
        } catch {
          // Already gone with the connection.
        }
      }
    }
    this.events.clear();
    if (this.legacyEvent !== null && conn !== null) {
      try {
        conn.domainEventDeregisterAny(this.legacyEvent);
      } catch {
        // Already gone with the connection.
      }
    }
    this.legacyEvent = null;
    if (conn !== null) await conn.close().catch(() => {});
  }

  /** Drops the client: closes its hypervisor connection and its socket. Safe to call twice. */
  async shutdown(reason: string): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.keepaliveTimer !== undefined) clearInterval(this.keepaliveTimer);
    this.opts.log.debug(`client ${this.id}: closing (${reason})`);
    // Calls not started are dropped unanswered, as the client is.
    this.calls.length = 0;
    this.socket.destroy();
    // Let a call in progress finish before the connection goes.
    await this.queue.catch(() => {});
    await this.releaseConnection();
    this.opts.onClose(this);
  }
}

function alreadyDurable(): Promise<void> {
  return Promise.resolve();
}

function keepaliveHeader(proc: KeepaliveProc): MessageHeader {
  return { prog: KEEPALIVE_PROGRAM, vers: KEEPALIVE_PROTOCOL_VERSION, proc, type: MessageType.MESSAGE, serial: 0, status: MessageStatus.OK };
}
