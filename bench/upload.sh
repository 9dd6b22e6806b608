#!/bin/bash
# Side by side in one run: upload a 1 GiB image to the local Glance with
# `osrunner image upload`, with `curl -T` (the bare PUT, the floor), and with
# `openstack image create --file`; report throughput and peak RSS (also of a
# 256 MiB upload, to show osrunner's memory does not grow with the size).
# Then time `osrunner image build --no-packages` (offline backend; also the
# libguestfs one with GUESTFS=1) against the floor of `qemu-img convert -c` on
# the same base image. A Markdown report lands in bench/results/.
# Usage: bench/upload.sh [RUNS] [SIZE_MIB]   (needs tests/cloud/up; default 3 runs, 1024 MiB)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
SIZE_MIB=${2:-1024}
# shellcheck source=bench/lib.sh
. bench/lib.sh
CLOUD=${BENCH_CLOUD:-ostb-admin}
W=$(mktemp -d -p /var/tmp osr-bench.XXXXXX)
NAME=osr-bench-$$
cleanup() {
  for id in $($OSC --os-cloud "$CLOUD" image list --name "$NAME" -f value -c ID 2>/dev/null); do
    $OSC --os-cloud "$CLOUD" image delete "$id" >/dev/null 2>&1 || true
  done
  rm -rf "$W"
}
trap cleanup EXIT
export XDG_CACHE_HOME=$W/cache
OUT=bench/results
mkdir -p "$OUT"
GLANCE=$OSR_CLOUD_GLANCE
head -c $((SIZE_MIB << 20)) /dev/urandom >"$W/img.raw"
head -c $((256 << 20)) /dev/urandom >"$W/small.raw"
SIZE=$(stat -c %s "$W/img.raw")

timed() { # timed OUTFILE CMD...: wall seconds and peak RSS KiB of CMD
  local f=$1; shift
  /usr/bin/time -f '%e %M' -o "$f" "$@" >/dev/null
}
token() { $OSC --os-cloud "$CLOUD" token issue -f value -c id; }

