#!/bin/bash
# osrunnerd at N runners (default 200): its memory and CPU over PASSES passes
# (default 500), and two latencies measured on Nova's side: a signed `queued`
# webhook to nova-api's POST /servers, and a finished job's `completed`
# webhook to nova-api's DELETE of that VM.
#
# Set-up as bench/reconcile.sh's: a JIT pool of N (ostb-demo, m1.tiny,
# osr-test-image, min_idle N, max_runners N + 2) with a manager id and a
# GitHub path of its own, made with `osrunner pool reconcile` and polled
# (bounded) until the N VMs are ACTIVE and the fleet simulator
# (tests/sim/fleet.js --manager M) has brought their N runners online. Then
# osrunnerd (release build) starts on that steady pool with --interval 86400,
# so that every pass after its first is one a webhook triggered.
#
# 1. Memory and CPU: PASSES times, a signed `completed` workflow_job for the
#    pool's labels is posted and the script waits for the daemon's `pass`
#    event before the next one (passes never overlap); each pass must be
#    `ok`, N idle, no create. After each pass: VmRSS and VmHWM
#    (/proc/PID/status) and utime+stime (/proc/PID/stat, clock ticks).
#    The script fails if RSS after the last pass exceeds RSS after pass ~50
#    by more than RSS_GROWTH_KB (default 256).
# 2. queued -> POST /servers, SAMPLES times (default 20): a signed `queued`
#    job; the wall clock is read just before curl starts. The daemon creates
#    one runner for it (min_idle + 1 queued); its `action` event names the
#    server id; Nova's side is nova-api's request log line for that create
#    (tests/cloud/state/log/nova-api.log: "POST /v2.1/servers" with the
#    request id that nova-compute.log gives for "[instance: ID]"): the line's
#    timestamp is when nova-api answered, minus its `time:` is when it
#    received the request. A daemon with the fast path creates on the
#    webhook itself (rule queued-job; its action's sent_at_ms is reported
#    too) and then passes; FAST_PATH=1: do not wait for a pass after the
#    create. Good passes without the awaited action (the daemon's own, 15 s
#    after a create or a completed job) are skipped.
# 3. completed -> DELETE, in the same sample: the simulator takes a job on one
#    idle runner (POST /jobs/take), finishes it (POST /jobs/finish: the
#    runner removes itself, the VM is powered off and polled until SHUTOFF),
#    then the `completed` webhook of the job is posted; the triggered pass
#    deletes the SHUTOFF VM (finished-vm), and nova-api's
#    "DELETE /v2.1/servers/ID" line gives Nova's receipt (its timestamp minus
#    its time). Also reported: from the start of /jobs/finish (Nova's stop
#    included) to the DELETE.
# Prints a Markdown table (also bench/results/daemon-TIME.md, the raw figures
# and the daemon's events in bench/results/daemon-TIME/), then stops the
# daemon (SIGTERM, exit 0), drains the pool through the CLI (min_idle 0) and
# checks with the openstack CLI and the stand-in that nothing of this run is
# left; the EXIT trap kills the daemon and deletes what is left on failure.
# Usage: bench/daemon.sh [N]   (needs tests/cloud/up and tests/github/up;
#   env: PASSES (500), SAMPLES (20), WAIT_S (1800), OSR_GITHUB_DIR,
#   FAST_PATH (0), RSS_GROWTH_KB (256), OUTAGE_S (900: the time passes and
#   syncs may fail while another session stops a service); BENCH_MANAGER and BENCH_GITHUB_PATH
#   adopt the pool of a killed run)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200}
PASSES=${PASSES:-500}
SAMPLES=${SAMPLES:-20}
WAIT_S=${WAIT_S:-1800}
FAST_PATH=${FAST_PATH:-0}
RSS_GROWTH_KB=${RSS_GROWTH_KB:-256}
PASS_WAIT=300 # the bound of one pass on a loaded Nova
OUTAGE_S=${OUTAGE_S:-900}
# shellcheck source=bench/lib.sh
. bench/lib.sh
OSRD=$PWD/build/release/src/daemon/osrunnerd
export OSR_GITHUB_DIR=${OSR_GITHUB_DIR:-$PWD/tests/github/state}
[ -r "$OSR_GITHUB_DIR/env.sh" ] || { echo "bench: the GitHub stand-in is not up (tests/github/up)" >&2; exit 1; }
# shellcheck disable=SC1091
. "$OSR_GITHUB_DIR/env.sh"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY OSR_GITHUB_PATH OSR_GITHUB_TOKEN_FILE \
  OSR_GITHUB_APP_ID OSR_GITHUB_INSTALLATION_ID OSR_GITHUB_APP_KEY OSR_GITHUB_RUNNER_GROUP
