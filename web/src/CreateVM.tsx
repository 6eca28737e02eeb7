// The create-VM wizard: name, memory, vCPUs, a disk (a new volume in a pool, an existing volume,
// or none), a network (one of the URI's, user-mode, or none) and the boot (kernel and initrd, or
// the disk). It shows the XML it will define, editable, before defining; then it creates the
// volume, defines the domain, starts it if asked, and opens its page. Loaded on demand.
import { useEffect, useMemo, useState } from 'react';
import { Alert, Button, Checkbox, Form, FormGroup, FormSelect, FormSelectOption, PageSection, Radio, TextInput, Title } from '@patternfly/react-core';
import { api, type NetworkSummary, type PoolSummary, type Session, type VolumeSummary } from './api';

type DiskMode = 'new' | 'existing' | 'none';
type BootMode = 'kernel' | 'disk';

export interface VMSpec {
  uri: string;
  name: string;
  memoryMiB: number;
  vcpus: number;
  disk: DiskMode;
  pool: string;
  volume: string;
  format: string;
  network: string;
  boot: BootMode;
  kernel: string;
  initrd: string;
  cmdline: string;
}

const esc = (s: string): string => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** The domain XML for a spec (the volume by pool and name: libvirt resolves its path). */
export function domainXMLFor(s: VMSpec, volumeFormat: string | null): string {
  const type = s.uri.startsWith('test:') ? 'test' : 'qemu';
  const os =
    s.boot === 'kernel'
      ? [`    <kernel>${esc(s.kernel)}</kernel>`, ...(s.initrd !== '' ? [`    <initrd>${esc(s.initrd)}</initrd>`] : []), ...(s.cmdline !== '' ? [`    <cmdline>${esc(s.cmdline)}</cmdline>`] : [])]
      : ["    <boot dev='hd'/>"];
  const devices: string[] = [];
  if (s.disk !== 'none') {
    const fmt = volumeFormat ?? (s.disk === 'new' ? s.format : null);
    devices.push(
      "    <disk type='volume' device='disk'>",
      ...(fmt !== null ? [`      <driver name='qemu' type='${esc(fmt)}'/>`] : []),
      `      <source pool='${esc(s.pool)}' volume='${esc(s.volume)}'/>`,
      "      <target dev='vda' bus='virtio'/>",
      '    </disk>',
    );
  }
  if (s.network === 'user') devices.push("    <interface type='user'>", "      <model type='virtio'/>", '    </interface>');
  else if (s.network !== '') devices.push("    <interface type='network'>", `      <source network='${esc(s.network)}'/>`, "      <model type='virtio'/>", '    </interface>');
  devices.push("    <serial type='pty'>", "      <target port='0'/>", '    </serial>', "    <console type='pty'/>", "    <graphics type='vnc' autoport='yes' listen='127.0.0.1'/>");
  return [
    `<domain type='${type}'>`,
    `  <name>${esc(s.name)}</name>`,
    `  <memory unit='MiB'>${s.memoryMiB}</memory>`,
    `  <vcpu>${s.vcpus}</vcpu>`,
    '  <os>',
    "    <type arch='x86_64' machine='pc'>hvm</type>",
    ...os,
    '  </os>',
    '  <features>',
    '    <acpi/>',
    '  </features>',
    '  <devices>',
    ...devices,
    '  </devices>',
    '</domain>',
    '',
  ].join('\n');
}

