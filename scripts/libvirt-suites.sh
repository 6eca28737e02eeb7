#!/bin/bash
# Runs libvirt's own client test suites against tsvirtd and against a real libvirtd, in the same
# run, and compares them: libvirt-python's tests/ (pytest) and Sys::Virt's t/*.t (TAP). Both
# suites are written for `test:///default`; the only change is the URI, rewritten at run time to
# `test+unix:///default?socket=…` of each daemon (a pytest plugin and a Perl module written into
# a scratch directory; the suites' files are not touched).
#
# The suites are not in Debian's reachable archive and are not part of this repository: check
# them out yourself (tag v9.0.0, the version of Debian's python3-libvirt and libsys-virt-perl) and
# give their paths. This script fetches nothing.
#
#   npm run build
#   scripts/libvirt-suites.sh [--keep] [--tck TCK_SRC] PYTHON_SRC PERL_SRC
#
#   PYTHON_SRC  a checkout of libvirt-python (its tests/ is run with the installed binding)
#   PERL_SRC    a checkout of libvirt-perl (its t/*.t are run with the installed Sys::Virt)
#   --tck DIR   also run a checkout of libvirt-tck's scripts/domain/*.t, on qemu:///session
#               (real TCG guests: tsvirt's test guest, built by scripts/build-test-guest.sh;
#               takes minutes). TCK_SCRIPTS='domain/050-*.t ...' picks other scripts.
#   --tck-without-networks
#               a diagnostic for a tsvirtd without networks and storage pools: the TCK's
#               set-up lists them on every connection and bails out on VIR_ERR_NO_SUPPORT; with
#               this, such a list is answered empty on the client side (on both daemons), so
#               that the domain scripts run. Its counts are not the suite's verdict.
#   --keep      keep the scratch directory (daemon logs, raw suite output)
#
# Both daemons run as the unprivileged user nobody when the script runs as root (libvirtd would
# otherwise write under /run/libvirt), each with HOME and XDG_* in its own scratch directory, so
# that qemu:///session is the same kind of session on both.
#
# Debian packages it needs (installed by hand; the suites do not run in CI): python3-libvirt
# python3-pytest python3-lxml libsys-virt-perl libxml-xpath-perl libtest-pod-perl
# libtest-pod-coverage-perl libtest-exception-perl libxml-libxml-perl, and libvirt-daemon.
#
# It prints each suite's pass/fail counts for both daemons side by side, then every test (python)
# or assertion (perl) that passes on libvirtd and fails on tsvirtd, then stops both daemons.
# Exit status: 0 when nothing passes on libvirtd that fails on tsvirtd, 1 otherwise, 2 on set-up
# errors.
set -u

keep=0
tck_src=
tck_without_networks=0
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) keep=1; shift ;;
    --tck) tck_src=$(cd "${2:?--tck needs a directory}" && pwd) || exit 2; shift 2 ;;
    --tck-without-networks) tck_without_networks=1; shift ;;
    *) break ;;
  esac
