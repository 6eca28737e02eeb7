#!/usr/bin/python3
"""The core benchmark's work on libvirt's own test:///default, through python3-libvirt.

Run by bench/core.ts with Debian's /usr/bin/python3 (the binding belongs to it); prints JSON.
"""
import json
import sys
import time
import uuid

import libvirt

N_DEFINE = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
N_SNAP = int(sys.argv[2]) if len(sys.argv) > 2 else 1000


def dom_xml(name):
    return ("<domain type='test'><name>%s</name><uuid>%s</uuid><memory unit='KiB'>65536</memory>"
            "<vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>") % (name, uuid.uuid4())


libvirt.registerErrorHandler(lambda *a: None, None)
conn = libvirt.open('test:///default')
out = {}

t0 = time.perf_counter()
for i in range(N_DEFINE):
    d = conn.defineXML(dom_xml('du%d' % i))
    d.undefine()
out['define+undefine ops/s'] = '%.0f' % (N_DEFINE / (time.perf_counter() - t0))

d = conn.defineXML(dom_xml('snapper'))
t0 = time.perf_counter()
for i in range(N_SNAP):
    d.snapshotCreateXML('<domainsnapshot><name>s%d</name></domainsnapshot>' % i, 0)
out['snapshotCreateXML ops/s'] = '%.0f' % (N_SNAP / (time.perf_counter() - t0))
d.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)

d = conn.defineXML(dom_xml('big'))
for i in range(1000):
    d.snapshotCreateXML('<domainsnapshot><name>b%d</name></domainsnapshot>' % i, 0)
lat = []
for _ in range(20):
    t0 = time.perf_counter()
    assert len(d.listAllSnapshots(0)) == 1000
    lat.append((time.perf_counter() - t0) * 1000)
lat.sort()
out['listAllSnapshots(1000) ms p50'] = '%.2f' % lat[len(lat) // 2]
t0 = time.perf_counter()
d.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
out['undefineFlags(SNAPSHOTS_METADATA) with 1000 snapshots ms'] = '%.2f' % ((time.perf_counter() - t0) * 1000)

print(json.dumps(out))
