/**
 * vim25 calls tsvirt makes, over a {@link SoapClient}: the service content, Login/Logout,
 * RetrieveProperties with the traversal that finds every virtual machine below a folder,
 * FindByUuid, and waiting for a Task to finish (CreateFilter + WaitForUpdatesEx, as libvirt's
 * esxVI_WaitForTaskCompletion does, rather than polling).
 */
import { ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError } from '../../core/errors.js';
import { SoapClient, moRef, refElement, textElement, thisRef, VimFaultError, type MoRef } from './soap.js';
import { child, childText, children, escapeXmlText, type VimNode } from './xml.js';

/** The parts of ServiceContent tsvirt uses. */
export interface ServiceContent {
  rootFolder: MoRef;
  propertyCollector: MoRef;
  sessionManager: MoRef;
  searchIndex: MoRef;
  /** `HostAgent` for ESX(i), `VirtualCenter` for vCenter. */
  apiType: string;
  /** e.g. `6.5.0`. */
  version: string;
  fullName: string;
}

/** One object's properties as RetrieveProperties returns them, by property path. */
export interface ObjectContent {
  obj: MoRef;
  props: Map<string, VimNode>;
}

/** How a task ended. */
export interface TaskOutcome {
  state: 'success' | 'error';
  /** The task's error message (LocalizedMethodFault.localizedMessage), when it failed. */
  errorMessage?: string;
  /** The fault type of a failed task, e.g. `InvalidPowerState`. */
  fault?: string;
  /** The task's result, e.g. the new snapshot's MoRef. */
  result?: VimNode;
}

function internal(detail: string): VirError {
  return VirError.report(ErrorDomain.ESX, ErrorNumber.INTERNAL_ERROR, detail);
}

function requireRef(node: VimNode | undefined, what: string, method: string): MoRef {
  const ref = moRef(node);
  if (ref === undefined) throw internal(`Malformed response for call to '${method}': missing ${what}`);
  return ref;
}

/**
 * The traversal from a folder down to every VirtualMachine: folders' children, datacenters'
 * VM folders, and vApps' VMs.
 */
const VM_TRAVERSAL =
  '<selectSet xsi:type="TraversalSpec"><name>folderChildren</name><type>Folder</type><path>childEntity</path>' +
  '<skip>false</skip><selectSet><name>folderChildren</name></selectSet><selectSet><name>datacenterVms</name></selectSet>' +
  '<selectSet><name>vappVms</name></selectSet></selectSet>' +
  '<selectSet xsi:type="TraversalSpec"><name>datacenterVms</name><type>Datacenter</type><path>vmFolder</path>' +
  '<skip>false</skip><selectSet><name>folderChildren</name></selectSet></selectSet>' +
  '<selectSet xsi:type="TraversalSpec"><name>vappVms</name><type>VirtualApp</type><path>vm</path><skip>false</skip></selectSet>';

/** The traversal from a folder through datacenters' host folders to compute resources. */
const HOST_TRAVERSAL =
  '<selectSet xsi:type="TraversalSpec"><name>folderChildren</name><type>Folder</type><path>childEntity</path>' +
  '<skip>false</skip><selectSet><name>folderChildren</name></selectSet><selectSet><name>datacenterHosts</name></selectSet></selectSet>' +
  '<selectSet xsi:type="TraversalSpec"><name>datacenterHosts</name><type>Datacenter</type><path>hostFolder</path>' +
  '<skip>false</skip><selectSet><name>folderChildren</name></selectSet></selectSet>';

/** The traversal from a folder down through its subfolders (datacenters, compute resources). */
const INVENTORY_TRAVERSAL =
  '<selectSet xsi:type="TraversalSpec"><name>folderChildren</name><type>Folder</type><path>childEntity</path>' +
  '<skip>false</skip><selectSet><name>folderChildren</name></selectSet></selectSet>';