done
if [ $# -ne 2 ]; then
  sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
fi
py_src=$(cd "$1" && pwd) || exit 2
perl_src=$(cd "$2" && pwd) || exit 2
[ -d "$py_src/tests" ] || { echo "libvirt-suites: $py_src has no tests/" >&2; exit 2; }
[ -d "$perl_src/t" ] || { echo "libvirt-suites: $perl_src has no t/" >&2; exit 2; }

repo=$(cd "$(dirname "$0")/.." && pwd)
daemon_main="$repo/dist/src/daemon/main.js"
[ -f "$daemon_main" ] || { echo "libvirt-suites: $daemon_main is missing: run npm run build first" >&2; exit 2; }
for tool in /usr/bin/python3 perl /usr/sbin/libvirtd setpriv; do
  command -v "$tool" >/dev/null || { echo "libvirt-suites: $tool is missing" >&2; exit 2; }
done
/usr/bin/python3 -c 'import libvirt, pytest, lxml' 2>/dev/null ||
  { echo "libvirt-suites: /usr/bin/python3 needs python3-libvirt python3-pytest python3-lxml" >&2; exit 2; }
perl -MSys::Virt -MXML::XPath -MTest::Exception -e1 2>/dev/null ||
  { echo "libvirt-suites: perl needs libsys-virt-perl libxml-xpath-perl libtest-exception-perl" >&2; exit 2; }

work=$(mktemp -d /tmp/libvirt-suites-XXXXXX)
chmod 755 "$work"
ts_pid=
lv_pid=
ts_sock=
lv_sock=
cleanup() {
  # Guests outlive their daemon (both reattach on restart): destroy what the TCK left running.
  if [ -n "$tck_src" ]; then
    for sock in ${ts_sock:-} ${lv_sock:-}; do
      [ -S "$sock" ] || continue
      for d in $(virsh -q -c "qemu+unix:///session?socket=$sock" list --name 2>/dev/null); do
        virsh -q -c "qemu+unix:///session?socket=$sock" destroy "$d" >/dev/null 2>&1
      done
    done
  fi
  [ -n "$ts_pid" ] && kill -TERM "$ts_pid" 2>/dev/null
  [ -n "$lv_pid" ] && kill -TERM "$lv_pid" 2>/dev/null
  for pid in $ts_pid $lv_pid; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  done
  wait 2>/dev/null
  if [ "$keep" = 1 ]; then echo "libvirt-suites: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 2' INT TERM

wait_for() { # socket pid name log
  for _ in $(seq 200); do
    [ -S "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.05
  done
  echo "libvirt-suites: $3 did not start; its log:" >&2
  tail -20 "$4" >&2
  exit 2
}

# Each daemon gets a scratch home; as root, both run as nobody (libvirtd as root would write
# under /run/libvirt, and qemu:///session should mean the same user's session on both).
as_user=()
daemon_env() { # dir
  echo PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$1/home" XDG_RUNTIME_DIR="$1/run" \
    XDG_CONFIG_HOME="$1/home/.config" XDG_CACHE_HOME="$1/home/.cache" XDG_STATE_HOME="$1/home/.state"
}
mkdir -p "$work/tsvirtd/sock" "$work/tsvirtd/state" "$work/tsvirtd/run" "$work/tsvirtd/home"
lv="$work/libvirtd"
mkdir -p "$lv/drivers" "$lv/sock" "$lv/run" "$lv/home"
cat >"$lv/libvirtd.conf" <<EOF
listen_tls = 0
listen_tcp = 0
unix_sock_dir = "$lv/sock"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:$lv/libvirtd.log"
EOF
if [ "$(id -u)" = 0 ]; then
  chown -R 65534:65534 "$work/tsvirtd" "$lv"
  as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi

# tsvirtd, on its own socket directory and state directory.
# shellcheck disable=SC2046
env -i $(daemon_env "$work/tsvirtd") TSVIRT_STATE_DIR="$work/tsvirtd/state" "${as_user[@]}" \
  node --min-semi-space-size=16 "$daemon_main" --socket-dir "$work/tsvirtd/sock" \
  --uri test:///default --uri qemu:///session --log-file "$work/tsvirtd/log" >"$work/tsvirtd/out" 2>&1 &
ts_pid=$!
ts_sock="$work/tsvirtd/sock/libvirt-sock"
wait_for "$ts_sock" "$ts_pid" tsvirtd "$work/tsvirtd/out"

# libvirtd. Without --tck it needs the test driver alone, which is built in: an empty
# LIBVIRT_DRIVER_DIR keeps every driver module out (and its start quick).
drivers=(LIBVIRT_DRIVER_DIR="$lv/drivers")
[ -n "$tck_src" ] && drivers=()
# shellcheck disable=SC2046
env -i $(daemon_env "$lv") "${drivers[@]}" "${as_user[@]}" \
  /usr/sbin/libvirtd -f "$lv/libvirtd.conf" -p "$lv/libvirtd.pid" >"$lv/out" 2>&1 &
lv_pid=$!
lv_sock="$lv/sock/libvirt-sock"
wait_for "$lv_sock" "$lv_pid" libvirtd "$lv/out"

# The URI rewriting, for python (a pytest plugin) and perl (a module loaded by PERL5OPT).
mkdir -p "$work/plugins"
cat >"$work/plugins/suites_uri.py" <<'EOF'
"""Points libvirt-python's tests at a daemon: test:///default -> $SUITES_URI."""
import os
import libvirt

_URI = os.environ["SUITES_URI"]


def _rewrite(uri):
    return _URI if uri == "test:///default" else uri


for _name in ("open", "openReadOnly"):
    def _wrap(orig):
        return lambda uri=None: orig(_rewrite(uri))
    setattr(libvirt, _name, _wrap(getattr(libvirt, _name)))
_openAuth = libvirt.openAuth
libvirt.openAuth = lambda uri, auth, flags=0: _openAuth(_rewrite(uri), auth, flags)
EOF
cat >"$work/plugins/SuitesURI.pm" <<'EOF'
package SuitesURI;
# Points Sys::Virt's tests at a daemon: test:///default -> $SUITES_URI.
use strict;
use warnings;
use Sys::Virt;
my $orig = \&Sys::Virt::new;
{
    no warnings 'redefine';
    *Sys::Virt::new = sub {
        my ($class, %args) = @_;
        $args{uri} = $ENV{SUITES_URI} if defined $args{uri} && $args{uri} eq 'test:///default';
        return $orig->($class, %args);
    };
}
1;
EOF

cat >"$work/plugins/TCKWithoutNetworks.pm" <<'EOF'
package TCKWithoutNetworks;
# --tck-without-networks: the TCK's set-up and clean-up list networks and storage pools on every
# connection; a daemon without them answers VIR_ERR_NO_SUPPORT there, and this answers an empty
# list instead, so that the domain scripts can run. Every other call is untouched.
use strict;
use warnings;
use Sys::Virt;
no warnings 'redefine';
for my $name (qw(list_networks list_defined_networks list_storage_pools list_defined_storage_pools)) {
    my $orig = \&{"Sys::Virt::$name"};
    no strict 'refs';
    *{"Sys::Virt::$name"} = sub {
        my @r = eval { $orig->(@_) };
        if ($@) {
            die $@ unless ref($@) && $@->isa('Sys::Virt::Error') && $@->code == Sys::Virt::Error::ERR_NO_SUPPORT;
            return ();
        }
        return @r;
    };
}
1;
EOF

run_python() { # name uri
  (cd "$py_src" && SUITES_URI="$2" PYTHONPATH="$work/plugins" PYTHONDONTWRITEBYTECODE=1 \
    timeout 600 /usr/bin/python3 -m pytest -q -p suites_uri -p no:cacheprovider \
    --junitxml="$work/python-$1.xml" tests >"$work/python-$1.out" 2>&1)
}
run_perl() { # name uri
  mkdir -p "$work/perl-$1"
  # Through a daemon, 800-events.t does not exit after its last assertion (on libvirtd as on
  # tsvirtd; it hangs once it drops the connection while its own Perl event loop no longer runs).
  # Every assertion has been printed by then; the timeout ends it.
  for t in "$perl_src"/t/*.t; do
    (cd "$perl_src" && SUITES_URI="$2" PERL5LIB="$work/plugins" PERL5OPT=-MSuitesURI \
      timeout 30 perl "t/$(basename "$t")" >"$work/perl-$1/$(basename "$t").tap" 2>&1)
  done
}

ts_uri="test+unix:///default?socket=$ts_sock"
lv_uri="test+unix:///default?socket=$lv_sock"
echo "tsvirtd:  $ts_uri"
echo "libvirtd: $lv_uri"
run_python tsvirtd "$ts_uri"
run_python libvirtd "$lv_uri"
run_perl tsvirtd "$ts_uri"
run_perl libvirtd "$lv_uri"

run_tck() { # name uri
  local dir="$work/tck-$1"
  mkdir -p "$dir/scratch" "$dir/home"
  cat >"$dir/tck.yml" <<EOF
uri: "$2"
scratch_dir: "$dir/scratch"
kernels:
  - arch: x86_64
    ostype:
      - hvm
    kernel: "$work/guest/vmlinuz"
    initrd: "$work/guest/initramfs.cpio.gz"
EOF
  [ "$(id -u)" = 0 ] && chown -R 65534:65534 "$dir"
  # The TCK's clients run as the daemons' user: the disk images they create are the guests'.
  for t in $tck_scripts; do
    local out
    out="$dir/$(echo "$t" | tr / _).tap"
    (cd "$dir" && env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$dir/home" LIBVIRT_TCK_CONFIG="$dir/tck.yml" \
      LIBVIRT_TCK_AUTOCLEAN=1 "${tck_shim[@]}" "${as_user[@]}" timeout 300 perl -I"$tck_src/lib" "$tck_src/scripts/$t" >"$out" 2>&1)
  done
}
if [ -n "$tck_src" ]; then
  tck_shim=()
  [ "$tck_without_networks" = 1 ] && tck_shim=(PERL5LIB="$work/plugins" PERL5OPT=-MTCKWithoutNetworks)
  tck_scripts=${TCK_SCRIPTS:-$(cd "$tck_src/scripts" && echo domain/*.t)}
  if ! sh "$repo/scripts/build-test-guest.sh" "$work/guest" >"$work/guest.log" 2>&1; then
    echo "libvirt-suites: scripts/build-test-guest.sh failed:" >&2
    tail -5 "$work/guest.log" >&2
    exit 2
  fi
  chmod -R a+rX "$work/guest"
  run_tck tsvirtd "qemu+unix:///session?socket=$ts_sock"
  run_tck libvirtd "qemu+unix:///session?socket=$lv_sock"
fi

/usr/bin/python3 - "$work" <<'EOF'
import glob, os, re, sys
import xml.etree.ElementTree as ET

work = sys.argv[1]
labels = {}  # key -> description, from whichever run printed one


def python_results(name):
    """test id -> (passed, message) from pytest's junit XML."""
    out = {}
    path = os.path.join(work, f"python-{name}.xml")
    if not os.path.exists(path):
        return out
    for case in ET.parse(path).iter("testcase"):
        tid = f"{case.get('classname')}::{case.get('name')}"
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        skipped = case.find("skipped") is not None
        if skipped:
            out[tid] = (None, "skipped")
        elif bad is None:
            out[tid] = (True, "")
        else:
            out[tid] = (False, (bad.get("message") or "").strip().splitlines()[0][:200] if bad.get("message") else "")
    return out


def tap_results(prefix, name):
    """file#n description -> (passed, reason); assertions a script never reached count as failed."""
    out = {}
    for tap in sorted(glob.glob(os.path.join(work, f"{prefix}-{name}", "*.tap"))):
        t = os.path.basename(tap)[:-4]
        planned = None
        seen = set()
        diag = []
        last = None
        skip_all = False
        for line in open(tap, errors="replace"):
            line = line.rstrip("\n")
            m = re.match(r"^1\.\.(\d+)(.*)$", line)
            if m:
                planned = int(m.group(1))
                skip_all = planned == 0
                continue
            m = re.match(r"^(not )?ok (\d+)\s*-?\s*(.*)$", line)
            if m:
                n = int(m.group(2))
                # Keyed by number: a skipped assertion has no description ("ok 2 # skip why").
                desc = re.sub(r"\s*# (SKIP|TODO).*$", "", m.group(3), flags=re.I)
                key = f"{t} #{n}"
                if desc:
                    labels[key] = desc
                ok = m.group(1) is None or re.search(r"# TODO", m.group(3), re.I) is not None
                skip = re.search(r"# SKIP\s*(.*)$", m.group(3), re.I)
                if skip:
                    out[key] = (None, "skipped: " + skip.group(1))
                else:
                    out[key] = (ok, "")
                seen.add(n)
                last = key
                continue
            if line.startswith("#") and last is not None and out[last][0] is False:
                out[last] = (False, (out[last][1] + " " + line.lstrip("# ").strip()).strip()[:300])
            elif not line.startswith("#") and line.strip():
                diag.append(line)
        if skip_all:
            out[f"{t} (skipped as a whole)"] = (None, "skipped")
            continue
        if planned is None:
            planned = max(seen) if seen else 1
        for n in range(1, planned + 1):
            if n not in seen:
                out[f"{t} #{n}"] = (False, "not reached: " + " | ".join(diag[-2:])[:300])
    return out


def count(res):
    p = sum(1 for v in res.values() if v[0] is True)
    f = sum(1 for v in res.values() if v[0] is False)
    s = sum(1 for v in res.values() if v[0] is None)
    return p, f, s


regressions = 0
suites = [("libvirt-python tests/ (tests)", python_results),
          ("Sys::Virt t/*.t (assertions)", lambda name: tap_results("perl", name))]
if os.path.isdir(os.path.join(work, "tck-libvirtd")):
    suites.append(("libvirt-tck (assertions)", lambda name: tap_results("tck", name)))
print()
print(f"{'suite':32} {'tsvirtd pass/fail/skip':>24} {'libvirtd pass/fail/skip':>25}")
tables = []
for label, fn in suites:
    ts, lv = fn("tsvirtd"), fn("libvirtd")
    print(f"{label:32} {'%d/%d/%d' % count(ts):>24} {'%d/%d/%d' % count(lv):>25}")
    tables.append((label, ts, lv))
for label, ts, lv in tables:
    worse = [k for k, v in lv.items() if v[0] is True and ts.get(k, (False, ""))[0] is not True]
    better = [k for k, v in ts.items() if v[0] is True and lv.get(k, (False, ""))[0] is not True]
    print()
    print(f"{label}: {len(worse)} pass on libvirtd and fail or skip on tsvirtd")
    # Consecutive assertions of one script failing for the same reason print as one range.
    groups = []
    for k in worse:
        why = ts.get(k, (False, "not run on tsvirtd"))[1]
        m = re.match(r"^(.*) #(\d+)$", k)
        g = groups[-1] if groups else None
        if m and g and g["file"] == m.group(1) and g["why"] == why and g["last"] + 1 == int(m.group(2)):
            g["last"] = int(m.group(2))
            g["n"] += 1
            continue
        groups.append({"key": k, "file": m.group(1) if m else k, "first": int(m.group(2)) if m else 0, "last": int(m.group(2)) if m else 0, "why": why, "n": 1})
    for g in groups:
        head = f"  {g['key']} {labels.get(g['key'], '')}".rstrip()
        if g["n"] > 1:
            head = f"  {g['file']} #{g['first']}-#{g['last']} ({g['n']} assertions, from: {labels.get(g['key'], '')})"
        print(head + (f"\n      {g['why']}" if g["why"] else ""))
    if better:
        print(f"{label}: {len(better)} pass on tsvirtd and fail or skip on libvirtd")
        for k in better:
            print(f"  {k} {labels.get(k, '')}".rstrip())
    regressions += len(worse)
sys.exit(1 if regressions else 0)
EOF
