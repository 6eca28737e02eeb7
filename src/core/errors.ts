/**
 * VirError: the one error type of the public API, with libvirt's numeric code, error domain and
 * message wording, so that code written against libvirt ports over and the wire protocol carries
 * the same numbers.
 */
import { ErrorDomain, ErrorLevel, ErrorNumber } from './enums.generated.js';

/** libvirt's `virErrorMsg` table: the prefix each code puts before the detail (virerror.c). */
const MESSAGE_FORMAT: Partial<Record<ErrorNumber, [bare: string, withInfo: string]>> = {
  [ErrorNumber.INTERNAL_ERROR]: ['internal error', 'internal error: %s'],
  [ErrorNumber.NO_MEMORY]: ['out of memory', 'out of memory: %s'],
  [ErrorNumber.NO_SUPPORT]: [
    'this function is not supported by the connection driver',
    'this function is not supported by the connection driver: %s',
  ],
  [ErrorNumber.NO_CONNECT]: ['no connection driver available', 'no connection driver available for %s'],
  [ErrorNumber.INVALID_CONN]: ['invalid connection pointer in', 'invalid connection pointer in %s'],
  [ErrorNumber.INVALID_DOMAIN]: ['invalid domain pointer in', 'invalid domain pointer in %s'],
  [ErrorNumber.INVALID_ARG]: ['invalid argument', 'invalid argument: %s'],
  [ErrorNumber.OPERATION_FAILED]: ['operation failed', 'operation failed: %s'],
  [ErrorNumber.OS_TYPE]: ['unknown OS type', 'unknown OS type %s'],
  [ErrorNumber.NO_NAME]: ['missing name information', 'missing name information in %s'],
  [ErrorNumber.XML_ERROR]: ['XML description is invalid or not well formed', 'XML error: %s'],
  [ErrorNumber.DOM_EXIST]: ['this domain exists already', 'domain %s exists already'],
  [ErrorNumber.OPERATION_DENIED]: ['operation forbidden for read only access', 'operation forbidden: %s'],
  [ErrorNumber.WRITE_FAILED]: ['failed to write configuration file', 'failed to write configuration file: %s'],
  [ErrorNumber.XML_DETAIL]: ['parser error', '%s'],
  [ErrorNumber.SYSTEM_ERROR]: ['system call error', '%s'],
  [ErrorNumber.RPC]: ['RPC error', '%s'],
  [ErrorNumber.NO_DOMAIN]: ['Domain not found', 'Domain not found: %s'],
  [ErrorNumber.NO_NETWORK]: ['Network not found', 'Network not found: %s'],
  [ErrorNumber.INVALID_NETWORK]: ['invalid network pointer in', 'invalid network pointer in %s'],
  [ErrorNumber.AUTH_FAILED]: ['authentication failed', 'authentication failed: %s'],
  [ErrorNumber.OPERATION_INVALID]: ['Requested operation is not valid', 'Requested operation is not valid: %s'],
  [ErrorNumber.CONFIG_UNSUPPORTED]: ['unsupported configuration', 'unsupported configuration: %s'],
  [ErrorNumber.OPERATION_TIMEOUT]: ['Timed out during operation', 'Timed out during operation: %s'],
  [ErrorNumber.INVALID_DOMAIN_SNAPSHOT]: ['Invalid domain snapshot', 'Invalid domain snapshot: %s'],
  [ErrorNumber.NO_DOMAIN_SNAPSHOT]: ['Domain snapshot not found', 'Domain snapshot not found: %s'],
  [ErrorNumber.NO_DOMAIN_METADATA]: ['metadata not found', 'metadata not found: %s'],
  [ErrorNumber.ARGUMENT_UNSUPPORTED]: ['argument unsupported', 'argument unsupported: %s'],
  [ErrorNumber.SNAPSHOT_REVERT_RISKY]: ['revert requires force', 'revert requires force: %s'],
  [ErrorNumber.OPERATION_ABORTED]: ['operation aborted', 'operation aborted: %s'],
  [ErrorNumber.AUTH_CANCELLED]: ['authentication cancelled', 'authentication cancelled: %s'],
  [ErrorNumber.OPERATION_UNSUPPORTED]: ['Operation not supported', 'Operation not supported: %s'],
  [ErrorNumber.DEVICE_MISSING]: ['device not found', 'device not found: %s'],
  [ErrorNumber.RESOURCE_BUSY]: ['resource busy', 'resource busy: %s'],
  [ErrorNumber.ACCESS_DENIED]: ['access denied', 'access denied: %s'],
  [ErrorNumber.XML_INVALID_SCHEMA]: [
    'XML document failed to validate against schema',
    'XML document failed to validate against schema: %s',
  ],
  [ErrorNumber.AUTH_UNAVAILABLE]: ['authentication unavailable', 'authentication unavailable: %s'],
  [ErrorNumber.NO_HOSTNAME]: ['no hostname found', 'no hostname found: %s'],
  [ErrorNumber.INVALID_DOMAIN_CHECKPOINT]: ['Invalid domain checkpoint', 'Invalid domain checkpoint: %s'],
  [ErrorNumber.NO_DOMAIN_CHECKPOINT]: ['Domain checkpoint not found', 'Domain checkpoint not found: %s'],
  [ErrorNumber.CHECKPOINT_INCONSISTENT]: ['checkpoint inconsistent', 'checkpoint inconsistent: %s'],
  [ErrorNumber.INVALID_STORAGE_POOL]: ['invalid storage pool pointer in', 'invalid storage pool pointer in %s'],
  [ErrorNumber.INVALID_STORAGE_VOL]: ['invalid storage volume pointer in', 'invalid storage volume pointer in %s'],
  [ErrorNumber.NO_STORAGE_POOL]: ['Storage pool not found', 'Storage pool not found: %s'],
  [ErrorNumber.NO_STORAGE_VOL]: ['Storage volume not found', 'Storage volume not found: %s'],
  [ErrorNumber.STORAGE_POOL_BUILT]: ['storage pool already built', 'storage pool already built: %s'],
  [ErrorNumber.STORAGE_VOL_EXIST]: ['this storage volume exists already', 'storage volume %s exists already'],
};

