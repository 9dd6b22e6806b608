#!/bin/bash
# Chaos (issue 12): osrunnerd is killed with SIGKILL at random moments while
# its creates and deletes are in flight, ROUNDS times (30 unless
# OSR_CHAOS_ROUNDS says more), and restarted each time. Then it starts once
# more, and after a quiet pass the test checks, with the openstack CLI and
# the stand-in, that nothing leaked.
#
# Two pools on the shared Nova, of the same labels: ch, min_idle 2,
# max_runners 5, JIT runners (the default); ct, min_idle 1, max_runners 2,
# registration tokens. The fleet simulator (--watch) plays the VMs: each
# ACTIVE one's runner comes online; the test makes it take jobs and finish them (the
# runner removes itself, the VM powers off), so the daemon replaces runners
# (creates) and removes finished VMs (deletes). Signed workflow_job webhooks
# make it act at once: a queued job asks for one runner above min_idle
# (creates, up to max_runners); since a restart forgets queued jobs, the
# next daemon finds surplus idle runners and deletes them.
#
# Where the kills land. The daemon writes its events at the end of a pass,
# so its own lines cannot say what was in flight. chaos_tap.js relays its
# requests to Keystone (rewriting the Nova endpoint of the catalog), Nova
# and the GitHub API, logs each as it starts and as its answer ends, and
# sends the SIGKILL itself, recording the requests in flight at that
# instant. Each round draws its kill at random (seed printed; OSR_CHAOS_SEED
# replays the draw, not Nova's timing):
#   create:  0-250 ms after the round's first POST /servers or
#            generate-jitconfig (the JIT record exists, the VM may not yet),
#            or 0-60 ms after a POST /servers (Nova makes the VM, the
#            daemon never hears of it);
#   delete:  0-600 ms after the first DELETE of a server or of a runner
#            record (inside the wait for Nova to forget the VM);
#   request: 0-100 ms after the k-th request of any kind (k in 1-25);
#   delay:   0-6 s after the daemon's start event, whatever it is doing.
# An armed kill whose request never comes falls back to a kill after 5 s.
# A pass observes (the runner list first), then deletes (runner records,
# then servers, waiting until Nova forgets them), then creates (the JIT
# config, Nova's version and flavor, then the server). A kill counts as
# mid-create when a server create, a JIT config or a registration token was
# in flight, or the pass's last request was in its create phase; mid-delete
# likewise for a server or runner delete, or the single-server GET that
# waits for one; a pass event after the last request means the pass was
# over (between passes). Each round's line shows what was in flight, the
# last requests and the daemon's last event.
#
# The invariants, checked after one quiet pass of each pool by the last
# daemon (a pass with no action, its figures showing min_idle idle, nothing
# busy, nothing booting) and its graceful stop; VMs are the servers tagged
# osrunner-manager=M (openstack CLI, all projects), runner records those of
# the test's own repository (stand-in, /_control/runners):
#  1. every VM of ours is a registered runner or is being deleted:
#     - registered: a record with the VM's name exists and, when the VM's
#       metadata names a runner id (JIT: the record is made before the VM,
#       so a VM still in BUILD with its record counts), it is that record;
#     - being deleted: Nova's task state is "deleting" (a delete a killed
#       daemon sent, still under way: the pass leaves such servers out);
#     - a token-mode VM (no runner id in its metadata) still in BUILD is
#       booting: it cannot have registered yet, and is allowed. An ACTIVE
#       one must have registered by then: the simulator registers a VM
#       within a second of ACTIVE, and the quiet pass saw nothing booting.
#     Anything else (an ACTIVE or SHUTOFF VM without its record, a record
#     of another id) is a leak.
#  2. no runner record is without a VM: each record of the repository has a
#     VM of ours of its name that is not being deleted (the daemon deletes
#     a record before its VM, so a record whose VM is going is a ghost).
#  3. no duplicate names: among our VMs, and among the records.
#  4. each pool is at min_idle: exactly min_idle idle runners (online, not
#     busy, VM ACTIVE) and no other live VM of the pool.
# Leaks = the VMs failing 1 + the records failing 2 + the duplicates of 3;
# it must be 0. The output says "chaos: N rounds, K kills mid-create,
# L mid-delete, leaks: X", and how many JIT VMs were wasted, which must be
# 0: a kill while a create's POST /servers is in flight, and a restarted
# daemon whose server list was read before Nova showed that VM, would take
# its record for a ghost (in-flight creates are memory only); the pass looks
# the name up in Nova once more before it deletes a ghost, and keeps the
# record when the VM is there by then. A wasted VM would boot with a dead JIT
# config (the simulator's session gets 404). Nothing sleeps to
# synchronise: the kill delays are the chaos; every wait is for an event
# line or a state, bounded.
# The background job's own RANDOM sequence (its deliveries' ids) is meant:
# shellcheck disable=SC2030,SC2031
set -e
. "$(dirname "$0")/lib.sh"
. "$OSR_SRC/tests/integration/pool_lib.sh"
. "$OSR_SRC/tests/integration/daemon_lib.sh"

