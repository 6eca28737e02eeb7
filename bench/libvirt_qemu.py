"""libvirt's side of tsvirt's QEMU benchmark (bench/qemu.ts): python3-libvirt against a session
libvirtd's qemu driver. Reads one JSON request per line on stdin, answers one JSON line on stdout:
{"ms": wall time of the libvirt call(s)} or {"error": "..."}. Times are taken here, around the
libvirt calls only (the pipe to Node is not in them).

    python3 libvirt_qemu.py SOCKET
"""
import json
import sys
import threading
import time

import libvirt

libvirt.virEventRegisterDefaultImpl()
libvirt.registerErrorHandler(lambda *a: None, None)


def event_loop():
    while True:
        libvirt.virEventRunDefaultImpl()


threading.Thread(target=event_loop, daemon=True).start()

conn = libvirt.open('qemu+unix:///session?socket=' + sys.argv[1])
stopped = {}


def lifecycle(_conn, dom, event, _detail, _opaque):
    if event == libvirt.VIR_DOMAIN_EVENT_STOPPED:
        waiter = stopped.get(dom.name())
        if waiter is not None:
            waiter.set()


conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, lifecycle, None)
# The first use of the qemu driver probes QEMU's capabilities (about a second): not a start's cost.
conn.getDomainCapabilities(None, 'x86_64', 'pc', 'qemu')


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def shutdown(dom):
    waiter = threading.Event()
    stopped[dom.name()] = waiter
    try:
        t0 = time.perf_counter()
        dom.shutdown()
        if not waiter.wait(120):
            raise RuntimeError('no STOPPED event within 120 s')
        return (time.perf_counter() - t0) * 1000
    finally:
        stopped.pop(dom.name(), None)


def remove(name):
    try:
        dom = conn.lookupByName(name)
    except libvirt.libvirtError:
        return 0
    if dom.isActive():
        dom.destroy()
    dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
    return 0


def handle(req):
    op = req['op']
    if op == 'define':
        conn.defineXML(req['xml'])
        return 0
    if op == 'remove':
        return remove(req['name'])
    dom = conn.lookupByName(req['name'])
    if op in ('start', 'restore'):
        return timed(dom.create)
    if op == 'shutdown':
        return shutdown(dom)
    if op == 'destroy':
        return timed(dom.destroy)
    if op == 'managedsave':
        return timed(dom.managedSave)
    if op == 'snapshot':
        xml = '<domainsnapshot><name>%s</name></domainsnapshot>' % req['snapshot']
        return timed(lambda: dom.snapshotCreateXML(xml, 0))
    if op == 'revert':
        snap = dom.snapshotLookupByName(req['snapshot'])
        return timed(lambda: dom.revertToSnapshot(snap, 0))
    raise ValueError('unknown op ' + op)


print(json.dumps({'ready': True}), flush=True)
for line in sys.stdin:
    try:
        answer = {'ms': handle(json.loads(line))}
    except Exception as e:  # noqa: BLE001 - every failure goes back to the caller
        answer = {'error': str(e)}
    print(json.dumps(answer), flush=True)