NOVA_LOG=$STATE/log/nova-api.log
COMPUTE_LOG=$STATE/log/nova-compute.log
{ [ -r "$NOVA_LOG" ] && [ -r "$COMPUTE_LOG" ]; } || { echo "bench: no $NOVA_LOG or $COMPUTE_LOG" >&2; exit 1; }
W=$(mktemp -d -t osr-bench.XXXXXX)
export XDG_CACHE_HOME=$W/cache
OUT=bench/results
TS=$(date -u +%Y%m%dT%H%M%SZ)
M=${BENCH_MANAGER:-bdm$$}
POOL=db
GH_PATH=${BENCH_GITHUB_PATH:-octo/bench-dm-$$}
LABELS='["self-hosted","bench-d"]'
CFG=$W/osrunner.yaml
GH=(--github-url "$OSR_GITHUB_URL" --github-token-file "$OSR_GITHUB_TEST_TOKEN_FILE")
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
SECRET_FILE=$W/secret
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$SECRET_FILE"
chmod 600 "$SECRET_FILE"
TICK=$(getconf CLK_TCK)

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
    labels: [self-hosted, bench-d]
    image: osr-test-image
    flavor: m1.tiny
    min_idle: $1
    max_runners: $2
    jit: true
    timeouts: {build: 1h, bootstrap: 1h}
EOF
  mv "$CFG.tmp" "$CFG"
}

