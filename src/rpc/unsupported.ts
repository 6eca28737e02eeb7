/**
 * How libvirtd answers a call of a procedure that tsvirt does not implement, from the table of all
 * of libvirt's procedures ({@link REMOTE_PROCEDURES}, generated from libvirt's remote_protocol.x).
 *
 * libvirtd has a dispatcher for every procedure of its protocol: the dispatcher calls the public
 * API, which refuses a read-only connection first when it changes state, and otherwise finds no
 * function in the driver and raises VIR_ERR_NO_SUPPORT naming itself. Only a number without a
 * dispatcher — beyond the protocol, or an event message, which goes from server to client only —
 * gets "unknown procedure: N".
 */
import { VirError } from '../core/errors.js';
import { ErrorDomain, ErrorNumber } from '../core/enums.generated.js';
import { REMOTE_PROCEDURES, type KnownProcedure } from './procedure-names.generated.js';

export { LIBVIRT_PROTOCOL_VERSION, REMOTE_PROCEDURES, type KnownProcedure } from './procedure-names.generated.js';

/** What the daemon does with a call of a procedure it has no handler for. */
export type UnservedCall =
  /** libvirtd has no dispatcher for it: VIR_ERR_RPC "unknown procedure: N". */
  | { kind: 'unknown' }
  /**
   * libvirtd would raise `error` on an open connection, and `notOpen` before CONNECT_OPEN (null
   * when the call does not need an open connection).
   */
  | { kind: 'refused'; error: VirError; notOpen: VirError | null };

/** libvirt's knowledge of procedure `proc`, or undefined for a number libvirt does not use. */
export function knownProcedure(proc: number): KnownProcedure | undefined {
  return REMOTE_PROCEDURES.get(proc);
}

/**
 * The answer to a call of `proc`, which tsvirt does not implement, on a connection that is
 * read-only or not: what libvirtd (of the version the table came from) answers with a driver that
 * lacks the function.
 * - a number libvirt does not know, or an event message: `unknown`;
 * - before CONNECT_OPEN, any other call but authentication: VIR_ERR_INTERNAL_ERROR "hypervisor
 *   connection not open" ("connection not open" for network, storage, … calls);
 * - AUTH_SASL_* / AUTH_POLKIT (tsvirtd offers only AUTH_NONE): VIR_ERR_AUTH_FAILED from
 *   VIR_FROM_RPC, as libvirtd answers a client that asks for an auth type it was not offered;
 * - a public API that refuses read-only connections, on one: VIR_ERR_OPERATION_DENIED
 *   "operation forbidden: read only access prevents virXxx", from that API's error domain;
 * - any other public API: VIR_ERR_NO_SUPPORT "this function is not supported by the connection
 *   driver: virXxx", from that API's error domain.
 */
export function unservedCall(proc: number, readonly: boolean): UnservedCall {
  const known = REMOTE_PROCEDURES.get(proc);
  if (known === undefined || known.kind === 'event') return { kind: 'unknown' };
  if (known.kind === 'internal') {
    return { kind: 'refused', error: VirError.report(ErrorDomain.RPC, ErrorNumber.AUTH_FAILED, 'authentication failed'), notOpen: null };
  }
  // libvirtd looks for its per-client connection first: the hypervisor's, or for networks,
  // storage and the like a secondary one, which it reports without naming.
  const notOpen = VirError.report(ErrorDomain.RPC, ErrorNumber.INTERNAL_ERROR, known.secondary ? 'connection not open' : 'hypervisor connection not open');
  if (readonly && known.write) {
    return { kind: 'refused', error: VirError.report(known.domain, ErrorNumber.OPERATION_DENIED, `read only access prevents ${known.api}`), notOpen };
  }
  return { kind: 'refused', error: VirError.report(known.domain, ErrorNumber.NO_SUPPORT, known.api), notOpen };
}
