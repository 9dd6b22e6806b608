#!/bin/bash
# Fault trial: Nova's API stopped in the middle of a create, while osrunnerd
# runs (passes every 5 s). The pool (min_idle 1, max_runners 3) has its one
# idle runner (the fleet simulator plays it). A signed queued workflow_job
# asks for one more; nova-api is stopped right after the 202, so the pass
# the webhook triggers races the stop. Each outcome proves something, and
# the trial says which one it got:
# (With the daemon's fast path the queued job's create is tried at once,
# without a pass: a "grow" event and a create action of rule queued-job.)
# - "before": the pass could not read the servers (observe_failed): it sends
#   no create and deletes nothing without the list;
# - "mid-create": the list was read, the create's POST failed (action
#   failed): the JIT runner record made for it must not be left behind;
# - "after": the create went through before nova-api went: the VM must be
#   counted once, not made again.
# In every case: the daemon keeps running and answering, passes during the
# outage fail (servers unreadable) and delete nothing; once nova-api is back
# the daemon recovers by itself, the job gets its runner, and when the job
# is done (a signed completed webhook) the surplus goes: no two VMs of one
# name, no runner record without a VM, no VM without a record, never more
# than max_runners VMs, the pool at min_idle. A second round stops nova-api
# as soon as a create's JIT record appears (SIGHUP to min_idle 3): the pass
# must end in bounded time while nova-api is down (the creates' deadline,
# also for a create in doubt: the pool's next pass finds a VM it made by
# its tags), not wait for it, and the same counts hold after the restart. The EXIT trap starts nova-api
# again whatever happens.
. "$OSR_SRC/tests/faults/daemon_faults_lib.sh"
sim_start
MAXSEEN=0
# servers_now N: our VMs in Nova are N (and the most ever seen is kept)
servers_now() { local n; n=$(n_servers); [ "$n" -le "$MAXSEEN" ] || MAXSEEN=$n; [ "$n" = "$1" ]; }
# outcome N0: which way the race went, from the events after line N0
outcome() {
  local creates
  creates=$(tail -n +$(($1 + 1)) "$EV" | /usr/bin/python3 -c 'import json,sys
print(" ".join(json.loads(l)["outcome"] for l in sys.stdin if json.loads(l).get("kind")=="create"))')
  case "$(field result):$creates" in
    observe_failed:) OUTCOME=before ;;
    *failed*) OUTCOME=mid-create ;;
    *:done | *:"done done") OUTCOME=after ;;
    *) OUTCOME="unexpected ($(field result), creates: ${creates:-none})" ;;
  esac
  echo "     (outcome: $OUTCOME; creates: ${creates:-none}; pass: $(field state))"
  check "the outcome is one of before, mid-create, after ($OUTCOME)" bash -c "case '$OUTCOME' in before|mid-create|after) ;; *) false ;; esac"
}

faults_config nv 1 3
check "daemon started" faults_daemon
check "first pass ok" wait_event 300 'e["event"]=="pass" and e["pool"]=="nv" and e["result"]=="ok"'
wait_active "$M" 1
sim_sync
check "one idle runner" [ "$(idle_runners nv)" != "[]" ]
check "one VM of ours" servers_now 1

# --- the race: a queued job, and nova-api stopped right after its 202
JOB=7100$$
N0=$(ev_lines)
check "a signed queued job: 202" [ "$(signed_job queued "$JOB")" = 202 ]
svc_stop nova-api
check "... it triggered a pass" wait_event 60 "e['event']=='trigger' and e['pool']=='nv' and e['job_id']==$JOB"
check "... which ends" wait_event 300 'e["event"]=="pass" and e["pool"]=="nv"'
cp "$T/match.json" "$T/raced.json"
outcome "$N0"
check "... that pass deleted nothing" [ "$(deletes_since "$N0")" = 0 ]

# --- the outage goes on: the passes fail, nothing is deleted
N1=$(ev_lines)
check "a pass during the outage fails on the servers" wait_event 60 'e["event"]=="pass" and e["pool"]=="nv" and e["result"]=="observe_failed" and "servers" in e["state"]'
check "... and creates nothing" [ "$(field creates)" = 0 ]
check "... the failing service: compute ($(field service))" [ "$(field service)" = compute ]
check "/healthz answers during the outage" answers "$MURL/healthz"
check "/metrics answers and parses during the outage" metrics_parse
check "... observe_failed counted" [ "$(passes_total nv observe_failed)" -ge 1 ]
check "... Nova's unanswered requests counted (status 0)" [ "$(metrics_value osrunner_api_requests_total '{"pool": "nv", "service": "compute", "status": "0"}')" -ge 1 ]
check "nothing deleted during the outage" [ "$(deletes_since "$N1")" = 0 ]