: >"$W/rows"
for run in $(seq 1 "$RUNS"); do
  # osrunner: create, stream with SHA-512 + MD5, verify, retire (keep 1)
  timed "$W/t" "$OSR" --os-cloud "$CLOUD" image upload "$W/img.raw" --name "$NAME" --disk-format raw --keep 1
  echo "osrunner $(cat "$W/t")" >>"$W/rows"
  # curl -T: only the PUT of the data (the image is created beforehand, not timed)
  TOK=$(token)
  ID=$(curl -sf -X POST -H "X-Auth-Token: $TOK" -H 'Content-Type: application/json' \
        -d "{\"name\": \"$NAME\", \"disk_format\": \"raw\", \"container_format\": \"bare\"}" \
        "$GLANCE/v2/images" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  timed "$W/t" curl -sf -T "$W/img.raw" -H "X-Auth-Token: $TOK" \
    -H 'Content-Type: application/octet-stream' "$GLANCE/v2/images/$ID/file"
  echo "curl $(cat "$W/t")" >>"$W/rows"
  curl -sf -X DELETE -H "X-Auth-Token: $TOK" "$GLANCE/v2/images/$ID"
  # openstack image create --file
  timed "$W/t" $OSC --os-cloud "$CLOUD" image create --file "$W/img.raw" --disk-format raw \
    --container-format bare "$NAME-osc"
  echo "openstack $(cat "$W/t")" >>"$W/rows"
  $OSC --os-cloud "$CLOUD" image delete "$NAME-osc" >/dev/null
done
timed "$W/t" "$OSR" --os-cloud "$CLOUD" image upload "$W/small.raw" --name "$NAME" --disk-format raw --keep 1
RSS_SMALL=$(cut -d' ' -f2 "$W/t")

# --- build time against the qemu-img convert -c floor, on a realistic base
tests/images/mk-base.sh "$W/base.qcow2" 2252 600 # 2.2 GiB virtual, ~600 MiB used, like jammy's
tests/images/mk-runner.sh "$W/runner.tar.gz" 180
RSHA=$(sha256sum "$W/runner.tar.gz" | cut -d' ' -f1)
: >"$W/build"
for run in $(seq 1 "$RUNS"); do
  s=$(date +%s.%N); qemu-img convert -c -O qcow2 "$W/base.qcow2" "$W/floor.qcow2"; e=$(date +%s.%N)
  echo "floor $(echo "$e - $s" | bc)" >>"$W/build"
  s=$(date +%s.%N); qemu-img convert -c -m 8 -W -O qcow2 "$W/base.qcow2" "$W/floor.qcow2"; e=$(date +%s.%N)
  echo "floor-m8W $(echo "$e - $s" | bc)" >>"$W/build"
  s=$(date +%s.%N)
  "$OSR" image build --base "$W/base.qcow2" --runner-url "$W/runner.tar.gz" --runner-sha256 "$RSHA" \
    --no-packages --backend offline --work-dir "$W" --output "$W/out.qcow2" 2>"$W/build.log"
  e=$(date +%s.%N)
  echo "offline $(echo "$e - $s" | bc)" >>"$W/build"
  if [ "${GUESTFS:-0}" = 1 ]; then
    s=$(date +%s.%N)
    "$OSR" image build --base "$W/base.qcow2" --runner-url "$W/runner.tar.gz" --runner-sha256 "$RSHA" \
      --no-packages --backend guestfs --work-dir "$W" --output "$W/out-g.qcow2" 2>"$W/build-g.log"
    e=$(date +%s.%N)
    echo "guestfs $(echo "$e - $s" | bc)" >>"$W/build"
  fi
done
FLOOR_SIZE=$(stat -c %s "$W/floor.qcow2"); OUT_SIZE=$(stat -c %s "$W/out.qcow2")

REPORT=$OUT/upload-$(date -u +%Y%m%dT%H%M%SZ).md
/usr/bin/python3 - "$W/rows" "$W/build" "$SIZE" "$RSS_SMALL" "$RUNS" "$FLOOR_SIZE" "$OUT_SIZE" "$W/build.log" >"$REPORT" <<'PY'
import os, statistics, sys
rows, build = {}, {}
for line in open(sys.argv[1]):
    tool, secs, kb = line.split(); rows.setdefault(tool, []).append((float(secs), int(kb)))
for line in open(sys.argv[2]):
    what, secs = line.split(); build.setdefault(what, []).append(float(secs))
size, rss_small, runs = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
mib = size / 1048576
print(f"Upload of a {mib:.0f} MiB image to the local Glance (file store), {runs} runs each, "
      f"interleaved; 2 cores, load {os.getloadavg()[0]:.2f}.\n")
print("| tool | median | MiB/s | peak RSS | vs curl |")
print("|---|---|---|---|---|")
curl = statistics.median(s for s, _ in rows["curl"])
for tool, label in (("osrunner", "osrunner image upload (create, PUT, SHA-512+MD5, verify)"),
                    ("curl", "curl -T (the PUT alone)"),
                    ("openstack", "openstack image create --file")):
    med = statistics.median(s for s, _ in rows[tool])
    rss = max(k for _, k in rows[tool]) / 1024
    print(f"| {label} | {med:.2f} s | {mib / med:.0f} | {rss:.1f} MiB | {curl / med:.2f}x |")
print(f"\nosrunner peak RSS for a 256 MiB upload: {rss_small / 1024:.1f} MiB "
      f"(the same memory whatever the size).\n")
print(f"Build without packages (offline backend) on a 2.2 GiB base with ~600 MiB used and a "
      f"180 MiB runner, against `qemu-img convert -c` of the same base:\n")
print("| what | median | vs floor |")
print("|---|---|---|")
floor = min(statistics.median(build["floor"]), statistics.median(build["floor-m8W"]))
for what, label in (("floor", "qemu-img convert -c -O qcow2 (plain)"),
                    ("floor-m8W", "qemu-img convert -c -m 8 -W -O qcow2 (osrunner's flags)"),
                    ("offline", "osrunner image build --backend offline"),
                    ("guestfs", "osrunner image build --backend guestfs")):
    if what in build:
        med = statistics.median(build[what])
        print(f"| {label} | {med:.1f} s | {med / floor:.2f}x |")
print(f"\nfloor output {int(sys.argv[6]) / 1048576:.0f} MiB, runner image {int(sys.argv[7]) / 1048576:.0f} MiB.")
print("\nSteps of the last offline build:\n\n```")
print(open(sys.argv[8]).read().strip())
print("```")
PY
cat "$REPORT"