ROUNDS=${OSR_CHAOS_ROUNDS:-30}
[ "$ROUNDS" -ge 30 ] || ROUNDS=30
SEED=${OSR_CHAOS_SEED:-$((($(date +%s) ^ $$) & 32767))}
RANDOM=$SEED
echo "chaos: seed $SEED (OSR_CHAOS_SEED), $ROUNDS rounds"
# Two pools of the same labels (a job matches both): ch with JIT runners,
# ct with registration tokens. In token mode a VM has no runner record
# until it registers: registration_grace covers the boot (the VM's age
# counts from its create, and a loaded Nova takes minutes).
declare -A MINS=([ch]=2 [ct]=1) MAXS=([ch]=5 [ct]=2) JITS=([ch]=true [ct]=false) GRACE=([ch]=10s [ct]=60s)
LABELS='["self-hosted","chaos"]'
SECRET="chaos-secret-$$-$RANDOM"
printf '%s\n' "$SECRET" >"$T/secret"
chmod 600 "$T/secret"

# --- the tap: Keystone, Nova and GitHub through chaos_tap.js
TAP_PID=
exec {TAP_FD}< <(exec node "$OSR_SRC/tests/integration/chaos_tap.js" --keystone "$OSR_CLOUD_KEYSTONE" \
  --nova "$OSR_CLOUD_NOVA" --github "$OSR_GITHUB_URL" --log "$T/tap.log" 2>"$T/tap.err")
TAP_PID=$!
read -r -t 30 TAP_READY TAP_CTL TAP_KS TAP_NOVA TAP_GH <&"$TAP_FD" || true
if [ "${TAP_READY:-}" != ready ]; then
  echo "FAIL: chaos_tap.js did not start"
  cat "$T/tap.err"
  exit 1
fi
TAP="http://127.0.0.1:$TAP_CTL"
echo "chaos: tap ports: control $TAP_CTL, keystone $TAP_KS, nova $TAP_NOVA, github $TAP_GH"
tap_post() { curl -sf -X POST -H 'content-type: application/json' -d "$2" "$TAP/$1" >/dev/null; }
tap_stop() {
  [ -n "$TAP_PID" ] || return 0
  kill "$TAP_PID" 2>/dev/null || true
  wait "$TAP_PID" 2>/dev/null || true
  TAP_PID=
}
# The daemon's clouds.yaml: ostb-demo's Keystone is the tap's.
/usr/bin/python3 - "$CLOUDS" "$T/clouds-tap.yaml" "$OSR_CLOUD_KEYSTONE" "http://127.0.0.1:$TAP_KS/v3" <<'PY'
import os, sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
a = c["clouds"]["ostb-demo"]["auth"]
assert a["auth_url"].rstrip("/") == sys.argv[3].rstrip("/"), (a["auth_url"], sys.argv[3])
a["auth_url"] = sys.argv[4]
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as f:
    yaml.safe_dump(c, f)
PY

# --- the simulator, syncing by itself (pool_lib's sim_start without --watch)
exec {SIM_FD}< <(exec node "$OSR_SRC/tests/sim/fleet.js" --port 0 --manager "$M" --watch 500 2>"$T/sim.err")
SIM_PID=$!
read -r -t 30 SIM_LINE <&"$SIM_FD" || true
if [[ ${SIM_LINE:-} != "ready http://127.0.0.1:"* ]]; then
  echo "FAIL: the fleet simulator did not start: ${SIM_LINE:-}"
  cat "$T/sim.err"
  exit 1
