/**
 * Checkpoints on the metadata driver: the tree and its metadata in the store, the rules of
 * src/rules/checkpoints.ts, the hypervisor's dirty bitmaps through the backend's
 * GuestCheckpoints — create, redefine, list, lookup, XML, delete. Every change is one store
 * transaction (the job's commit), as for snapshots.
 */
import {
  DomainCheckpointCreateFlags as Create,
  DomainCheckpointDeleteFlags as Delete,
  DomainCheckpointXMLFlags as XMLFlags,
  ErrorDomain,
  ErrorNumber,
} from '../../core/enums.generated.js';
import { VirError, noSupport, operationFailed } from '../../core/errors.js';
import type { DomainRef } from '../../core/driver.js';
import { alignCheckpointDisks, formatCheckpointXML, parseCheckpointXML, type CheckpointDef } from '../../conf/checkpoint.js';
import {
  CHECKPOINT_CHILDREN_SUPPORTED,
  CHECKPOINT_LIST_SUPPORTED,
  CheckpointTree,
  checkCheckpointRedefineParent,
  noCheckpoint,
} from '../../rules/checkpoints.js';
import { checkActive } from '../../rules/lifecycle.js';
import type { CheckpointRecord, DomainRecord } from '../../store/store.js';
import type { GuestCheckpoints } from './guest.js';
import type { Jobs } from './jobs.js';
import { STORED, isActive, type DomainRecords } from './records.js';

/**
 * The checkpoints of a hypervisor whose checkpoint is its metadata (the simulator, as libvirt's
 * test driver): nothing to make or remove. libvirt's test driver makes checkpoints of running
 * domains only, redefined ones too, and accepts QUIESCE (it has nothing to quiesce).
 */
export function metadataOnlyCheckpoints(): GuestCheckpoints {
  return {
    supported: {
      create: Create.REDEFINE | Create.QUIESCE,
      getXMLDesc: XMLFlags.SECURE | XMLFlags.NO_DOMAIN | XMLFlags.SIZE,
      delete: Delete.CHILDREN | Delete.METADATA_ONLY | Delete.CHILDREN_ONLY,
    },
    check: (_def, _cp, opts) => {
      if (!opts.active) {
        throw VirError.report(ErrorDomain.TEST, ErrorNumber.OPERATION_UNSUPPORTED, 'cannot create checkpoint for inactive domain');
      }
    },
    create: async () => undefined,
    checkDelete: () => undefined,
    discard: async () => undefined,
  };
}

/** The checkpoint calls (see the file comment); TSDoc of each is HypervisorDriver's. */
export class DomainCheckpoints {
  constructor(
    private readonly records: DomainRecords,
    private readonly jobs: Jobs,
  ) {}

  /** The backend's checkpoints, or libvirt's "not supported" for `fn`. */
  private hooks(fn: string): GuestCheckpoints {
    const hooks = this.records.backend.checkpoints;
    if (hooks === undefined) throw noSupport(this.records.errDomain, fn);
    return hooks;
  }

  private tree(uuid: string): CheckpointTree {
    return new CheckpointTree(this.records.store.checkpointTree(uuid), this.records.errDomain);
  }

  private require(rec: DomainRecord, name: string): CheckpointRecord {
    const cp = this.records.store.checkpoint(rec.uuid, name);
    if (cp === undefined) throw noCheckpoint(this.records.errDomain, name);
    return cp;
  }

  checkpointCreateXML(dom: DomainRef, xml: string, flags: number): Promise<string> {
    const r = this.records;
    const hooks = this.hooks('virDomainCheckpointCreateXML');
    r.check(flags, hooks.supported.create, 'DomainCheckpointCreateXML');
    const redefine = (flags & Create.REDEFINE) !== 0;
    if (redefine) {
      return r.events.mutateWhenWritable(() => {
        const rec = r.target(dom);
        hooks.check(r.currentDef(rec), { disks: [] }, { active: isActive(rec), redefine, flags });
        return this.redefine(rec, parseCheckpointXML(xml, { redefine: true }));
      });
    }
    const parsed = parseCheckpointXML(xml);
    return this.jobs.run(dom, 'virDomainCheckpointCreateXML', {
      plan: (rec) => {
        const domainDef = r.currentDef(rec);
        hooks.check(domainDef, parsed, { active: isActive(rec), redefine, flags });
        const now = Math.floor(Date.now() / 1000);
        const name = parsed.name ?? String(now);
        if (r.store.checkpoint(rec.uuid, name) !== undefined) {
          throw operationFailed(ErrorDomain.DOMAIN, `domain moment ${name} already exists`);
        }
        const current = r.store.checkpointTree(rec.uuid).find((c) => c.current)?.name;
        // libvirt ignores a parent and creationTime given on create: the current checkpoint and now.
        const def: CheckpointDef = {
          name,
          description: parsed.description,
          parent: current,
          creationTime: now,
          disks: alignCheckpointDisks(name, parsed.disks, domainDef),
          domain: domainDef,
        };
        hooks.check(domainDef, def, { active: isActive(rec), redefine, flags });
        return { def, domainDef };
      },
      act: (rec, plan) => hooks.create(rec, plan.domainDef, plan.def),
      commit: (rec, plan) => {
        const name = plan.def.name as string;
        r.store.putCheckpoint(rec.uuid, {
          name,
          parent: plan.def.parent ?? null,
          seq: r.store.nextCheckpointSeq(rec.uuid),
          creationTime: plan.def.creationTime as number,
          current: true,
          xml: formatCheckpointXML(plan.def, { secure: true }),
        });
        r.store.setCurrentCheckpoint(rec.uuid, name);
        return name;
      },
    });
  }

