#!/bin/bash
# The pool engine against the local cloud, the GitHub stand-in and the fleet
# simulator (tests/sim), as issue 11 asks: a pool converges to min_idle; a
# job taken is replaced; a finished (SHUTOFF) VM is deleted; a runner that
# goes busy between observe and act survives the scale-down (GitHub's 422);
# a VM that never registers goes after the bootstrap timeout; ERROR VMs are
# replaced with no runner record left; a ghost record goes; another
# manager's VMs and runners and a runner made by hand are untouched; GitHub
# failing during observe deletes nothing (exit 12). At the end the openstack
# CLI and the stand-in show nothing of ours left.
set -e
. "$(dirname "$0")/lib.sh"
. "$OSR_SRC/tests/integration/pool_lib.sh"
sim_start

write_config "$CFG" "$M" "$GH_PATH" "$(pool_block lc 3 6)"

# --- converge from empty to 3 idle runners
reconcile conv1
check "empty pool: exit 0" [ "$RC" = 0 ]
check "empty pool: 3 creates by rule missing" [ "$(actions "$T/conv1.out" create missing)" = 3 ]
wait_active "$M" 3
sim_sync
reconcile conv2
check "3 registered: 3 idle" [ "$(figure "$T/conv2.out" idle)" = 3 ]
check "3 registered: no action" [ "$(count_actions "$T/conv2.out")" = 0 ]
check "servers carry the pool tag and the runner id" server_tags_ok "$M" lc
check "runner and VM share one name, POOL-xxxxxxxx" names_ok "$M" lc

# --- a job is taken: the next pass creates a replacement
JOB1=$(idle_runner lc)
sim_post jobs/take "{\"name\": \"$JOB1\"}" >/dev/null
reconcile job1
check "a busy runner: one create to keep 3 idle" [ "$(actions "$T/job1.out" create missing)" = 1 ]
check "a busy runner: counted busy" [ "$(figure "$T/job1.out" busy)" = 1 ]
check "a busy runner: no action on it" bash -c "! grep -q '\"server_name\": \"$JOB1\"' '$T/job1.out'"
wait_active "$M" 4
sim_sync

# --- the job finishes: the runner removes itself, the VM powers off, the pass deletes it
sim_post jobs/finish "{\"name\": \"$JOB1\"}" >/dev/null
reconcile fin1
check "the finished VM is deleted (rule finished-vm)" outcome_of "$T/fin1.out" "$JOB1" "done" finished-vm
check "... and gone from Nova" not server_named "$JOB1"
check "... and no create: 3 idle remain" [ "$(actions "$T/fin1.out" create missing)" = 0 ]

# --- the race: a runner goes busy right after the pass read the list. The
#     hook makes every idle runner busy just after the list was answered, so
#     whichever the scale-down picks took a job between observe and act.
write_config "$CFG" "$M" "$GH_PATH" "$(pool_block lc 2 6)"
IDLE=$(idle_runners lc)
fake_post _control/hooks "{\"busy_after_list\": $IDLE}" >/dev/null
reconcile race
VICTIM=$(action_server "$T/race.out" idle-surplus)
check "scale-down 3 -> 2 picks one idle runner" [ "$(actions "$T/race.out" delete-runner-then-vm idle-surplus)" = 1 ]
check "... which took a job meanwhile: kept (GitHub's 422)" outcome_of "$T/race.out" "$VICTIM" kept idle-surplus
check "... exit 0: a kept runner is not a failure" [ "$RC" = 0 ]
check "... and its VM still exists" server_named "$VICTIM"
for r in $(pj "$T/race.out" 'print(" ".join(json.loads(sys.argv[2])))' "$IDLE"); do
  sim_post jobs/finish "{\"name\": \"$r\"}" >/dev/null
done
reconcile race2
check "their jobs done, their VMs go as finished ones" \
  [ "$(rule_count "$T/race2.out" finished-vm)" = 3 ]
check "... the one the race kept among them" outcome_of "$T/race2.out" "$VICTIM" "done" finished-vm