fi
SIM_PORT=${SIM_LINE#ready http://127.0.0.1:}
SIM_PORT=${SIM_PORT%% *}

# Another test's fault trial may stop Nova for a moment: the clean-up and
# the checks wait for it to answer again (bounded).
nova_answers() { "$OSRUNNER" instance list --os-cloud ostb-demo --manager "$M" --json >"$T/ours.json" 2>"$T/ours.err"; }
wait_nova() {
  local i
  for i in $(seq 1 "$1"); do
    nova_answers && return 0
    read -r -t 1 <> <(:) || true
  done
  cat "$T/ours.err"
  return 1
}
FIN_PID=
chaos_trap() {
  daemon_kill KILL
  [ -z "$FIN_PID" ] || wait "$FIN_PID" 2>/dev/null || true
  tap_stop
  wait_nova 120 >/dev/null || true
  pool_cleanup_trap
}
trap chaos_trap EXIT

{
  cat <<EOF
manager: $M
github:
  url: http://127.0.0.1:$TAP_GH
  token_file: $OSR_GITHUB_TEST_TOKEN_FILE
pools:
EOF
  for p in ch ct; do
    cat <<EOF
  - name: $p
    cloud: ostb-demo
    github_path: $GH_PATH
    labels: [self-hosted, chaos]
    image: osr-test-image
    flavor: m1.tiny
    min_idle: ${MINS[$p]}
    max_runners: ${MAXS[$p]}
    jit: ${JITS[$p]}
    timeouts: {bootstrap: 3m, registration_grace: ${GRACE[$p]}}
EOF
  done
} >"$CFG"

# sim_names STATE: the simulator's runners in that state, as a JSON list
sim_names() {
  curl -sf "http://127.0.0.1:$SIM_PORT/state" | /usr/bin/python3 -c '
import json, sys
print(json.dumps([s["name"] for s in json.load(sys.stdin)["servers"] if s["state"] == sys.argv[1]]))' "$1"
}
pick_one() { /usr/bin/python3 -c 'import json,random,sys; l=json.loads(sys.argv[1]); random.seed(int(sys.argv[2])); print(random.choice(l) if l else "")' "$1" "$RANDOM"; }
JOB=$((900000 + RANDOM))
# hook ACTION JOB_ID [TAG]: a signed workflow_job delivery for the pool's
# labels, to the daemon of the moment ($T/wurl)
hook() {
  local f="$T/hook${3:-}.json"
  job_payload "$1" "$2" "$LABELS" "$f"
  WURL=$(cat "$T/wurl") webhook_post "$f" "$(webhook_sig "$SECRET" "$f")" >"$f.code" || true
}
# churn MODE: what runners and GitHub do meanwhile; each step may happen or
# not, a kill armed on a create gets a queued job, one armed on a delete a
# job that ends
churn() {
  local idle busy n
  if [ -n "$FIN_PID" ] && [ -e "$T/fin.done" ]; then
    wait "$FIN_PID" || true
    FIN_PID=
  fi
  if [ "$1" = create ] || [ $((RANDOM % 10)) -lt 6 ]; then # a job is queued: one runner more, at once
    JOB=$((JOB + 1))
    hook queued "$JOB"
  fi
  idle=$(sim_names registered)
  n=$(pick_one "$idle")
  if [ -n "$n" ] && [ $((RANDOM % 10)) -lt 5 ]; then # an idle runner takes it
    sim_post jobs/take "{\"name\": \"$n\", \"job\": \"chaos-$JOB\"}" >/dev/null || true
  fi
  busy=$(sim_names busy)
  [ "$busy" != "[]" ] || [ "$1" != delete ] || busy=$(sim_names registered)
  n=$(pick_one "$busy")
  if [ -n "$n" ] && [ -z "$FIN_PID" ] && { [ "$1" = delete ] || [ $((RANDOM % 10)) -lt 6 ]; }; then
    # a job ends: the runner removes itself, its VM powers off (Nova's
    # os-stop, seconds on a loaded cloud: in the background), and GitHub
    # says so to whichever daemon runs then
    rm -f "$T/fin.done"
    (
      set +e
      RANDOM=$BASHPID # its deliveries' ids are not the main shell's next ones
      sim_post jobs/finish "{\"name\": \"$n\"}" >"$T/fin.json" || true
      hook completed "$JOB" -fin
      : >"$T/fin.done"
    ) &
    FIN_PID=$!
  fi
}

# drain SECONDS: read the daemon's events until its stdout closes (it died)
# or the bound passes; 0 when it closed.
drain() {
  local deadline=$((SECONDS + $1)) line
  while [ "$SECONDS" -lt "$deadline" ]; do
    if ! IFS= read -r -t $((deadline - SECONDS + 1)) line <&"$DFD"; then
      [ "$SECONDS" -lt "$deadline" ] && return 0
      return 1
    fi
    printf '%s\n' "$line" >>"$EV"
  done
  return 1
}

# classify: what the last kill hit (create, delete, observe, idle), and a
# line for the round's log. From the tap's record: the requests in flight,
# and the phase of the pass its last request was in (a pass observes, then
# deletes and waits for Nova, then creates); from the daemon's events: a
# pass event after that request means the pass was over (idle).
classify() {
  curl -sf "$TAP/kills" | /usr/bin/python3 -c '
import json, re, sys
kills = json.load(sys.stdin)["kills"]
if not kills or kills[-1]["round"] != int(sys.argv[2]):
    print("none")
    print("round %s: osrunnerd died before its kill" % sys.argv[2])
    print("error: it died by itself")
    sys.exit(0)
k = kills[-1]
evs = [json.loads(l) for l in open(sys.argv[1])]
start = max(i for i, e in enumerate(evs) if e["event"] == "start")
evs = evs[start:]
passes = [e for e in evs if e["event"] == "pass"]
over = k["last_request_at"] is None or bool(passes and passes[-1]["ts"] > k["last_request_at"])
lines = [r["line"] for r in k["inflight"]]
create = any(re.search(r"^nova POST /v2\.1/servers$|generate-jitconfig$|registration-token$", l) for l in lines)
delete = any(re.search(r"^nova (DELETE|GET) /v2\.1/servers/[0-9a-f-]{36}$|^github DELETE .*/actions/runners/[0-9]+$", l) for l in lines)
if create or (not over and k["phase"] == "create"):
    what = "create"
elif delete or (not over and k["phase"] == "delete"):
    what = "delete"
elif not over and k["phase"] == "observe" or lines:
    what = "observe"
else:
    what = "idle"
last = evs[-1]
print(what)
print("round %s: %s kill (%s%s) %d ms after arming: mid-%s (phase %s for %d ms%s), in flight: %s; last requests: %s; last event: %s" % (
      k["round"], k["mode"], k["why"], " on " + k["trigger"] if k["trigger"] else "", k["since_arm_ms"], what,
      k["phase"], k["phase_ms"], ", pass over" if over else "",
      ", ".join("%s (%d ms)" % (r["line"], r["ms"]) for r in k["inflight"]) or "nothing",
      " | ".join(k["recent"][-3:]), " ".join(str(last.get(x)) for x in ("event", "kind", "rule", "outcome", "result") if x in last)))
print("error: " + k["error"] if k["error"] else "alive")' "$EV" "$1"
}

MID_CREATE=0
MID_DELETE=0
MID_OBSERVE=0
KILLS_ALIVE=0
STARTS=0
declare -A MODES=()
T_START=$SECONDS
for r in $(seq 1 "$ROUNDS"); do
  tap_post reset '{}'
  if ! OS_CLIENT_CONFIG_FILE="$T/clouds-tap.yaml" daemon_start --config "$CFG" \
    --webhook-secret-file "$T/secret" --interval 5; then
    bad "round $r: osrunnerd restarts after a kill -9"
    break
  fi
  echo "$WURL" >"$T/wurl"
  STARTS=$((STARTS + 1))
  x=$((RANDOM % 100))
  if [ "$x" -lt 18 ]; then
    mode=create
    arm="{\"match\": \"^nova POST /v2\\\\.1/servers\$|generate-jitconfig\$|registration-token\$\", \"delay_ms\": $((RANDOM % 251))}"
  elif [ "$x" -lt 35 ]; then
    mode=create
    arm="{\"match\": \"^nova POST /v2\\\\.1/servers\$\", \"delay_ms\": $((RANDOM % 61))}"
  elif [ "$x" -lt 70 ]; then
    mode=delete
    arm="{\"match\": \"^nova DELETE /v2\\\\.1/servers/|^github DELETE .*/actions/runners/[0-9]+\$\", \"delay_ms\": $((RANDOM % 601))}"
  elif [ "$x" -lt 85 ]; then
    mode=request
    arm="{\"match\": \".\", \"nth\": $((RANDOM % 25 + 1)), \"delay_ms\": $((RANDOM % 101))}"
  else
    mode=delay
    arm="{\"delay_ms\": $((RANDOM % 6001))}"
  fi
  MODES[$mode]=$((${MODES[$mode]:-0} + 1))
  tap_post arm "$(/usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d.update(pid=int(sys.argv[2]), round=int(sys.argv[3]), mode=sys.argv[4], fallback_ms=5000); print(json.dumps(d))' "$arm" "$D_PID" "$r" "$mode")"
  churn "$mode"
  if ! drain 60; then # the tap's fallback kills within 5 s; this is a bound
    bad "round $r: the armed kill came"
    tap_post arm "{\"pid\": $D_PID, \"round\": $r, \"mode\": \"forced\"}"
    drain 30 || true
  fi
  pid=$D_PID
  daemon_kill KILL
  tap_post disarm '{}'
  mapfile -t C < <(classify "$r")
  echo "${C[1]}" | tee -a "$T/rounds.log"
  case ${C[0]} in
    create) MID_CREATE=$((MID_CREATE + 1)) ;;
    delete) MID_DELETE=$((MID_DELETE + 1)) ;;
    observe) MID_OBSERVE=$((MID_OBSERVE + 1)) ;;
  esac
  if [ "${C[2]}" = alive ] && [ "$DRC" = 137 ]; then
    KILLS_ALIVE=$((KILLS_ALIVE + 1))
  else
    bad "round $r: osrunnerd $pid was alive until the kill (exit $DRC, ${C[2]})"
    tail -5 "$T/d.err"
  fi
