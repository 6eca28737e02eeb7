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
 *
 * Streams (libvirt's STREAM packets, on the serial of the call that opened them): data from the
 * client counts as a request until the driver's channel has taken it, so a channel that does not
 * drain stops the daemon reading the socket, as libvirtd does; data towards the client is read
 * from the channel only while the socket holds less than {@link STREAM_OUTPUT_BOUND} unsent, so
 * a client that does not read pauses the channel (and through it the guest's console). Streams
 * per client are capped; a client that goes away has its channels destroyed.
 */
import { closeSync } from 'node:fs';
import { REMOTE_PROCEDURES } from '../rpc/procedure-names.generated.js';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Domain, DomainEventID, VirError, type Connection, type Stream } from '../index.js';
import { ErrorDomain, ErrorNumber } from '../core/enums.generated.js';
import { FrameReader, MessageStatus, MessageType, STREAM_CHUNK_MAX, encodeFrame, type Frame, type MessageHeader } from '../rpc/message.js';
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
  xStreamHole,
  type WireDomain,
  type WireError,
} from '../rpc/protocol.js';
import {
  Proc,
  isTableProc,
  legacyLifecycleMsg,
  lifecycleMsg,
  deviceEventMsg,
  metadataChangeMsg,
  procedure,
  readOnlyRefusal,
  FDS_IN_REPLY,
  NUM_FDS_MAX,
  type ArgsOf,
  type RetOf,
  type TableProc,
} from '../rpc/procedures.js';
import { unservedCall } from '../rpc/unsupported.js';
import { fdPassing, socketFd } from '../core/fdpass.js';
import { StreamHole } from '../core/stream-hole.js';
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
 * Calls served beside the client's queue rather than in it: a migration's Perform (peer to peer,
 * the whole migration), which lasts until the guest has moved.
 */
const DETACHED_CALLS: ReadonlySet<number> = new Set([Proc.DOMAIN_MIGRATE_PERFORM3_PARAMS]);
/**
 * Event callbacks one client may hold. libvirtd has no such limit; each costs memory and a call
 * per event, so without one a single client could slow every event for everyone.
 */
export const MAX_EVENT_CALLBACKS = 1024;

/**
 * Streams one client may hold open. libvirtd has no such limit; each holds a driver resource (a
 * console session, an image) and its buffers, so tsvirtd bounds them as it bounds callbacks.
 */
export const MAX_CLIENT_STREAMS = 32;
/**
 * Bytes of a client's socket left unsent above which the daemon stops reading streams' channels
 * for it (four of libvirt's stream packets): a client that does not read holds this much, not
 * whatever its guest writes.
 */
export const STREAM_OUTPUT_BOUND = 4 * STREAM_CHUNK_MAX;

/**
 * Stream output towards a client is gathered for at most this long while a stream is busy (a
 * packet left less than this ago): a guest console that prints steadily goes out in a few large
 * STREAM packets rather than one per read from QEMU's socket (often one to three bytes). A stream
 * that was idle sends at once, so a keystroke's echo is not delayed.
 */
export const STREAM_COALESCE_MS = 2;

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
  /** Streams the client may hold open (default MAX_CLIENT_STREAMS). */
  maxStreams?: number;
  /** Unsent socket bytes above which streams' channels are not read (default STREAM_OUTPUT_BOUND). */
  streamOutputBound?: number;
  /** How long a busy stream's output is gathered into one packet (default STREAM_COALESCE_MS; 0: never). */
  streamCoalesceMs?: number;
  /**
   * Advertise VIR_DRV_FEATURE_REMOTE_EVENT_CALLBACK (default true). Without it, libvirt's clients
   * register events with the legacy procedures (105/106) and get proc 107 messages, as from a
   * libvirtd older than 1.2.1.
   */
  eventCallbacks?: boolean;
  onClose: (client: Client) => void;
}

