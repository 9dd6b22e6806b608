#!/bin/bash
# Side-by-side: `osrunner projects` against `openstack project list` on the
# same local cloud, each as a cold process, and against two floors: two raw
# curl requests (token, then list: the same HTTP work) and bench/floor.c (a
# program that links only libcurl, jansson, libyaml and libcrypto and calls
# curl_global_init: the start-up cost of those libraries). osrunner runs
# twice: with a cold token cache (authenticates every run, as the openstack
# CLI does) and a warm one. Reports medians, peak RSS and the shared objects
# each process loads (the dynamic loader's LD_DEBUG=libs: every object it
# initialises, dlopen()ed ones included, ld.so itself not counted), with the
# ratios to the floors, as a Markdown table.
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

# The floor program, and the two-curl floor (the password and the token go
# through files of $W, never argv; only shell builtins between the two curls).
cc -O2 -o "$W/floor" bench/floor.c $(pkg-config --cflags --libs libcurl jansson yaml-0.1 libcrypto)
FLOOR="$W/floor"
/usr/bin/python3 - "$OS_CLIENT_CONFIG_FILE" "$CLOUD" "$W" <<'PY'
import json, os, sys, yaml
c = yaml.safe_load(open(sys.argv[1]))["clouds"][sys.argv[2]]["auth"]
body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
    "name": c["username"], "domain": {"name": c.get("user_domain_name", "Default")},
    "password": c["password"]}}}, "scope": {"project": {"name": c["project_name"],
    "domain": {"name": c.get("project_domain_name", "Default")}}}}}
fd = os.open(os.path.join(sys.argv[3], "auth.json"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, json.dumps(body).encode())
os.close(fd)
open(os.path.join(sys.argv[3], "auth_url"), "w").write(c["auth_url"].rstrip("/"))
PY
AUTH_URL=$(cat "$W/auth_url")
cat >"$W/two-curl.sh" <<SH
set -e
umask 077
curl -sf -o /dev/null -D "$W/h" -H 'Content-Type: application/json' -d @"$W/auth.json" \
  "$AUTH_URL/auth/tokens"
while IFS=': ' read -r k v; do
  case \$k in [Xx]-[Ss]ubject-[Tt]oken) tok=\${v%?} ;; esac
done <"$W/h"
printf 'X-Auth-Token: %s\n' "\$tok" >"$W/tokhdr"
curl -sf -o /dev/null -H @"$W/tokhdr" "$AUTH_URL/auth/projects"
SH
sh "$W/two-curl.sh" || { echo "bench: the two-curl floor failed" >&2; exit 1; }
TWO_CURL="sh $W/two-curl.sh"

hyperfine --style basic --runs "$RUNS" --warmup 2 --export-json "$W/h.json" \
  --command-name "osrunner projects (cold token cache)" \
  --prepare "rm -rf $W/cache" "$OSR --os-cloud $CLOUD projects" \
  --command-name "osrunner projects (warm token cache)" \
  --prepare "true" "$OSR --os-cloud $CLOUD projects" \
  --command-name "openstack project list --my-projects" \
  --prepare "true" "$OSC --os-cloud $CLOUD project list --my-projects" \
  --command-name "floor: two curl requests (token, list)" \
  --prepare "true" "$TWO_CURL" \
  --command-name "floor: bench/floor.c (curl_global_init)" \
  --prepare "true" "$FLOOR" >"$W/hyperfine.txt"

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
RSS_CURL=$(peak_rss "$TWO_CURL")
RSS_FLOOR=$(peak_rss "$FLOOR")

# objects NAME CMD: the shared objects CMD's processes initialise (ld.so not
# counted), listed in $W/NAME.libs; prints their number.
objects() {
  local name=$1; shift
  mkdir -p "$W/ld"
  LD_DEBUG=libs LD_DEBUG_OUTPUT="$W/ld/$name" sh -c "$* >/dev/null"
  cat "$W/ld/$name".* | sed -n 's/.*calling init: //p' | sort -u | grep -v '/ld-linux' \
    >"$W/$name.libs" || true
  wc -l <"$W/$name.libs"
}
rm -rf "$W/cache"
LIBS_COLD=$(objects cold "$OSR --os-cloud $CLOUD projects")
LIBS_WARM=$(objects warm "$OSR --os-cloud $CLOUD projects")
LIBS_OSC=$(objects osc "$OSC --os-cloud $CLOUD project list --my-projects")
LIBS_CURL=$(objects curl "curl -sf -o /dev/null $AUTH_URL/")
LIBS_FLOOR=$(objects floor "$FLOOR")
HEAVY=$(grep -cE 'guestfs|libvirt|glib-2|gobject|gio-2|libicu' "$W/cold.libs" || true)

REPORT=$OUT/projects-$(date -u +%Y%m%dT%H%M%SZ).md
/usr/bin/python3 - "$W/h.json" "$RUNS" "$HEAVY" \
  "$RSS_COLD" "$RSS_WARM" "$RSS_OSC" "$RSS_CURL" "$RSS_FLOOR" \
  "$LIBS_COLD" "$LIBS_WARM" "$LIBS_OSC" "$LIBS_CURL" "$LIBS_FLOOR" >"$REPORT" <<'PY'
import json, sys, statistics, os
h = json.load(open(sys.argv[1]))["results"]
runs, heavy = sys.argv[2], int(sys.argv[3])
rss = [int(x) for x in sys.argv[4:9]]
libs = [int(x) for x in sys.argv[9:14]]
med = [statistics.median(r["times"]) for r in h]
COLD, WARM, OSC, CURL, FLOOR = range(5)
print(f"`osrunner projects` vs `openstack project list` and the floors, {runs} cold "
      f"processes each, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
print()
print("| command | median | min | max | ÷ two-curl floor | peak RSS | ÷ floor program "
      "| shared objects | openstack ÷ this |")
print("|---|---|---|---|---|---|---|---|---|")
for i, (r, m) in enumerate(zip(h, med)):
    lib = f"{libs[i]}" + (" (one curl)" if i == CURL else "")
    print(f"| {r['command']} | {m*1000:.1f} ms | {min(r['times'])*1000:.1f} ms | "
          f"{max(r['times'])*1000:.1f} ms | {m/med[CURL]:.2f}× | {rss[i]/1024:.1f} MiB | "
          f"{rss[i]/rss[FLOOR]:.2f}× | {lib} | {med[OSC]/m:.1f}× |")
print()
print(f"Cold-cache speed-up: **{med[OSC]/med[COLD]:.1f}×**; warm cache: "
      f"**{med[OSC]/med[WARM]:.1f}×**. Peak RSS: {rss[COLD]/1024:.1f} MiB vs "
      f"{rss[OSC]/1024:.1f} MiB.")
print()
ok = lambda c: "met" if c else "**missed**"
print(f"Start-up goals: `osrunner projects` loads **{libs[COLD]}** shared objects "
      f"(goal: at most 35; {ok(libs[COLD] <= 35)}), {heavy} of libguestfs, libvirt, glib or "
      f"ICU ({ok(heavy == 0)}); its peak RSS is **{rss[COLD]/rss[FLOOR]:.2f}×** the floor "
      f"program's (goal: at most 1.15×; {ok(rss[COLD] <= 1.15 * rss[FLOOR])}); its cold "
      f"time is **{med[COLD]/med[CURL]:.2f}×** the two-curl floor (goal: at most 1.05×; "
      f"{ok(med[COLD] <= 1.05 * med[CURL])}).")
PY
cat "$REPORT"
echo
echo "(report: $REPORT)"
