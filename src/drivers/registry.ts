/**
 * The driver registry: which driver module serves each URI scheme. connect() reads this table
 * and names no driver itself. Each module is loaded only when a URI of its scheme is opened
 * (dynamic import), so a program pays only for the drivers it uses; the CLI bundle keeps these
 * imports lazy too (esbuild wraps each module and runs it on first import).
 */
import type { DriverOpener } from '../core/driver.js';

/** Loads the opener of one scheme's driver. */
export type DriverLoader = () => Promise<DriverOpener>;

const remote: DriverLoader = async () => (await import('./remote/driver.js')).remoteOpener;
const esx: DriverLoader = async () => (await import('./esx/driver.js')).esxOpener;

/** URI scheme, with its colon as URL.protocol spells it, → its driver. */
export const DRIVERS: ReadonlyMap<string, DriverLoader> = new Map<string, DriverLoader>([
  ['test:', async () => (await import('./test/driver.js')).testOpener],
  ['qemu:', async () => (await import('./qemu/driver.js')).qemuOpener],
  // Through a daemon (tsvirtd or libvirtd) on a unix socket.
  ['test+unix:', remote],
  ['qemu+unix:', remote],
  // Through the user's ssh to a daemon's socket on another host.
  ['test+ssh:', remote],
  ['qemu+ssh:', remote],
  // Through a daemon (tsvirtd or libvirtd) listening for TLS.
  ['test+tls:', remote],
  ['qemu+tls:', remote],
  // A vSphere endpoint over SOAP.
  ['esx:', esx],
  ['vpx:', esx],
  ['vbox:', async () => (await import('./vbox/driver.js')).vboxOpener],
]);