/** Member names by value, made for a table when first asked (formatting an error). */
const memberNames = new WeakMap<object, Map<number, string>>();

/**
 * The name of the member of one of the generated enum tables that has `value` (the last declared,
 * as a TypeScript enum's reverse mapping gave); undefined for a value the table lacks. Never
 * throws.
 *
 * @example
 * enumMemberName(DomainState, 5); // 'SHUTOFF'
 */
export function enumMemberName(table: Readonly<Record<string, number>>, value: number): string | undefined {
  let names = memberNames.get(table);
  if (names === undefined) {
    names = new Map(Object.entries(table).map(([k, v]) => [v, k]));
    memberNames.set(table, names);
  }
  return names.get(value);
}

/**
 * libvirt's name of an error code, e.g. `VIR_ERR_OPERATION_INVALID` for 55; `VIR_ERR_<number>`
 * for a code libvirt 9.0 does not have. Never throws.
 */
export function errorCodeName(code: ErrorNumber): string {
  const member = enumMemberName(ErrorNumber, code);
  if (member === undefined) return `VIR_ERR_${code}`;
  return member.startsWith('WAR_') ? `VIR_${member}` : `VIR_ERR_${member}`;
}

/**
 * libvirt's name of an error domain, e.g. `VIR_FROM_TEST` for 12; `VIR_FROM_<number>` for a
 * domain libvirt 9.0 does not have. Never throws.
 */
export function errorDomainName(domain: ErrorDomain): string {
  const member = enumMemberName(ErrorDomain, domain);
  return member === undefined ? `VIR_FROM_${domain}` : `VIR_FROM_${member}`;
}

/** Formats a message the way libvirt's virReportError does: the code's prefix, then the detail. */
export function formatErrorMessage(code: ErrorNumber, detail?: string): string {
  const format = MESSAGE_FORMAT[code];
  if (format === undefined) return detail ?? errorCodeName(code);
  return detail === undefined || detail === '' ? format[0] : format[1].replace('%s', detail);
}

/** The fields of libvirt's `virError` that travel with an error (and over the wire). */
export interface VirErrorInit {
  /** libvirt's error number. */
  code: ErrorNumber;
  /** The part of the system that raised it (libvirt's virErrorDomain). */
  domain: ErrorDomain;
  /** The complete message, already formatted as libvirt would show it. */
  message: string;
  /** ERROR when absent. */
  level?: ErrorLevel;
  /** Extra information (virError's str1): the message format for errors built by {@link VirError.report}. */
  str1?: string | null;
  /** Extra information (virError's str2): the detail for errors built by {@link VirError.report}. */
  str2?: string | null;
  /** Extra information (virError's str3). */
  str3?: string | null;
  /** Extra number (virError's int1; an errno for system errors); -1 when absent. */
  int1?: number;
  /** Extra number (virError's int2); -1 when absent. */
  int2?: number;
}

/**
 * The error every public call rejects with (libvirt's virError). `code` and `domain` are
 * libvirt's numbers; `message` is worded as libvirt words it, so `err.message` reads the same as
 * virsh's second line. Errors that come from a daemon keep every field.
 *
 * @example
 * try {
 *   await dom.undefine();
 * } catch (err) {
 *   if (err instanceof VirError && err.code === ErrorNumber.OPERATION_INVALID) console.log(err.message);
 *   else throw err;
 * }
 */
