/**
 * tsvirt: libvirt's domain and snapshot model for TypeScript.
 *
 * {@link connect} opens a {@link Connection} to a hypervisor; its lookups give {@link Domain}
 * handles, whose snapshot calls give {@link DomainSnapshot} handles. Method names are those of
 * libvirt's Python binding, made async; flags, states, event and error codes are libvirt's own
 * numbers (the enums). Every failure is a {@link VirError} with libvirt's code and wording.
 *
 * Each operation's documentation states its prerequisites, its effects on success, what is left
 * unchanged on failure, and the VirError codes it raises and when; errors every method of a
 * class can raise are stated once, on the class.
 *
 * @packageDocumentation
 * @example
 * import { connect, VirError, DomainUndefineFlags } from 'tsvirt';
 * const conn = await connect('test:///session');
 */
export {
  connect,
  openReadOnly,
  resolveURI,
  DEFAULT_URI,
  DriverPool,
  ConnectCredentialType,
  type ConnectOptions,
  type ConnectCredential,
  type ConnectAuthCallback,
} from './api/connect.js';
export {
  Connection,
  type DomainEvent,
  type DomainEventLifecycleCallback,
  type DomainEventsOptions,
} from './api/connection.js';
export { Domain, type DomainStateReason } from './api/domain.js';
export { DomainSnapshot } from './api/snapshot.js';
export {
  Stream,
  STREAM_BUF_SIZE,
  type StreamEventCallback,
  type StreamSinkHandler,
  type StreamSourceHandler,
} from './api/stream.js';
export { DomainCheckpoint } from './api/checkpoint.js';
export { VirError, enumMemberName, errorCodeName, errorDomainName, type VirErrorInit } from './core/errors.js';
export type {
  DomainControlInfo,
  DomainInfo,
  DomainLifecycleEvent,
  DomainRef,
  DriverEventListener,
  JobOptions,
  JobProgress,
  HypervisorDriver,
  MemoryStat,
  NodeInfo,
  DomainScreenshot,
  NodeStat,
  TypedParameter,
  DomainTime,
  VcpuInfo,
  DomainFSInfo,
  DomainInterface,
  DomainIPAddress,
} from './core/driver.js';
export * from './core/enums.generated.js';
