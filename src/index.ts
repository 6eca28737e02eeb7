/**
 * tsvirt: libvirt's domain and snapshot model for TypeScript.
 *
 * @example
 * import { connect, VirError, DomainUndefineFlags } from 'tsvirt';
 * const conn = await connect('test:///session');
 */
export {
  connect,
  openReadOnly,
  resolveURI,
  DEFAULT_URI,
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
export { VirError, enumMemberName, errorCodeName, errorDomainName, type VirErrorInit } from './core/errors.js';
export type {
  DomainInfo,
  DomainLifecycleEvent,
  DomainRef,
  DriverEventListener,
  JobOptions,
  JobProgress,
  HypervisorDriver,
  NodeInfo,
} from './core/driver.js';
export * from './core/enums.generated.js';
