#!/bin/bash
# The pool engine is quota-aware: with the demo project's quota set low with
# the openstack CLI, plan says "blocked-by-quota" with the resource, used and
# limit, and reconcile sends no create beyond the headroom (Nova is never
# asked for what it would refuse). Instances, then cores. Runs serially (it
# changes the project's quota; the EXIT trap restores it).
set -e
. "$(dirname "$0")/lib.sh"
. "$OSR_SRC/tests/integration/pool_lib.sh"
PROJECT=$($OPENSTACK --os-cloud ostb-demo token issue -f value -c project_id)
read -r Q_INST Q_CORES < <($OPENSTACK --os-cloud ostb-admin quota show "$PROJECT" -f json |
  /usr/bin/python3 -c 'import json,sys; q=json.load(sys.stdin); print(q["instances"], q["cores"])')
restore_quota() {
  $OPENSTACK --os-cloud ostb-admin quota set --instances "$Q_INST" --cores "$Q_CORES" "$PROJECT" >/dev/null 2>&1 || true
  pool_cleanup_trap
}
trap restore_quota EXIT
sim_start
# What Nova counts as used (SHUTOFF and ERROR servers included).
USED=$($OPENSTACK --os-cloud ostb-demo limits show --absolute -f json |
  /usr/bin/python3 -c 'import json,sys; print(next(r["Value"] for r in json.load(sys.stdin) if r["Name"]=="totalInstancesUsed"))')

# --- instances: room for 2 more than the project has now
$OPENSTACK --os-cloud ostb-admin quota set --instances $((USED + 2)) "$PROJECT"
write_config "$CFG" "$M" "$GH_PATH" "$(pool_block qa 4 6)"
plan q1 qa
check "plan: blocked by quota, instances used/limit" \
  grep -q "\"state\": \"blocked-by-quota: instances $USED/$((USED + 2))" "$T/q1.out"
check "plan: headroom 2" [ "$(figure "$T/q1.out" headroom)" = 2 ]
check "plan: 2 creates of the 4 wanted" [ "$(actions "$T/q1.out" create missing)" = 2 ]
check "plan: quota in the JSON" \
  pj "$T/q1.out" 'q=d["pools"][0]["quota"]["instances"]; sys.exit(0 if q["max"]==int(sys.argv[2]) else 1)' $((USED + 2))
run q1s pool status qa --config "$CFG"
check "status: says blocked-by-quota" grep -q "blocked-by-quota: instances" "$T/q1s.out"
POSTS_BEFORE=$(grep -c '"POST /v2.1/servers' "$OSR_CLOUD_DIR/log/nova-api.log" || true)
reconcile q2 qa
check "reconcile: exit 0" [ "$RC" = 0 ]
check "reconcile: exactly 2 creates done" [ "$(actions "$T/q2.out" create missing)" = 2 ]
POSTS_AFTER=$(grep -c '"POST /v2.1/servers' "$OSR_CLOUD_DIR/log/nova-api.log" || true)
check "Nova got exactly 2 POST /servers" [ $((POSTS_AFTER - POSTS_BEFORE)) = 2 ]
wait_active "$M" 2
# Their runners come online (the simulator plays the VMs), so that the
# plans below do not depend on the clock: a runner still offline past the
# 4 s bootstrap timeout would be planned as never-online and replaced.
sim_sync
plan q3 qa
check "at the limit: headroom 0" [ "$(figure "$T/q3.out" headroom)" = 0 ]
check "at the limit: no create" [ "$(actions "$T/q3.out" create missing)" = 0 ]
check "... state blocked-by-quota: instances full" \
  grep -q "\"state\": \"blocked-by-quota: instances $((USED + 2))/$((USED + 2))" "$T/q3.out"

# --- cores: the quota of vCPUs is what limits now (m1.tiny has 1)
CORES_USED=$(pj "$T/q3.out" 'print(d["pools"][0]["quota"]["cores"]["used"])')
$OPENSTACK --os-cloud ostb-admin quota set --instances "$Q_INST" --cores $((CORES_USED + 1)) "$PROJECT"
plan q4 qa
check "cores: blocked by quota, cores used/limit" \
  grep -q "\"state\": \"blocked-by-quota: cores $CORES_USED/$((CORES_USED + 1))" "$T/q4.out"
check "cores: no never-online (the runners are online)" [ "$(rule_count "$T/q4.out" never-online)" = 0 ]
check "cores: 1 create of the 2 wanted" [ "$(actions "$T/q4.out" create missing)" = 1 ]
check "cores: headroom_cores 1" [ "$(figure "$T/q4.out" headroom_cores)" = 1 ]

# --- -1 is unlimited
$OPENSTACK --os-cloud ostb-admin quota set --instances -1 --cores -1 "$PROJECT"
plan q5 qa
check "unlimited: state ok" grep -q '"state": "ok"' "$T/q5.out"
check "unlimited: 2 idle" [ "$(figure "$T/q5.out" idle)" = 2 ]
check "unlimited: 2 creates (4 wanted, 2 idle)" [ "$(actions "$T/q5.out" create missing)" = 2 ]
check "unlimited: quota max -1 in the JSON" \
  pj "$T/q5.out" 'sys.exit(0 if d["pools"][0]["quota"]["instances"]["max"]==-1 else 1)'

$OPENSTACK --os-cloud ostb-admin quota set --instances "$Q_INST" --cores "$Q_CORES" "$PROJECT"
write_config "$CFG" "$M" "$GH_PATH" "$(pool_block qa 0 6)"
drain qa
check "nothing of ours is left in Nova" no_servers "$M"
check "nothing of ours is left at GitHub" no_runners
check "Prism saw no schema violation" no_violations
finish