# --- the simulator, the daemon, and the EXIT trap
SIM_PID="" D_PID="" DFD=""
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
sim_call() { # sim_call PATH [JSON]: POST to the simulator, the answer in $W/sim.json
  curl -sf -X POST -H 'Content-Type: application/json' ${2:+--data-binary "$2"} "$SIM_URL$1" >"$W/sim.json" ||
    { tail -5 "$W/sim.err" >&2; die "simulator $1"; }
}
# /sync is retried while Nova or Keystone are away (another session's fault
# trial stops them for a while), up to OUTAGE_S
sim_sync() {
  local deadline=$((SECONDS + OUTAGE_S))
  until curl -sf -X POST "$SIM_URL/sync" >"$W/sim.json"; do
    [ "$SECONDS" -lt "$deadline" ] || { tail -5 "$W/sim.err" >&2; die "simulator /sync"; }
    log "simulator /sync failed (a service away?): again in 5 s"
    sleep 5
  done
}
our_server_ids() {
  "$OSR" --os-cloud ostb-demo instance list --manager "$M" --json |
    /usr/bin/python3 -c 'import json,sys; print("\n".join(s["id"] for s in json.load(sys.stdin)))'
}
our_runner_ids() {
  curl -sf "$OSR_GITHUB_FAKE_URL/_control/runners" |
    /usr/bin/python3 -c 'import json,sys; print("\n".join(str(r["id"]) for r in json.load(sys.stdin)["runners"] if r["scope"]=="repos/"+sys.argv[1]))' "$GH_PATH"
}
daemon_stop() { # daemon_stop SIGNAL: signal and reap; DRC is its exit status
  DRC=
  [ -n "$D_PID" ] || return 0
  kill "-$1" "$D_PID" 2>/dev/null || true
  wait "$D_PID" 2>/dev/null && DRC=0 || DRC=$?
  D_PID=
  [ -z "$DFD" ] || exec {DFD}<&-
  DFD=
}
cleanup() {
  local rc=$? ids id
  trap - EXIT
  daemon_stop KILL
  if [ -n "$SIM_PID" ]; then kill "$SIM_PID" 2>/dev/null || true; wait "$SIM_PID" 2>/dev/null || true; fi
  # Nova may be away (a fault trial of another session): wait for it, bounded
  local deadline=$((SECONDS + 900))
  until our_server_ids >"$W/left.txt" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || { log "cleanup: Nova does not answer: servers of manager $M may be left"; break; }
    log "cleanup: Nova does not answer; again in 10 s"
    sleep 10
  done
  mapfile -t ids <"$W/left.txt"
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
  [ "$rc" = 0 ] || [ ! -s "$W/d.err" ] || { log "osrunnerd's stderr:"; tail -20 "$W/d.err" >&2; }
  rm -rf "$W"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Events: read from the daemon's stdout in bash (no process per line, so the
# reader costs the measured machine little); every line is kept in $W/ev.jsonl.
# ev_wait SECONDS GLOB...: the next line matching one of the GLOBs in $EVL;
# 1 on timeout.
ev_wait() {
  local deadline=$((SECONDS + $1)) line g
  shift
  while [ "$SECONDS" -lt "$deadline" ]; do
    IFS= read -r -t $((deadline - SECONDS + 1)) line <&"$DFD" || return 1
    printf '%s\n' "$line" >>"$W/ev.jsonl"
    for g in "$@"; do
      # shellcheck disable=SC2053
      if [[ $line == $g ]]; then
        EVL=$line
        return 0
      fi
    done
  done
  return 1
}
# wait_action GLOB WHAT: the next action event matching GLOB, within
# PASS_WAIT; passes that end without it are skipped when they were good (the
# daemon also passes 15 s after a create or a completed job, on its own);
# returns 2 at a pass that could not observe (the caller posts again)
wait_action() {
  local deadline=$((SECONDS + PASS_WAIT))
  while :; do
    [ "$SECONDS" -lt "$deadline" ] || die "$2: no such action within ${PASS_WAIT}s"
    ev_wait $((deadline - SECONDS)) "$1" '*"event":"pass"*' || die "$2: no such action within ${PASS_WAIT}s"
    [[ $EVL == *'"event":"pass"'* ]] || return 0
    [ "$(ev_field result)" = ok ] || return 2
  done
}
# outage_retry WHAT: after a pass that did not act because it could not
# observe (a service away), within OUTAGE_S: log, wait 2 s, return 0 (the
# caller posts again); else die
outage_retry() {
  if [ "$(ev_field result)" != ok ] && [ "$SECONDS" -lt "$outage_until" ]; then
    log "$1: a pass $(ev_field result): $(ev_field state | cut -c1-160); again in 2 s (not a sample)"
    sleep 2
    return 0
  fi
  die "$1: a pass without the action: $EVL"
}
# ev_field KEY: a scalar field of $EVL (compact JSON: "key":value)
ev_field() {
  local re="\"$1\":(\"([^\"]*)\"|([^,}]*))"
  [[ $EVL =~ $re ]] || return 1
  printf '%s\n' "${BASH_REMATCH[2]:-${BASH_REMATCH[3]}}"
}
daemon_start() {
  exec {DFD}< <(exec "$OSRD" --config "$CFG" --metrics-listen 127.0.0.1:0 --webhook-listen 127.0.0.1:0 \
    --webhook-secret-file "$SECRET_FILE" --interval 86400 2>>"$W/d.err")
  D_PID=$!
  ev_wait 30 '*"event":"start"*' || die "osrunnerd did not start: $(cat "$W/d.err")"
  WURL="http://127.0.0.1:$(ev_field webhook_port)/webhook"
}

# Payloads: GitHub's example deliveries with our labels and a job id; each
# signed once (X-GitHub-Delivery differs per post: the daemon deduplicates by it).
payload() { # payload ACTION JOB_ID OUT
  /usr/bin/python3 - "tests/fixtures/webhooks/workflow_job_$1.json" "$2" "$LABELS" "$3" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["workflow_job"]["id"] = int(sys.argv[2])
d["workflow_job"]["labels"] = json.loads(sys.argv[3])
json.dump(d, open(sys.argv[4], "w"))
PY
  printf 'sha256=%s' "$(openssl dgst -sha256 -hmac "$(cat "$SECRET_FILE")" <"$3" | sed 's/^.*= //')" >"$3.sig"
}
NPOST=0
post() { # post FILE: POST a signed delivery; T_SENT is the wall clock just before curl starts
  local code
  NPOST=$((NPOST + 1))
  T_SENT=$EPOCHREALTIME
  code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -H 'X-GitHub-Event: workflow_job' -H "X-GitHub-Delivery: bench-$$-$NPOST" \
    -H "X-Hub-Signature-256: $(cat "$1.sig")" --data-binary "@$1" "$WURL")
  [ "$code" = 202 ] || die "webhook $1: HTTP $code"
}
# proc_sample: "rss_kb hwm_kb utime stime cpu_ns" of the daemon: utime and
# stime in clock ticks (/proc/PID/stat), and the scheduler's time on CPU in ns
# (/proc/PID/schedstat, user and system together: finer than a tick)
proc_sample() {
  local rss hwm st ns
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$D_PID/status")
  hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$D_PID/status")
  st=$(<"/proc/$D_PID/stat")
  st=${st##*) } # after the command name: field 3 (state) first
  read -r -a f <<<"$st"
  read -r ns _ <"/proc/$D_PID/schedstat"
  echo "$rss $hwm ${f[11]} ${f[12]} $ns" # utime (14), stime (15)
}
# heap_kb: the Rss of the daemon's [heap] mapping (malloc's main arena)
heap_kb() { awk '/\[heap\]$/ {h=1; next} h && /^Rss:/ {print $2; exit}' "/proc/$D_PID/smaps"; }
# nova_recv METHOD SERVER_ID: "RECEIVED_EPOCH ANSWERED_EPOCH" of nova-api's
# request line for that server's create (the request id from nova-compute's
# "[instance: ID]" lines) or delete, polled up to 120 s (compute may be late)
nova_recv() {
  /usr/bin/python3 - "$1" "$2" "$NOVA_LOG" "$COMPUTE_LOG" <<'PY'
import re, sys, time, datetime
method, sid, api_log, compute_log = sys.argv[1:5]
TS = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) .*\[(?:None )?(req-[0-9a-f-]+) .*\"(\w+) (\S+) HTTP/1\.\d\" status: (\d+) len: \d+ time: ([0-9.]+)")
def when(ts):  # nova logs local time
    return datetime.datetime.strptime(ts, "%Y-%m-%d %H:%M:%S.%f").timestamp()
deadline = time.time() + 120
while True:
    req = None
    if method == "POST":
        for line in open(compute_log, errors="replace"):
            if f"[instance: {sid}]" in line:
                m = re.search(r"\[(?:None )?(req-[0-9a-f-]+) ", line)
                if m:
                    req = m.group(1)
                    break
    if method == "DELETE" or req:
        for line in open(api_log, errors="replace"):
            m = TS.match(line)
            if not m:
                continue
            ts, rq, meth, path, status, took = m.groups()
            if method == "POST" and rq == req and meth == "POST" and path.endswith("/servers"):
                pass
            elif method == "DELETE" and meth == "DELETE" and path.endswith("/servers/" + sid):
                pass
            else:
                continue
            end = when(ts)
            print(f"{end - float(took):.6f} {end:.6f}")
            sys.exit(0)
    if time.time() > deadline:
        sys.exit(1)
    time.sleep(0.5)
PY
}

