#!/bin/bash
# Side-by-side: `osrunner projects` against `openstack project list` on the
# same local cloud, each as a cold process. osrunner runs twice: with a cold
# token cache (authenticates every run, as the openstack CLI does) and a warm
# one. Reports medians, the ratio and peak RSS, as a Markdown table.
# Usage: bench/projects.sh [RUNS]   (needs tests/cloud/up; default 20 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-20}
# shellcheck source=bench/lib.sh
. bench/lib.sh
W=$(mktemp -d -t osr-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
export XDG_CACHE_HOME=$W/cache
OUT=bench/results
mkdir -p "$OUT"
CLOUD=${BENCH_CLOUD:-ostb-admin}

# Both tools must agree before their speed means anything.
"$OSR" --os-cloud "$CLOUD" projects --json | /usr/bin/python3 -c \
  'import json,sys; print("\n".join(sorted(p["id"] for p in json.load(sys.stdin))))' >"$W/osr.ids"
$OSC --os-cloud "$CLOUD" project list --my-projects -f value -c ID | sort >"$W/osc.ids"
cmp -s "$W/osr.ids" "$W/osc.ids" || { echo "bench: the two tools disagree" >&2; exit 1; }

hyperfine --style basic --runs "$RUNS" --warmup 2 --export-json "$W/h.json" \
  --command-name "osrunner projects (cold token cache)" \
  --prepare "rm -rf $W/cache" "$OSR --os-cloud $CLOUD projects" \
  --command-name "osrunner projects (warm token cache)" \
  --prepare "true" "$OSR --os-cloud $CLOUD projects" \
  --command-name "openstack project list --my-projects" \
  --prepare "true" "$OSC --os-cloud $CLOUD project list --my-projects" >"$W/hyperfine.txt"

peak_rss() { # peak RSS in KiB over 5 runs (the largest)
  local max=0 kb
  for _ in 1 2 3 4 5; do
    [ "${2:-}" = cold ] && rm -rf "$W/cache"
    kb=$( { /usr/bin/time -f %M sh -c "$1 >/dev/null" ; } 2>&1 | tail -1)
    [ "$kb" -gt "$max" ] && max=$kb
  done
  echo "$max"
}
RSS_COLD=$(peak_rss "$OSR --os-cloud $CLOUD projects" cold)
RSS_WARM=$(peak_rss "$OSR --os-cloud $CLOUD projects")
RSS_OSC=$(peak_rss "$OSC --os-cloud $CLOUD project list --my-projects")

REPORT=$OUT/projects-$(date -u +%Y%m%dT%H%M%SZ).md
/usr/bin/python3 - "$W/h.json" "$RSS_COLD" "$RSS_WARM" "$RSS_OSC" "$RUNS" >"$REPORT" <<'PY'
import json, sys, statistics, platform, os
h = json.load(open(sys.argv[1]))["results"]
rss = [int(x) for x in sys.argv[2:5]]
runs = sys.argv[5]
med = [statistics.median(r["times"]) for r in h]
print(f"`osrunner projects` vs `openstack project list`, {runs} cold processes each, "
      f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
print()
print("| command | median | min | max | peak RSS | openstack ÷ this |")
print("|---|---|---|---|---|---|")
for r, m, k in zip(h, med, rss):
    print(f"| {r['command']} | {m*1000:.1f} ms | {min(r['times'])*1000:.1f} ms | "
          f"{max(r['times'])*1000:.1f} ms | {k/1024:.1f} MiB | {med[2]/m:.1f}× |")
print()
print(f"Cold-cache speed-up: **{med[2]/med[0]:.1f}×**; warm cache: **{med[2]/med[1]:.1f}×**. "
      f"Peak RSS: {rss[0]/1024:.1f} MiB vs {rss[2]/1024:.1f} MiB.")
PY
cat "$REPORT"
echo
echo "(report: $REPORT)"