done
CHAOS_S=$((SECONDS - T_START))
check "$ROUNDS rounds, each a restart and a kill -9 of a live daemon ($KILLS_ALIVE)" [ "$KILLS_ALIVE" = "$ROUNDS" ]
echo "kill modes: $(for m in "${!MODES[@]}"; do printf '%s %s, ' "$m" "${MODES[$m]}"; done)placement: $MID_CREATE mid-create, $MID_DELETE mid-delete, $MID_OBSERVE mid-observe, the others between passes; ${CHAOS_S}s"
check "some kills hit a create in flight ($MID_CREATE)" [ "$MID_CREATE" -gt 0 ]
check "some kills hit a delete in flight ($MID_DELETE)" [ "$MID_DELETE" -gt 0 ]
ACCEPTED=$(events_count 'e["event"]=="webhook" and e["result"]=="accepted"')
check "the daemons took signed webhooks ($ACCEPTED accepted, $(events_count 'e["event"]=="trigger"') acted on before the kill)" \
  [ "$ACCEPTED" -gt 0 ]
echo "actions done over the rounds: $(/usr/bin/python3 -c '
import collections, json, sys
c = collections.Counter("%s %s %s" % (e["kind"], e["rule"], e["outcome"]) for e in map(json.loads, open(sys.argv[1])) if e["event"] == "action")
print(", ".join("%s: %d" % kv for kv in sorted(c.items())))' "$EV")"

