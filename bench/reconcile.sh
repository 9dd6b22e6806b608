#!/bin/bash
# The pool engine's cost at N VMs and N runners (default 200), side by side
# in one run with the naive approach (bench/naive_pass.py: openstacksdk and
# urllib, one GET per server and one per runner).
#
# Sets up a JIT pool of N on the local cloud (ostb-demo, m1.tiny,
# osr-test-image) with a manager id and a GitHub path of its own, through
# `osrunner pool reconcile` (min_idle N, max_runners N); waits (bounded) for
# the N servers to be ACTIVE; the fleet simulator (tests/sim/fleet.js,
# started here with --manager M) brings their N runners online. Then, over
# PASSES rounds (default 20), each of:
#   osrunner -vv pool plan          a full observe + decide (changes nothing)
#   osrunner pool plan              the same without the trace
#   osrunner -vv pool plan --per-page 10   small GitHub pages
#   osrunner -vv pool reconcile     a pass on the steady pool (no action)
#   bench/naive_pass.py             the peer
# as a cold process each, under /usr/bin/time -f (CPU user+sys, peak RSS;
# wall from $EPOCHREALTIME). API calls per pass are counted by service from
# the request lines of the traces ("> GET http://127.0.0.1:PORT/...", each
# port mapped to its service by tests/cloud/state/env.sh and the stand-in's
# env.sh). It fails if an osrunner pass with the default page size makes more
# than 10 calls, if its GitHub calls are not the pages of the runner list, or
# if a pass on the steady pool plans any action. Prints a Markdown table,
# also written to bench/results/reconcile-TIME.md; then drains the pool
# (min_idle 0, passes until empty) and checks with the openstack CLI and the
# stand-in that nothing of this run is left. The EXIT trap deletes what is
# left even on failure (this run's manager id and GitHub path only).
# Usage: bench/reconcile.sh [N]   (needs tests/cloud/up and tests/github/up;
#   env: PASSES (20), WAIT_S (1800: the bound for a steady pool), OSR_GITHUB_DIR,
#   BENCH_MANAGER and BENCH_GITHUB_PATH to adopt the pool of a killed run)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200}
PASSES=${PASSES:-20}
WAIT_S=${WAIT_S:-1800}
SMALL_PAGE=10
# shellcheck source=bench/lib.sh
. bench/lib.sh
export OSR_GITHUB_DIR=${OSR_GITHUB_DIR:-$PWD/tests/github/state}
[ -r "$OSR_GITHUB_DIR/env.sh" ] || { echo "bench: the GitHub stand-in is not up (tests/github/up)" >&2; exit 1; }
# shellcheck disable=SC1091
. "$OSR_GITHUB_DIR/env.sh"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY OSR_GITHUB_PATH OSR_GITHUB_TOKEN_FILE \
  OSR_GITHUB_APP_ID OSR_GITHUB_INSTALLATION_ID OSR_GITHUB_APP_KEY OSR_GITHUB_RUNNER_GROUP
W=$(mktemp -d -t osr-bench.XXXXXX)
export XDG_CACHE_HOME=$W/cache
OUT=bench/results
TS=$(date -u +%Y%m%dT%H%M%SZ)
# The manager id (lower case) and the GitHub path: everything of this run.
# BENCH_MANAGER and BENCH_GITHUB_PATH adopt the pool of a run that was killed.
M=${BENCH_MANAGER:-brc$$}
POOL=rb
GH_PATH=${BENCH_GITHUB_PATH:-octo/bench-rc-$$}
CFG=$W/osrunner.yaml
GH=(--github-url "$OSR_GITHUB_URL" --github-token-file "$OSR_GITHUB_TEST_TOKEN_FILE")
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

log() { printf '[bench %s] %s\n' "$(date -u +%T)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
pj() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); $2" "$1" "${@:3}"; }
figure() { pj "$1" 'print(d["pools"][0]["figures"][sys.argv[2]])' "$2"; }
count_actions() { pj "$1" 'print(sum(len(p["actions"]) for p in d["pools"]))'; }

