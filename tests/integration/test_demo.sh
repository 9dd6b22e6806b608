#!/bin/bash
# scripts/demo, the README's first command, kept honest: it runs with
# --no-setup against the running local cloud and GitHub stand-in, with the
# dev binaries (OSRUNNER, OSRUNNERD) and a manager id and repository of this
# test's own. Its output must show every stage (the pool converging to 2 idle
# runners, a queued job's webhook and the runner created for it, the job taken
# and its runner replaced, the finished VM deleted, /metrics, pool status, the
# stop), it must exit 0, and nothing of it may be left: no server of ours
# (openstack CLI), no runner record (the stand-in), no image, no process.
set -e
. "$(dirname "$0")/lib.sh"
. "$OSR_SRC/tests/integration/pool_lib.sh"
: "${OSRUNNERD:?OSRUNNERD must name the osrunnerd binary}"

DEMO_DIR="$T/demo"
OUT="$T/demo.out"
set +e
OSR_DEMO_MANAGER="$M" OSR_DEMO_REPO="$GH_PATH" OSR_DEMO_DIR="$DEMO_DIR" OSR_GITHUB_DIR="$GH_DIR" \
  OSRUNNER="$OSRUNNER" OSRUNNERD="$OSRUNNERD" OSR_CLOUD_DIR="$OSR_CLOUD_DIR" \
  bash "$OSR_SRC/scripts/demo" --no-setup >"$OUT" 2>&1 </dev/null
DEMO_RC=$?
set -e
check "scripts/demo --no-setup exits 0 ($DEMO_RC; $(sed -n 's/^==== done in //p' "$OUT"))" [ "$DEMO_RC" = 0 ]
has() { grep -qE -- "$1" "$OUT"; }
check "it uses no fixed sleep" not grep -qw sleep "$OSR_SRC/scripts/demo"
check "it installs its clouds.yaml and lists the projects" has '^ID +NAME +ENABLED'
check "the simulator starts for this manager" has "^ready http://127.0.0.1:[0-9]+ .*manager $M"
check "the daemon's start event, as text" has '^  [0-9:]{8} start version=.* pools=1 .*metrics_port=[1-9]'
check "the pool converges: 2 creates" [ "$(grep -cE '^  [0-9:]{8} action pool=demo kind=create rule=missing .*min_idle 2 outcome=done' "$OUT")" = 2 ]
check "... then a pass with 2 idle runners" has 'pass pool=demo result=ok state=ok queued=0 idle=2 busy=0 desired=2'
check "... and /healthz says ready" has '^pool demo: ready$'
check "the signed queued webhook is accepted (202)" has '^POST /webhook  workflow_job queued, job [0-9]+  ->  202$'
check "... creates one runner above min_idle at once" has 'action pool=demo kind=create rule=queued-job .*outcome=done'
check "... and triggers a pass" has 'trigger pool=demo job_action=queued'
check "a runner takes the job" has '^runner demo-[a-z0-9]{8} is busy$'
BUSY=$(sed -n 's/^runner \(demo-[a-z0-9]\{8\}\) is busy$/\1/p' "$OUT")
check "in_progress and completed are accepted (202)" [ "$(grep -cE '^POST /webhook  workflow_job (in_progress|completed), job [0-9]+  ->  202$' "$OUT")" = 2 ]
check "the taken runner is replaced: 1 busy, 2 idle" has 'pass pool=demo result=ok .* idle=2 busy=1'
check "the job finishes, the VM is off" has "^runner $BUSY finished \(Succeeded\), VM SHUTOFF$"
check "the finished VM ($BUSY) is deleted" has "action pool=demo kind=delete-vm rule=.* outcome=done server=$BUSY\$"
check "/metrics: 2 idle runners" has '^osrunner_runners\{pool="demo",state="idle"\} 2$'
check "/metrics: 3 webhooks accepted" has '^osrunner_webhooks_total\{event="workflow_job",result="accepted"\} 3$'
check "/metrics: the finished-vm delete counted" has '^osrunner_reconcile_actions_total\{pool="demo",kind="delete-vm",rule="finished-vm",outcome="done"\} 1$'
check "osrunner pool status: demo, 2 idle, 0 busy" has '^demo +0 +2 +0 +0 +0 +0 +2 +[0-9]+ +ok$'
check "SIGTERM: the stop event" has 'stop signal=Terminated'
check "... exit 0" has '^osrunnerd exited 0$'
check "the flush removes the idle runners" has 'delete-runner-then-vm +idle-surplus +demo-'
check "the demo says nothing is left" has "^left: 0 VMs of manager $M, 0 runner records in $GH_PATH"
check "the events were JSON lines on the pipe" bash -c "/usr/bin/python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' '$DEMO_DIR/events.jsonl'"
check "the webhook secret is in no output" not grep -qf "$DEMO_DIR/hook.secret" "$OUT" "$DEMO_DIR/events.jsonl" "$DEMO_DIR/osrunnerd.err"

# --- nothing left, as others see it
our_servers() {
  $OPENSTACK --os-compute-api-version 2.26 --os-cloud ostb-admin server list --all-projects \
    --tags "osrunner-manager=$M" -f json | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}
check "no server of ours left (openstack CLI)" [ "$(our_servers)" = 0 ]
check "no runner of ours left (stand-in)" no_runners
check "no image of the demo left" [ -z "$($OPENSTACK --os-cloud ostb-admin image list --name "osr-demo-image-$M" -f value -c ID)" ]
procs_of_demo() { # the pids whose command line names the demo's directory
  /usr/bin/python3 -c '
import os, sys
for p in os.listdir("/proc"):
    if p.isdigit() and int(p) != os.getpid():
        try:
            if sys.argv[1].encode() in open("/proc/%s/cmdline" % p, "rb").read():
                print(p)
        except OSError:
            pass' "$DEMO_DIR"
}
check "no process of the demo left" [ -z "$(procs_of_demo)" ]
check "no schema violation at the stand-in" no_violations
[ "$FAILS" = 0 ] || { echo "--- the demo's output"; cat "$OUT"; }
finish