# --- quiet: the jobs end, the last daemon converges
tap_post disarm '{}'
[ -z "$FIN_PID" ] || wait "$FIN_PID" || true
FIN_PID=
busy=$(sim_names busy)
if [ "$busy" != "[]" ]; then
  end_jobs() { sim_post jobs/finish "{\"names\": $busy}" >"$T/fin-last.json"; }
  check "the busy runners' jobs end" end_jobs
fi
tap_post reset '{}'
if ! OS_CLIENT_CONFIG_FILE="$T/clouds-tap.yaml" daemon_start --config "$CFG" \
  --webhook-secret-file "$T/secret" --interval 5; then
  bad "the last daemon starts"
  finish
fi
# booting VMs are not in the pass event: /metrics has them
booting() { metrics_value osrunner_runners "{\"pool\": \"$1\", \"state\": \"booting\"}"; }
# quiet SECONDS: until each pool has had a quiet pass (and acted no more)
quiet() {
  local deadline=$((SECONDS + $1)) p
  declare -A acted=([ch]=1 [ct]=1) calm=([ch]=0 [ct]=0)
  while wait_event $((deadline - SECONDS)) 'e["event"] in ("pass", "action")'; do
    p=$(field pool)
    if [ "$(field event)" = action ]; then
      acted[$p]=1 calm[$p]=0
      continue
    fi
    if [ "${acted[$p]}" = 0 ] && [ "$(field result)" = ok ] && [ "$(field idle)" = "${MINS[$p]}" ] &&
      [ "$(field busy)" = 0 ] && [ "$(field creates)" = 0 ] && [ "$(booting "$p")" = 0 ]; then
      calm[$p]=1
    fi
    acted[$p]=0
    [ "${calm[ch]}" = 0 ] || [ "${calm[ct]}" = 0 ] || return 0
  done
  return 1
}
T_QUIET=$SECONDS
check "a quiet pass of each pool: no action, min_idle idle, nothing busy or booting" quiet 420
echo "quiet after $((SECONDS - T_QUIET)) s"
kill -TERM "$D_PID"
check "the last daemon stops on SIGTERM" wait_event 60 'e["event"]=="stop"'
daemon_kill KILL