# --- nova-api back: recovery by itself
svc_start nova-api
check "after nova-api is back a pass is ok" wait_event 120 'e["event"]=="pass" and e["pool"]=="nv" and e["result"]=="ok"'
check "... with the job still queued (desired $(field desired))" [ "$(field desired)" = 2 ]
wait_active "$M" 2
check "the job got its runner: two VMs, not more" servers_now 2
check "no two VMs of one name" fleet_ok dups
sim_sync
check "the next pass sees two idle runners" wait_event 60 'e["event"]=="pass" and e["pool"]=="nv" and e["result"]=="ok" and e["idle"]==2'
check "... and creates nothing more" [ "$(field creates)" = 0 ]
check "no runner record without a VM (a failed create's JIT record went)" fleet_ok orphans
check "no VM without a runner record" fleet_ok bare

# --- the job is done: the surplus goes, the pool is at min_idle
N2=$(ev_lines)
check "a signed completed webhook: 202" [ "$(signed_job completed "$JOB")" = 202 ]
check "... the pass deletes the idle surplus" wait_event 120 'e["event"]=="action" and e["pool"]=="nv" and e["rule"]=="idle-surplus" and e["outcome"]=="done"'
check "... a pass then has one idle runner and nothing to do" wait_event 60 'e["event"]=="pass" and e["pool"]=="nv" and e["result"]=="ok" and e["idle"]==1 and e["desired"]==1 and e["creates"]==0'
check "... the only delete since the job ended ($(deletes_since "$N2"))" [ "$(deletes_since "$N2")" = 1 ]
check "the pool is at min_idle: one VM" servers_now 1
check "... one runner record, of that VM" fleet_ok orphans
check "... no VM without one" fleet_ok bare
check "no two VMs of one name" fleet_ok dups
check "creates done so far: 2 (min_idle's and the job's) ($(events_count 'e["event"]=="action" and e["kind"]=="create" and e["outcome"]=="done"'))" \
  [ "$(events_count 'e["event"]=="action" and e["kind"]=="create" and e["outcome"]=="done"')" = 2 ]

# --- round 2, closer to the create: SIGHUP to min_idle 3 (two creates), and
# nova-api stopped as soon as the stand-in has the first new runner record
# (the JIT config of a create: its POST /servers comes next)
R0=$(n_runners)
N3=$(ev_lines)
faults_config nv 3 3
kill -HUP "$D_PID"
more_runners() { local end=$((SECONDS + 120)); until [ "$(n_runners)" -gt "$R0" ]; do [ $SECONDS -lt $end ] || return 1; done; }
check "reload to min_idle 3; a create's runner record appears" more_runners
svc_stop nova-api
check "... the reload was ok" wait_event 60 'e["event"]=="reload" and e["outcome"]=="ok"'
check "the daemon answers /healthz meanwhile" answers "$MURL/healthz"
# A pass must not hang on a service that is down (the loop has other pools,
# grows and reloads to run): it ends, failed or not, and backs off.
# The bound: the creates' deadline (60 s + 2 s each) and a request in
# flight. A create in doubt (nova-api stopped while its POST was in flight)
# is not looked up past it: a VM it made carries the pool's tags, and its
# runner record went, so a later pass counts it and replaces it if it never
# comes online (osr_launch_options.in_doubt_s). Never an orphan.
if wait_event 150 'e["event"]=="pass" and e["pool"]=="nv"'; then
  ok "... its pass ends while nova-api is down (within 150 s: the creates' deadline, a create in doubt included)"
  svc_start nova-api
else
  bad "... its pass ends while nova-api is down (within 150 s): it still waits for Nova"
  svc_start nova-api
  check "... it ends once nova-api is back" wait_event 300 'e["event"]=="pass" and e["pool"]=="nv"'
fi
outcome "$N3"
check "... that pass deleted nothing" [ "$(deletes_since "$N3")" = 0 ]
check "after nova-api is back a pass is ok" wait_event 120 'e["event"]=="pass" and e["pool"]=="nv" and e["result"]=="ok"'
wait_active "$M" 3
check "three VMs, not more" servers_now 3
sim_sync
check "a pass sees three idle runners and creates nothing" wait_event 60 'e["event"]=="pass" and e["pool"]=="nv" and e["result"]=="ok" and e["idle"]==3 and e["creates"]==0'
check "no two VMs of one name" fleet_ok dups
check "no runner record without a VM" fleet_ok orphans
check "no VM without a runner record" fleet_ok bare
faults_config nv 1 3
kill -HUP "$D_PID"
check "back to min_idle 1: a pass with one idle runner and nothing to do" wait_event 120 'e["event"]=="pass" and e["pool"]=="nv" and e["result"]=="ok" and e["idle"]==1 and e["desired"]==1 and e["creates"]==0 and e["busy"]==0'
check "the pool is at min_idle: one VM" servers_now 1
check "... its runner record only" fleet_ok orphans
check "never more than max_runners (3) VMs seen ($MAXSEEN)" [ "$MAXSEEN" -le 3 ]
faults_end
finish
