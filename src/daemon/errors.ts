/**
 * Errors on the wire: a VirError becomes libvirt's remote_error with the same code, domain,
 * message and level, so that virsh and python-libvirt rebuild the same error; plus the errors
 * the RPC layer itself raises, worded as libvirtd words them.
 */
import { VirError } from '../core/errors.js';
import { ErrorDomain, ErrorLevel, ErrorNumber } from '../core/enums.generated.js';
import type { WireError } from '../rpc/protocol.js';

/** The wire form of a VirError. */
export function toWireError(err: VirError): WireError {
  // VirError keeps libvirt's fields as they are (str1 the format, str2 the detail).
  const str1 = err.str1;
  return {
    code: err.code,
    domain: err.domain,
    message: err.message,
    level: err.level,
    dom: null,
    str1,
    str2: err.str2,
    str3: err.str3,
    int1: err.int1,
    int2: err.int2,
    net: null,
  };
}

/** Any thrown value as a wire error: VirErrors as they are, anything else as an internal error. */
export function anyToWireError(err: unknown): WireError {
  if (err instanceof VirError) return toWireError(err);
  const detail = err instanceof Error ? err.message : String(err);
  return toWireError(VirError.report(ErrorDomain.RPC, ErrorNumber.INTERNAL_ERROR, detail));
}

/** An RPC-layer error: VIR_ERR_RPC from VIR_FROM_RPC, message in str2, str1 "%s" (as libvirtd). */
export function rpcError(message: string): WireError {
  return {
    code: ErrorNumber.RPC,
    domain: ErrorDomain.RPC,
    message,
    level: ErrorLevel.ERROR,
    dom: null,
    str1: '%s',
    str2: message,
    str3: null,
    int1: -1,
    int2: -1,
    net: null,
  };
}

/**
 * "internal error: hypervisor connection not open", for calls before CONNECT_OPEN; "connection
 * not open" for the calls libvirtd serves on a secondary driver's connection (networks, …).
 */
export function notOpenError(secondary = false): WireError {
  return toWireError(VirError.report(ErrorDomain.RPC, ErrorNumber.INTERNAL_ERROR, secondary ? 'connection not open' : 'hypervisor connection not open'));
}
