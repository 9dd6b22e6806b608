#!/bin/bash
# One recipe for both backends: from a base image where the old per-backend
# steps disagreed, the offline and the libguestfs builds give the same
# files. The base here has no /home (the backends gave the /home they make
# different times), only /usr/lib/os-release (one backend looked only at
# /etc/os-release), and an /etc/environment of mode 0640, group 4 (an
# existing file keeps its owner and mode, in both). Needs no cloud.
set -e
. "$(dirname "$0")/lib.sh"
. "$OSR_SRC/tests/images/lib.sh"
CHECK="/usr/bin/python3 $OSR_SRC/tests/images/check-image.py"

# --- the base: the test image, changed with debugfs on a raw copy
qemu-img convert -O raw "$(osr_base_image)" "$T/base.raw"
START=$(sfdisk --json "$T/base.raw" | /usr/bin/python3 -c '
import json, sys
t = json.load(sys.stdin)["partitiontable"]
print(max(p["start"] for p in t["partitions"]) * t.get("sectorsize", 512))')
debugfs -w -f - "$T/base.raw?offset=$START" >"$T/debugfs.log" 2>&1 <<'D'
rm /etc/os-release
rmdir /home
sif /etc/environment mode 0100640
sif /etc/environment gid 4
D
check "the base has no /home and no /etc/os-release" \
  bash -c "! debugfs -R 'ls /' '$T/base.raw?offset=$START' 2>/dev/null | grep -qw home &&
           debugfs -R 'stat /etc/os-release' '$T/base.raw?offset=$START' 2>&1 | grep -q 'not found'"

mkdir -p "$T/work"
"$OSR_SRC/tests/images/mk-runner.sh" "$T/runner.tar.gz"
SHA=$(sha256sum "$T/runner.tar.gz" | cut -d' ' -f1)
ARGS=(--json image build --base "$T/base.raw" --runner-url "$T/runner.tar.gz"
      --runner-sha256 "$SHA" --no-packages --work-dir "$T/work"
      --http-proxy http://proxy.example:3128 --no-proxy localhost)
run off "${ARGS[@]}" --backend offline --output "$T/off.qcow2"
check "offline build exits 0" [ "$RC" = 0 ]
run gfs "${ARGS[@]}" --backend guestfs --output "$T/gfs.qcow2"
check "libguestfs build exits 0" [ "$RC" = 0 ]
for b in off gfs; do
  check "$b: the OS from /usr/lib/os-release (ubuntu 22.04)" /usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(not (r.get("os_distro") == "ubuntu" and r.get("os_version") == "22.04"))' "$T/$b.out"
done

guestfish --ro -a "$T/off.qcow2" -a "$T/gfs.qcow2" >"$T/guestfish.log" 2>&1 <<G || true
run
mount-ro /dev/sda1 /
tar-out / $T/off.tar numericowner:true
umount /
mount-ro /dev/sdb1 /
tar-out / $T/gfs.tar numericowner:true
G
check "guestfish read both images" [ -s "$T/gfs.tar" ]
check "offline and libguestfs builds: the same files" $CHECK same "$T/off.tar" "$T/gfs.tar"
# The build's time: the newest entry of the runner tarball.
EPOCH=$(/usr/bin/python3 -c 'import sys, tarfile
print(max(m.mtime for m in tarfile.open(sys.argv[1])))' "$T/runner.tar.gz")
for b in off gfs; do
  check "$b: the /home it made: 0755 root, the build's time" /usr/bin/python3 -c '
import sys, tarfile
t = tarfile.open(sys.argv[1])
m = {x.name.lstrip("./").rstrip("/"): x for x in t.getmembers()}
h, e = m["home"], m["etc/environment"]
ok = h.isdir() and h.mode & 0o7777 == 0o755 and (h.uid, h.gid) == (0, 0) and h.mtime == int(sys.argv[2])
sys.exit(not ok)' "$T/$b.tar" "$EPOCH"
  check "$b: /etc/environment keeps mode 0640 and group 4, and has the proxy" /usr/bin/python3 -c '
import sys, tarfile
t = tarfile.open(sys.argv[1])
m = {x.name.lstrip("./").rstrip("/"): x for x in t.getmembers()}
e = m["etc/environment"]
data = t.extractfile(e).read().decode()
sys.exit(not (e.mode & 0o7777 == 0o640 and (e.uid, e.gid) == (0, 4) and
              "http_proxy=http://proxy.example:3128" in data))' "$T/$b.tar"
done
finish
