#!/bin/sh
# The Debian packages tsvirt's tests use, in one list: `npm test` runs this first (pretest) and
# .ci/run calls it too. Missing packages are installed when we are root and apt-get exists;
# otherwise the exact install line is printed and the tests do not start.
# TSVIRT_TEST_SETUP=0 leaves packages alone: each test that needs a missing tool then skips and
# names the package that brings it.
#
#   sh scripts/host-deps.sh           install what is missing (or say how), then exit 0
#   sh scripts/host-deps.sh --list    print the package list, one per line
#   sh scripts/host-deps.sh --missing print the missing packages, one per line
set -eu

# package:why — the reason is printed when the package is installed.
PACKAGES='
libxml2-utils:xmllint checks formatted XML against the schemas, and the *_VALIDATE flags at run time
libvirt0:libvirt RelaxNG schemas (the *_VALIDATE flags read them)
libvirt-clients:virsh for the CLI differential and daemon tests
libvirt-daemon:a real libvirtd to compare against
python3-libvirt:python-libvirt client tests against tsvirtd
python3:python-libvirt client tests against tsvirtd
qemu-system-x86:real QEMU guests (TCG)
qemu-utils:qemu-img for disks and snapshots
busybox-static:the tiny test guest
cpio:the tiny test guest initramfs
chromium:browser tests of the web console (Playwright drives this chromium; no browser is downloaded)
tmux:a real terminal for the tsvirt console tests (raw mode, the escape key)
linux-image-cloud-amd64:the tiny test guest kernel
golang-go:the vSphere simulator for the ESX driver tests
golang-github-vmware-govmomi-dev:the vSphere simulator for the ESX driver tests
golang-github-google-uuid-dev:the vSphere simulator for the ESX driver tests
dnsmasq-base:DHCP and DNS of virtual networks (qemu network driver)
nftables:NAT and forwarding rules of virtual networks (nft)
iproute2:bridges, taps and network namespaces of the network tests (ip)
openssl:certificates made at test time for the TLS tests (CA, server, client, expired)
virtinst:virt-install, a real client for the end-to-end network test
make:the npm pack test installs better-sqlite3, compiled when no prebuilt binary is reachable
openssh-server:sshd for the qemu+ssh tests (virsh and the remote driver through ssh)
openssh-client:ssh, the +ssh transport of the remote driver and of virsh
netcat-openbsd:nc -U, what the ssh transport of libvirt runs on the remote side without virt-ssh-helper
g++:the npm pack test installs better-sqlite3, compiled when no prebuilt binary is reachable; npm run build compiles the fdpass addon (openGraphicsFD)
'

names() { printf '%s\n' "$PACKAGES" | sed -n 's/^\([^:]\{1,\}\):.*/\1/p'; }

missing() {
  for p in $(names); do
    s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$s" = installed ] || echo "$p"
  done
}

case "${1:-}" in
  '') ;;
  --list) names; exit 0 ;;
  --missing) missing; exit 0 ;;
  *) echo "usage: sh scripts/host-deps.sh [--list | --missing]" >&2; exit 2 ;;
esac

if [ "${TSVIRT_TEST_SETUP:-1}" = 0 ]; then
  exit 0
fi
if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "tsvirt test set-up: not a Debian system; install the equivalents of: $(names | tr '\n' ' ')(or set TSVIRT_TEST_SETUP=0 to skip the tests that need them)" >&2
  exit 1
fi

need=$(missing | tr '\n' ' ')
[ -n "$need" ] || exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  why=$(for p in $need; do printf '%s\n' "$PACKAGES" | sed -n "s/^$p:\(.*\)/\1/p"; done | sort -u | paste -sd ';' - | sed 's/;/; /g')
  echo "tsvirt test set-up: installing ${need}(${why})"
  export DEBIAN_FRONTEND=noninteractive
  # A source that cannot be refreshed need not stop us: the install says if a package is unreachable.
  apt-get update -qq >/dev/null || echo "tsvirt test set-up: apt-get update failed; trying the install with the package lists at hand" >&2
  # apt's own chatter (debconf notes, triggers) is shown only when the install fails.
  log=$(mktemp)
  # shellcheck disable=SC2086
  if ! apt-get install -y -qq --no-install-recommends $need >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "tsvirt test set-up: apt-get install failed (above); install the packages by hand or set TSVIRT_TEST_SETUP=0" >&2
    exit 1
  fi
  rm -f "$log"
  exit 0
fi

echo "tsvirt test set-up: missing Debian packages; run: sudo apt-get install --no-install-recommends ${need% }" >&2
echo "  (or set TSVIRT_TEST_SETUP=0 to run the tests without them; those that need them skip)" >&2
exit 1
