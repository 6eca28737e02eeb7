#!/usr/bin/env python3
"""Generate src/rpc/procedure-names.generated.ts: every procedure of libvirt's remote program with
the public API it stands for, that API's error domain and whether it refuses read-only connections.

Inputs are libvirt's own sources of the version tsvirt matches (Debian 12 ships 9.0.0; unpack its
source, e.g. `apt-get source --download-only libvirt` and `tar xf libvirt_9.0.0.orig.tar.xz`):
  - src/remote/remote_protocol.x: `enum remote_procedure` (numbers, names) and the `remote_*_msg`
    structs, which mark server-to-client event messages.
  - src/libvirt*.c: where each public API is defined, that file's VIR_FROM_THIS (the error domain
    virReportUnsupportedError uses) and whether the function body calls virCheckReadOnlyGoto
    before it looks for the driver's function (then a read-only connection gets
    VIR_ERR_OPERATION_DENIED rather than VIR_ERR_NO_SUPPORT).

Run: python3 scripts/gen-procedure-names.py LIBVIRT_SRC_DIR > src/rpc/procedure-names.generated.ts
Neither libvirt's .x nor its C files are copied; only the facts above end up in the output.
"""
import glob
import os
import re
import sys

# gendispatch.pl's word fix-ups (fixup_name): a REMOTE_PROC_ word, lower-cased and capitalised,
# is rewritten so that the joined name is libvirt's C spelling (Xml -> XML, Uuid -> UUID, ...).
WORD_FIXUPS = [
    (r'Nwfilter', 'NWFilter'), (r'Xml$', 'XML'), (r'Xml2$', 'XML2'), (r'Uri$', 'URI'),
    (r'Uuid$', 'UUID'), (r'Id$', 'ID'), (r'Mac$', 'MAC'), (r'Cpu$', 'CPU'), (r'Os$', 'OS'),
    (r'Nmi$', 'NMI'), (r'Pm', 'PM'), (r'Fstrim$', 'FSTrim'), (r'Fsfreeze$', 'FSFreeze'),
    (r'Fsthaw$', 'FSThaw'), (r'Fsinfo$', 'FSInfo'), (r'Iothread$', 'IOThread'), (r'Scsi', 'SCSI'),
    (r'Wwn$', 'WWN'), (r'Dhcp$', 'DHCP'),
]

# Procedures whose public entry point is not "vir" + the procedure's name. The remote driver's
# client side implements these APIs with a differently named procedure (remote_driver.c).
API_OVERRIDES = {
    'CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY': 'virConnectDomainEventRegisterAny',
    'CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY': 'virConnectDomainEventDeregisterAny',
    'CONNECT_NETWORK_EVENT_REGISTER_ANY': 'virConnectNetworkEventRegisterAny',
    'CONNECT_NETWORK_EVENT_DEREGISTER_ANY': 'virConnectNetworkEventDeregisterAny',
    'CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY': 'virConnectStoragePoolEventRegisterAny',
    'CONNECT_STORAGE_POOL_EVENT_DEREGISTER_ANY': 'virConnectStoragePoolEventDeregisterAny',
    'CONNECT_NODE_DEVICE_EVENT_REGISTER_ANY': 'virConnectNodeDeviceEventRegisterAny',
    'CONNECT_NODE_DEVICE_EVENT_DEREGISTER_ANY': 'virConnectNodeDeviceEventDeregisterAny',
    'CONNECT_SECRET_EVENT_REGISTER_ANY': 'virConnectSecretEventRegisterAny',
    'CONNECT_SECRET_EVENT_DEREGISTER_ANY': 'virConnectSecretEventDeregisterAny',
    'CONNECT_DOMAIN_EVENT_REGISTER': 'virConnectDomainEventRegister',
    'CONNECT_DOMAIN_EVENT_DEREGISTER': 'virConnectDomainEventDeregister',
    'CONNECT_DOMAIN_EVENT_REGISTER_ANY': 'virConnectDomainEventRegisterAny',
    'CONNECT_DOMAIN_EVENT_DEREGISTER_ANY': 'virConnectDomainEventDeregisterAny',
    'DOMAIN_MIGRATE_PREPARE_TUNNEL': 'virDomainMigratePrepareTunnel',
    'DOMAIN_MIGRATE_PREPARE_TUNNEL3': 'virDomainMigratePrepareTunnel3',
    'DOMAIN_MIGRATE_PREPARE_TUNNEL3_PARAMS': 'virDomainMigratePrepareTunnel3Params',
    'DOMAIN_GET_VCPUS': 'virDomainGetVcpus',
    'DOMAIN_PIN_VCPU': 'virDomainPinVcpu',
}