export default function CreateVM({ session }: { session: Session }) {
  const [spec, setSpec] = useState<VMSpec>({
    uri: session.uris[0]!,
    name: '',
    memoryMiB: 512,
    vcpus: 1,
    disk: 'new',
    pool: '',
    volume: '',
    format: 'qcow2',
    network: 'user',
    boot: 'kernel',
    kernel: '',
    initrd: '',
    cmdline: 'console=ttyS0',
  });
  const [sizeMiB, setSizeMiB] = useState(1024);
  const [start, setStart] = useState(true);
  const [pools, setPools] = useState<PoolSummary[]>([]);
  const [volumes, setVolumes] = useState<VolumeSummary[]>([]);
  const [networks, setNetworks] = useState<NetworkSummary[]>([]);
  const [review, setReview] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof VMSpec>(k: K, v: VMSpec[K]) => {
    setSpec((s) => ({ ...s, [k]: v }));
    setReview(null);
  };

  useEffect(() => {
    setError(null);
    api.pools(spec.uri).then(
      (p) => {
        setPools(p);
        setSpec((s) => ({ ...s, pool: p.find((x) => x.active)?.name ?? '' }));
      },
      (e: Error) => setError(e.message),
    );
    api.networks(spec.uri).then(setNetworks, (e: Error) => setError(e.message));
  }, [spec.uri]);
  useEffect(() => {
    if (spec.pool === '') setVolumes([]);
    else api.volumes(spec.uri, spec.pool).then(setVolumes, (e: Error) => setError(e.message));
  }, [spec.uri, spec.pool]);

  // A new volume is named after the domain unless the user names it.
  const [volumeTouched, setVolumeTouched] = useState(false);
  const volumeName = spec.disk === 'new' && !volumeTouched ? (spec.name === '' ? '' : `${spec.name}.${spec.format === 'raw' ? 'img' : 'qcow2'}`) : spec.volume;
  const effective = useMemo(() => ({ ...spec, volume: volumeName }), [spec, volumeName]);
  const existingFormat = spec.disk === 'existing' ? (volumes.find((v) => v.name === spec.volume)?.format ?? null) : null;

  const problems: string[] = [];
  if (effective.name === '') problems.push('a name');
  if (effective.disk !== 'none' && effective.pool === '') problems.push('a storage pool');
  if (effective.disk !== 'none' && effective.volume === '') problems.push('a volume');
  if (effective.boot === 'kernel' && effective.kernel === '') problems.push('a kernel path');
  if (effective.boot === 'disk' && effective.disk === 'none') problems.push('a disk to boot from');

  const define = async () => {
    if (review === null) return;
    setBusy(true);
    setError(null);
    try {
      if (effective.disk === 'new') await api.createVolume(effective.uri, effective.pool, effective.volume, sizeMiB * 1024 * 1024, effective.format);
      const dom = await api.define(effective.uri, review);
      if (start) await api.action(effective.uri, dom.uuid, 'start');
      location.hash = `#/domain/${encodeURIComponent(effective.uri)}/${dom.uuid}`;
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <PageSection>
      <Title headingLevel="h2">Create a virtual machine</Title>
      {error !== null && <Alert data-testid="create-error" variant="danger" title={error} isInline />}
      <Form isHorizontal onSubmit={(e) => e.preventDefault()}>
        {session.uris.length > 1 && (
          <FormGroup label="Connection" fieldId="vm-uri">
            <FormSelect id="vm-uri" value={spec.uri} onChange={(_e, v) => set('uri', v)} aria-label="Connection">
              {session.uris.map((u) => (
                <FormSelectOption key={u} value={u} label={u} />
              ))}
            </FormSelect>
          </FormGroup>
        )}
        <FormGroup label="Name" isRequired fieldId="vm-name">
          <TextInput id="vm-name" aria-label="Name" value={spec.name} onChange={(_e, v) => set('name', v)} />
        </FormGroup>
        <FormGroup label="Memory (MiB)" fieldId="vm-mem">
          <TextInput id="vm-mem" aria-label="Memory (MiB)" type="number" value={spec.memoryMiB} onChange={(_e, v) => set('memoryMiB', Math.max(1, Number(v) | 0))} />
        </FormGroup>
        <FormGroup label="vCPUs" fieldId="vm-vcpus">
          <TextInput id="vm-vcpus" aria-label="vCPUs" type="number" value={spec.vcpus} onChange={(_e, v) => set('vcpus', Math.max(1, Number(v) | 0))} />
        </FormGroup>
        <FormGroup label="Disk" role="radiogroup" fieldId="vm-disk" isInline>
          <Radio id="disk-new" name="disk" label="New volume" isChecked={spec.disk === 'new'} onChange={() => set('disk', 'new')} />
          <Radio id="disk-existing" name="disk" label="Existing volume" isChecked={spec.disk === 'existing'} onChange={() => set('disk', 'existing')} />
          <Radio id="disk-none" name="disk" label="No disk" isChecked={spec.disk === 'none'} onChange={() => set('disk', 'none')} />
        </FormGroup>
        {spec.disk !== 'none' && (
          <FormGroup label="Storage pool" fieldId="vm-pool">
            <FormSelect id="vm-pool" aria-label="Storage pool" value={spec.pool} onChange={(_e, v) => set('pool', v)}>
              <FormSelectOption value="" label={pools.length === 0 ? 'no storage pool' : 'choose a pool'} isDisabled />
              {pools.map((p) => (
                <FormSelectOption key={p.name} value={p.name} label={`${p.name}${p.active ? '' : ' (inactive)'}`} isDisabled={!p.active} />
              ))}
            </FormSelect>
          </FormGroup>
        )}
        {spec.disk === 'new' && (
          <>
            <FormGroup label="Volume name" fieldId="vm-volname">
              <TextInput
                id="vm-volname"
                aria-label="Volume name"
                value={volumeName}
                onChange={(_e, v) => {
                  setVolumeTouched(true);
                  set('volume', v);
                }}
              />
            </FormGroup>
            <FormGroup label="Size (MiB)" fieldId="vm-size">
              <TextInput id="vm-size" aria-label="Size (MiB)" type="number" value={sizeMiB} onChange={(_e, v) => setSizeMiB(Math.max(1, Number(v) | 0))} />
            </FormGroup>
            <FormGroup label="Format" fieldId="vm-format">
              <FormSelect id="vm-format" aria-label="Format" value={spec.format} onChange={(_e, v) => set('format', v)}>
                <FormSelectOption value="qcow2" label="qcow2" />
                <FormSelectOption value="raw" label="raw" />
              </FormSelect>
            </FormGroup>
          </>
        )}
        {spec.disk === 'existing' && (
          <FormGroup label="Volume" fieldId="vm-vol">
            <FormSelect id="vm-vol" aria-label="Volume" value={spec.volume} onChange={(_e, v) => set('volume', v)}>
              <FormSelectOption value="" label={volumes.length === 0 ? 'no volume in this pool' : 'choose a volume'} isDisabled />
              {volumes.map((v) => (
                <FormSelectOption key={v.name} value={v.name} label={`${v.name} (${Math.round(v.capacity / 1048576)} MiB${v.format !== null ? `, ${v.format}` : ''})`} />
              ))}
            </FormSelect>
          </FormGroup>
        )}
        <FormGroup label="Network" fieldId="vm-net">
          <FormSelect id="vm-net" aria-label="Network" value={spec.network} onChange={(_e, v) => set('network', v)}>
            <FormSelectOption value="user" label="user-mode networking" />
            {networks.map((n) => (
              <FormSelectOption key={n.name} value={n.name} label={`network ${n.name}${n.active ? '' : ' (inactive)'}`} />
            ))}
            <FormSelectOption value="" label="no network" />
          </FormSelect>
        </FormGroup>
        <FormGroup label="Boot" role="radiogroup" fieldId="vm-boot" isInline>
          <Radio id="boot-kernel" name="boot" label="Kernel and initrd" isChecked={spec.boot === 'kernel'} onChange={() => set('boot', 'kernel')} />
          <Radio id="boot-disk" name="boot" label="The disk" isChecked={spec.boot === 'disk'} onChange={() => set('boot', 'disk')} />
        </FormGroup>
        {spec.boot === 'kernel' && (
          <>
            <FormGroup label="Kernel path" fieldId="vm-kernel">
              <TextInput id="vm-kernel" aria-label="Kernel path" value={spec.kernel} onChange={(_e, v) => set('kernel', v)} />
            </FormGroup>
            <FormGroup label="Initrd path" fieldId="vm-initrd">
              <TextInput id="vm-initrd" aria-label="Initrd path" value={spec.initrd} onChange={(_e, v) => set('initrd', v)} />
            </FormGroup>
            <FormGroup label="Kernel command line" fieldId="vm-cmdline">
              <TextInput id="vm-cmdline" aria-label="Kernel command line" value={spec.cmdline} onChange={(_e, v) => set('cmdline', v)} />
            </FormGroup>
          </>
        )}
        <Checkbox id="vm-start" label="Start it once defined" isChecked={start} onChange={(_e, v) => setStart(v)} />
        <div>
          {problems.length > 0 && <p>Still needed: {problems.join(', ')}.</p>}
          <Button variant="secondary" isDisabled={problems.length > 0} onClick={() => setReview(domainXMLFor(effective, existingFormat))}>
            Review XML
          </Button>
        </div>
      </Form>
      {review !== null && (
        <div>
          <Title headingLevel="h3">The XML to define</Title>
          {effective.disk === 'new' && (
            <p>
              First the volume {effective.volume} ({sizeMiB} MiB, {effective.format}) is created in pool {effective.pool}.
            </p>
          )}
          <textarea className="tsv-xml tsv-xml-editor" aria-label="XML to define" spellCheck={false} value={review} onChange={(e) => setReview(e.target.value)} />
          <Button variant="primary" isLoading={busy} isDisabled={busy} onClick={() => void define()}>
            {start ? 'Define and start' : 'Define'}
          </Button>{' '}
          <a href="#/">Cancel</a>
        </div>
      )}
    </PageSection>
  );
}
