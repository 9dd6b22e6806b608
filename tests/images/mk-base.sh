#!/bin/bash
# A small base cloud image for the image builder's tests, built in seconds
# without debootstrap, root-free tools only (mke2fs -d, sfdisk, mkfs.vfat on
# plain files): GPT laid out like Ubuntu's cloud images (p14 BIOS boot, p15
# ESP "UEFI", p1 ext4 "cloudimg-rootfs" last on the disk) holding the files
# the builder reads and edits (passwd, group, shadow, gshadow, subuid,
# subgid, environment, os-release, skel, apt.conf.d), plus busybox and an
# apt-get stand-in for the guest steps. It has no kernel: tests never boot it.
#
# Usage: tests/images/mk-base.sh OUT.qcow2 [DISK_MIB] [FILLER_MIB]
#   FILLER_MIB: add that much of the host's /usr (compressible, like a real
#   image) for benchmarks. Owners are set with chown, so run as root (CI does).
set -euo pipefail
OUT=$1 SIZE_MIB=${2:-128} FILLER_MIB=${3:-0}
W=$(mktemp -d -t osr-base.XXXXXX)
trap 'rm -rf "$W"' EXIT
R=$W/rootfs
mkdir -p "$R"/{etc/apt/apt.conf.d,etc/skel,etc/systemd/system,etc/cloud/cloud.cfg.d,home,root,usr/lib,var/lib/cloud,tmp,usr/bin}
cat >"$R/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
systemd-network:x:100:102:systemd Network Management,,,:/run/systemd:/usr/sbin/nologin
P
cat >"$R/etc/group" <<'G'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:syslog
sudo:x:27:
shadow:x:42:
users:x:100:
nogroup:x:65534:
systemd-network:x:102:
G
cat >"$R/etc/shadow" <<'S'
root:*:19000:0:99999:7:::
daemon:*:19000:0:99999:7:::
bin:*:19000:0:99999:7:::
sys:*:19000:0:99999:7:::
nobody:*:19000:0:99999:7:::
systemd-network:*:19000:0:99999:7:::
S
sed 's/:.*//; s/$/:*::/' "$R/etc/group" >"$R/etc/gshadow"
: >"$R/etc/subuid"; : >"$R/etc/subgid"
printf 'PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"\n' >"$R/etc/environment"
printf 'PRETTY_NAME="Ubuntu 22.04.3 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=jammy\n' >"$R/usr/lib/os-release"
ln -s ../usr/lib/os-release "$R/etc/os-release"
printf 'LABEL=cloudimg-rootfs / ext4 discard,errors=remount-ro 0 1\n' >"$R/etc/fstab"
printf '# ~/.bashrc\nalias ll="ls -l"\n' >"$R/etc/skel/.bashrc"
printf '# ~/.profile\n. "$HOME/.bashrc"\n' >"$R/etc/skel/.profile"
printf '# ~/.bash_logout\n' >"$R/etc/skel/.bash_logout"
printf 'APT::Periodic::Update-Package-Lists "1";\n' >"$R/etc/apt/apt.conf.d/20auto-upgrades"
# Just enough guest code for the libguestfs backend's guest steps: busybox as
# /bin/sh, and an apt-get stand-in that records how it was called (the tests
# have no network; a real image has the real apt-get).
BB=$(command -v busybox) || { echo "mk-base.sh: busybox is missing (scripts/deps installs busybox-static)" >&2; exit 1; }
mkdir -p "$R/bin" "$R/usr/sbin" "$R/var/log"
cp "$BB" "$R/bin/busybox"
for a in sh cat echo id ls mkdir rm tail test touch; do ln -s busybox "$R/bin/$a"; done
cat >"$R/usr/bin/apt-get" <<'A'
#!/bin/sh
{ echo "apt-get $*"
  if [ -x /usr/sbin/policy-rc.d ]; then echo "policy-rc.d=yes"; else echo "policy-rc.d=no"; fi
  echo "http_proxy=${http_proxy:-} DEBIAN_FRONTEND=${DEBIAN_FRONTEND:-}"; } >>/var/log/apt-stub.log
A
chmod 0755 "$R/usr/bin/apt-get"
printf 'old-instance\n' >"$R/var/lib/cloud/instance-id"
printf '0123456789abcdef0123456789abcdef\n' >"$R/etc/machine-id"
chmod 0640 "$R/etc/shadow" "$R/etc/gshadow"; chmod 0700 "$R/root"; chmod 1777 "$R/tmp"
chown root:42 "$R/etc/shadow" "$R/etc/gshadow" 2>/dev/null || true
if [ "$FILLER_MIB" -gt 0 ]; then
  # Real images hold compressible binaries: copy host files until the size is reached.
  mkdir -p "$R/usr/share/filler"
  total=0
  find /usr/lib /usr/bin /usr/share -xdev -type f -size +16k -printf '%s %p\n' 2>/dev/null | sort -k2 |
    while read -r size f; do
      cp -p "$f" "$R/usr/share/filler/$(echo "$f" | tr / _)" 2>/dev/null || continue
      total=$((total + size))
      [ "$total" -ge $((FILLER_MIB << 20)) ] && break
    done || true # find and sort get SIGPIPE when the loop has enough
fi
find "$R" -exec touch -h -d @1700000000 {} +

DISK=$W/disk.raw
truncate -s "${SIZE_MIB}M" "$DISK"
P1_START=26624   # 13 MiB: p14 BIOS boot 1-5 MiB, p15 ESP 5-13 MiB, p1 after, like Ubuntu's order
sfdisk -q --label gpt "$DISK" <<S
${DISK}14 : start=2048, size=8192, type=21686148-6449-6E6F-744E-656564454649
${DISK}15 : start=10240, size=16384, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B
${DISK}1 : start=$P1_START, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4
S
P1_SECTORS=$(sfdisk -d "$DISK" | sed -n "s|^${DISK}1 :.*size= *\([0-9]*\).*|\1|p")
mkfs.vfat -F 12 -n UEFI --offset 10240 "$DISK" $((16384 / 2)) >/dev/null 2>&1
mke2fs -q -t ext4 -L cloudimg-rootfs -d "$R" -E offset=$((P1_START * 512)) "$DISK" "$((P1_SECTORS / 2))k"
qemu-img convert -q -f raw -O qcow2 "$DISK" "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