# --- a pool of N, ACTIVE, with N runners online (as bench/reconcile.sh)
sim_start
log "manager $M, pool $POOL, GitHub path $GH_PATH, N=$N, PASSES=$PASSES, SAMPLES=$SAMPLES; load $LOAD_START"
log "GitHub stand-in budget: $(curl -s -H "Authorization: Bearer $(cat "$OSR_GITHUB_TEST_TOKEN_FILE")" "$OSR_GITHUB_FAKE_URL/rate_limit" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["rate"]["remaining"])' 2>/dev/null || echo '?') requests left"
MAXR=$((N + 2))
write_config "$N" "$MAXR"
T0=$EPOCHREALTIME
if [ -z "${BENCH_MANAGER:-}" ]; then
  "$OSR" pool reconcile "$POOL" --config "$CFG" --json >"$W/setup.json" 2>"$W/setup.err" ||
    log "the first pass exited $? (the passes below replace what failed)"
fi
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
    log "idle $idle/$N, servers $servers, booting $booting: the plan has $nact actions: a pass"
    "$OSR" pool reconcile "$POOL" --config "$CFG" --json >"$W/setup-$passes.json" 2>&1 || true
  else
    log "idle $idle/$N, servers $servers, runners $runners, booting $booting"
    sleep 10
  fi
done
T_ACTIVE="$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.0f", b-a}') s"
log "steady $T_ACTIVE after the first pass: $N VMs, $N runners online and idle"

# --- the daemon on the steady pool
payload completed 1 "$W/steady-completed.json"
daemon_start
ev_wait "$PASS_WAIT" '*"event":"pass"*' || die "no first pass of osrunnerd"
if [ "$(ev_field result)" != ok ] || [ "$(ev_field idle)" != "$N" ] || [ "$(ev_field creates)" != 0 ]; then
  die "the daemon's first pass: $EVL"