/** A vim25 session: logged in once, used by every call of a connection, logged out on close. */
export class VimSession {
  private taskWaits: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly client: SoapClient,
    readonly content: ServiceContent,
  ) {}

  /** RetrieveServiceContent: what the endpoint is, and where its managers are. */
  static async connect(client: SoapClient): Promise<VimSession> {
    const method = 'RetrieveServiceContent';
    const res = await client.call(method, '<_this type="ServiceInstance">ServiceInstance</_this>');
    const rv = child(res, 'returnval');
    const about = child(rv, 'about');
    const content: ServiceContent = {
      rootFolder: requireRef(child(rv, 'rootFolder'), 'rootFolder', method),
      propertyCollector: requireRef(child(rv, 'propertyCollector'), 'propertyCollector', method),
      sessionManager: requireRef(child(rv, 'sessionManager'), 'sessionManager', method),
      searchIndex: requireRef(child(rv, 'searchIndex'), 'searchIndex', method),
      apiType: childText(about, 'apiType') ?? '',
      version: childText(about, 'version') ?? '',
      fullName: childText(about, 'fullName') ?? '',
    };
    return new VimSession(client, content);
  }

  /** Login. Errors: VIR_ERR_AUTH_FAILED for a wrong user name or password. */
  async login(username: string, password: string): Promise<void> {
    await this.client.call(
      'Login',
      thisRef(this.content.sessionManager) + textElement('userName', username) + textElement('password', password),
    );
  }

  /** Logout; errors are the caller's to ignore (the session ends with the connection anyway). */
  async logout(): Promise<void> {
    await this.client.call('Logout', thisRef(this.content.sessionManager));
  }

  /** A method call on a managed object; `args` is the rest of the method element's content. */
  async invoke(method: string, target: MoRef, args = '', timeoutMs?: number): Promise<VimNode> {
    return this.client.call(method, thisRef(target) + args, timeoutMs);
  }

  /**
   * RetrieveProperties of `paths` on objects of `type`: from `start` alone, or, with
   * `traversal`, from every object reached from it.
   */
  async retrieve(type: string, paths: readonly string[], start: MoRef, traversal?: 'vms' | 'inventory' | 'hosts'): Promise<ObjectContent[]> {
    const pathSet = paths.map((p) => `<pathSet>${escapeXmlText(p)}</pathSet>`).join('');
    const select = traversal === 'vms' ? VM_TRAVERSAL : traversal === 'inventory' ? INVENTORY_TRAVERSAL : traversal === 'hosts' ? HOST_TRAVERSAL : '';
    const spec =
      `<specSet><propSet><type>${escapeXmlText(type)}</type>${pathSet}</propSet>` +
      `<objectSet>${refElement('obj', start)}<skip>${traversal !== undefined}</skip>${select}</objectSet></specSet>`;
    const res = await this.invoke('RetrieveProperties', this.content.propertyCollector, spec);
    return children(res, 'returnval').map((rv) => {
      const obj = requireRef(child(rv, 'obj'), 'obj', 'RetrieveProperties');
      const props = new Map<string, VimNode>();
      for (const p of children(rv, 'propSet')) {
        const name = childText(p, 'name');
        const val = child(p, 'val');
        if (name !== undefined && val !== undefined) props.set(name, val);
      }
      return { obj, props };
    });
  }

  /** Properties of one object; undefined when the server no longer knows it. */
  async retrieveOne(obj: MoRef, paths: readonly string[]): Promise<ObjectContent | undefined> {
    try {
      const found = await this.retrieve(obj.type, paths, obj);
      return found[0];
    } catch (e) {
      if (e instanceof VimFaultError && e.fault === 'ManagedObjectNotFound') return undefined;
      throw e;
    }
  }

  /** SearchIndex.FindByUuid for a VM's BIOS UUID, within `datacenter` when given. */
  async findVmByUuid(uuid: string, datacenter?: MoRef): Promise<MoRef | undefined> {
    const res = await this.invoke(
      'FindByUuid',
      this.content.searchIndex,
      (datacenter !== undefined ? refElement('datacenter', datacenter) : '') +
        textElement('uuid', uuid) +
        textElement('vmSearch', true),
    );
    return moRef(child(res, 'returnval'));
  }

  /**
   * Waits until a task succeeds or fails, through a property filter on its `info` and
   * WaitForUpdatesEx. Waits are serialized per session: WaitForUpdatesEx reports every filter
   * of the session's property collector, so two at once would take each other's updates.
   * Each wait call is bounded by `pollSeconds` plus the client's timeout; the whole wait by
   * `deadlineMs`.
   */
  waitForTask(task: MoRef, deadlineMs: number): Promise<TaskOutcome> {
    const run = this.taskWaits.then(
      () => this.waitForTaskNow(task, deadlineMs),
      () => this.waitForTaskNow(task, deadlineMs),
    );
    this.taskWaits = run.catch(() => undefined);
    return run;
  }

  private async waitForTaskNow(task: MoRef, deadlineMs: number): Promise<TaskOutcome> {
    const pc = this.content.propertyCollector;
    const spec =
      `<spec><propSet><type>Task</type><pathSet>info</pathSet></propSet>` +
      `<objectSet>${refElement('obj', task)}<skip>false</skip></objectSet></spec><partialUpdates>false</partialUpdates>`;
    const filter = requireRef(child(await this.invoke('CreateFilter', pc, spec), 'returnval'), 'filter', 'CreateFilter');
    const started = Date.now();
    let version = '';
    try {
      for (;;) {
        const left = deadlineMs - (Date.now() - started);
        if (left <= 0) {
          throw VirError.report(ErrorDomain.ESX, ErrorNumber.OPERATION_TIMEOUT, `task '${task.value}' did not finish within ${deadlineMs} ms`);
        }
        const pollSeconds = Math.max(1, Math.min(10, Math.ceil(left / 1000)));
        const res = await this.invoke(
          'WaitForUpdatesEx',
          pc,
          textElement('version', version) + `<options>${textElement('maxWaitSeconds', pollSeconds)}</options>`,
          pollSeconds * 1000 + 30_000,
        );
        const update = child(res, 'returnval');
        if (update === undefined) continue; // maxWaitSeconds passed without a change
        version = childText(update, 'version') ?? version;
        for (const fs of children(update, 'filterSet')) {
          for (const os of children(fs, 'objectSet')) {
            for (const change of children(os, 'changeSet')) {
              if (childText(change, 'name') !== 'info') continue;
              const outcome = taskOutcome(child(change, 'val'));
              if (outcome !== undefined) return outcome;
            }
          }
        }
      }
    } finally {
      await this.invoke('DestroyPropertyFilter', filter).catch(() => undefined);
    }
  }
}

/** A finished TaskInfo's outcome, or undefined while it is queued or running. */
export function taskOutcome(info: VimNode | undefined): TaskOutcome | undefined {
  const state = childText(info, 'state');
  if (state === 'success') return { state, result: child(info, 'result') };
  if (state === 'error') {
    const error = child(info, 'error');
    const fault = child(error, 'fault');
    return {
      state,
      errorMessage: childText(error, 'localizedMessage') ?? fault?.xsiType ?? 'unknown error',
      fault: fault?.xsiType,
    };
  }
  return undefined;
}
