/**
 * R7: every call checks its flags before anything changes. Drivers call `checkFlags` first thing
 * with the bits they support; the public API checks flag combinations with `exclusiveFlags` and
 * `requireFlag`, as libvirt's entry points do.
 */
import { ErrorDomain } from '../core/enums.generated.js';
import { VirError } from '../core/errors.js';

const UINT_MAX = 0xffffffff;

/**
 * Fails with VIR_ERR_INVALID_ARG "unsupported flags (0x…) in function NAME" when `flags` has a bit
 * outside `supported` (libvirt's virCheckFlags). `flags` must be an unsigned 32-bit integer.
 */
export function checkFlags(flags: number, supported: number, functionName: string, domain: ErrorDomain): void {
  if (!Number.isInteger(flags) || flags < 0 || flags > UINT_MAX) {
    throw VirError.invalidArg(domain, `unsupported flags (${String(flags)}) in function ${functionName}`);
  }
  // `>>> 0` keeps the arithmetic unsigned for bit 31.
  const unknown = (flags & ~supported) >>> 0;
  if (unknown !== 0) {
    throw VirError.invalidArg(domain, `unsupported flags (0x${unknown.toString(16)}) in function ${functionName}`);
  }
}

/** Fails when both flags are set (libvirt's VIR_EXCLUSIVE_FLAGS_RET). */
export function exclusiveFlags(
  flags: number,
  a: number,
  aName: string,
  b: number,
  bName: string,
  domain: ErrorDomain,
): void {
  if ((flags & a) !== 0 && (flags & b) !== 0) {
    throw VirError.invalidArg(domain, `Flags '${aName}' and '${bName}' are mutually exclusive`);
  }
}

/** Fails when `flag` is set without `required` (libvirt's VIR_REQUIRE_FLAG_RET). */
export function requireFlag(
  flags: number,
  flag: number,
  flagName: string,
  required: number,
  requiredName: string,
  domain: ErrorDomain,
): void {
  if ((flags & flag) !== 0 && (flags & required) === 0) {
    throw VirError.invalidArg(domain, `Flag '${requiredName}' is required by flag '${flagName}'`);
  }
}

/** OR of every member of a flag enum: the bits a call knows about. */
export function allFlags(flagEnum: Record<string, string | number>): number {
  let all = 0;
  for (const value of Object.values(flagEnum)) if (typeof value === 'number') all |= value;
  return all >>> 0;
}