fi
echo "0 $(proc_sample) $(ev_field seconds) $(heap_kb)" >"$W/passes.txt"
log "osrunnerd $D_PID: first pass $(ev_field seconds) s; RSS $(awk '{print $2}' "$W/passes.txt") kB"

# --- 1. PASSES triggered passes on the steady pool
T1=$EPOCHREALTIME
# A pass that could not observe (a service away: another session's fault
# trial) is recorded as such (f), not counted, and the next is triggered 2 s
# later; OUTAGE_S bounds the time lost to those.
i=1 outage_until=$((SECONDS + OUTAGE_S))
while [ "$i" -le "$PASSES" ]; do
  post "$W/steady-completed.json"
  ev_wait "$PASS_WAIT" '*"event":"pass"*' || die "pass $i: no pass event within ${PASS_WAIT}s"
  if [ "$(ev_field result)" != ok ] && [ "$(ev_field creates)" = 0 ] && [ "$SECONDS" -lt "$outage_until" ]; then
    echo "f $(proc_sample) $(ev_field seconds) $(heap_kb)" >>"$W/passes.txt"
    log "pass $i: $(ev_field result): $(ev_field state | cut -c1-160); again in 2 s"
    sleep 2
    continue
  fi
  if [ "$(ev_field result)" != ok ] || [ "$(ev_field idle)" != "$N" ] || [ "$(ev_field creates)" != 0 ]; then
    die "pass $i is not a steady one: $EVL"
  fi
  echo "$i $(proc_sample) $(ev_field seconds) $(heap_kb)" >>"$W/passes.txt"
  outage_until=$((SECONDS + OUTAGE_S)) # an outage may last OUTAGE_S
  [ $((i % 50)) != 0 ] || log "pass $i/$PASSES: RSS $(awk 'END {print $2}' "$W/passes.txt") kB"
  i=$((i + 1))