write_config() { # write_config MIN_IDLE MAX_RUNNERS
  cat >"$CFG.tmp" <<EOF
manager: $M
github:
  url: $OSR_GITHUB_URL
  token_file: $OSR_GITHUB_TEST_TOKEN_FILE
pools:
  - name: $POOL
    cloud: ostb-demo
    github_path: $GH_PATH
    labels: [self-hosted, bench]
    image: osr-test-image
    flavor: m1.tiny
    min_idle: $1
    max_runners: $2
    jit: true
    # A loaded Nova keeps 200 creates in BUILD for many minutes; the bootstrap
    # timeout counts from the create, so it must outlast the build too.
    timeouts: {build: 1h, bootstrap: 1h}
EOF
  mv "$CFG.tmp" "$CFG"
}

# --- the simulator, and the EXIT trap
SIM_PID=
sim_start() {
  local line=
  exec {SIM_FD}< <(exec node tests/sim/fleet.js --port 0 --manager "$M" 2>"$W/sim.err")
  SIM_PID=$!
  if ! read -r -t 30 line <&"$SIM_FD" || [[ $line != "ready http://127.0.0.1:"* ]]; then
    cat "$W/sim.err" >&2
    die "the fleet simulator did not start: $line"
  fi
  SIM_URL=${line#ready }
  SIM_URL=${SIM_URL%% *}
}
sim_sync() { curl -sf -X POST "$SIM_URL/sync" >"$W/sync.json" || { cat "$W/sim.err" >&2; die "simulator sync"; }; }
our_server_ids() {
  "$OSR" --os-cloud ostb-demo instance list --manager "$M" --json |
    /usr/bin/python3 -c 'import json,sys; print("\n".join(s["id"] for s in json.load(sys.stdin)))'
}
our_runner_ids() {
  curl -sf "$OSR_GITHUB_FAKE_URL/_control/runners" |
    /usr/bin/python3 -c 'import json,sys; print("\n".join(str(r["id"]) for r in json.load(sys.stdin)["runners"] if r["scope"]=="repos/"+sys.argv[1]))' "$GH_PATH"
}
cleanup() {
  local rc=$? ids id
  trap - EXIT
  if [ -n "$SIM_PID" ]; then kill "$SIM_PID" 2>/dev/null || true; wait "$SIM_PID" 2>/dev/null || true; fi
  mapfile -t ids < <(our_server_ids 2>/dev/null || true)
  if [ "${#ids[@]}" -gt 0 ] && [ -n "${ids[0]}" ]; then
    log "cleanup: deleting ${#ids[@]} servers of manager $M"
    "$OSR" --os-cloud ostb-demo instance delete --timeout 900 "${ids[@]}" >/dev/null 2>&1 || true
  fi
  mapfile -t ids < <(our_runner_ids 2>/dev/null || true)
  if [ "${#ids[@]}" -gt 0 ] && [ -n "${ids[0]}" ]; then
    log "cleanup: deleting ${#ids[@]} runners of $GH_PATH"
    for id in "${ids[@]}"; do
      "$OSR" github delete-runner "$id" --github-path "$GH_PATH" "${GH[@]}" >/dev/null 2>&1 || true
    done
  fi
  rm -rf "$W"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- a pool of N, ACTIVE, with N runners online
sim_start
log "manager $M, pool $POOL, GitHub path $GH_PATH, N=$N; load $LOAD_START"
write_config "$N" "$N"
T0=$EPOCHREALTIME
if [ -z "${BENCH_MANAGER:-}" ]; then
  "$OSR" pool reconcile "$POOL" --config "$CFG" --json >"$W/setup.json" 2>"$W/setup.err" ||
    log "the first pass exited $? (the passes below replace what failed)"
  log "first pass: $(pj "$W/setup.json" 'a=d["pools"][0]["actions"]; print(sum(x["kind"]=="create" and x["outcome"]=="done" for x in a), "creates done,", sum(x["outcome"]=="failed" for x in a), "failed")')"
  pj "$W/setup.json" 'e="\n".join(sorted({x["error"] for x in d["pools"][0]["actions"] if x["outcome"]=="failed"})); e and print(e[:2000])' >&2 || true
fi
# Bounded poll until the pool is steady: each round the simulator syncs (the
# ACTIVE VMs' runners come online) and a plan tells what the engine would do;
# when it would do anything (replace a create that failed, an ERROR VM, a VM
# whose runner record is gone), a reconcile pass does it. VMs in BUILD count
# as booting, so nothing is created twice.
deadline=$((SECONDS + WAIT_S)) passes=0
while :; do
  sim_sync
  "$OSR" pool plan "$POOL" --config "$CFG" --json >"$W/steady.json" 2>"$W/steady.err" || true
  state=$(pj "$W/steady.json" 'f=d["pools"][0]["figures"]; print(f["idle"], f["servers"], f["runners"], f["booting"], len(d["pools"][0]["actions"]))' 2>/dev/null || echo "-1 -1 -1 -1 -1")
  read -r idle servers runners booting nact <<<"$state"
  [ "$idle" = "$N" ] && [ "$servers" = "$N" ] && [ "$runners" = "$N" ] && [ "$nact" = 0 ] && break
  [ "$SECONDS" -lt "$deadline" ] ||
    die "the pool was not steady after ${WAIT_S}s (idle $idle, servers $servers, runners $runners, booting $booting, actions $nact)"
  if [ "$nact" -gt 0 ]; then
    passes=$((passes + 1))
    log "idle $idle/$N, servers $servers, booting $booting: the plan has $nact actions ($(pj "$W/steady.json" 'import collections; print(dict(collections.Counter(a["rule"] for a in d["pools"][0]["actions"])))')): a pass"
    "$OSR" pool reconcile "$POOL" --config "$CFG" --json >"$W/setup-$passes.json" 2>&1 || true
  else
    log "idle $idle/$N, servers $servers, runners $runners, booting $booting"
    sleep 10
  fi
done
T_ACTIVE="$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.0f", b-a}') s"
[ -z "${BENCH_MANAGER:-}" ] || T_ACTIVE="$T_ACTIVE (adopted)"
log "steady $T_ACTIVE after the first pass, $passes more passes: $N VMs, $N runners online and idle, no action planned"

# --- the passes, interleaved round by round
PLAN=("$OSR" -vv pool plan "$POOL" --config "$CFG" --json)
# measure ROW I CMD...: trace in $W/ROW.I.err, "wall_s user_s sys_s maxrss_kb" in
# $W/ROW.I.time. Peak RSS from /usr/bin/time -f %M; wall and CPU from bash's
# time (getrusage of the children, to the millisecond: /usr/bin/time prints
# CPU in hundredths, too coarse for osrunner; this includes /usr/bin/time's
# own, well under a millisecond).
measure() {
  local row=$1 i=$2 TIMEFORMAT='%3R %3U %3S' t m rc=0; shift 2
  { time /usr/bin/time -f %M -o "$W/$row.$i.rss" "$@" >"$W/$row.$i.out" 2>"$W/$row.$i.err"; } \
    2>"$W/$row.$i.bash-time" || rc=$?
  [ "$rc" = 0 ] || { tail -3 "$W/$row.$i.err" >&2; die "$row pass $i failed (exit $rc)"; }
  t=$(tail -1 "$W/$row.$i.bash-time")
  m=$(tail -1 "$W/$row.$i.rss")
  echo "$t $m" >"$W/$row.$i.time"
}
steady_ok() { # steady_ok FILE: no action, N idle
  if ! { [ "$(count_actions "$1")" = 0 ] && [ "$(figure "$1" idle)" = "$N" ]; }; then
    die "$1: not the steady pool: $(pj "$1" 'print(d["pools"][0]["figures"], len(d["pools"][0]["actions"]), "actions")')"
  fi
}
for i in $(seq 1 "$PASSES"); do
  measure plan "$i" "${PLAN[@]}"
  steady_ok "$W/plan.$i.out"
  measure quiet "$i" "$OSR" pool plan "$POOL" --config "$CFG" --json
  steady_ok "$W/quiet.$i.out"
  measure small "$i" "${PLAN[@]}" --per-page "$SMALL_PAGE"
  steady_ok "$W/small.$i.out"
  measure reconcile "$i" "$OSR" -vv pool reconcile "$POOL" --config "$CFG" --json
  steady_ok "$W/reconcile.$i.out"
  measure naive "$i" /usr/bin/python3 bench/naive_pass.py ostb-demo "$M" "$POOL" \
    "$OSR_GITHUB_URL" "$OSR_GITHUB_TEST_TOKEN_FILE" "$GH_PATH"
  pj "$W/naive.$i.out" 'sys.exit(0 if d["servers"]==d["runners"]==d["online"]==int(sys.argv[2]) else 1)' "$N" ||
    die "the naive pass saw $(cat "$W/naive.$i.out")"
  log "round $i/$PASSES done"
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the table, and the checks on the calls
REPORT=$OUT/reconcile-$TS.md
RC=0
/usr/bin/python3 - "$W" "$PASSES" "$N" "$SMALL_PAGE" "$LOAD_START" "$LOAD_END" "$T_ACTIVE" >"$REPORT" <<'PY' || RC=$?
import collections, math, os, re, statistics, sys
from urllib.parse import urlsplit
w, passes, n, small = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
load_start, load_end, t_active = sys.argv[5], sys.argv[6], sys.argv[7]
port = {}
for var, svc in (("OSR_CLOUD_KEYSTONE", "keystone"), ("OSR_CLOUD_NOVA", "nova"),
                 ("OSR_CLOUD_NEUTRON", "neutron"), ("OSR_CLOUD_GLANCE", "glance"),
                 ("OSR_CLOUD_PLACEMENT", "placement"), ("OSR_GITHUB_URL", "github")):
    port[urlsplit(os.environ[var]).port] = svc
SVCS = ("keystone", "nova", "neutron", "glance", "github")
REQ = re.compile(r"^(?:osrunner: debug|naive): > (GET|POST|PUT|PATCH|DELETE|HEAD) (https?://\S+)")
rows = [("plan", "osrunner -vv pool plan"),
        ("quiet", "osrunner pool plan (no trace)"),
        ("small", f"osrunner -vv pool plan --per-page {small}"),
        ("reconcile", "osrunner -vv pool reconcile (steady: no action)"),
        ("naive", "naive: openstacksdk + urllib, a GET per server and per runner")]
def calls(path):
    c = collections.Counter()
    for line in open(path, errors="replace"):
        m = REQ.match(line)
        if m:
            c[port.get(urlsplit(m.group(2)).port, "other")] += 1
    return c
def fmt(vals):
    return str(vals[0]) if min(vals) == max(vals) else f"{min(vals)}–{max(vals)}"
def p90(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, math.ceil(0.9 * len(xs)) - 1)]
print(f"{n} VMs and {n} runners online (a JIT pool on the local cloud, fleet simulator), "
      f"{passes} passes each, interleaved; cold processes, osrunner with a warm token cache; "
      f"{os.cpu_count()} cores shared, load {load_start} at the start, {load_end} at the end; "
      f"the pool was steady {t_active} after its first pass")
