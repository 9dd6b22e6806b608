#!/bin/bash
# Side by side, in one run: time for COUNT runner instances (default 50) to
# reach ACTIVE on the local cloud, three ways:
#   floor     raw concurrent curl creates plus one list poll every 0.5 s
#   osrunner  osrunner instance create --count COUNT (one process, one engine)
#   sdk       the old module's way: openstacksdk, create and wait, one by one
# Reports wall time, the client's CPU time and peak RSS, and the ratio to the
# floor, as a Markdown table. Every server is deleted after each round.
# Usage: bench/launch.sh [COUNT]   (needs tests/cloud/up)
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-50}
# shellcheck source=bench/lib.sh
. bench/lib.sh
W=$(mktemp -d -t osr-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
export XDG_CACHE_HOME=$W/cache
echo "bench-registration-token" >"$W/token"
OUT=bench/results
mkdir -p "$OUT"
TS=$(date -u +%H%M%S)
IMAGE=osr-test-image FLAVOR=m1.tiny
IMAGE_ID=$($OSC --os-cloud ostb-admin image show -f value -c id "$IMAGE")
FLAVOR_ID=$($OSC --os-cloud ostb-admin flavor show -f value -c id "$FLAVOR")

names() { for i in $(seq 1 "$COUNT"); do echo "$1-$i"; done; }
cleanup() { "$OSR" --os-cloud ostb-admin instance delete --timeout 600 $(names "$1") >/dev/null 2>&1 || true; }
measure() { # measure NAME PREFIX CMD...: "wall user sys maxrss_kb" into $W/NAME.time
  local name=$1 prefix=$2; shift 2
  /usr/bin/time -f '%e %U %S %M' -o "$W/$name.time" "$@" >"$W/$name.out" 2>"$W/$name.err" \
    || { tail -5 "$W/$name.err"; echo "bench: $name failed" >&2; cleanup "$prefix"; exit 1; }
  cleanup "$prefix"
  echo "$name: $(cat "$W/$name.time")"
}

measure floor "bf$TS" bench/curl_floor.sh "$STATE" "bf$TS" "$COUNT" "$IMAGE_ID" "$FLAVOR_ID"
measure osrunner "bo$TS" "$OSR" --os-cloud ostb-admin instance create --name "bo$TS" --count "$COUNT" \
  --image "$IMAGE" --flavor "$FLAVOR" --labels bench --github-path octo/repo \
  --token-file "$W/token" --manager bench --timeout 900
measure sdk "bs$TS" /usr/bin/python3 bench/sdk_launch.py ostb-admin "bs$TS" "$COUNT" "$IMAGE" "$FLAVOR"

REPORT=$OUT/launch-$(date -u +%Y%m%dT%H%M%SZ).md
/usr/bin/python3 - "$W" "$COUNT" >"$REPORT" <<'PY'
import os, sys
w, count = sys.argv[1], sys.argv[2]
rows = {}
for n in ("floor", "osrunner", "sdk"):
    e, u, s, m = open(os.path.join(w, n + ".time")).read().split()
    rows[n] = (float(e), float(u) + float(s), int(m))
floor = rows["floor"][0]
print(f"{count} instances to ACTIVE on the local cloud (Nova fake driver), one round each, "
      f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
print()
print("| client | wall time | ÷ floor | client CPU | client peak RSS |")
print("|---|---|---|---|---|")
label = {"floor": "floor: concurrent curl + list polling",
         "osrunner": "osrunner instance create --count",
         "sdk": "openstacksdk create+wait loop (old module)"}
for n in ("floor", "osrunner", "sdk"):
    e, c, m = rows[n]
    print(f"| {label[n]} | {e:.1f} s | {e/floor:.2f} | {c:.2f} s | {m/1024:.1f} MiB |")
print()
print("The floor's CPU and RSS are of curl, xargs and python pollers together; "
      "compare osrunner's against the openstacksdk loop's.")
PY
cat "$REPORT"
echo
echo "(report: $REPORT)"