done
T_PASSES=$(awk -v a="$T1" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')
if grep -q '"event":"action"' "$W/ev.jsonl"; then
  die "a steady pass acted: $(grep '"event":"action"' "$W/ev.jsonl" | head -3)"
fi

# --- 2. and 3. queued -> POST /servers, finished job -> DELETE
: >"$W/samples.txt"
for s in $(seq 1 "$SAMPLES"); do
  job=$((900000 + s))
  payload queued "$job" "$W/q.json"
  payload completed "$job" "$W/c.json"
  outage_until=$((SECONDS + OUTAGE_S))
  sim_sync # the previous sample's VM, once ACTIVE, comes online
  : >"$W/ev.sample"
  while :; do
    post "$W/q.json"
    t_q=$T_SENT q_del=bench-$$-$NPOST
    wait_action '*"event":"action"*"kind":"create"*' "sample $s, queued" && break
    outage_retry "sample $s, queued"
  done
  [ "$(ev_field outcome)" = "done" ] || die "sample $s: the create: $EVL"
  sid_new=$(ev_field server_id)
  crule=$(ev_field rule)
  sent_ms=$(ev_field sent_at_ms || echo null) # the daemon's own clock of the request (newer daemons)
  pass_s=-
  if [ "$FAST_PATH" != 1 ]; then
    ev_wait "$PASS_WAIT" '*"event":"pass"*' || die "sample $s: no pass after the create"
    pass_s=$(ev_field seconds)
  fi
  r=$(nova_recv POST "$sid_new") || die "sample $s: no POST /servers in nova-api's log for $sid_new"
  read -r q_recv q_ans <<<"$r"
  # a job on one idle runner, then finished: the VM powers off
  sim_call /jobs/take "{\"count\":1,\"job\":\"j$job\"}"
  name=$(pj "$W/sim.json" 'print(d["taken"][0]["name"])')
  t_f=$EPOCHREALTIME
  sim_call /jobs/finish "{\"names\":[\"$name\"]}"
  read -r sid_old st <<<"$(pj "$W/sim.json" 'f=d["finished"][0]; print(f["server"], f["status"])')"
  [ "$st" = SHUTOFF ] || die "sample $s: $name finished but its VM is $st"
  while :; do
    post "$W/c.json"
    t_c=$T_SENT c_del=bench-$$-$NPOST
    wait_action "*\"event\":\"action\"*\"server_id\":\"$sid_old\"*" "sample $s, completed" && break
    outage_retry "sample $s, completed"
  done
  if [ "$(ev_field kind)" = create ] || [ "$(ev_field outcome)" != "done" ]; then
    die "sample $s: $EVL"
  fi
  rule=$(ev_field rule)
  ev_wait "$PASS_WAIT" '*"event":"pass"*' || die "sample $s: no pass after the delete"
  cpass_s=$(ev_field seconds)
  r=$(nova_recv DELETE "$sid_old") || die "sample $s: no DELETE of $sid_old in nova-api's log"
  read -r d_recv d_ans <<<"$r"
  echo "$s $t_q $q_recv $q_ans $pass_s $t_f $t_c $d_recv $d_ans $cpass_s $rule $sid_new $sid_old $q_del $c_del $crule $sent_ms" >>"$W/samples.txt"
  log "sample $s/$SAMPLES: queued -> POST $(awk -v a="$t_q" -v b="$q_recv" 'BEGIN{printf "%.0f", (b-a)*1000}') ms ($crule); completed -> DELETE $(awk -v a="$t_c" -v b="$d_recv" 'BEGIN{printf "%.0f", (b-a)*1000}') ms ($rule)"
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
daemon_stop TERM
[ "$DRC" = 0 ] || die "osrunnerd exited $DRC on SIGTERM"
grep -q . "$W/d.err" && log "osrunnerd's stderr: $(head -5 "$W/d.err")"

# --- the report; the raw figures are kept beside it
REPORT=$OUT/daemon-$TS.md
mkdir -p "$OUT/daemon-$TS"
cp "$W/passes.txt" "$W/samples.txt" "$W/ev.jsonl" "$W/d.err" "$OUT/daemon-$TS/"
RC=0
/usr/bin/python3 - "$W" "$N" "$PASSES" "$TICK" "$LOAD_START" "$LOAD_END" "$T_ACTIVE" "$T_PASSES" \
  "$RSS_GROWTH_KB" "$FAST_PATH" "$M" "$NOVA_LOG" >"$REPORT" <<'PY' || RC=$?
import datetime, json, math, os, re, statistics, sys
w, n, passes, tick = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
load_start, load_end, t_active, t_passes, growth, fast, manager, nova_log = sys.argv[5:13]
ALL = [l.split() for l in open(f"{w}/passes.txt")]
failed = sum(p[0] == "f" for p in ALL)  # passes that could not observe (a service away)
P = [p for p in ALL if p[0] != "f"]
rss = {int(p[0]): int(p[1]) for p in P}
hwm = {int(p[0]): int(p[2]) for p in P}
ut = [int(p[3]) for p in ALL]
st = [int(p[4]) for p in ALL]
secs = [float(p[6]) for p in P[1:]]
# CPU of one pass: between two samples of consecutive counted passes
pairs = [(a, b) for a, b in zip(ALL, ALL[1:]) if a[0] != "f" and b[0] != "f"]
def p90(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, math.ceil(0.9 * len(xs)) - 1)]
def ms(x):
    return f"{x * 1000:.0f} ms"
mid = min(50, passes)
cpu = [(int(b[3]) + int(b[4]) - int(a[3]) - int(a[4])) * 1000 / tick for a, b in pairs]
cpu_ns = [(int(b[5]) - int(a[5])) / 1e6 for a, b in pairs]
# least-squares slope of RSS over the passes from ~50 on: kB per 100 passes
xs = [i for i in sorted(rss) if i >= mid]
slope = 0.0
if len(xs) > 1:
    mx = statistics.mean(xs); my = statistics.mean(rss[i] for i in xs)
    slope = sum((i - mx) * (rss[i] - my) for i in xs) / sum((i - mx) ** 2 for i in xs) * 100
print(f"osrunnerd (release build) on a JIT pool of {n} VMs and {n} runners online (local cloud, "
      f"fleet simulator), {passes} passes each triggered by a signed `completed` webhook, one at a time; "
      f"{os.cpu_count()} cores shared, load {load_start} at the start, {load_end} at the end; "
      f"the pool was steady {t_active} after its first pass")
