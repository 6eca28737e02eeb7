#!/bin/sh
# Builds tsvirt's test guest from Debian packages: the installed cloud kernel (whatever its
# version) plus an initramfs made from busybox-static with cpio. No root needed.
#
#   scripts/build-test-guest.sh OUTDIR      -> OUTDIR/vmlinuz, OUTDIR/initramfs.cpio.gz
#
# Packages: linux-image-cloud-amd64, busybox-static, cpio, gzip. KVER picks another kernel.
# One image covers every variant, chosen on the kernel command line:
#   guest.mode=A         powers off on the ACPI power button (evdev + button + busybox acpid)
#   guest.mode=B         ignores the power button (nothing listens)
#   guest.mode=C         powers itself off after guest.after=N seconds (guest.cmd=reboot: reboot -f)
#   guest.tick=N         prints "GUEST-ALIVE n" every N seconds (n counts on across save/restore)
#   guest.virtio=1       loads virtio_pci + virtio_blk + virtio_balloon + virtio_net (PCI hotplug
#                        is built into the kernel)
#   guest.cpuhp=1        onlines hot-added vCPUs (what udev's rule does on a full system)
#   guest.net=1          a virtio NIC (eth0) configured by DHCP; prints "GUEST-DHCP ip=A.B.C.D"
#   guest.shell=1        once ready, an interactive shell on the serial port ttyS0, with ttyS0 as
#                        its controlling terminal (respawned when it exits), for console tests;
#                        it prints "GUEST-SHELL" first. Whatever console= says, ttyS0 is used.
# /init prints "GUEST-READY mode=X" on the console only once the guest is really ready (for A:
# after acpid has opened the input devices, i.e. written its pidfile).
# Outputs are written to temporary files and renamed, so a running guest never reads a half file.
set -eu

OUT=${1:?usage: build-test-guest.sh OUTDIR}
if [ -z "${KVER:-}" ]; then
  KVER=$(ls /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sed 's|^/boot/vmlinuz-||' | sort -V | tail -n 1)
fi
[ -n "$KVER" ] || { echo "build-test-guest: no /boot/vmlinuz-*-cloud-amd64 (install linux-image-cloud-amd64)" >&2; exit 1; }
VMLINUZ=/boot/vmlinuz-$KVER
MODDIR=/lib/modules/$KVER
BUSYBOX=$(command -v busybox || true)
[ -r "$VMLINUZ" ] || { echo "build-test-guest: cannot read $VMLINUZ" >&2; exit 1; }
[ -d "$MODDIR" ] || { echo "build-test-guest: no $MODDIR" >&2; exit 1; }
[ -n "$BUSYBOX" ] || { echo "build-test-guest: busybox not found (install busybox-static)" >&2; exit 1; }
if ! "$BUSYBOX" --list | grep -qx acpid; then echo "build-test-guest: $BUSYBOX has no acpid" >&2; exit 1; fi
command -v cpio >/dev/null || { echo "build-test-guest: cpio not found" >&2; exit 1; }

mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tsvirt-guest.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM
ROOT=$WORK/root
mkdir -p "$ROOT/bin" "$ROOT/proc" "$ROOT/sys" "$ROOT/dev" "$ROOT/run" "$ROOT/etc/acpi/PWRF" "$ROOT/lib/modules" "$ROOT/tmp"
cp "$BUSYBOX" "$ROOT/bin/busybox"

# Modules, in load order (dependencies first, as modules.dep says); .ko, .ko.xz or .ko.zst.
for m in kernel/drivers/input/evdev kernel/drivers/acpi/button \
         kernel/drivers/virtio/virtio_ring kernel/drivers/virtio/virtio \
         kernel/drivers/virtio/virtio_pci_legacy_dev kernel/drivers/virtio/virtio_pci_modern_dev \
         kernel/drivers/virtio/virtio_pci kernel/drivers/block/virtio_blk \
         kernel/drivers/virtio/virtio_balloon \
         kernel/net/core/failover kernel/drivers/net/net_failover kernel/drivers/net/virtio_net; do
  name=$(basename "$m")
  if [ -f "$MODDIR/$m.ko" ]; then cp "$MODDIR/$m.ko" "$ROOT/lib/modules/$name.ko"
  elif [ -f "$MODDIR/$m.ko.xz" ]; then xz -dc "$MODDIR/$m.ko.xz" > "$ROOT/lib/modules/$name.ko"
  elif [ -f "$MODDIR/$m.ko.zst" ]; then zstd -qdc "$MODDIR/$m.ko.zst" > "$ROOT/lib/modules/$name.ko"
  fi