# --- the invariants, from the openstack CLI and the stand-in
check "Nova answers" wait_nova 180
servers_long() {
  $OPENSTACK --os-cloud ostb-admin --os-compute-api-version 2.79 server list --all-projects \
    --tags "osrunner-manager=$M" --long -f json >"$T/servers.json"
}
check "the openstack CLI lists our servers" servers_long
check "the stand-in lists the runners" bash -c "curl -sf '$OSR_GITHUB_FAKE_URL/_control/runners' >'$T/runners.json'"
/usr/bin/python3 - "$T/servers.json" "$T/runners.json" "repos/$GH_PATH" >"$T/inv.json" <<'PY'
import collections, json, sys
servers = json.load(open(sys.argv[1]))
runners = [r for r in json.load(open(sys.argv[2]))["runners"] if r["scope"] == sys.argv[3]]
by_name = collections.defaultdict(list)
for r in runners:
    by_name[r["name"]].append(r)
deleting = lambda s: (s.get("Task State") or "") == "deleting" or s["Status"] in ("DELETED", "SOFT_DELETED")
vm_leaks, record_leaks = [], []
for s in servers:
    md = s.get("Properties") or {}
    rid = md.get("osrunner-runner-id", "")
    recs = by_name.get(s["Name"], [])
    if deleting(s):
        continue                                      # being deleted
    if recs and (not rid or any(str(r["id"]) == rid for r in recs)):
        continue                                      # registered (JIT: even in BUILD)
    if not rid and s["Status"] == "BUILD":
        continue                                      # token mode, booting
    vm_leaks.append("%s %s task=%s runner-id=%s records=%s" % (s["Name"], s["Status"], s.get("Task State"), rid or "-",
                                                             [r["id"] for r in recs]))
live = {s["Name"] for s in servers if not deleting(s)}
for r in runners:
    if r["name"] not in live:
        record_leaks.append("%s id %s %s%s" % (r["name"], r["id"], r["status"], " busy" if r["busy"] else ""))
vm_names = collections.Counter(s["Name"] for s in servers)
rec_names = collections.Counter(r["name"] for r in runners)
dups = ["VM %s x%d" % (n, c) for n, c in vm_names.items() if c > 1] + \
       ["record %s x%d" % (n, c) for n, c in rec_names.items() if c > 1]
