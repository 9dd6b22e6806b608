#!/bin/bash
# Fault trial: a pool pass while nova-api is down, and while GitHub answers
# 5xx, deletes nothing: the pool has finished (SHUTOFF) VMs and min_idle 0,
# so a pass that took the missing lists for empty ones would delete. The
# pass says what it could not read and exits 12; once nova-api is back, the
# next pass does its work. The EXIT trap starts nova-api again and removes
# what the trial made.
set -e
. "$OSR_SRC/tests/integration/lib.sh"
. "$OSR_SRC/tests/integration/pool_lib.sh"
SERVICE="$OSR_SRC/tests/cloud/service"
outage_cleanup() {
  "$SERVICE" start nova-api >/dev/null 2>&1 || true
  pool_cleanup_trap
}
trap outage_cleanup EXIT
sim_start

write_config "$CFG" "$M" "$GH_PATH" "$(pool_block po 2 4)"
reconcile up1 po
wait_active "$M" 2
sim_sync
A=$(idle_runner po)
sim_post jobs/take "{\"name\": \"$A\"}" >/dev/null
sim_post jobs/finish "{\"name\": \"$A\"}" >/dev/null
write_config "$CFG" "$M" "$GH_PATH" "$(pool_block po 0 4)"
plan before po
check "before the outage: the finished VM would be deleted" outcome_of "$T/before.out" "$A" planned finished-vm

# --- nova-api down
"$SERVICE" stop nova-api
reconcile down po
check "nova-api down: exit 12" [ "$RC" = 12 ]
check "... it says servers could not be read" grep -q '"state": "observe-failed: servers' "$T/down.out"
check "... and deletes nothing" bash -c "! grep -q '\"kind\": \"delete' '$T/down.out'"
"$SERVICE" start nova-api
check "after the outage both VMs are still there" [ "$(servers_json "$M" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 2 ]

# --- GitHub 5xx on the runner list (Prism turns the fake's broken answer into a 500)
write_config "$CFG" "$M" "schema-drift/x" "$(pool_block po 0 4 schema-drift/x)"
reconcile gh5xx po
check "GitHub 5xx: exit 12" [ "$RC" = 12 ]
check "... observe-failed: runners, and nothing deleted" \
  bash -c "grep -q '\"state\": \"observe-failed: runners' '$T/gh5xx.out' && ! grep -q '\"kind\": \"delete' '$T/gh5xx.out'"

# --- back to normal: the finished VM goes, then the idle one
write_config "$CFG" "$M" "$GH_PATH" "$(pool_block po 0 4)"
reconcile after po
check "after: the finished VM is deleted" outcome_of "$T/after.out" "$A" "done" finished-vm
drain po
check "nothing of ours is left in Nova" no_servers "$M"
check "nothing of ours is left at GitHub" no_runners
finish
