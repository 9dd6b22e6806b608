# Helpers of the daemon's fault trials (tests/faults/test_daemon_*.sh): the
# test's helpers (lib.sh, pool_lib.sh, daemon_lib.sh), a webhook secret, an
# EXIT trap that starts again every service the trial stopped and removes
# what it made, and the common end of every trial: SIGTERM (stop event, exit
# 0), then our VMs and runner records deleted with the CLI and counted
# independently (openstack CLI, the stand-in), no schema violation.
# Source it from the trial with OSR_SRC set.
# shellcheck shell=bash disable=SC2034
set -e
. "$OSR_SRC/tests/integration/lib.sh"
. "$OSR_SRC/tests/integration/pool_lib.sh"
. "$OSR_SRC/tests/integration/daemon_lib.sh"
SERVICE="$OSR_SRC/tests/cloud/service"
SECRET="faults-secret-$$-$RANDOM"
printf '%s\n' "$SECRET" >"$T/secret"
chmod 600 "$T/secret"
STOPPED=() # services this trial stopped and has not started again

svc_stop() { STOPPED+=("$1"); "$SERVICE" stop "$1" >/dev/null; }
svc_start() {
  "$SERVICE" start "$1" >/dev/null
  local s keep=()
  for s in "${STOPPED[@]}"; do [ "$s" = "$1" ] || keep+=("$s"); done
  STOPPED=("${keep[@]}")
}
faults_trap() {
  local s
  for s in "${STOPPED[@]}"; do "$SERVICE" start "$s" >/dev/null 2>&1 || true; done
  daemon_trap
}
trap faults_trap EXIT

# faults_pool NAME MIN_IDLE MAX [BOOTSTRAP]: a pool block with the labels the
# signed job payloads below ask for ([self-hosted, fault-test]); the
# bootstrap timeout long by default, so that a runner nobody plays (no
# simulator) stays "booting" instead of being replaced.
faults_pool() {
  cat <<EOF
  - name: $1
    cloud: ostb-demo
    github_path: $GH_PATH
    labels: [self-hosted, fault-test]
    image: osr-test-image
    flavor: m1.tiny
    min_idle: $2
    max_runners: $3
    timeouts: {bootstrap: ${4:-10m}, registration_grace: 1s}
EOF
}
faults_config() { write_config "$CFG" "$M" "$GH_PATH" "$(faults_pool "$@")"; }

# faults_daemon [INTERVAL]: osrunnerd on $CFG, passes every 5 s (the least
# it takes) unless told
faults_daemon() { daemon_start --config "$CFG" --webhook-secret-file "$T/secret" --interval "${1:-5}"; }

# signed_job ACTION JOB_ID: post a signed workflow_job for our labels; prints the status
signed_job() {
  job_payload "$1" "$2" '["self-hosted", "fault-test"]' "$T/job-$1-$2.json"
  webhook_post "$T/job-$1-$2.json" "$(webhook_sig "$SECRET" "$T/job-$1-$2.json")"
}

# Counting, independently of osrunner
n_servers() { servers_json "$M" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
server_ids() { servers_json "$M" | /usr/bin/python3 -c 'import json,sys; print(" ".join(sorted(s["ID"] for s in json.load(sys.stdin))))'; }
n_runners() { runners_json | /usr/bin/python3 -c 'import json,sys; print(sum(1 for r in json.load(sys.stdin)["runners"] if r["scope"]=="repos/"+sys.argv[1]))' "$GH_PATH"; }
runner_names() { runners_json | /usr/bin/python3 -c 'import json,sys; print(" ".join(sorted(r["name"] for r in json.load(sys.stdin)["runners"] if r["scope"]=="repos/"+sys.argv[1])))' "$GH_PATH"; }
server_names() { servers_json "$M" | /usr/bin/python3 -c 'import json,sys; print(" ".join(sorted(s["Name"] for s in json.load(sys.stdin))))'; }
# fleet_ok WHAT: one question about our VMs (openstack CLI) and our runner
# records (the stand-in) together: dups (no two VMs of one name), orphans (no
# runner record without a VM of its name), bare (no VM without a record)
fleet_ok() {
  servers_json "$M" >"$T/fleet-s.json"
  runners_json >"$T/fleet-r.json"
  /usr/bin/python3 - "$1" "$T/fleet-s.json" "$T/fleet-r.json" "$GH_PATH" <<'PY2'
import collections, json, sys
what, sf, rf, path = sys.argv[1:]
vms = [s["Name"] for s in json.load(open(sf))]
rs = [r["name"] for r in json.load(open(rf))["runners"] if r["scope"] == "repos/" + path]
bad = {"dups": [n for n, k in collections.Counter(vms).items() if k > 1],
       "orphans": sorted(set(rs) - set(vms)), "bare": sorted(set(vms) - set(rs))}[what]
if bad:
    print("  %s: %s" % (what, " ".join(bad)))
sys.exit(1 if bad else 0)
PY2
}
# deletes_since N: delete actions (any outcome) among the events after line N of $EV
deletes_since() { tail -n +$(($1 + 1)) "$EV" | /usr/bin/python3 -c 'import json,sys
print(sum(1 for l in sys.stdin if json.loads(l).get("event")=="action" and json.loads(l).get("kind","").startswith("delete")))'; }
# hook_set JSON: POST /_control/hooks of the stand-in (its answer dropped)
hook_set() { fake_post _control/hooks "$1" >/dev/null; }
ev_lines() { wc -l <"$EV"; }
http_code() { curl -s -o "$T/http.out" -m 10 -w '%{http_code}' "$1"; }
answers() { [ "$(http_code "$1")" != 000 ]; }
metrics_parse() { curl -sf -m 10 "$MURL/metrics" | /usr/bin/python3 "$OSR_SRC/tests/unit/prom_parse.py" >/dev/null; }
# passes_total RESULT: osrunner_reconcile_passes_total of the pool (0 when absent)
passes_total() { local v; v=$(metrics_value osrunner_reconcile_passes_total "{\"pool\": \"$1\", \"result\": \"$2\"}"); echo "${v:-0}"; }

# faults_end [sent]: SIGTERM and its stop event (unless the trial sent it
# and saw the event), then nothing left of ours anywhere
faults_end() {
  local t0=$SECONDS rc ids runners r
  if [ "${1:-}" != sent ]; then
    kill -TERM "$D_PID"
    check "SIGTERM: stop event" wait_event 120 'e["event"]=="stop"'
  fi
  set +e
  wait "$D_PID"
  rc=$?
  set -e
  D_PID=
  check "... exit 0 ($rc) in $((SECONDS - t0)) s" [ "$rc" = 0 ]
  mapfile -t ids < <("$OSRUNNER" instance list --os-cloud ostb-demo --manager "$M" --json | json_ids)
  if [ "${#ids[@]}" -gt 0 ] && [ -n "${ids[0]}" ]; then
    check "our VMs (${#ids[@]}) deleted with the CLI" "$OSRUNNER" instance delete --os-cloud ostb-demo "${ids[@]}"
  fi
  mapfile -t runners < <(runner_names | tr ' ' '\n' | grep . || true)
  for r in "${runners[@]}"; do [ -z "$r" ] || delete_runner_named "$r"; done
  check "no VM of ours left (openstack CLI)" no_servers "$M"
  check "no runner record of ours left (stand-in)" no_runners
  check "no schema violation at the stand-in" no_violations
  check "the secret never appears in events or stderr" not grep -qF "$SECRET" "$EV" "$T/d.err"
}