# --- a VM that never registers goes after the bootstrap timeout (4 s here)
write_config "$CFG" "$M" "$GH_PATH" "$(pool_block lc 3 6)"
reconcile nev1
NEVER=$(action_server "$T/nev1.out" missing)
sim_post hooks "{\"never_register\": [\"$NEVER\"]}" >/dev/null
wait_active "$M" 3
sim_sync
wait_rule never-online lc
reconcile nev2
check "never online: deleted after the bootstrap timeout" outcome_of "$T/nev2.out" "$NEVER" "done" never-online
check "... its runner record is gone too" not runner_named "$NEVER"
check "... and it is replaced" [ "$(actions "$T/nev2.out" create missing)" = 1 ]
wait_active "$M" 3
sim_sync

# --- ERROR VMs (NoValidHost) are replaced, and no runner record is left behind
write_config "$CFG" "$M" "$GH_PATH" "$(pool_block lc 3 6)
$(pool_block er 1 2 "$GH_PATH" osr.toobig)"
reconcile err1 er
wait_status "$M" er ERROR 1
reconcile err2 er
ERR_NAME=$(action_server "$T/err2.out" error-vm)
check "an ERROR VM: its runner, then the VM (rule error-vm)" outcome_of "$T/err2.out" "$ERR_NAME" "done" error-vm
check "... and a replacement is created" [ "$(actions "$T/err2.out" create missing)" = 1 ]
check "... the ERROR VM's runner record is gone" not runner_named "$ERR_NAME"

# --- a ghost record (ours by name shape and ownership label, no VM) goes; a
#     human's runner with a look-alike name, and another manager's, stay
jit_runner lc-ghost000 "self-hosted,pool-test,osrunner-manager-$M"
jit_runner lc-human000 "self-hosted,pool-test"
jit_runner lc-other000 "self-hosted,pool-test,osrunner-manager-$M-b"
reconcile ghost lc
check "the ghost record is deleted (rule ghost-runner)" outcome_of "$T/ghost.out" "" "done" ghost-runner
check "... it is gone" not runner_named lc-ghost000
check "a human's look-alike runner is untouched" runner_named lc-human000
check "another manager's look-alike runner is untouched" runner_named lc-other000

# --- another manager on the same project and repository: its VM and runner stay
CFG_B="$T/osrunner-b.yaml"
write_config "$CFG_B" "$M-b" "$GH_PATH" "$(pool_block lc 1 2)"
reconcile other lc "$CFG_B"
OTHER_VM=$(action_server "$T/other.out" missing)
wait_active "$M-b" 1

# --- GitHub failing during observe: no destructive action, exit 12
write_config "$CFG" "$M" "schema-drift/x" "$(pool_block lc 0 6 schema-drift/x)"
reconcile drift lc
check "runner list broken: exit 12" [ "$RC" = 12 ]
check "... state observe-failed: runners" grep -q '"state": "observe-failed: runners' "$T/drift.out"
check "... nothing is deleted although min_idle is 0" bash -c "! grep -q '\"kind\": \"delete' '$T/drift.out'"

# --- clean up through the engine itself: min_idle 0 drains the pools
write_config "$CFG" "$M" "$GH_PATH" "$(pool_block lc 0 6)
$(pool_block er 0 2 "$GH_PATH" osr.toobig)"
drain lc
drain er
check "the other manager's VM survived our drain" server_named "$OTHER_VM"
check "the other manager's runner survived our drain" runner_named "$OTHER_VM"
check "the human's runner survived our drain" runner_named lc-human000
write_config "$CFG_B" "$M-b" "$GH_PATH" "$(pool_block lc 0 2)"
wait_rule never-online lc "$CFG_B"
drain lc "$CFG_B"
check "the other manager's look-alike runner went with its own manager's pass (its ghost)" \
  outcome_of "$T/other.out" "" "done" ghost-runner
check "the human's runner survived both drains" runner_named lc-human000
delete_runner_named lc-human000
check "nothing of ours is left in Nova" no_servers "$M"
check "nothing of the other manager is left in Nova" no_servers "$M-b"
check "nothing of ours is left at GitHub" no_runners
check "Prism saw no schema violation" no_violations
finish
