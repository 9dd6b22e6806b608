#!/bin/bash
# Fault trial: a runner that takes a job in the middle of a pass that would
# delete it. The pool has one online idle runner (the fleet simulator plays
# it); the daemon passes only when triggered (--interval 3600), so no pass
# of its own can consume the stand-in's race hook. The hook
# (POST /_control/hooks {busy_after_list: NAME}) makes that runner busy right
# after the pass has listed it idle; the pass is SIGHUP's, to a min_idle of 0,
# so it plans idle-surplus for it. The delete at GitHub must get 422 and the
# action end "kept": the runner record and its VM stay. A later pass
# (triggered by a signed completed webhook) sees it busy and keeps it too.
# When its job ends (the simulator: the runner removes itself and powers the
# VM off) a pass triggered the same way deletes the finished VM, and the pool
# is at min_idle 0.
. "$OSR_SRC/tests/faults/daemon_faults_lib.sh"
sim_start

faults_config bz 1 2
check "daemon started" faults_daemon 3600
check "first pass ok" wait_event 300 'e["event"]=="pass" and e["pool"]=="bz" and e["result"]=="ok"'
check "... it created min_idle's runner" [ "$(events_count 'e["event"]=="action" and e["kind"]=="create" and e["outcome"]=="done"')" = 1 ]
wait_active "$M" 1
sim_sync
A=$(idle_runner bz)
check "the simulator brought runner $A online, idle" runner_named "$A"

# --- the race: busy right after the pass listed it
check "race hook set for $A" hook_set "{\"busy_after_list\": \"$A\"}"
faults_config bz 0 2
N0=$(ev_lines)
kill -HUP "$D_PID"
check "reload to min_idle 0: ok" wait_event 60 'e["event"]=="reload" and e["outcome"]=="ok"'
check "the pass plans idle-surplus for $A" wait_event 300 "e['event']=='action' and e['server']=='$A' and e['rule']=='idle-surplus'"
cp "$T/match.json" "$T/surplus.json"
check "... the hook fired (consumed by that pass's list)" bash -c "curl -sf '$OSR_GITHUB_FAKE_URL/_control/hooks' | grep -q '\"busy_after_list\":\[\]'"
check "... its outcome is kept ($(field outcome))" [ "$(field outcome)" = kept ]
check "... GitHub's 422 in its error" grep -q 'HTTP 422' "$T/surplus.json"
check "the pass ends" wait_event 120 'e["event"]=="pass" and e["pool"]=="bz"'
check "... and nothing of $A was deleted" [ "$(tail -n +$((N0 + 1)) "$EV" | grep -F "\"$A\"" | grep -c '"outcome": *"done"' || true)" = 0 ]
check "$A's VM is still in Nova" server_named "$A"
check "$A's runner record is still there" runner_named "$A"
busy_at_github() { runners_json | /usr/bin/python3 -c 'import json,sys; sys.exit(0 if any(r["name"]==sys.argv[1] and r["busy"] for r in json.load(sys.stdin)["runners"]) else 1)' "$1"; }
check "... and busy" busy_at_github "$A"

# --- a later pass sees it busy and keeps it
N1=$(ev_lines)
check "a signed completed webhook: 202" [ "$(signed_job completed 9100$$)" = 202 ]
check "... triggers a pass" wait_event 60 'e["event"]=="trigger" and e["pool"]=="bz"'
check "... which sees one busy runner" wait_event 300 'e["event"]=="pass" and e["pool"]=="bz" and e["busy"]==1'
check "... and deletes nothing" [ "$(deletes_since "$N1")" = 0 ]
check "$A's VM is still in Nova" server_named "$A"

# --- its job ends: the finished VM goes
check "the job ends (the runner removes itself, the VM powers off)" sim_post jobs/finish "{\"name\": \"$A\"}"
wait_status "$M" bz SHUTOFF 1
check "a signed completed webhook: 202" [ "$(signed_job completed 9200$$)" = 202 ]
check "... the pass deletes the finished VM" wait_event 300 "e['event']=='action' and e['server']=='$A' and e['rule']=='finished-vm' and e['outcome']=='done'"
check "... the pass ends ok" wait_event 120 'e["event"]=="pass" and e["pool"]=="bz" and e["result"]=="ok"'
check "the pool is at min_idle 0: no VM" no_servers "$M"
check "... and no runner record" no_runners
faults_end
finish
