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
  type DomainEventDeviceCallback,
  type DomainEventMetadataChangeCallback,
  type DomainEventsOptions,
  type DomainStats,
} from './api/connection.js';
export { Domain, type DomainStateReason } from './api/domain.js';
export { DomainSnapshot } from './api/snapshot.js';
export {
  VIR_MIGRATE_PARAM_URI,
  VIR_MIGRATE_PARAM_DEST_NAME,
  VIR_MIGRATE_PARAM_DEST_XML,
  VIR_MIGRATE_PARAM_PERSIST_XML,
  VIR_MIGRATE_PARAM_BANDWIDTH,
  VIR_MIGRATE_PARAM_BANDWIDTH_POSTCOPY,
  VIR_MIGRATE_PARAM_GRAPHICS_URI,
  VIR_MIGRATE_PARAM_LISTEN_ADDRESS,
  VIR_MIGRATE_PARAM_MIGRATE_DISKS,
  VIR_MIGRATE_PARAM_DISKS_PORT,
  VIR_MIGRATE_PARAM_DISKS_URI,
  VIR_MIGRATE_PARAM_COMPRESSION,
  VIR_MIGRATE_PARAM_COMPRESSION_MT_LEVEL,
  VIR_MIGRATE_PARAM_COMPRESSION_MT_THREADS,
  VIR_MIGRATE_PARAM_COMPRESSION_MT_DTHREADS,
  VIR_MIGRATE_PARAM_COMPRESSION_XBZRLE_CACHE,
  VIR_MIGRATE_PARAM_AUTO_CONVERGE_INITIAL,
  VIR_MIGRATE_PARAM_AUTO_CONVERGE_INCREMENT,
  VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS,
  VIR_MIGRATE_PARAM_TLS_DESTINATION,
  migrateParams,
  type MigrateParams,
} from './api/migration.js';
export {
  Stream,
  STREAM_BUF_SIZE,
  STREAM_RECV_HOLE,
  StreamRecvFlags,
  type StreamEventCallback,
  type StreamSinkHandler,
  type StreamSourceHandler,
  type StreamHoleSinkHandler,
  type StreamSectionHandler,
  type StreamSkipHandler,
} from './api/stream.js';
export { StreamHole } from './core/stream-hole.js';
export { DomainCheckpoint } from './api/checkpoint.js';
export { Network, type NetworkDHCPLease } from './api/network.js';
export { StoragePool, StorageVol } from './api/storage.js';
export type {
  StorageDriver,
  StoragePoolEventListener,
  StoragePoolInfo,
  StoragePoolLifecycleEvent,
  StoragePoolRef,
  StorageVolInfo,
  StorageVolRef,
} from './core/storage-driver.js';
export { VirError, enumMemberName, errorCodeName, errorDomainName, type VirErrorInit } from './core/errors.js';
export type {
  BlockInfo,
  BlockStats,
  CpuStats,
  DomainStatsRecord,
  InterfaceStats,
  JobInfo,
  JobStats,
  DomainControlInfo,
  DomainInfo,
  DomainLifecycleEvent,
  DomainDeviceEvent,
  DeviceChangeEvent,
  MetadataChangeEvent,
  DomainRef,
  DriverEventListener,
  JobOptions,
  MigrationBegin,
  MigrationFinish,
  MigrationPrepare,
  JobProgress,
  HypervisorDriver,
  MemoryStat,
  NodeInfo,
  SecurityLabel,
  SecurityModel,
  DomainScreenshot,
  NodeStat,
  TypedParameter,
  DomainTime,
  VcpuInfo,
  DomainFSInfo,
  DomainInterface,
  DomainIPAddress,
} from './core/driver.js';
export type { NetworkDriver, NetworkRef } from './core/network-driver.js';
export * from './core/enums.generated.js';
