/**
 * The command table of tsvirt: virsh's command names, option names, option kinds, positional
 * order and help texts (libvirt 9.0, tools/virsh-*.c), plus tsvirt's own additions, marked
 * `tsvirt`. Data only: the parser and `help` read it, handlers live in the cmd-*.ts modules and
 * are loaded on demand, so that a command pays only for its own code.
 */

/** virsh's option kinds (vshCmdOptType). */
export type OptType = 'bool' | 'int' | 'string' | 'data' | 'argv' | 'alias';

/** One option of a command (vshCmdOptDef). */
export interface OptDef {
  readonly name: string;
  readonly type: OptType;
  /** VSH_OFLAG_REQ: the option must be given. */
  readonly required?: boolean;
  /** VSH_OFLAG_REQ_OPT: a value option that is never filled positionally. */
  readonly reqOpt?: boolean;
  /** VSH_OFLAG_EMPTY_OK: an empty value is accepted. */
  readonly emptyOk?: boolean;
  /** The help text; for an alias, the option it stands for ("name" or "name=value"). */
  readonly help: string;
  /** A tsvirt addition that virsh does not have. */
  readonly tsvirt?: boolean;
}

/** The module that holds a command's handler. */
export type HandlerModule = 'domain' | 'monitor' | 'host' | 'snapshot' | 'event' | 'transfer' | 'shell' | 'resources' | 'console' | 'checkpoint' | 'misc';

/** One command (vshCmdDef). */
export interface CmdDef {
  readonly name: string;
  readonly group: GroupKey;
  readonly help: string;
  readonly desc: string;
  readonly opts: readonly OptDef[];
  /** VSH_CMD_FLAG_NOCONNECT: runs without a hypervisor connection. */
  readonly noConnect?: boolean;
  readonly module: HandlerModule;
  /** A tsvirt addition that virsh does not have. */
  readonly tsvirt?: boolean;
}

export type GroupKey = 'domain' | 'monitor' | 'events' | 'host' | 'checkpoint' | 'snapshot' | 'virsh';

/** Command groups in virsh's order: [keyword, title]. */
export const GROUPS: readonly (readonly [GroupKey, string])[] = [
  ['domain', 'Domain Management'],
  ['monitor', 'Domain Monitoring'],
  ['events', 'Domain Events'],
  ['host', 'Host and Hypervisor'],
  ['checkpoint', 'Checkpoint'],
  ['snapshot', 'Snapshot'],
  ['virsh', 'Virsh itself'],
];

const bool = (name: string, help: string, extra: Partial<OptDef> = {}): OptDef => ({ name, type: 'bool', help, ...extra });
const str = (name: string, help: string, extra: Partial<OptDef> = {}): OptDef => ({ name, type: 'string', help, ...extra });
const int = (name: string, help: string, extra: Partial<OptDef> = {}): OptDef => ({ name, type: 'int', help, ...extra });
const data = (name: string, help: string, extra: Partial<OptDef> = {}): OptDef => ({
  name,
  type: 'data',
  required: true,
  help,
  ...extra,
});
const argv = (name: string, help: string): OptDef => ({ name, type: 'argv', help });
const alias = (name: string, target: string): OptDef => ({ name, type: 'alias', help: target });

const DOMAIN = data('domain', 'domain name, id or uuid');
const JSON_OPT = bool('json', 'print the result as JSON (tsvirt; keys in docs/cli.md)', { tsvirt: true });
const VALIDATE = bool('validate', 'validate the XML against the schema');
const RESET_NVRAM = bool('reset-nvram', 're-initialize NVRAM from its pristine template');
const SHUTDOWN_MODE = str('mode', 'shutdown mode: acpi|agent|initctl|signal|paravirt');