/** One open stream of the client: its call's proc and serial, and the driver's channel. */
interface ClientStream {
  proc: number;
  serial: number;
  stream: Stream;
  channel: Duplex;
  /** The end of data (an empty STREAM/CONTINUE) has gone out. */
  eofSent: boolean;
  /** Finished, aborted or failed: nothing more goes out or in. */
  closed: boolean;
  /** Not read for want of room in the socket: read again as stream packets leave. */
  waiting: boolean;
  /** When the last data packet left (performance.now()), for coalescing. */
  lastSent: number;
  /** The gathering timer of a busy stream, while output gathers. */
  gather: NodeJS.Timeout | undefined;
  /** The gathering time is over: the next packet goes whatever its size. */
  flushDue: boolean;
}

/** Where a stream's status counts (see STREAM packets in onFrame). */
interface StreamCounts {
  /** Bytes read off the channel and handed to the socket, this client's lifetime. */
  sentBytes: number;
  /** STREAM data packets those bytes went out in. */
  sentPackets: number;
  /** Times a channel was left unread for want of room in the socket. */
  pauses: number;
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
  /** Calls read and not yet dispatched (at most max_client_requests), with the descriptors they brought. */
  private readonly calls: { frame: Frame; fds: number[] }[] = [];
  /** A CALL_WITH_FDS read, waiting for the bytes that carry its descriptors. */
  private held: { frame: Frame; n: number } | null = null;
  /** Descriptors received (SCM_RIGHTS) and not yet given to a call. */
  private readonly receivedFds: number[] = [];
  /** Calls taken off the socket so far (the direct read waits for one). */
  private callsRead = 0;
  /** The client asked whether descriptors pass: its next call is read with recvmsg. */
  private directReadArmed = false;
  /** Outgoing messages held while a reply's descriptors go out (nothing may come between). */
  private heldSends: [MessageHeader, Buffer | undefined, (() => void) | undefined][] | null = null;
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
  /** Open streams, by the serial of the call that opened them. */
  private readonly streams = new Map<number, ClientStream>();
  /** The call being served, the stream it asked for (callStream) and its descriptors, until it is answered. */
  private currentCall: CallState | null = null;
  /** Calls served beside the queue ({@link DETACHED_CALLS}), until they end. */
  private readonly detached = new Set<Promise<void>>();
  private readonly streamCounts: StreamCounts = { sentBytes: 0, sentPackets: 0, pauses: 0 };

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
      if (this.held !== null) {
        // The bytes that carry the descriptors are not the next frame's: drop them first.
        if (!this.reader.settleSkip()) break;
        const { frame, n } = this.held;
        this.held = null;
        this.onFrame(frame, this.receivedFds.splice(0, n));
        continue;
      }
      let frame: Frame | null;
      try {
        frame = this.reader.next();
        if (frame !== null && frame.header.type === MessageType.CALL_WITH_FDS) {
          const n = frame.payload.length >= 4 ? frame.payload.readUInt32BE(0) : -1;
          if (n < 0 || n > NUM_FDS_MAX) throw new Error(n < 0 ? 'Unable to decode number of FDs' : `Received too many FDs ${n}, expected ${NUM_FDS_MAX} maximum`);
          this.reader.skip(n);
          this.held = { frame: { header: frame.header, payload: frame.payload.subarray(4) }, n };
          continue;
        }
      } catch (err) {
        // A length word outside 28..32 MiB: the stream cannot be resynchronised. libvirtd drops
        // the client too.
        this.opts.log.warn(`client ${this.id}: ${(err as Error).message}; closing`);
        void this.shutdown('protocol error');
        return;
      }
      if (frame === null) break;
      this.onFrame(frame, []);
    }
    if (this.closed) return;
    const full = this.requests >= this.maxRequests;
    if (full === this.paused) return;
    this.paused = full;
    if (full) this.socket.pause();
    else this.socket.resume();
  }

  private onFrame(frame: Frame, fds: number[]): void {
    const h = frame.header;
    if (h.type !== MessageType.CALL && h.type !== MessageType.CALL_WITH_FDS) closeAll(fds);
    if (h.prog === KEEPALIVE_PROGRAM) {
      if (h.type === MessageType.MESSAGE && h.proc === KeepaliveProc.PING) {
        this.keepalive = true;
        this.send({ ...keepaliveHeader(KeepaliveProc.PONG) });
      }
      // PONG (or anything else): receiving it already counted as life.
      return;
    }
    if (h.prog === REMOTE_PROGRAM && (h.type === MessageType.STREAM || h.type === MessageType.STREAM_HOLE)) {
      this.onStreamPacket(frame);
      return;
    }
    if (h.type !== MessageType.CALL && h.type !== MessageType.CALL_WITH_FDS) {
      // Replies and messages from a client have no meaning for us: ignore them.
      this.opts.log.debug(`client ${this.id}: ignoring message type ${h.type} proc ${h.proc}`);
      return;
    }
    // Calls are answered in order, one at a time.
    this.callsRead++;
    this.calls.push({ frame, fds });
    this.requests++;
    this.pump();
  }

  private pump(): void {
    if (this.running || this.closed) return;
    this.running = true;
    this.queue = (async () => {
      for (let call = this.calls.shift(); call !== undefined && !this.closed; call = this.calls.shift()) {
        const { frame, fds } = call;
        let done = false;
        const finish = (): void => {
          if (done) return;
          done = true;
          this.callAnswered();
        };
        if (frame.header.prog === REMOTE_PROGRAM && DETACHED_CALLS.has(frame.header.proc)) {
          // A migration's Perform lasts as long as the migration: the calls that watch or abort
          // it (job info, abort, from virsh's other thread) are served meanwhile, as libvirtd's
          // worker threads do. Its reply goes out on its serial whenever it ends.
          finish();
          const running = this.dispatch(frame, fds)
            .catch((err: unknown) => this.opts.log.error(`client ${this.id}: dispatch failed: ${(err as Error).stack ?? String(err)}`))
            .finally(() => {
              closeAll(fds);
              this.detached.delete(running);
            });
          this.detached.add(running);
          continue;
        }
        this.replyFlushed = finish;
        try {
          await this.dispatch(frame, fds);
        } catch (err) {
          this.opts.log.error(`client ${this.id}: dispatch failed: ${(err as Error).stack ?? String(err)}`);
        } finally {
          // What the call received is the daemon's copy: the driver took its own.
          closeAll(fds);
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
  async dispatch(frame: Frame, fds: number[] = []): Promise<void> {
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
    await this.serve(h.proc, h, frame.payload, fds);
  }

  /** Answers one call of a procedure of the table, typed by its entry. Never throws. */
  private async serve<P extends TableProc>(proc: P, h: MessageHeader, payload: Buffer, fds: number[]): Promise<void> {
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
      const known = REMOTE_PROCEDURES.get(proc);
      this.replyError(h, notOpenError(known?.kind === 'api' && known.secondary === true));
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
    // Held by the call itself: a stream bound after the client went is still released below.
    const call: CallState = { stream: null, fdsIn: fds, fdsOut: [] };
    this.currentCall = call;
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
      if (this.currentCall === call) this.currentCall = null;
      if (call.stream !== null) void call.stream.abort();
      closeAll(call.fdsOut);
      this.replyError(h, anyToWireError(err));
      return;
    }
    if (this.currentCall === call) this.currentCall = null;
    let out: Buffer;
    try {
      const w = new XdrWriter();
      spec.ret.enc(w, result);
      out = w.finish();
    } catch (err) {
      if (call.stream !== null) void call.stream.abort();
      closeAll(call.fdsOut);
      this.replyError(h, anyToWireError(err));
      return;
    }
    if (FDS_IN_REPLY.has(proc) || call.fdsOut.length > 0) {
      this.sendWithFds({ ...h, type: MessageType.REPLY_WITH_FDS, status: MessageStatus.OK }, out, call.fdsOut);
      return;
    }
    this.send({ ...h, type: MessageType.REPLY, status: MessageStatus.OK }, out);
    if (this.directReadArmed) {
      this.directReadArmed = false;
      void this.readDirect();
    }
    // The stream's data follows its call's reply, on the call's serial.
    if (call.stream !== null) this.startStream(h, call.stream);
  }

  // Streams.

  callStream(): Stream {
    const conn = this.conn();
    const max = this.opts.maxStreams ?? MAX_CLIENT_STREAMS;
    if (this.streams.size >= max) {
      throw VirError.report(ErrorDomain.RPC, ErrorNumber.OPERATION_FAILED, `too many streams opened by this client (limit ${max})`);
    }
    const call = this.currentCall;
    if (call === null) throw VirError.report(ErrorDomain.RPC, ErrorNumber.INTERNAL_ERROR, 'no call to open a stream for');
    call.stream = conn.newStream(0);
    return call.stream;
  }

  /** What the client's streams moved and how often one waited for the socket (for tests and logs). */
  streamStats(): { open: number; sentBytes: number; sentPackets: number; pauses: number } {
    return { open: this.streams.size, ...this.streamCounts };
  }

  /** Registers a stream whose call was answered OK, and starts carrying its channel's data. */
  private startStream(h: MessageHeader, stream: Stream): void {
    let channel: Duplex;
    try {
      channel = stream.toDuplex();
    } catch {
      // Not bound (the handler failed to use it): nothing to carry.
      return;
    }
    if (this.closed) {
      void stream.abort();
      return;
    }
    const s: ClientStream = {
      proc: h.proc,
      serial: h.serial,
      stream,
      channel,
      eofSent: false,
      closed: false,
      waiting: false,
      lastSent: -Infinity,
      gather: undefined,
      flushDue: false,
    };
    // A client may reuse a serial once its stream is over; a live one with the same serial is replaced.
    const old = this.streams.get(h.serial);
    if (old !== undefined) this.closeStream(old);
    this.streams.set(h.serial, s);
    channel.on('readable', () => this.pumpStream(s));
    channel.on('end', () => this.streamEOF(s));
    // A channel closed without an end (its peer went): the client sees the end of data, as from libvirtd.
    channel.on('close', () => this.streamEOF(s));
    channel.on('error', (err: unknown) => this.failStream(s, err));
    this.pumpStream(s);
  }

  private streamHeader(s: ClientStream, status: MessageStatus): MessageHeader {
    return { prog: REMOTE_PROGRAM, vers: REMOTE_PROTOCOL_VERSION, proc: s.proc, type: MessageType.STREAM, serial: s.serial, status };
  }

  /**
   * Sends what the channel holds while the socket has room (STREAM_OUTPUT_BOUND); past it the
   * channel is left unread (it pauses its source) until stream packets have left.
   */
  private pumpStream(s: ClientStream): void {
    const bound = this.opts.streamOutputBound ?? STREAM_OUTPUT_BOUND;
    const gatherMs = this.opts.streamCoalesceMs ?? STREAM_COALESCE_MS;
    s.waiting = false;
    if (s.gather !== undefined) {
      // Output gathers until the timer sends it, or until a whole packet (or as much as the
      // channel buffers before pausing its source) is held: a fast source is never held back.
      const held = s.channel.readableObjectMode ? 0 : s.channel.readableLength;
      if (held < Math.min(STREAM_CHUNK_MAX, s.channel.readableHighWaterMark) && !sourceEnded(s.channel)) return;
      clearTimeout(s.gather);
      s.gather = undefined;
      s.flushDue = true;
    }
    while (!s.closed && !s.eofSent && !this.closed) {
      const room = bound - this.socket.writableLength;
      if (room <= 0) {
        s.waiting = true;
        this.streamCounts.pauses++;
        if (this.opts.log.enabled('debug')) {
          this.opts.log.debug(`client ${this.id}: stream ${s.serial}: ${this.socket.writableLength} bytes unsent; channel paused`);
        }
        return;
      }
      // One packet's worth at most, and no more than fits under the bound.
      const want = Math.min(STREAM_CHUNK_MAX, room);
      // A sparse channel (object mode) gives Buffers and StreamHoles, one per read.
      const sparse = s.channel.readableObjectMode;
      const held = sparse ? 0 : s.channel.readableLength;
      if (
        gatherMs > 0 &&
        !s.flushDue &&
        held > 0 &&
        held < Math.min(want, s.channel.readableHighWaterMark) &&
        performance.now() - s.lastSent < gatherMs &&
        !sourceEnded(s.channel)
      ) {
        // Busy: let more of the guest's output join this packet.
        s.gather = setTimeout(() => {
          s.gather = undefined;
          s.flushDue = true;
          this.pumpStream(s);
        }, gatherMs);
        return;
      }
      const chunk: unknown = held > 0 ? s.channel.read(Math.min(want, held)) : s.channel.read();
      if (chunk === null) return;
      if (chunk instanceof StreamHole) {
        // STREAM_HOLE, status CONTINUE, as libvirtd's virNetServerProgramSendStreamHole.
        const w = new XdrWriter(16);
        xStreamHole.enc(w, { length: chunk.length, flags: 0 });
        this.send({ ...this.streamHeader(s, MessageStatus.CONTINUE), type: MessageType.STREAM_HOLE }, w.finish(), () => this.resumeStreams());
        continue;
      }
      let buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
      if (buf.length > want) {
        s.channel.unshift(buf.subarray(want));
        buf = buf.subarray(0, want);
      }
      this.streamCounts.sentBytes += buf.length;
      this.streamCounts.sentPackets++;
      s.flushDue = false;
      s.lastSent = performance.now();
      this.send(this.streamHeader(s, MessageStatus.CONTINUE), buf, () => this.resumeStreams());
    }
  }

  /** Stream packets left: the streams that waited for room are read again. */
  private resumeStreams(): void {
    if (this.closed) return;
    for (const s of this.streams.values()) if (s.waiting) this.pumpStream(s);
  }

  /** The channel's data is over: an empty STREAM/CONTINUE, as libvirtd marks the end. */
  private streamEOF(s: ClientStream): void {
    if (s.closed || s.eofSent) return;
    s.eofSent = true;
    this.send(this.streamHeader(s, MessageStatus.CONTINUE));
  }

  /** The channel failed: STREAM/ERROR with its error, and the stream is gone. */
  private failStream(s: ClientStream, err: unknown): void {
    if (s.closed) return;
    const e = err instanceof VirError ? err : VirError.report(ErrorDomain.STREAMS, ErrorNumber.RPC, 'stream had I/O failure');
    this.opts.log.debug(`client ${this.id}: stream ${s.serial}: ${e.message}`);
    this.closeStream(s);
    const w = new XdrWriter();
    xError.enc(w, toWireError(e));
    this.send(this.streamHeader(s, MessageStatus.ERROR), w.finish());
  }

  /** Forgets a stream and aborts its channel (a console is detached; the guest runs on). */
  private closeStream(s: ClientStream): void {
    s.closed = true;
    if (s.gather !== undefined) clearTimeout(s.gather);
    s.gather = undefined;
    if (this.streams.get(s.serial) === s) this.streams.delete(s.serial);
    void s.stream.abort();
  }

  /**
   * A STREAM packet from the client. Data (CONTINUE) is written to the channel and counts as a
   * request until the channel has taken it; a finish (OK) or an abort (ERROR, whatever its
   * payload) closes the stream and is confirmed with an empty STREAM/OK, or STREAM/ERROR when
   * the finish fails. Packets of no open stream are dropped, as libvirtd drops them (stream data
   * is not acknowledged, so some may follow a stream's end). A hole (STREAM_HOLE) is written to a
   * sparse channel as a StreamHole, counted as data is; on a stream that is not sparse it is
   * refused, and libvirtd drops a client that sends one, as tsvirtd does.
   */
  private onStreamPacket(frame: Frame): void {
    const h = frame.header;
    const s = this.streams.get(h.serial);
    if (s === undefined || s.proc !== h.proc || s.closed) {
      this.opts.log.debug(`client ${this.id}: ignoring stream packet serial ${h.serial} proc ${h.proc} status ${h.status}`);
      return;
    }
    let hole: StreamHole | null = null;
    if (h.type === MessageType.STREAM_HOLE) {
      try {
        if (!s.channel.writableObjectMode) throw new Error('not a sparse stream');
        hole = new StreamHole(decode(xStreamHole, frame.payload).length);
        if (!Number.isSafeInteger(hole.length) || hole.length < 0) throw new Error(`bad hole length ${hole.length}`);
      } catch (err) {
        this.opts.log.warn(`client ${this.id}: unexpected stream hole (${(err as Error).message}); closing`);
        void this.shutdown('unexpected stream hole');
        return;
      }
    }
    if (h.status === MessageStatus.CONTINUE) {
      if (hole === null && frame.payload.length === 0) return;
      this.requests++;
      let counted = true;
      const taken = (err?: Error | null): void => {
        if (!counted) return;
        counted = false;
        this.requests--;
        if (err) this.failStream(s, err);
        if (!this.closed) this.readFrames();
      };
      try {
        s.channel.write(hole ?? frame.payload, taken);
      } catch (err) {
        taken(err as Error);
      }
      return;
    }
    // Finish or abort: answered once the channel is closed; counts as a request until then.
    s.closed = true;
    this.streams.delete(s.serial);
    this.requests++;
    const confirm = (err: VirError | null): void => {
      let counted = true;
      const done = (): void => {
        if (!counted) return;
        counted = false;
        this.requests--;
        if (!this.closed) this.readFrames();
      };
      if (err === null) {
        this.send(this.streamHeader(s, MessageStatus.OK), undefined, done);
      } else {
        const w = new XdrWriter();
        xError.enc(w, toWireError(err));
        this.send(this.streamHeader(s, MessageStatus.ERROR), w.finish(), done);
      }
      if (this.closed) done();
    };
    if (h.status === MessageStatus.OK) {
      s.stream.finish().then(
        () => confirm(null),
        (err: unknown) => confirm(err instanceof VirError ? err : VirError.report(ErrorDomain.STREAMS, ErrorNumber.RPC, 'stream had I/O failure')),
      );
    } else {
      this.opts.log.info(`client ${this.id}: stream ${s.serial} aborted at client request`);
      void s.stream.abort().then(() => confirm(null));
    }
  }

  private replyError(h: MessageHeader, e: WireError): void {
    const w = new XdrWriter();
    xError.enc(w, e);
    this.send({ ...h, type: MessageType.REPLY, status: MessageStatus.ERROR }, w.finish());
  }

  private send(h: MessageHeader, payload?: Buffer, flushed?: () => void): void {
    if (this.closed || this.socket.destroyed) return;
    if (this.heldSends !== null) {
      // A reply's descriptors are on their way: their carrier bytes must follow it at once.
      this.heldSends.push([h, payload, flushed]);
      return;
    }
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
    const answered = h.type === MessageType.REPLY || h.type === MessageType.REPLY_WITH_FDS ? this.replyFlushed : null;
    if (answered !== null) this.replyFlushed = null;
    this.unflushed++;
    try {
      this.socket.write(encodeFrame(h, payload), () => {
        // Also called, with an error, for what a destroyed socket never sent.
        this.unflushed--;
        answered?.();
        flushed?.();
      });
    } catch (err) {
      this.opts.log.warn(`client ${this.id}: cannot send: ${(err as Error).message}`);
      void this.shutdown('send failed');
    }
  }

  /**
   * A reply with descriptors (REPLY_WITH_FDS): the count before the payload, the message, then
   * once it has left (nothing else is written meanwhile: other messages wait in heldSends) one
   * byte per descriptor sent with it by sendmsg, as libvirt's virNetSocketSendFD does. The
   * descriptors are closed after. A descriptor that cannot be sent drops the client: its peer
   * would wait for it forever.
   */
  private sendWithFds(h: MessageHeader, payload: Buffer, fds: number[]): void {
    const addon = fdPassing();
    const sockFd = socketFd(this.socket);
    const body = Buffer.allocUnsafe(4 + payload.length);
    body.writeUInt32BE(fds.length, 0);
    payload.copy(body, 4);
    if (addon === null || sockFd < 0) {
      closeAll(fds);
      void this.shutdown('cannot pass file descriptors');
      return;
    }
    this.send(h, body, () => void sendCarriers());
    this.heldSends = [];
    const sendCarriers = async (): Promise<void> => {
      try {
        for (const fd of fds) {
          for (let tries = 0; ; tries++) {
            if (this.closed) return;
            try {
              addon.sendFds(sockFd, CARRIER, [fd]);
              break;
            } catch (err) {
              if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || tries > 5000) throw err;
              await new Promise((r) => setTimeout(r, 1));
            }
          }
        }
      } catch (err) {
        this.opts.log.warn(`client ${this.id}: cannot send a file descriptor: ${(err as Error).message}; closing`);
        void this.shutdown('cannot send file descriptor');
      } finally {
        closeAll(fds);
        const held = this.heldSends ?? [];
        this.heldSends = null;
        for (const [hh, p, f] of held) this.send(hh, p, f);
      }
    };
  }

  /**
   * Reads the client's socket with recvmsg (the fdpass addon) until its next call, descriptors
   * included, has been taken, then hands the socket back to libuv. libuv reads with read(),
   * which makes the kernel close descriptors sent along; a libvirt client asks whether
   * descriptors pass (VIR_DRV_FEATURE_FD_PASSING) right before the call that sends one, so the
   * daemon reads that call itself. Bounded: after 5 s without a call libuv takes over again.
   */
  private async readDirect(): Promise<void> {
    const addon = fdPassing();
    const sockFd = socketFd(this.socket);
    const handle = (this.socket as unknown as { _handle?: { readStop?: () => number; readStart?: () => number } })._handle;
    if (addon === null || sockFd < 0 || typeof handle?.readStop !== 'function' || typeof handle.readStart !== 'function') return;
    handle.readStop();
    const before = this.callsRead;
    const deadline = Date.now() + 5000;
    let idle = 0;
    try {
      // A client at its max_client_requests is not read at all (see readFrames): libuv's turn.
      while (!this.closed && !this.paused && Date.now() < deadline) {
        let got;
        try {
          got = addon.recvFds(sockFd, 65536);
        } catch {
          break; // libuv will see the error too
        }
        if (got === null) {
          idle = Math.min(idle + 1, 10);
          await new Promise((r) => setTimeout(r, idle < 5 ? 0 : 1));
          continue;
        }
        idle = 0;
        this.receivedFds.push(...got.fds);
        if (got.data.length === 0) break; // EOF: libuv reads it again and closes
        this.onData(got.data);
        if (this.callsRead > before && this.held === null) break;
      }
    } finally {
      // Back to libuv (Node's handle still counts as reading, so it is restarted here; a paused
      // client is then held back by Node's own backpressure, as before).
      if (!this.closed && !this.socket.destroyed) handle.readStart();
    }
  }

  // HandlerContext.

  callFd(slot: number): number {
    const fds = this.currentCall?.fdsIn ?? [];
    const fd = fds[slot];
    if (fd === undefined) throw VirError.report(ErrorDomain.RPC, ErrorNumber.INTERNAL_ERROR, `No FD available at slot ${slot}`);
    return fd;
  }

  replyFd(fd: number): void {
    const call = this.currentCall;
    if (call === null) {
      closeAll([fd]);
      throw VirError.report(ErrorDomain.RPC, ErrorNumber.INTERNAL_ERROR, 'no call to reply with a file descriptor');
    }
    call.fdsOut.push(fd);
  }

  canPassFds(): boolean {
    return fdPassing() !== null && socketFd(this.socket) >= 0;
  }

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
    const filter = (): Domain | null => (dom === null ? null : new Domain(conn, { name: dom.name, uuid: uuidToString(dom.uuid), id: dom.id }));
    const deviceProc: Partial<Record<number, Proc>> = {
      [DomainEventID.DEVICE_ADDED]: Proc.DOMAIN_EVENT_CALLBACK_DEVICE_ADDED,
      [DomainEventID.DEVICE_REMOVED]: Proc.DOMAIN_EVENT_CALLBACK_DEVICE_REMOVED,
      [DomainEventID.DEVICE_REMOVAL_FAILED]: Proc.DOMAIN_EVENT_CALLBACK_DEVICE_REMOVAL_FAILED,
    };
    const proc = deviceProc[eventID];
    if (proc !== undefined) {
      tsvirtID = conn.domainEventRegisterAny(filter(), eventID as typeof DomainEventID.DEVICE_ADDED, (_c, d, devAlias) => {
        const w = new XdrWriter(64);
        deviceEventMsg.enc(w, { callbackID, dom: wireDomain(d), devAlias });
        this.sendEvent(proc, w.finish());
      });
    } else if (eventID === DomainEventID.METADATA_CHANGE) {
      tsvirtID = conn.domainEventRegisterAny(filter(), DomainEventID.METADATA_CHANGE, (_c, d, type, nsuri) => {
        const w = new XdrWriter(64);
        metadataChangeMsg.enc(w, { callbackID, dom: wireDomain(d), type, nsuri });
        this.sendEvent(Proc.DOMAIN_EVENT_CALLBACK_METADATA_CHANGE, w.finish());
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
    if (feature === DrvFeature.FD_PASSING) {
      // Yes, as libvirtd on a unix socket: without the addon the calls then answer
      // VIR_ERR_NO_SUPPORT saying why, which tells more than libvirt's client-side refusal.
      // The call that follows may bring a descriptor: read it with recvmsg (readDirect).
      if (this.canPassFds()) this.directReadArmed = true;
      return true;
    }
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
    // Its streams' channels go (a console is detached; the guest runs on).
    for (const s of [...this.streams.values()]) this.closeStream(s);
    closeAll(this.receivedFds.splice(0));
    for (const c of this.calls) closeAll(c.fds);
    this.socket.destroy();
    // Let a call in progress finish before the connection goes.
    await this.queue.catch(() => {});
    await Promise.allSettled([...this.detached]);
    await this.releaseConnection();
    this.opts.onClose(this);
  }
}

/** The call being served: the stream it opened, the descriptors it received and those its reply carries. */
interface CallState {
  stream: Stream | null;
  fdsIn: number[];
  fdsOut: number[];
}

/**
 * Whether the channel's source has ended (its last chunk is buffered): nothing more will join a
 * gathering packet. Node keeps that only in the stream's state (`readableEnded` waits for the
 * reader to take everything).
 */
function sourceEnded(ch: Duplex): boolean {
  return (ch as unknown as { _readableState?: { ended?: boolean } })._readableState?.ended === true;
}

/** The byte that carries a passed descriptor (gnulib's sendfd sends one such byte). */
const CARRIER = Buffer.from([0]);

/** Closes descriptors this process owns; each once (the array is emptied). */
function closeAll(fds: number[]): void {
  for (const fd of fds.splice(0)) {
    try {
      closeSync(fd);
    } catch {
      // Already closed.
    }
  }
}

function alreadyDurable(): Promise<void> {
  return Promise.resolve();
}

function keepaliveHeader(proc: KeepaliveProc): MessageHeader {
  return { prog: KEEPALIVE_PROGRAM, vers: KEEPALIVE_PROTOCOL_VERSION, proc, type: MessageType.MESSAGE, serial: 0, status: MessageStatus.OK };
}