  /** REDEFINE: records the checkpoint as given (libvirt's virDomainCheckpointRedefinePrep). */
  private redefine(rec: DomainRecord, def: CheckpointDef): string {
    const r = this.records;
    const name = def.name as string;
    const parent = def.parent ?? null;
    checkCheckpointRedefineParent(name, parent, (n) => r.store.checkpoint(rec.uuid, n));
    if (def.domain !== undefined && def.domain.uuid !== rec.uuid) {
      throw VirError.report(
        ErrorDomain.DOMAIN_CHECKPOINT,
        ErrorNumber.INVALID_ARG,
        `definition for checkpoint ${name} must use uuid ${rec.uuid}`,
      );
    }
    const existing = r.store.checkpoint(rec.uuid, name);
    // A redefine never moves the current checkpoint (libvirt: update_current = false).
    r.store.putCheckpoint(rec.uuid, {
      name,
      parent,
      seq: existing?.seq ?? r.store.nextCheckpointSeq(rec.uuid),
      creationTime: def.creationTime as number,
      current: existing?.current ?? false,
      xml: formatCheckpointXML(def, { secure: true }),
    });
    return name;
  }

  // Reads: no job.

  listAllCheckpoints(dom: DomainRef, flags: number): string[] {
    const r = this.records;
    this.hooks('virDomainListAllCheckpoints');
    r.check(flags, CHECKPOINT_LIST_SUPPORTED, 'DomainListAllCheckpoints');
    return r.store.read(() => this.tree(r.resolve(dom).uuid).list(flags));
  }
  checkpointListAllChildren(dom: DomainRef, checkpoint: string, flags: number): string[] {
    const r = this.records;
    this.hooks('virDomainCheckpointListAllChildren');
    r.check(flags, CHECKPOINT_CHILDREN_SUPPORTED, 'DomainCheckpointListAllChildren');
    return r.store.read(() => this.tree(r.resolve(dom).uuid).listChildren(checkpoint, flags));
  }
  checkpointLookupByName(dom: DomainRef, name: string, flags: number): string {
    this.hooks('virDomainCheckpointLookupByName');
    this.records.check(flags, 0, 'DomainCheckpointLookupByName');
    return this.require(this.records.resolve(dom), name).name;
  }
  checkpointGetParent(dom: DomainRef, checkpoint: string, flags: number): string {
    this.hooks('virDomainCheckpointGetParent');
    this.records.check(flags, 0, 'DomainCheckpointGetParent');
    const cp = this.require(this.records.resolve(dom), checkpoint);
    if (cp.parent === null) {
      throw VirError.report(this.records.errDomain, ErrorNumber.NO_DOMAIN_CHECKPOINT, `checkpoint '${checkpoint}' does not have a parent`);
    }
    return cp.parent;
  }
  async checkpointGetXMLDesc(dom: DomainRef, checkpoint: string, flags: number): Promise<string> {
    const r = this.records;
    const hooks = this.hooks('virDomainCheckpointGetXMLDesc');
    r.check(flags, hooks.supported.getXMLDesc, 'DomainCheckpointGetXMLDesc');
    const rec = r.resolve(dom);
    const cp = this.require(rec, checkpoint);
    // The stored XML is canonical; the parent may have changed since (reparenting on delete).
    const def = parseCheckpointXML(cp.xml, STORED);
    def.parent = cp.parent ?? undefined;
    if ((flags & XMLFlags.SIZE) !== 0 && hooks.sizes !== undefined) {
      // The bitmaps' sizes are asked of the running guest (libvirt: virDomainObjCheckActive).
      checkActive({ active: isActive(rec) });
      const sizes = await hooks.sizes(rec, def.disks);
      for (const d of def.disks) {
        const size = sizes.get(d.name);
        if (size !== undefined) d.size = size;
      }
    }
    return formatCheckpointXML(def, {
      secure: (flags & XMLFlags.SECURE) !== 0,
      noDomain: (flags & XMLFlags.NO_DOMAIN) !== 0,
    });
  }
  async checkpointDelete(dom: DomainRef, checkpoint: string, flags: number): Promise<void> {
    const r = this.records;
    const hooks = this.hooks('virDomainCheckpointDelete');
    r.check(flags, hooks.supported.delete, 'DomainCheckpointDelete');
    const metadataOnly = (flags & Delete.METADATA_ONLY) !== 0;
    // The bitmaps go first, under the domain's job; the metadata after, in one transaction. A
    // failure leaves the metadata whole; a crash between the two leaves metadata naming a bitmap
    // that is gone, which a later delete tolerates (a missing bitmap is fine to discard).
    await this.jobs.run(dom, 'virDomainCheckpointDelete', {
      plan: (rec) => {
        const active = isActive(rec);
        if (!metadataOnly) hooks.checkDelete({ active });
        const tree = this.tree(rec.uuid);
        const current = r.store.checkpointTree(rec.uuid).find((c) => c.current)?.name ?? null;
        const plan = tree.planDelete(checkpoint, current, flags);
        const disks = metadataOnly
          ? []
          : plan.remove.map((name) => parseCheckpointXML(this.require(rec, name).xml, STORED).disks);
        return { plan, disks };
      },
      act: async (rec, p) => {
        if (p.disks.length > 0) await hooks.discard(rec, () => r.currentDef(rec), p.disks);
      },
      commit: (rec, p) => {
        for (const name of p.plan.remove) r.store.deleteCheckpoint(rec.uuid, name);
        for (const c of p.plan.reparent) r.store.setCheckpointParent(rec.uuid, c.name, c.parent);
        r.store.setCurrentCheckpoint(rec.uuid, p.plan.current);
      },
    });
  }
}