/** Every command tsvirt knows, grouped and ordered as virsh lists them. */
export const COMMANDS: readonly CmdDef[] = [
  // ---- Domain Management (virsh-domain.c) ----
  {
    name: 'console',
    group: 'domain',
    module: 'console',
    help: 'connect to the guest console',
    desc: 'Connect the virtual serial console for the guest',
    opts: [
      DOMAIN,
      str('devname', 'character device name'),
      bool('force', 'force console connection (disconnect already connected sessions)'),
      bool('safe', 'only connect if safe console handling is supported'),
    ],
  },
  {
    name: 'create',
    group: 'domain',
    module: 'domain',
    help: 'create a domain from an XML file',
    desc: 'Create a domain.',
    opts: [
      data('file', 'file containing an XML domain description'),
      bool('console', 'attach to console after creation'),
      bool('paused', 'leave the guest paused after creation'),
      bool('autodestroy', 'automatically destroy the guest when virsh disconnects'),
      str('pass-fds', 'pass file descriptors N,M,... to the guest'),
      VALIDATE,
      RESET_NVRAM,
    ],
  },
  {
    name: 'define',
    group: 'domain',
    module: 'domain',
    help: "define (but don't start) a domain from an XML file",
    desc: 'Define a domain.',
    opts: [data('file', 'file containing an XML domain description'), VALIDATE],
  },
  {
    name: 'desc',
    group: 'domain',
    module: 'misc',
    help: 'show or set domain\'s description or title',
    desc: "Allows setting or modifying the description or title of a domain.",
    opts: [DOMAIN, bool('live', 'modify/get running state'), bool('config', 'modify/get persistent configuration'), bool('current', 'modify/get current state configuration'), bool('title', 'modify/get the title instead of description'), bool('edit', 'open an editor to modify the description'), argv('new-desc', 'message'), JSON_OPT],
  },
  {
    name: 'destroy',
    group: 'domain',
    module: 'domain',
    help: 'destroy (stop) a domain',
    desc: 'Forcefully stop a given domain, but leave its resources intact.',
    opts: [DOMAIN, bool('graceful', 'terminate gracefully'), bool('remove-logs', 'remove domain logs')],
  },
  {
    name: 'domdisplay',
    group: 'domain',
    module: 'console',
    help: 'domain display connection URI',
    desc: 'Output the IP address and port number for the graphical display.',
    opts: [
      DOMAIN,
      bool('include-password', 'includes the password into the connection URI if available'),
      str('type', 'select particular graphical display (e.g. "vnc", "spice", "rdp", "dbus")'),
      bool('all', 'show all possible graphical displays'),
      JSON_OPT,
    ],
  },
  {
    name: 'domfsinfo',
    group: 'domain',
    module: 'misc',
    help: "Get information of domain's mounted filesystems.",
    desc: "Get information of domain's mounted filesystems.",
    opts: [DOMAIN, JSON_OPT],
  },
  {
    name: 'domhostname',
    group: 'domain',
    module: 'resources',
    help: "print the domain's hostname",
    desc: '',
    opts: [DOMAIN, str('source', "address source: 'lease' or 'agent'")],
  },
  {
    name: 'domid',
    group: 'domain',
    module: 'domain',
    help: 'convert a domain name or UUID to domain id',
    desc: '',
    opts: [data('domain', 'domain name or uuid')],
  },
  {
    name: 'domname',
    group: 'domain',
    module: 'domain',
    help: 'convert a domain id or UUID to domain name',
    desc: '',
    opts: [data('domain', 'domain id or uuid')],
  },
  {
    name: 'domrename',
    group: 'domain',
    module: 'misc',
    help: 'rename a domain',
    desc: 'Rename an inactive domain.',
    opts: [data('domain', 'domain name or uuid'), data('new-name', 'new domain name')],
  },
  {
    name: 'domuuid',
    group: 'domain',
    module: 'domain',
    help: 'convert a domain name or id to domain UUID',
    desc: '',
    opts: [data('domain', 'domain id or name')],
  },
  {
    name: 'dumpxml',
    group: 'domain',
    module: 'domain',
    help: 'domain information in XML',
    desc: 'Output the domain information as an XML dump to stdout.',
    opts: [
      DOMAIN,
      bool('inactive', 'show inactive defined XML'),
      bool('security-info', 'include security sensitive information in XML dump'),
      bool('update-cpu', 'update guest CPU according to host CPU'),
      bool('migratable', 'provide XML suitable for migrations'),
      str('xpath', 'xpath expression to filter the XML document', { reqOpt: true }),
      bool('wrap', 'wrap xpath results in an common root element'),
    ],
  },
  {
    name: 'emulatorpin',
    group: 'domain',
    module: 'misc',
    help: 'control or query domain emulator affinity',
    desc: 'Pin domain emulator threads to host physical CPUs.',
    opts: [DOMAIN, str('cpulist', 'host cpu number(s) to set, or omit option to query', { emptyOk: true }), bool('config', 'affect next boot'), bool('live', 'affect running domain'), bool('current', 'affect current domain'), JSON_OPT],
  },
  {
    name: 'managedsave',
    group: 'domain',
    module: 'domain',
    help: 'managed save of a domain state',
    desc:
      'Save and destroy a running domain, so it can be restarted from\n' +
      "    the same state at a later time.  When the virsh 'start'\n" +
      '    command is next run for the domain, it will automatically\n' +
      '    be started from this saved state.',
    opts: [
      DOMAIN,
      bool('bypass-cache', 'avoid file system cache when saving'),
      bool('running', 'set domain to be running on next start'),
      bool('paused', 'set domain to be paused on next start'),
      bool('verbose', 'display the progress of save'),
    ],
  },
  {
    name: 'managedsave-remove',
    group: 'domain',
    module: 'domain',
    help: 'Remove managed save of a domain',
    desc: 'Remove an existing managed save state file from a domain',
    opts: [DOMAIN],
  },
  {
    name: 'metadata',
    group: 'domain',
    module: 'misc',
    help: 'show or set domain\'s custom XML metadata',
    desc: 'Shows or modifies the XML metadata of a domain.',
    opts: [DOMAIN, data('uri', 'URI of the namespace'), bool('live', 'modify/get running state'), bool('config', 'modify/get persistent configuration'), bool('current', 'modify/get current state configuration'), bool('edit', 'use an editor to change the metadata'), str('key', 'key to be used as a namespace identifier'), str('set', 'new metadata to set', { emptyOk: true }), bool('remove', 'remove the metadata corresponding to an uri'), JSON_OPT],
  },
  {
    name: 'reboot',
    group: 'domain',
    module: 'domain',
    help: 'reboot a domain',
    desc: 'Run a reboot command in the target domain.',
    opts: [DOMAIN, SHUTDOWN_MODE],
  },
  {
    name: 'reset',
    group: 'domain',
    module: 'resources',
    help: 'reset a domain',
    desc: 'Reset the target domain as if by power button',
    opts: [DOMAIN],
  },
  {
    name: 'restore',
    group: 'domain',
    module: 'misc',
    help: 'restore a domain from a saved state in a file',
    desc: 'Restore a domain.',
    opts: [data('file', 'the state to restore'), bool('bypass-cache', 'avoid file system cache when restoring'), str('xml', 'filename containing updated XML for the target'), bool('running', 'restore domain into running state'), bool('paused', 'restore domain into paused state'), RESET_NVRAM],
  },
  {
    name: 'resume',
    group: 'domain',
    module: 'domain',
    help: 'resume a domain',
    desc: 'Resume a previously suspended domain.',
    opts: [DOMAIN],
  },
  {
    name: 'save',
    group: 'domain',
    module: 'misc',
    help: 'save a domain state to a file',
    desc: 'Save the RAM state of a running domain.',
    opts: [DOMAIN, data('file', 'where to save the data'), bool('bypass-cache', 'avoid file system cache when saving'), str('xml', 'filename containing updated XML for the target'), bool('running', 'set domain to be running on restore'), bool('paused', 'set domain to be paused on restore'), bool('verbose', 'display the progress of save')],
  },
  {
    name: 'save-image-define',
    group: 'domain',
    module: 'misc',
    help: 'redefine the XML for a domain\'s saved state file',
    desc: 'Replace the domain XML associated with a saved state file',
    opts: [data('file', 'saved state file to modify'), data('xml', 'filename containing updated XML for the target'), bool('running', 'set domain to be running on restore'), bool('paused', 'set domain to be paused on restore')],
  },
  {
    name: 'save-image-dumpxml',
    group: 'domain',
    module: 'misc',
    help: 'saved state domain information in XML',
    desc: 'Dump XML of domain information for a saved state file to stdout.',
    opts: [data('file', 'saved state file to read'), bool('security-info', 'include security sensitive information in XML dump'), str('xpath', 'xpath expression to filter the XML document', { reqOpt: true }), bool('wrap', 'wrap xpath results in an common root element')],
  },
  {
    name: 'save-image-edit',
    group: 'domain',
    module: 'misc',
    help: 'edit XML for a domain\'s saved state file',
    desc: 'Edit the domain XML associated with a saved state file',
    opts: [data('file', 'saved state file to edit'), bool('running', 'set domain to be running on restore'), bool('paused', 'set domain to be paused on restore')],
  },
  {
    name: 'schedinfo',
    group: 'domain',
    module: 'resources',
    help: 'show/set scheduler parameters',
    desc: 'Show/Set scheduler parameters.',
    opts: [
      DOMAIN,
      int('weight', 'weight for XEN_CREDIT'),
      int('cap', 'cap for XEN_CREDIT'),
      bool('current', 'get/set current scheduler info'),
      bool('config', 'get/set value to be used on next boot'),
      bool('live', 'get/set value from running domain'),
      argv('set', 'parameter=value'),
    ],
  },
  {
    name: 'screenshot',
    group: 'domain',
    module: 'console',
    help: 'take a screenshot of a current domain console and store it into a file',
    desc: 'screenshot of a current domain console',
    opts: [DOMAIN, str('file', 'where to store the screenshot'), int('screen', 'ID of a screen to take screenshot of')],
  },
  {
    name: 'setmaxmem',
    group: 'domain',
    module: 'resources',
    help: 'change maximum memory limit',
    desc: 'Change the maximum memory allocation limit in the guest domain.',
    opts: [DOMAIN, data('size', 'new maximum memory size, as scaled integer (default KiB)', { type: 'int' }), bool('config', 'affect next boot'), bool('live', 'affect running domain'), bool('current', 'affect current domain')],
  },
  {
    name: 'setmem',
    group: 'domain',
    module: 'resources',
    help: 'change memory allocation',
    desc: 'Change the current memory allocation in the guest domain.',
    opts: [DOMAIN, data('size', 'new memory size, as scaled integer (default KiB)', { type: 'int' }), bool('config', 'affect next boot'), bool('live', 'affect running domain'), bool('current', 'affect current domain')],
  },
  {
    name: 'setvcpus',
    group: 'domain',
    module: 'resources',
    help: 'change number of virtual CPUs',
    desc: 'Change the number of virtual CPUs in the guest domain.',
    opts: [DOMAIN, data('count', 'number of virtual CPUs', { type: 'int' }), bool('maximum', 'set maximum limit on next boot'), bool('config', 'affect next boot'), bool('live', 'affect running domain'), bool('current', 'affect current domain'), bool('guest', 'modify cpu state in the guest'), bool('hotpluggable', 'make added vcpus hot(un)pluggable')],
  },
  {
    name: 'shutdown',
    group: 'domain',
    module: 'domain',
    help: 'gracefully shutdown a domain',
    desc: 'Run shutdown in the target domain.',
    opts: [DOMAIN, SHUTDOWN_MODE],
  },
  {
    name: 'start',
    group: 'domain',
    module: 'domain',
    help: 'start a (previously defined) inactive domain',
    desc:
      'Start a domain, either from the last managedsave\n' +
      '    state, or via a fresh boot if no managedsave state\n' +
      '    is present.',
    opts: [
      data('domain', 'name of the inactive domain'),
      bool('console', 'attach to console after creation'),
      bool('paused', 'leave the guest paused after creation'),
      bool('autodestroy', 'automatically destroy the guest when virsh disconnects'),
      bool('bypass-cache', 'avoid file system cache when loading'),
      bool('force-boot', 'force fresh boot by discarding any managed save'),
      str('pass-fds', 'pass file descriptors N,M,... to the guest'),
      RESET_NVRAM,
      bool('verbose', 'display the progress of a restore from a managed save image (tsvirt)', { tsvirt: true }),
    ],
  },
  {
    name: 'suspend',
    group: 'domain',
    module: 'domain',
    help: 'suspend a domain',
    desc: 'Suspend a running domain.',
    opts: [DOMAIN],
  },
  {
    name: 'undefine',
    group: 'domain',
    module: 'domain',
    help: 'undefine a domain',
    desc: 'Undefine an inactive domain, or convert persistent to transient.',
    opts: [
      DOMAIN,
      bool('managed-save', 'remove domain managed state file'),
      str(
        'storage',
        'remove associated storage volumes (comma separated list of targets or source paths) (see domblklist)',
      ),
      bool('remove-all-storage', 'remove all associated storage volumes (use with caution)'),
      alias('delete-snapshots', 'delete-storage-volume-snapshots'),
      bool(
        'delete-storage-volume-snapshots',
        'delete snapshots associated with volume(s), requires --remove-all-storage (must be supported by storage driver)',
      ),
      bool('wipe-storage', 'wipe data on the removed volumes'),
      bool('snapshots-metadata', 'remove all domain snapshot metadata (vm must be inactive)'),
      bool('checkpoints-metadata', 'remove all domain checkpoint metadata (vm must be inactive)'),
      bool('nvram', 'remove nvram file'),
      bool('keep-nvram', 'keep nvram file'),
      bool('tpm', 'remove TPM state'),
      bool('keep-tpm', 'keep TPM state'),
      str('export-snapshots', 'with --snapshots-metadata, first export the domain and its snapshots to this directory (tsvirt)', {
        reqOpt: true,
        tsvirt: true,
      }),
    ],
  },
  {
    name: 'vcpucount',
    group: 'domain',
    module: 'resources',
    help: 'domain vcpu counts',
    desc: 'Returns the number of virtual CPUs used by the domain.',
    opts: [DOMAIN, bool('maximum', 'get maximum count of vcpus'), bool('active', 'get number of currently active vcpus'), bool('live', 'get value from running domain'), bool('config', 'get value to be used on next boot'), bool('current', 'get value according to current domain state'), bool('guest', 'retrieve vcpu count from the guest instead of the hypervisor'), JSON_OPT],
  },
  {
    name: 'vcpuinfo',
    group: 'domain',
    module: 'resources',
    help: 'detailed domain vcpu information',
    desc: 'Returns basic information about the domain virtual CPUs.',
    opts: [DOMAIN, bool('pretty', 'return human readable output'), JSON_OPT],
  },
  {
    name: 'vcpupin',
    group: 'domain',
    module: 'misc',
    help: 'control or query domain vcpu affinity',
    desc: 'Pin domain VCPUs to host physical CPUs.',
    opts: [DOMAIN, int('vcpu', 'vcpu number'), str('cpulist', 'host cpu number(s) to set, or omit option to query', { emptyOk: true }), bool('config', 'affect next boot'), bool('live', 'affect running domain'), bool('current', 'affect current domain'), JSON_OPT],
  },
  {
    name: 'vncdisplay',
    group: 'domain',
    module: 'console',
    help: 'vnc display',
    desc: 'Output the IP address and port number for the VNC display.',
    opts: [DOMAIN, JSON_OPT],
  },

  // ---- Domain Monitoring (virsh-domain-monitor.c) ----
  {
    name: 'domcontrol',
    group: 'monitor',
    module: 'resources',
    help: 'domain control interface state',
    desc: 'Returns state of a control interface to the domain.',
    opts: [DOMAIN, JSON_OPT],
  },
  {
    name: 'domifaddr',
    group: 'monitor',
    module: 'misc',
    help: "Get network interfaces' addresses for a running domain",
    desc: "Get network interfaces' addresses for a running domain",
    opts: [DOMAIN, str('interface', 'network interface name'), bool('full', 'always display names and MACs of interfaces'), str('source', "address source: 'lease', 'agent', or 'arp'"), JSON_OPT],
  },
  {
    name: 'dominfo',
    group: 'monitor',
    module: 'monitor',
    help: 'domain information',
    desc: 'Returns basic information about the domain.',
    opts: [DOMAIN, JSON_OPT],
  },
  {
    name: 'dommemstat',
    group: 'monitor',
    module: 'resources',
    help: 'get memory statistics for a domain',
    desc: 'Get memory statistics for a running domain.',
    opts: [DOMAIN, int('period', 'period in seconds to set collection'), bool('config', 'affect next boot'), bool('live', 'affect running domain'), bool('current', 'affect current domain'), JSON_OPT],
  },
  {
    name: 'domstate',
    group: 'monitor',
    module: 'monitor',
    help: 'domain state',
    desc: 'Returns state about a domain.',
    opts: [DOMAIN, bool('reason', 'also print reason for the state'), JSON_OPT],
  },
  {
    name: 'domtime',
    group: 'monitor',
    module: 'resources',
    help: 'domain time',
    desc: "Gets or sets the domain's system time",
    opts: [DOMAIN, bool('now', 'set to the time of the host running virsh'), bool('pretty', "print domain's time in human readable form"), bool('sync', "instead of setting given time, synchronize from domain's RTC"), int('time', 'time to set'), JSON_OPT],
  },
  {
    name: 'list',
    group: 'monitor',
    module: 'monitor',
    help: 'list domains',
    desc: 'Returns list of domains.',
    opts: [
      bool('inactive', 'list inactive domains'),
      bool('all', 'list inactive & active domains'),
      bool('transient', 'list transient domains'),
      bool('persistent', 'list persistent domains'),
      bool('with-snapshot', 'list domains with existing snapshot'),
      bool('without-snapshot', 'list domains without a snapshot'),
      bool('with-checkpoint', 'list domains with existing checkpoint'),
      bool('without-checkpoint', 'list domains without a checkpoint'),
      bool('state-running', 'list domains in running state'),
      bool('state-paused', 'list domains in paused state'),
      bool('state-shutoff', 'list domains in shutoff state'),
      bool('state-other', 'list domains in other states'),
      bool('autostart', 'list domains with autostart enabled'),
      bool('no-autostart', 'list domains with autostart disabled'),
      bool('with-managed-save', 'list domains with managed save state'),
      bool('without-managed-save', 'list domains without managed save'),
      bool('uuid', "list uuid's only"),
      bool('name', 'list domain names only'),
      bool('id', 'list domain IDs only'),
      bool('table', 'list table (default)'),
      bool('managed-save', 'mark inactive domains with managed save state'),
      bool('title', 'show domain title'),
      JSON_OPT,
    ],
  },

  // ---- Domain Events (virsh-domain-event.c) ----
  {
    name: 'event',
    group: 'events',
    module: 'event',
    help: 'Domain Events',
    desc: 'List event types, or wait for domain events to occur',
    opts: [
      str('domain', 'filter by domain name, id or uuid'),
      str('event', 'which event type to wait for'),
      bool('all', 'wait for all events instead of just one type'),
      bool('loop', 'loop until timeout or interrupt, rather than one-shot'),
      int('timeout', 'timeout seconds'),
      bool('list', 'list valid event types'),
      bool('timestamp', 'show timestamp for each printed event'),
      JSON_OPT,
    ],
  },

  // ---- Host and Hypervisor (virsh-host.c) ----
  {
    name: 'capabilities',
    group: 'host',
    module: 'host',
    help: 'capabilities',
    desc: 'Returns capabilities of hypervisor/driver.',
    opts: [],
  },
  {
    name: 'cpu-models',
    group: 'host',
    module: 'misc',
    help: 'CPU models',
    desc: 'Get the CPU models for an arch.',
    opts: [data('arch', 'architecture'), JSON_OPT],
  },
  {
    name: 'freecell',
    group: 'host',
    module: 'resources',
    help: 'NUMA free memory',
    desc: 'display available free memory for the NUMA cell.',
    opts: [int('cellno', 'NUMA cell number'), bool('all', 'show free memory for all NUMA cells'), JSON_OPT],
  },
  {
    name: 'hostname',
    group: 'host',
    module: 'host',
    help: 'print the hypervisor hostname',
    desc: '',
    opts: [],
  },
  {
    name: 'maxvcpus',
    group: 'host',
    module: 'resources',
    help: 'connection vcpu maximum',
    desc: 'Show maximum number of virtual CPUs for guests on this connection.',
    opts: [str('type', 'domain type'), JSON_OPT],
  },
  {
    name: 'nodecpustats',
    group: 'host',
    module: 'resources',
    help: 'Prints cpu stats of the node.',
    desc: 'Returns cpu stats of the node, in nanoseconds.',
    opts: [int('cpu', 'prints specified cpu statistics only.'), bool('percent', 'prints by percentage during 1 second.'), JSON_OPT],
  },
  {
    name: 'nodeinfo',
    group: 'host',
    module: 'host',
    help: 'node information',
    desc: 'Returns basic information about the node.',
    opts: [],
  },
  {
    name: 'nodememstats',
    group: 'host',
    module: 'resources',
    help: 'Prints memory stats of the node.',
    desc: 'Returns memory stats of the node, in kilobytes.',
    opts: [int('cell', 'prints specified cell statistics only.'), JSON_OPT],
  },
  {
    name: 'sysinfo',
    group: 'host',
    module: 'host',
    help: 'print the hypervisor sysinfo',
    desc: 'output an XML string for the hypervisor sysinfo, if available',
    opts: [],
  },
  {
    name: 'uri',
    group: 'host',
    module: 'host',
    help: 'print the hypervisor canonical URI',
    desc: '',
    opts: [],
  },
  {
    name: 'version',
    group: 'host',
    module: 'host',
    help: 'show version',
    desc: 'Display the system version information.',
    opts: [bool('daemon', 'report daemon version too'), JSON_OPT],
  },

  // ---- Checkpoint (virsh-checkpoint.c) ----
  {
    name: 'checkpoint-create',
    group: 'checkpoint',
    module: 'checkpoint',
    help: 'Create a checkpoint from XML',
    desc: 'Create a checkpoint from XML for use in future incremental backups',
    opts: [
      DOMAIN,
      str('xmlfile', 'domain checkpoint XML'),
      bool('redefine', 'redefine metadata for existing checkpoint'),
      bool('redefine-validate', 'validate the redefined checkpoint'),
      bool('quiesce', "quiesce guest's file systems"),
    ],
  },
  {
    name: 'checkpoint-create-as',
    group: 'checkpoint',
    module: 'checkpoint',
    help: 'Create a checkpoint from a set of args',
    desc: 'Create a checkpoint from arguments for use in future incremental backups',
    opts: [
      DOMAIN,
      str('name', 'name of checkpoint'),
      str('description', 'description of checkpoint'),
      bool('print-xml', 'print XML document rather than create'),
      bool('quiesce', "quiesce guest's file systems"),
      argv('diskspec', 'disk attributes: disk[,checkpoint=type][,bitmap=name]'),
    ],
  },
  {
    name: 'checkpoint-delete',
    group: 'checkpoint',
    module: 'checkpoint',
    help: 'Delete a domain checkpoint',
    desc: 'Checkpoint Delete',
    opts: [
      DOMAIN,
      str('checkpointname', 'checkpoint name'),
      bool('children', 'delete checkpoint and all children'),
      bool('children-only', 'delete children but not checkpoint'),
      bool('metadata', 'delete only libvirt metadata, leaving checkpoint contents behind'),
    ],
  },
  {
    name: 'checkpoint-dumpxml',
    group: 'checkpoint',
    module: 'checkpoint',
    help: 'Dump XML for a domain checkpoint',
    desc: 'Checkpoint Dump XML',
    opts: [
      DOMAIN,
      str('checkpointname', 'checkpoint name'),
      bool('security-info', 'include security sensitive information in XML dump'),
      bool('no-domain', 'exclude <domain> from XML'),
      bool('size', 'include backup size estimate in XML dump'),
      str('xpath', 'xpath expression to filter the XML document', { reqOpt: true }),
      bool('wrap', 'wrap xpath results in an common root element'),
    ],
  },
  {
    name: 'checkpoint-info',
    group: 'checkpoint',
    module: 'checkpoint',
    help: 'checkpoint information',
    desc: 'Returns basic information about a checkpoint.',
    opts: [DOMAIN, str('checkpointname', 'checkpoint name')],
  },
  {
    name: 'checkpoint-list',
    group: 'checkpoint',
    module: 'checkpoint',
    help: 'List checkpoints for a domain',
    desc: 'Checkpoint List',
    opts: [
      DOMAIN,
      bool('parent', 'add a column showing parent checkpoint'),
      bool('roots', 'list only checkpoints without parents'),
      bool('leaves', 'list only checkpoints without children'),
      bool('no-leaves', 'list only checkpoints that are not leaves (with children)'),
      bool('tree', 'list checkpoints in a tree'),
      str('from', 'limit list to children of given checkpoint'),
      bool('descendants', 'with --from, list all descendants'),
      bool('name', 'list checkpoint names only'),
      bool('topological', 'sort list topologically rather than by name'),
    ],
  },
  {
    name: 'checkpoint-parent',
    group: 'checkpoint',
    module: 'checkpoint',
    help: 'Get the name of the parent of a checkpoint',
    desc: "Extract the checkpoint's parent, if any",
    opts: [DOMAIN, str('checkpointname', 'find parent of checkpoint name')],
  },

  // ---- Snapshot (virsh-snapshot.c) ----
  {
    name: 'snapshot-create',
    group: 'snapshot',
    module: 'snapshot',
    help: 'Create a snapshot from XML',
    desc: 'Create a snapshot (disk and RAM) from XML',
    opts: [
      DOMAIN,
      str('xmlfile', 'domain snapshot XML'),
      bool('redefine', 'redefine metadata for existing snapshot'),
      bool('current', 'with redefine, set current snapshot'),
      bool('no-metadata', 'take snapshot but create no metadata'),
      bool('halt', 'halt domain after snapshot is created'),
      bool('disk-only', 'capture disk state but not vm state'),
      bool('reuse-external', 'reuse any existing external files'),
      bool('quiesce', "quiesce guest's file systems"),
      bool('atomic', 'require atomic operation'),
      bool('live', 'take a live snapshot'),
      VALIDATE,
      bool('verbose', 'display the progress of the snapshot (tsvirt)', { tsvirt: true }),
    ],
  },
  {
    name: 'snapshot-create-as',
    group: 'snapshot',
    module: 'snapshot',
    help: 'Create a snapshot from a set of args',
    desc: 'Create a snapshot (disk and RAM) from arguments',
    opts: [
      DOMAIN,
      str('name', 'name of snapshot'),
      str('description', 'description of snapshot'),
      bool('print-xml', 'print XML document rather than create'),
      bool('no-metadata', 'take snapshot but create no metadata'),
      bool('halt', 'halt domain after snapshot is created'),
      bool('disk-only', 'capture disk state but not vm state'),
      bool('reuse-external', 'reuse any existing external files'),
      bool('quiesce', "quiesce guest's file systems"),
      bool('atomic', 'require atomic operation'),
      bool('live', 'take a live snapshot'),
      VALIDATE,
      str('memspec', 'memory attributes: [file=]name[,snapshot=type]', { reqOpt: true }),
      bool('verbose', 'display the progress of the snapshot (tsvirt)', { tsvirt: true }),
      argv('diskspec', 'disk attributes: disk[,snapshot=type][,driver=type][,stype=type][,file=name]'),
    ],
  },
  {
    name: 'snapshot-current',
    group: 'snapshot',
    module: 'snapshot',
    help: 'Get or set the current snapshot',
    desc: 'Get or set the current snapshot',
    opts: [
      DOMAIN,
      bool('name', 'list the name, rather than the full xml'),
      bool('security-info', 'include security sensitive information in XML dump'),
      str('snapshotname', 'name of existing snapshot to make current'),
      JSON_OPT,
    ],
  },
  {
    name: 'snapshot-delete',
    group: 'snapshot',
    module: 'snapshot',
    help: 'Delete a domain snapshot',
    desc: 'Snapshot Delete',
    opts: [
      DOMAIN,
      str('snapshotname', 'snapshot name'),
      bool('current', 'delete current snapshot'),
      bool('children', 'delete snapshot and all children'),
      bool('children-only', 'delete children but not snapshot'),
      bool('metadata', 'delete only libvirt metadata, leaving snapshot contents behind'),
    ],
  },
  {
    name: 'snapshot-dumpxml',
    group: 'snapshot',
    module: 'snapshot',
    help: 'Dump XML for a domain snapshot',
    desc: 'Snapshot Dump XML',
    opts: [
      DOMAIN,
      data('snapshotname', 'snapshot name'),
      bool('security-info', 'include security sensitive information in XML dump'),
      str('xpath', 'xpath expression to filter the XML document', { reqOpt: true }),
      bool('wrap', 'wrap xpath results in an common root element'),
    ],
  },
  {
    name: 'snapshot-export',
    group: 'snapshot',
    module: 'transfer',
    tsvirt: true,
    help: 'Export a domain and all its snapshot metadata to a directory (tsvirt)',
    desc:
      'Write the domain XML, every snapshot XML, the snapshot tree and the current\n' +
      '    snapshot into a new or empty directory, for snapshot-import.',
    opts: [DOMAIN, data('dir', 'directory to write (created; must be empty)')],
  },
  {
    name: 'snapshot-import',
    group: 'snapshot',
    module: 'transfer',
    tsvirt: true,
    help: 'Recreate snapshot metadata exported by snapshot-export (tsvirt)',
    desc:
      'Redefine every exported snapshot, parents first, on the domain with the\n' +
      '    same name and UUID, and restore the current snapshot.',
    opts: [
      DOMAIN,
      data('dir', 'directory written by snapshot-export'),
      bool('define', "define the domain from the export's domain.xml first if it does not exist"),
    ],
  },
  {
    name: 'snapshot-info',
    group: 'snapshot',
    module: 'snapshot',
    help: 'snapshot information',
    desc: 'Returns basic information about a snapshot.',
    opts: [DOMAIN, str('snapshotname', 'snapshot name'), bool('current', 'info on current snapshot'), JSON_OPT],
  },
  {
    name: 'snapshot-list',
    group: 'snapshot',
    module: 'snapshot',
    help: 'List snapshots for a domain',
    desc: 'Snapshot List',
    opts: [
      DOMAIN,
      bool('parent', 'add a column showing parent snapshot'),
      bool('roots', 'list only snapshots without parents'),
      bool('leaves', 'list only snapshots without children'),
      bool('no-leaves', 'list only snapshots that are not leaves (with children)'),
      bool('metadata', 'list only snapshots that have metadata that would prevent undefine'),
      bool('no-metadata', 'list only snapshots that have no metadata managed by libvirt'),
      bool('inactive', 'filter by snapshots taken while inactive'),
      bool('active', 'filter by snapshots taken while active (full system snapshots)'),
      bool('disk-only', 'filter by disk-only snapshots'),
      bool('internal', 'filter by internal snapshots'),
      bool('external', 'filter by external snapshots'),
      bool('tree', 'list snapshots in a tree'),
      str('from', 'limit list to children of given snapshot'),
      bool('current', 'limit list to children of current snapshot'),
      bool('descendants', 'with --from, list all descendants'),
      bool('name', 'list snapshot names only'),
      bool('topological', 'sort list topologically rather than by name'),
      JSON_OPT,
    ],
  },
  {
    name: 'snapshot-parent',
    group: 'snapshot',
    module: 'snapshot',
    help: 'Get the name of the parent of a snapshot',
    desc: "Extract the snapshot's parent, if any",
    opts: [DOMAIN, str('snapshotname', 'find parent of snapshot name'), bool('current', 'find parent of current snapshot')],
  },
  {
    name: 'snapshot-revert',
    group: 'snapshot',
    module: 'snapshot',
    help: 'Revert a domain to a snapshot',
    desc: 'Revert domain to snapshot',
    opts: [
      DOMAIN,
      str('snapshotname', 'snapshot name'),
      bool('current', 'revert to current snapshot'),
      bool('running', 'after reverting, change state to running'),
      bool('paused', 'after reverting, change state to paused'),
      bool('force', 'try harder on risky reverts'),
      RESET_NVRAM,
    ],
  },

  // ---- Virsh itself (vsh.c, virsh.c) ----
  {
    name: 'cd',
    group: 'virsh',
    module: 'shell',
    noConnect: true,
    help: 'change the current directory',
    desc: 'Change the current directory.',
    opts: [str('dir', 'directory to switch to (default: home or else root)')],
  },
  {
    name: 'echo',
    group: 'virsh',
    module: 'shell',
    noConnect: true,
    help: 'echo arguments. Used for internal testing.',
    desc: 'Echo back arguments, possibly with quoting. Used for internal testing.',
    opts: [
      bool('shell', 'escape for shell use'),
      bool('xml', 'escape for XML use'),
      bool('split', "split each argument on ','; ',,' is an escape sequence"),
      bool('err', 'output to stderr'),
      alias('str', 'string'),
      alias('hi', 'string=hello'),
      argv('string', 'arguments to echo'),
    ],
  },
  {
    name: 'exit',
    group: 'virsh',
    module: 'shell',
    noConnect: true,
    help: 'quit this interactive terminal',
    desc: '',
    opts: [],
  },
  {
    name: 'help',
    group: 'virsh',
    module: 'shell',
    noConnect: true,
    help: 'print help',
    desc: 'Prints global help, command specific help, or help for a\n    group of related commands',
    opts: [str('command', 'Prints global help, command specific help, or help for a group of related commands')],
  },
  {
    name: 'pwd',
    group: 'virsh',
    module: 'shell',
    noConnect: true,
    help: 'print the current directory',
    desc: 'Print the current directory.',
    opts: [],
  },
  {
    name: 'quit',
    group: 'virsh',
    module: 'shell',
    noConnect: true,
    help: 'quit this interactive terminal',
    desc: '',
    opts: [],
  },
  {
    name: 'connect',
    group: 'virsh',
    module: 'shell',
    noConnect: true,
    help: '(re)connect to hypervisor',
    desc: 'Connect to local hypervisor. This is built-in command after shell start up.',
    opts: [str('name', 'hypervisor connection URI', { emptyOk: true }), bool('readonly', 'read-only connection')],
  },
];

/** The command named `name`, or undefined. */
export function findCommand(name: string): CmdDef | undefined {
  return COMMANDS.find((c) => c.name === name);
}
