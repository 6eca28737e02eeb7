/**
 * File-descriptor passing over unix sockets (SCM_RIGHTS), which Node's `net` cannot do: what
 * virDomainOpenGraphicsFD needs (a socket handed to QEMU over QMP, the other end to the caller,
 * through tsvirtd to a libvirt client). It comes from tsvirt's own N-API addon
 * (native/fdpass.cc, built by `npm run build` into dist/src/native/fdpass.node). The addon is
 * optional: where it was not built or does not load, {@link fdPassing} is null and the calls
 * that need it answer VIR_ERR_NO_SUPPORT ({@link fdPassingUnavailable}).
 *
 * The npm registry was weighed first: `usocket` passes fds but over sockets of its own (not the
 * net.Socket libuv already owns), `node-unix-socket` ships prebuilt binaries, and neither covers
 * socketpair plus sendmsg/recvmsg on an existing socket; ~170 lines of C++ do.
 */
import { createRequire } from 'node:module';
import { ErrorDomain, ErrorNumber } from './enums.generated.js';
import { VirError } from './errors.js';

/** What one recvmsg brought: the bytes, and the descriptors that came with them (now ours). */
export interface FdMessage {
  data: Buffer;
  fds: number[];
  /** The kernel dropped descriptors for want of room (more than 32 at once). */
  truncated: boolean;
}

/** The addon's functions. All are non-blocking; errors are Errors with `code` (errno name). */
export interface FdPassing {
  /** An AF_UNIX stream socket pair, close-on-exec. */
  socketpair(): [number, number];
  /** One sendmsg of `data` (not empty) with `fds` attached; returns the bytes sent (EAGAIN throws). */
  sendFds(sockFd: number, data: Buffer, fds: number[]): number;
  /** One recvmsg of at most `maxBytes`; null when nothing waits (EAGAIN); empty data at EOF. */
  recvFds(sockFd: number, maxBytes: number): FdMessage | null;
}

let loaded: FdPassing | null | undefined;
let why = '';

/**
 * The addon, or null when it is not available (not built, another platform, or disabled with
 * TSVIRT_NO_FDPASS=1). Loaded once, on first use.
 */
export function fdPassing(): FdPassing | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.env.TSVIRT_NO_FDPASS === '1') {
    why = 'disabled by TSVIRT_NO_FDPASS=1';
    return null;
  }
  try {
    // dist/src/core/fdpass.js and the CLI's bundles in dist/src/cli/ both sit one level below src/.
    const mod = createRequire(import.meta.url)(new URL('../native/fdpass.node', import.meta.url).pathname) as Partial<FdPassing>;
    if (typeof mod.socketpair === 'function' && typeof mod.sendFds === 'function' && typeof mod.recvFds === 'function') {
      loaded = mod as FdPassing;
    } else {
      why = 'the fdpass addon lacks its functions';
    }
  } catch (err) {
    why = `the fdpass addon did not load (${(err as Error).message.split('\n')[0]})`;
  }
  return loaded;
}

/**
 * VIR_ERR_NO_SUPPORT for `api` when fd passing is unavailable, saying why (the addon was not
 * built or did not load).
 */
export function fdPassingUnavailable(domain: ErrorDomain, api: string): VirError {
  if (fdPassing() !== null) why = 'unavailable';
  return VirError.report(domain, ErrorNumber.NO_SUPPORT, `${api}: file descriptor passing is not available: ${why}`);
}

/**
 * The descriptor under a net.Socket (libuv's), or -1. Node exposes it on the handle only. A TLS
 * socket's handle shows the TCP descriptor under the encryption: -1 for it, since bytes read or
 * written there directly would bypass TLS (and descriptors never pass over TCP anyway).
 */
export function socketFd(socket: unknown): number {
  if ((socket as { encrypted?: unknown } | null)?.encrypted === true) return -1;
  const handle = (socket as { _handle?: { fd?: unknown } } | null)?._handle;
  return typeof handle?.fd === 'number' ? handle.fd : -1;
}