print()
print("| tool | keystone | nova | neutron | glance | github | calls per pass | wall median | wall p90 | CPU (user+sys), mean | peak RSS |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
summary, fails = {}, []
for key, label in rows:
    per = [calls(f"{w}/{key}.{i}.err") for i in range(1, passes + 1)]
    t = [open(f"{w}/{key}.{i}.time").read().split() for i in range(1, passes + 1)]
    wall = [float(x[0]) * 1000 for x in t]
    cpu = [(float(x[1]) + float(x[2])) * 1000 for x in t]
    rss = max(int(x[3]) for x in t) / 1024
    tot = [sum(c.values()) for c in per]
    cols = [fmt([c[s] for c in per]) for s in SVCS]
    if any(c["other"] or c["placement"] for c in per):
        fails.append(f"{key}: calls to an unknown service: {per[0]}")
    if key == "quiet":
        cols, tots = ["(no trace)"] + [""] * 4, "(as above)"
    else:
        tots = f"**{fmt(tot)}**"
    print(f"| {label} | " + " | ".join(cols) + f" | {tots} | {statistics.median(wall):.0f} ms | "
          f"{p90(wall):.0f} ms | {statistics.mean(cpu):.0f} ms | {rss:.1f} MiB |")
    summary[key] = (per, tot, statistics.median(wall), statistics.mean(cpu), rss)
print()
pages = math.ceil(n / 100)
spages = math.ceil(n / small)
plan_tot = max(summary["plan"][1])
naive_tot = max(summary["naive"][1])
print(f"osrunner's pass: **{plan_tot} calls** for {n} VMs and {n} runners (goal: at most 10); its "
      f"GitHub calls are the pages of the runner list: {pages} at 100 a page, "
      f"{max(c['github'] for c in summary['small'][0])} at {small} a page. "
      f"The naive pass: {naive_tot} calls ({naive_tot / plan_tot:.0f}×), "
      f"{summary['naive'][2] / summary['plan'][2]:.1f}× the wall time, "
      f"{summary['naive'][3] / max(summary['plan'][3], 1):.1f}× the CPU and "
      f"{summary['naive'][4] / summary['plan'][4]:.1f}× the peak RSS of `osrunner -vv pool plan`.")
for key in ("plan", "reconcile"):
    per, tot = summary[key][0], summary[key][1]
    if max(tot) > 10:
        fails.append(f"{key}: {max(tot)} calls per pass (at most 10)")
    if any(c["github"] != pages for c in per):
        fails.append(f"{key}: GitHub calls {[c['github'] for c in per]}, not the {pages} pages")
if any(c["github"] != spages for c in summary["small"][0]):
    fails.append(f"small: GitHub calls {[c['github'] for c in summary['small'][0]]}, not {spages} pages")
if any(sum(c.values()) - c["github"] != sum(summary["plan"][0][0].values()) - pages for c in summary["small"][0]):
    fails.append("small: the OpenStack calls changed with GitHub's page size")
for f in fails:
    print(f"\n**FAIL**: {f}")
sys.exit(1 if fails else 0)
PY
cat "$REPORT"
echo
echo "(report: $REPORT)"
[ "$RC" = 0 ] || die "osrunner's calls per pass (above)"

# --- drain through the engine itself: min_idle 0, passes until empty
write_config 0 "$N"
drained=
for i in $(seq 1 10); do
  sim_sync
  "$OSR" pool reconcile "$POOL" --config "$CFG" --json >"$W/drain.json" 2>"$W/drain.err" || true
  log "drain pass $i: $(pj "$W/drain.json" 'f=d["pools"][0]["figures"]; print(f["servers"], "servers,", f["runners"], "runners,", len(d["pools"][0]["actions"]), "actions")')"
  if [ "$(figure "$W/drain.json" servers)" = 0 ] && [ "$(figure "$W/drain.json" runners)" = 0 ] &&
    [ "$(count_actions "$W/drain.json")" = 0 ]; then
    drained=1
    break
  fi
done
[ -n "$drained" ] || die "the pool did not drain in 10 passes"
left_vms=$($OSC --os-cloud ostb-admin --os-compute-api-version 2.26 server list --all-projects --tags "osrunner-manager=$M" -f value -c ID | wc -l)
left_runners=$(our_runner_ids | grep -c . || true)
if [ "$left_vms" != 0 ] || [ "$left_runners" != 0 ]; then
  die "left after the drain: $left_vms servers (openstack CLI), $left_runners runners (stand-in)"
fi
log "drained: the openstack CLI shows no server of $M, the stand-in no runner of $GH_PATH"