done

# An existing but empty acpid.conf disables busybox's built-in mapping: write it out.
echo 'PWRF PWRF/00000080' > "$ROOT/etc/acpid.conf"
cat > "$ROOT/etc/acpi/PWRF/00000080" <<'HANDLER'
#!/bin/sh
echo GUEST-POWERBUTTON > /dev/console
/bin/busybox poweroff -f
HANDLER
chmod 755 "$ROOT/etc/acpi/PWRF/00000080"

# udhcpc's hook: configure eth0 with the lease and say so on the console.
cat > "$ROOT/etc/udhcpc.script" <<'DHCP'
#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route add default via "${router%% *}" dev "$interface"
    echo "GUEST-DHCP ip=$ip" > /dev/console ;;
esac
DHCP
chmod 755 "$ROOT/etc/udhcpc.script"

cat > "$ROOT/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mode=A; after=5; cmd=poweroff; tick=; virtio=; shell=; cpuhp=; net=
for arg in $(cat /proc/cmdline); do
  case $arg in
    guest.mode=*) mode=${arg#*=} ;;
    guest.after=*) after=${arg#*=} ;;
    guest.cmd=*) cmd=${arg#*=} ;;
    guest.tick=*) tick=${arg#*=} ;;
    guest.virtio=*) virtio=${arg#*=} ;;
    guest.shell=*) shell=${arg#*=} ;;
    guest.cpuhp=*) cpuhp=${arg#*=} ;;
    guest.net=*) net=${arg#*=} ;;
  esac
done
if [ "$virtio" = 1 ]; then
  for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk virtio_balloon failover net_failover virtio_net; do
    [ -f /lib/modules/$m.ko ] && insmod /lib/modules/$m.ko
  done
fi
if [ "$net" = 1 ]; then
  # A virtio NIC configured by DHCP (busybox udhcpc), the address printed for the host to read.
  for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net; do
    [ -f /lib/modules/$m.ko ] && insmod /lib/modules/$m.ko 2>/dev/null
  done
  ip link set lo up
  n=0
  while [ ! -e /sys/class/net/eth0 ] && [ $n -lt 500 ]; do sleep 0.01; n=$((n + 1)); done
  ip link set eth0 up
  udhcpc -i eth0 -s /etc/udhcpc.script -t 20 -T 1 -b -q -x hostname:tsvirt-guest >/dev/null 2>&1
fi
if [ "$mode" = A ]; then
  insmod /lib/modules/evdev.ko
  insmod /lib/modules/button.ko
  # -f: stay in the foreground, so that the pidfile means "devices opened" (no fork race).
  acpid -f -c /etc/acpi -a /etc/acpid.conf -l /run/acpid.log -p /run/acpid.pid &
  n=0
  while [ ! -s /run/acpid.pid ] && [ $n -lt 500 ]; do sleep 0.01; n=$((n + 1)); done
fi
if [ "$cpuhp" = 1 ]; then
  ( while :; do
      for f in /sys/devices/system/cpu/cpu*/online; do
        [ "$(cat "$f" 2>/dev/null)" = 0 ] && echo 1 > "$f" 2>/dev/null
      done
      sleep 0.2
    done ) &
fi
if [ -n "$tick" ]; then
  ( i=0; while :; do i=$((i + 1)); echo "GUEST-ALIVE $i"; sleep "$tick"; done ) &
fi
echo "GUEST-READY mode=$mode"
if [ "$shell" = 1 ]; then
  # setsid: a new session; its leader opening ttyS0 makes that the controlling terminal (job
  # control, ^C). The loop brings a shell back after `exit`.
  ( while :; do
      setsid sh -c 'exec <>/dev/ttyS0 >&0 2>&1; echo GUEST-SHELL; exec sh -i'
      sleep 0.2
    done ) &
fi
if [ "$mode" = C ]; then
  sleep "$after"
  echo "GUEST-POWEROFF $cmd"
  if [ "$cmd" = reboot ]; then reboot -f; else poweroff -f; fi
fi
while :; do sleep 3600; done
INIT
chmod 755 "$ROOT/init"

(cd "$ROOT" && find . | cpio -o -H newc --quiet | gzip -9) > "$OUT/.initramfs.cpio.gz.tmp"
mv -f "$OUT/.initramfs.cpio.gz.tmp" "$OUT/initramfs.cpio.gz"
cp "$VMLINUZ" "$OUT/.vmlinuz.tmp"
mv -f "$OUT/.vmlinuz.tmp" "$OUT/vmlinuz"
echo "$KVER" > "$OUT/kernel-version"