print()
print("| memory and CPU | value |")
print("|---|---|")
print(f"| RSS after the first pass (the start-up pass) | {rss[0] / 1024:.1f} MiB ({rss[0]} kB) |")
print(f"| RSS after pass 1 | {rss[1] / 1024:.1f} MiB ({rss[1]} kB) |")
print(f"| RSS after pass {mid} | {rss[mid] / 1024:.1f} MiB ({rss[mid]} kB) |")
print(f"| RSS after pass {passes} | {rss[passes] / 1024:.1f} MiB ({rss[passes]} kB) |")
print(f"| RSS growth, pass {mid} to {passes} | {rss[passes] - rss[mid]:+d} kB (fit: {slope:+.1f} kB per 100 passes) |")
print(f"| RSS max over the passes | {max(rss.values()) / 1024:.1f} MiB ({max(rss.values())} kB, after pass "
      f"{max(rss, key=lambda i: (rss[i], -i))}) |")
heap = {int(p[0]): int(p[7]) for p in P if len(p) > 7}
if heap:
    print(f"| the [heap] mapping's Rss after the first pass / pass {mid} / pass {passes} | "
          f"{heap[0]} / {heap[mid]} / {heap[passes]} kB |")
print(f"| VmHWM after pass {passes} | {hwm[passes] / 1024:.1f} MiB ({hwm[passes]} kB) |")
print(f"| CPU (user+sys) per pass, mean over {passes} (/proc/PID/stat) | {sum(cpu) / len(cpu):.1f} ms |")
print(f"| CPU per pass, median / p90 / max (/proc/PID/schedstat, ns) | "
      f"{statistics.median(cpu_ns):.1f} / {p90(cpu_ns):.1f} / {max(cpu_ns):.1f} ms (mean {statistics.mean(cpu_ns):.1f} ms) |")
print(f"| CPU of the start-up (process start to the end of the first pass) | {int(P[0][5]) / 1e6:.1f} ms |")
print(f"| CPU over the {passes} passes, user + sys (/proc/PID/stat) | "
      f"{(ut[-1] - ut[0]) / tick:.2f} s + {(st[-1] - st[0]) / tick:.2f} s |")
if failed:
    print(f"| passes that could not observe (a service stopped by another session), not counted | {failed} |")
print(f"| pass duration (the pass event's seconds), median / p90 / max | "
      f"{ms(statistics.median(secs))} / {ms(p90(secs))} / {ms(max(secs))} |")
print(f"| {passes} triggered passes, wall time | {t_passes} s ({float(t_passes) / passes * 1000:.0f} ms a pass, "
      f"webhook and event round trip included) |")
fails = []
if rss[passes] - rss[mid] > int(growth):
    fails.append(f"RSS grew by {rss[passes] - rss[mid]} kB from pass {mid} to {passes} (at most {growth})")