export class VirError extends Error {
  /** Always 'VirError'. */
  override readonly name = 'VirError';
  /** libvirt's error number, e.g. {@link ErrorNumber}.NO_DOMAIN (42); its name: {@link VirError.codeName}. */
  readonly code: ErrorNumber;
  /**
   * Where the error arose (libvirt's virErrorDomain), e.g. VIR_FROM_TEST or VIR_FROM_QEMU for a
   * driver, VIR_FROM_DOMAIN for checks of the public API; its name: {@link VirError.domainName}.
   */
  readonly domain: ErrorDomain;
  /** libvirt's error level: ERROR unless the raiser said otherwise. */
  readonly level: ErrorLevel;
  /** virError's str1: for errors built by {@link VirError.report}, the message format. */
  readonly str1: string | null;
  /** virError's str2: for errors built by {@link VirError.report}, the detail. */
  readonly str2: string | null;
  /** virError's str3; null when unset. */
  readonly str3: string | null;
  /** virError's int1 (an errno for system errors); -1 when unset. */
  readonly int1: number;
  /** virError's int2; -1 when unset. */
  readonly int2: number;

  /** An error with exactly these fields; {@link VirError.report} words the message as libvirt does. */
  constructor(init: VirErrorInit) {
    super(init.message);
    this.code = init.code;
    this.domain = init.domain;
    this.level = init.level ?? ErrorLevel.ERROR;
    this.str1 = init.str1 ?? null;
    this.str2 = init.str2 ?? null;
    this.str3 = init.str3 ?? null;
    this.int1 = init.int1 ?? -1;
    this.int2 = init.int2 ?? -1;
  }

  /** libvirt's name of the code, e.g. `VIR_ERR_NO_DOMAIN`. */
  get codeName(): string {
    return errorCodeName(this.code);
  }

  /** libvirt's name of the error domain, e.g. `VIR_FROM_QEMU`. */
  get domainName(): string {
    return errorDomainName(this.domain);
  }

  /** python-libvirt's `get_error_code()`: {@link VirError.code}, so that ported code reads the same. */
  get_error_code(): number {
    return this.code;
  }
  /** python-libvirt's `get_error_domain()`: {@link VirError.domain}. */
  get_error_domain(): number {
    return this.domain;
  }
  /** python-libvirt's `get_error_message()`: the message. */
  get_error_message(): string {
    return this.message;
  }

  /**
   * Builds an error as libvirt's `virReportError(code, fmt, …)` does: prefix plus detail; like
   * libvirt, str1 holds the code's format ("Requested operation is not valid: %s") and str2 the
   * detail, so the error crosses the wire field for field.
   */
  static report(domain: ErrorDomain, code: ErrorNumber, detail?: string): VirError {
    const message = formatErrorMessage(code, detail);
    const hasDetail = detail !== undefined && detail !== '';
    const str1 = MESSAGE_FORMAT[code]?.[hasDetail ? 1 : 0] ?? message;
    return new VirError({ code, domain, message, str1, str2: detail ?? null });
  }

  /** Builds an error as libvirt's `virReportInvalidArg` does: the message without prefix. */
  static invalidArg(domain: ErrorDomain, message: string): VirError {
    return new VirError({ code: ErrorNumber.INVALID_ARG, domain, message, str1: message });
  }
}

// The helpers below keep libvirt's wording in one place; drivers call them rather than
// writing messages of their own.

/** VIR_ERR_OPERATION_INVALID: "Requested operation is not valid: …". */
export function operationInvalid(domain: ErrorDomain, detail: string): VirError {
  return VirError.report(domain, ErrorNumber.OPERATION_INVALID, detail);
}

/** VIR_ERR_OPERATION_FAILED: "operation failed: …". */
export function operationFailed(domain: ErrorDomain, detail: string): VirError {
  return VirError.report(domain, ErrorNumber.OPERATION_FAILED, detail);
}

/** VIR_ERR_INTERNAL_ERROR: "internal error: …". */
export function internalError(domain: ErrorDomain, detail: string): VirError {
  return VirError.report(domain, ErrorNumber.INTERNAL_ERROR, detail);
}

/** VIR_ERR_NO_DOMAIN: "Domain not found: …" (or just "Domain not found"). */
export function noDomain(domain: ErrorDomain, detail?: string): VirError {
  return VirError.report(domain, ErrorNumber.NO_DOMAIN, detail);
}

/** VIR_ERR_NO_DOMAIN_SNAPSHOT: "Domain snapshot not found: …". */
export function noDomainSnapshot(domain: ErrorDomain, detail: string): VirError {
  return VirError.report(domain, ErrorNumber.NO_DOMAIN_SNAPSHOT, detail);
}

/** VIR_ERR_XML_ERROR: "XML error: …". */
export function xmlError(detail: string): VirError {
  return VirError.report(ErrorDomain.DOMAIN, ErrorNumber.XML_ERROR, detail);
}

/** VIR_ERR_NO_SUPPORT: "this function is not supported by the connection driver: NAME". */
export function noSupport(domain: ErrorDomain, functionName: string): VirError {
  return VirError.report(domain, ErrorNumber.NO_SUPPORT, functionName);
}

/** VIR_ERR_CONFIG_UNSUPPORTED: "unsupported configuration: …". */
export function configUnsupported(domain: ErrorDomain, detail: string): VirError {
  return VirError.report(domain, ErrorNumber.CONFIG_UNSUPPORTED, detail);
}