status = {s["Name"]: s["Status"] for s in servers if not deleting(s)}
pool = {s["Name"]: (s.get("Properties") or {}).get("osrunner-pool") for s in servers}
idle = [r["name"] for r in runners if r["status"] == "online" and not r["busy"] and status.get(r["name"]) == "ACTIVE"]
by_pool = lambda names: {p: sorted(n for n in names if pool.get(n) == p) for p in ("ch", "ct")}
json.dump({"vm_leaks": vm_leaks, "record_leaks": record_leaks, "duplicates": dups, "idle": by_pool(idle),
           "live": by_pool(live), "live_vms": sorted(live), "deleting": sorted(s["Name"] for s in servers if deleting(s)),
           "leaks": len(vm_leaks) + len(record_leaks) + sum(c - 1 for c in vm_names.values() if c > 1)
           + sum(c - 1 for c in rec_names.values() if c > 1)}, sys.stdout, indent=1)
PY
inv() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); v=eval(sys.argv[2]); print(v if not isinstance(v, list) else "; ".join(v))' "$T/inv.json" "$1"; }
echo "VMs: $(inv 'd["live_vms"]') (being deleted: $(inv 'd["deleting"]')); idle runners: $(inv 'd["idle"]["ch"] + d["idle"]["ct"]')"
check "every VM of ours is a registered runner or being deleted [$(inv 'd["vm_leaks"]')]" [ "$(inv 'len(d["vm_leaks"])')" = 0 ]
check "no runner record without a VM [$(inv 'd["record_leaks"]')]" [ "$(inv 'len(d["record_leaks"])')" = 0 ]
check "no duplicate names [$(inv 'd["duplicates"]')]" [ "$(inv 'len(d["duplicates"])')" = 0 ]
for p in ch ct; do
  check "pool $p is at min_idle: ${MINS[$p]} idle runners" [ "$(inv "len(d['idle']['$p'])")" = "${MINS[$p]}" ]
  check "... and no other VM of $p" [ "$(inv "len(d['live']['$p'])")" = "${MINS[$p]}" ]
done
LEAKS=$(inv 'd["leaks"]')
# The wasted JIT VMs (see the header): the simulator's session got 404.
WASTED=$(grep -o '[a-z]*-[a-z0-9]\{8\}: session: 404' "$T/sim.err" | sort -u | wc -l)
echo "JIT VMs whose record a restarted daemon deleted as a ghost while their create was in flight: $WASTED"
echo "chaos: $ROUNDS rounds, $MID_CREATE kills mid-create, $MID_DELETE mid-delete, leaks: $LEAKS"
check "leaks: 0 ($LEAKS)" [ "$LEAKS" = 0 ]
check "no JIT VM wasted: no record of a create in flight deleted as a ghost ($WASTED)" [ "$WASTED" = 0 ]
if [ -s "$T/d.err" ]; then
  echo "osrunnerd's stderr over all rounds (last 10 lines):"
  tail -10 "$T/d.err"
fi

# --- leave nothing: our VMs and runner records, with the CLI
T_CLEAN=$SECONDS
sim_stop
check "Nova answers (clean-up)" wait_nova 180
mapfile -t IDS < <(json_ids <"$T/ours.json")
if [ "${#IDS[@]}" -gt 0 ] && [ -n "${IDS[0]}" ]; then
  check "our VMs (${#IDS[@]}) deleted" "$OSRUNNER" instance delete --os-cloud ostb-demo "${IDS[@]}"
fi
mapfile -t RUNNERS < <(runners_json | /usr/bin/python3 -c 'import json,sys
print("\n".join(r["name"] for r in json.load(sys.stdin)["runners"] if r["scope"] == "repos/" + sys.argv[1]))' "$GH_PATH")
for n in "${RUNNERS[@]}"; do [ -z "$n" ] || delete_runner_named "$n"; done
none_left() {
  $OPENSTACK --os-cloud ostb-admin --os-compute-api-version 2.79 server list --all-projects \
    --tags "osrunner-manager=$M" -f json >"$T/left.json" &&
    [ "$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/left.json")" = 0 ]
}
check "no server of ours left (openstack CLI)" none_left
check "no runner of ours left (stand-in)" no_runners
check "no schema violation at the stand-in" no_violations
echo "runtime: $SECONDS s (rounds ${CHAOS_S} s, clean-up $((SECONDS - T_CLEAN)) s)"
finish