S = [l.split() for l in open(f"{w}/samples.txt")]
if S:
    q = [float(s[2]) - float(s[1]) for s in S]
    qa = [float(s[3]) - float(s[1]) for s in S]
    qp = [float(s[4]) for s in S if s[4] != "-"]
    qs = [int(s[16]) / 1000 - float(s[1]) for s in S if len(s) > 16 and s[16] != "null"]
    crules = sorted({s[15] for s in S if len(s) > 15})
    # a delete Nova received before the webhook was sent was made by a pass
    # of the daemon's own (15 s after a create), not the webhook's: left out
    DS = [s for s in S if float(s[7]) >= float(s[6])]
    early = len(S) - len(DS)
    d = [float(s[7]) - float(s[6]) for s in DS]
    df = [float(s[7]) - float(s[5]) for s in DS]
    dp = [float(s[9]) for s in DS]
    rules = sorted({s[10] for s in S})
    print()
    print(f"Latencies, {len(S)} samples, measured on Nova's side (nova-api's request log: the line's time "
          f"minus its `time:`), from the wall clock just before `curl` sent the webhook"
          + (" (FAST_PATH=1)" if fast == "1" else "") + "; a create of rule `missing` was the triggered pass's, "
          "`queued-job` the daemon's fast path (a create on the webhook, without a pass):")
    print()
    print("| latency | median | p90 | max | min |")
    print("|---|---|---|---|---|")
    def row(label, xs):
        print(f"| {label} | {ms(statistics.median(xs))} | {ms(p90(xs))} | {ms(max(xs))} | {ms(min(xs))} |")
    row("`queued` webhook → nova-api receives POST /servers", q)
    row("`queued` webhook → nova-api answers the POST (202)", qa)
    if qs:
        row("`queued` webhook → the daemon sends the POST (its action's sent_at_ms)", qs)
    if qp:
        row("… the triggered pass (its event's seconds, create included)", qp)
    if d:
        row("`completed` webhook → nova-api receives DELETE /servers/ID", d)
        row("job finished (/jobs/finish sent; Nova's os-stop included) → DELETE", df)
        row("… the triggered pass (its event's seconds, delete and its wait included)", dp)
    if early:
        print(f"\n{early} of the deletes came before the webhook (a pass of the daemon's own): left out.")
    # Where the time goes: the daemon's webhook event (its ts, the same clock),
    # then nova-api's receipt and answer of the pass's server list (the GET
    # with this run's manager tag), then the POST or the DELETE.
    def iso(ts):
        return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    wh = {}
    for line in open(f"{w}/ev.jsonl"):
        e = json.loads(line)
        if e.get("event") == "webhook" and "delivery" in e:
            wh[e["delivery"]] = iso(e["ts"])
    LREQ = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) .*\"GET (\S+) HTTP/1\.\d\" status: \d+ len: \d+ time: ([0-9.]+)")
    # the daemon's list (the simulator's has all_tenants=1)
    ours = re.compile(r"^/v2\.1/servers/detail\?tags=[^ ]*osrunner-manager%3D" + re.escape(manager) + r"(%2C|&|$)")
    lists = []
    for line in open(nova_log, errors="replace"):
        m = LREQ.match(line)
        if m and ours.search(m.group(2)):
            end = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
            lists.append((end - float(m.group(3)), end))
    def steps(t_sent, delivery, t_nova):
        t_wh = wh.get(delivery)
        l = next((x for x in lists if t_wh is not None and x[0] >= t_wh - 0.002 and x[1] <= t_nova), None)
        if t_wh is None or l is None:
            return None
        return (t_wh - t_sent, l[0] - t_wh, l[1] - l[0], t_nova - l[1])
    bq = [x for x in (steps(float(s[1]), s[13], float(s[2])) for s in S) if x]
    bd = [x for x in (steps(float(s[6]), s[14], float(s[7])) for s in DS) if x]
    print()
    print("Where the time goes (medians over the samples; the daemon's `webhook` event's ts and nova-api's "
          "log lines of the first list of this manager's servers after it):")
    print()
    print("| path | curl → webhook event | → nova-api receives the first list | that list (Nova) | list answered → POST/DELETE received | samples |")
    print("|---|---|---|---|---|---|")
    for label, b in (("queued → POST /servers", bq), ("completed → DELETE", bd)):
        if b:
            print(f"| {label} | " + " | ".join(ms(statistics.median(x[k] for x in b)) for k in range(4))
                  + f" | {len(b)} |")
    # The create's path: the launch lists the servers again before its POST
    # (the same tags without the pool's): the last list before the POST.
    def launch(t_sent, delivery, t_nova):
        t_wh = wh.get(delivery)
        ls = [x for x in lists if t_wh is not None and x[0] >= t_wh - 0.002 and x[1] <= t_nova]
        if len(ls) < 2:
            return None
        return (ls[0][1], ls[-1][0] - ls[0][1], ls[-1][1] - ls[-1][0], t_nova - ls[-1][1], len(ls))
    bl = [x for x in (launch(float(s[1]), s[13], float(s[2])) for s in S) if x]
    if bl:
        print()
        print(f"The queued path after the first list ({len(bl)} samples with a second list of this manager's "
              f"servers before the POST; medians): the first list answered → the second list received "
              f"**{ms(statistics.median(x[1] for x in bl))}**; that list (Nova) "
              f"**{ms(statistics.median(x[2] for x in bl))}**; answered → POST received "
              f"**{ms(statistics.median(x[3] for x in bl))}**; lists of this manager per queued pass: "
              f"{sorted({x[4] for x in bl})}.")
    print()
    print(f"The creates' rule: {', '.join(crules) or '?'}; the deletes': {', '.join(rules)}. Goal for queued → POST: under 100 ms: "
          f"**{'met' if statistics.median(q) < 0.1 else 'not met'}** (median {ms(statistics.median(q))}).")
for f in fails:
    print(f"\n**FAIL**: {f}")
sys.exit(1 if fails else 0)
PY
cat "$REPORT"
echo
echo "(report: $REPORT)"
[ "$RC" = 0 ] || die "see the report"

# --- drain through the engine: min_idle 0, passes until empty
write_config 0 "$MAXR"
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