# virErrorDomain constant -> the member of tsvirt's ErrorDomain enum.
def domain_member(c):
    return c[len('VIR_FROM_'):]


def proc_name(words):
    out = []
    for w in words:
        w = w.lower().capitalize()
        for pat, rep in WORD_FIXUPS:
            w = re.sub(pat, rep, w)
        out.append(w)
    return ''.join(out)


def main():
    if len(sys.argv) != 2:
        sys.exit('usage: gen-procedure-names.py LIBVIRT_SRC_DIR')
    top = sys.argv[1]
    src = os.path.join(top, 'src')
    x = open(os.path.join(src, 'remote', 'remote_protocol.x')).read()

    version = None
    meson = os.path.join(top, 'meson.build')
    if os.path.exists(meson):
        m = re.search(r"project\(\s*'libvirt'\s*,\s*'c'\s*,\s*version:\s*'([^']+)'", open(meson).read())
        if m:
            version = m.group(1)
    if version is None:
        sys.exit('cannot find libvirt version in meson.build')

    # Event messages: `struct remote_NAME_msg`; gendispatch leaves their slot empty in the server's
    # table, so libvirtd answers a CALL of one as an unknown procedure.
    msgs = {m.lower().replace('_', '') for m in re.findall(r'^struct remote_(\w+)_msg\b', x, re.M)}

    enum = re.search(r'enum remote_procedure \{(.*?)\};', x, re.S).group(1)
    procs = [(int(n), name) for name, n in re.findall(r'^\s*REMOTE_PROC_(\w+)\s*=\s*(\d+)', enum, re.M)]

    # Public API definitions: "vir...(" at the start of a line (or after its return type on the
    # same line), the body up to the next "}" line.
    apis = {}
    for path in sorted(glob.glob(os.path.join(src, 'libvirt*.c'))):
        text = open(path).read()
        m = re.search(r'^#define VIR_FROM_THIS (VIR_FROM_\w+)', text, re.M)
        if not m:
            continue
        frm = m.group(1)
        for fm in re.finditer(r'^(?:[A-Za-z_][\w \t*]*[ \t*])?(vir\w+)\(([^)]*)\)\s*\n\{(.*?)^\}', text, re.M | re.S):
            body = fm.group(3)
            apis[fm.group(1)] = {
                'domain': frm,
                # Only an unconditional check (at the body's first level) makes the API a write
                # API; a check under `if (flags & ...)` depends on arguments tsvirtd does not
                # decode for a procedure it lacks, so such an API counts as a read API.
                'readonly_check': re.search(r'^    virCheckReadOnlyGoto', body, re.M) is not None,
                'file': os.path.basename(path),
            }

    # The struct members of each call (remote_NAME_args / remote_NAME_ret), keyed as gendispatch
    # keys calls: the name lower-cased without underscores.
    members = {}
    for key, body in re.findall(r'^struct remote_(\w+?)_(?:args|ret)\s*\{(.*?)^\};', x, re.M | re.S):
        members.setdefault(key.lower().replace('_', ''), []).append(body)

    def secondary(name, pname):
        # gendispatch's get_conn_method: which of libvirtd's per-client connections a call uses.
        # Before CONNECT_OPEN the hypervisor one is "hypervisor connection not open", the others
        # (network, storage, ...) "connection not open".
        body = ' '.join(members.get(name.lower().replace('_', ''), []))
        if re.search(r'remote_nonnull_(interface|network|node_device|nwfilter|secret|storage)', body):
            return True
        if re.search(r'Connect.*Interface|InterfaceChange|Connect.*Network|Connect.*NWFilter|Connect.*Secret|Connect.*Storage', pname):
            return True
        if re.search(r'Node.*Device', pname) and not re.search(r'NodeDeviceReset|NodeDeviceReAttach|NodeDeviceDettach|NodeDeviceDetachFlags', pname):
            return True
        return False

    rows = []
    for num, name in procs:
        words = name.split('_')
        if name.lower().replace('_', '') in msgs:
            rows.append((num, name, None, None, None, 'event', False))
            continue
        api = API_OVERRIDES.get(name, 'vir' + proc_name(words))
        info = apis.get(api)
        if info is None:
            # Acronyms gendispatch has no fix-up for (FD, SEV, SSH...): the one API of that name
            # in any capitalisation.
            same = [a for a in apis if a.lower() == api.lower()]
            if len(same) == 1:
                api = same[0]
                info = apis[api]
        if info is None:
            rows.append((num, name, None, None, None, 'internal', False))
            continue
        rows.append((num, name, api, domain_member(info['domain']), info['readonly_check'], 'api', secondary(name, proc_name(words))))

    # Only the authentication procedures have no public API; anything else is a name this script
    # does not map yet, and a guess would put a wrong function name in an error message.
    stray = [name for _, name, _, _, _, kind, _ in rows if kind == 'internal' and not name.startswith('AUTH_')]
    if stray:
        sys.exit('no public API found for: ' + ', '.join(stray))

    out = sys.stdout
    out.write('// Generated by scripts/gen-procedure-names.py from libvirt %s\n' % version)
    out.write("// (src/remote/remote_protocol.x and src/libvirt*.c of that release). Do not edit.\n")
    out.write('import { ErrorDomain } from \'../core/enums.generated.js\';\n\n')
    out.write('/** The libvirt release the table was generated from. */\n')
    out.write("export const LIBVIRT_PROTOCOL_VERSION = '%s';\n\n" % version)
    out.write('''/**
 * What a remote procedure is, as libvirtd sees it:
 * - `api`: a call of a public API; `api` is the C function that reports an unsupported driver,
 *   `domain` its file's VIR_FROM_THIS, `write` whether it refuses read-only connections first,
 *   `secondary` when libvirtd serves it on its network/storage/... connection rather than the
 *   hypervisor's (before CONNECT_OPEN: "connection not open", not "hypervisor connection not open").
 * - `internal`: a call with no public API: the authentication steps (AUTH_*).
 * - `event`: a server-to-client message; libvirtd has no dispatcher for it.
 */
export type KnownProcedure =
  | { name: string; kind: 'api'; api: string; domain: ErrorDomain; write: boolean; secondary?: true }
  | { name: string; kind: 'internal' }
  | { name: string; kind: 'event' };

''')
    out.write('/** Every procedure number of remote_protocol.x (REMOTE_PROC_ names without the prefix). */\n')
    out.write('export const REMOTE_PROCEDURES: ReadonlyMap<number, KnownProcedure> = new Map<number, KnownProcedure>([\n')
    for num, name, api, dom, ro, kind, sec in rows:
        if kind == 'api':
            out.write("  [%d, { name: '%s', kind: 'api', api: '%s', domain: ErrorDomain.%s, write: %s%s }],\n"
                      % (num, name, api, dom, 'true' if ro else 'false', ', secondary: true' if sec else ''))
        else:
            out.write("  [%d, { name: '%s', kind: '%s' }],\n" % (num, name, kind))
    out.write(']);\n')


if __name__ == '__main__':
    main()
