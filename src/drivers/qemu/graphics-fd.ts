/**
 * virDomainOpenGraphicsFD and virDomainOpenGraphics on QEMU, as libvirt's qemu driver does them:
 * a connected socket is handed to QEMU over QMP (`getfd` with the descriptor attached, then
 * `add_client` naming it), and QEMU serves the guest's display on it as on a listening socket's
 * client. OpenGraphicsFD makes a socket pair and returns the other end to the caller; OpenGraphics
 * hands over the caller's own socket. Descriptors travel through tsvirt's fdpass addon
 * (core/fdpass.ts); without it both answer VIR_ERR_NO_SUPPORT.
 */
import { closeSync } from 'node:fs';
import { DomainOpenGraphicsFlags, ErrorDomain } from '../../core/enums.generated.js';
import { configUnsupported, internalError } from '../../core/errors.js';
import { fdPassing, fdPassingUnavailable } from '../../core/fdpass.js';
import type { DomainDef } from '../../conf/domain.js';
import type { QmpClient } from './qmp.js';

const DOM = ErrorDomain.QEMU;
/** The name the descriptor has in QEMU between getfd and add_client (libvirt's). */
const FD_NAME = 'graphicsfd';

/**
 * The QMP protocol of graphics device `idx` of the running definition.
 *
 * Errors: VIR_ERR_INTERNAL_ERROR "No graphics backend with index N"; VIR_ERR_CONFIG_UNSUPPORTED
 * "Can only open VNC or SPICE graphics backends, not TYPE".
 */
export function graphicsProtocol(def: DomainDef, idx: number): 'vnc' | 'spice' {
  const g = def.devices.graphics[idx];
  if (g === undefined) throw internalError(DOM, `No graphics backend with index ${idx}`);
  if (g.type !== 'vnc' && g.type !== 'spice') throw configUnsupported(DOM, `Can only open VNC or SPICE graphics backends, not ${g.type}`);
  return g.type;
}

/**
 * Gives QEMU the connected socket `fd` as a client of graphics device `idx` (`getfd`, then
 * `add_client`, with skipauth per VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH). `fd` stays the caller's:
 * QEMU has its own copy. On an add_client failure the named descriptor is closed in QEMU again.
 *
 * Errors: as {@link graphicsProtocol}; VIR_ERR_NO_SUPPORT without the fdpass addon; QEMU's
 * error (VIR_ERR_INTERNAL_ERROR) when it refuses.
 */
export async function attachGraphicsClient(qmp: QmpClient, def: DomainDef, idx: number, fd: number, flags: number): Promise<void> {
  const protocol = graphicsProtocol(def, idx);
  if (fdPassing() === null) throw fdPassingUnavailable(ErrorDomain.DOMAIN, 'virDomainOpenGraphics');
  await qmp.executeWithFd('getfd', { fdname: FD_NAME }, fd);
  try {
    await qmp.execute('add_client', { protocol, fdname: FD_NAME, skipauth: (flags & DomainOpenGraphicsFlags.SKIPAUTH) !== 0 });
  } catch (err) {
    await qmp.execute('closefd', { fdname: FD_NAME }).catch(() => {});
    throw err;
  }
}

/**
 * A new socket connected to graphics device `idx` of the guest: a socket pair, one end given to
 * QEMU ({@link attachGraphicsClient}) and closed here, the other returned. The caller owns the
 * returned descriptor (close it with fs.closeSync, or wrap it: `new net.Socket({ fd })`).
 *
 * Errors: as {@link attachGraphicsClient}; both ends are closed on failure.
 */
export async function openGraphicsSocket(qmp: QmpClient, def: DomainDef, idx: number, flags: number): Promise<number> {
  graphicsProtocol(def, idx);
  const addon = fdPassing();
  if (addon === null) throw fdPassingUnavailable(ErrorDomain.DOMAIN, 'virDomainOpenGraphicsFD');
  const [mine, qemus] = addon.socketpair();
  try {
    await attachGraphicsClient(qmp, def, idx, qemus, flags);
  } catch (err) {
    closeSync(mine);
    throw err;
  } finally {
    closeSync(qemus);
  }
  return mine;
}
