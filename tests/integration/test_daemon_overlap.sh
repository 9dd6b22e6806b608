#!/bin/bash
# osrunnerd while one pool's pass hangs: a pass of pool "stuck" waits on a
# Keystone that accepts and never answers (60 s per attempt), and meanwhile a
# signed queued webhook for pool "dk" still gets dk's runner at once (the
# pass's wait acts on webhooks: dk grows on its own session), /metrics and
# /healthz answer, and SIGTERM cancels the hanging pass and stops the daemon
# within 5 s, exit 0. The events are read with bounded waits; no sleeps.
set -e
. "$(dirname "$0")/lib.sh"
. "$OSR_SRC/tests/integration/pool_lib.sh"
. "$OSR_SRC/tests/integration/daemon_lib.sh"

H_PID=
overlap_trap() {
  [ -z "$H_PID" ] || kill "$H_PID" 2>/dev/null || true
  daemon_trap
}
trap overlap_trap EXIT

# A Keystone that accepts connections, says so on stdout and never answers.
exec {HFD}< <(exec /usr/bin/python3 -c '
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True)
held = []
while True:
    c, _ = s.accept(); held.append(c); print("accepted", flush=True)
')
H_PID=$!
IFS= read -r -t 20 HPORT <&"$HFD"
# The test cloud's clouds.yaml and one cloud more, "hold"
/usr/bin/python3 - "$CLOUDS" "$T/clouds.yaml" "$HPORT" <<'PY'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
c["clouds"]["hold"] = {"auth": {"auth_url": "http://127.0.0.1:%s/v3" % sys.argv[3], "username": "u",
                                "password": "p", "project_name": "x", "user_domain_name": "Default",
                                "project_domain_name": "Default"}}
yaml.safe_dump(c, open(sys.argv[2], "w"))
PY
chmod 600 "$T/clouds.yaml"
export OS_CLIENT_CONFIG_FILE="$T/clouds.yaml"

SECRET="overlap-$$"
printf '%s\n' "$SECRET" >"$T/secret"
chmod 600 "$T/secret"
# dk first: both are due at start, and the first in the file goes first.
write_config "$CFG" "$M" "$GH_PATH" "$(pool_block dk 1 3)
$(pool_block stuck 1 3 | sed 's/cloud: ostb-demo/cloud: hold/; s/pool-test/stuck-test/')"

check "start event" daemon_start --config "$CFG" --webhook-secret-file "$T/secret" --interval 3600
check "dk's first pass: ok" wait_event 300 'e["event"]=="pass" and e["pool"]=="dk" and e["result"]=="ok"'
check "stuck's pass reaches its Keystone, which holds it" bash -c "IFS= read -r -t 60 l <&$HFD && [ \"\$l\" = accepted ]"

# --- during stuck's pass
job_payload queued 4242001 '["self-hosted","pool-test"]' "$T/q.json"
check "a signed queued webhook for dk: 202" [ "$(webhook_post "$T/q.json" "$(webhook_sig "$SECRET" "$T/q.json")")" = 202 ]
check "... dk grows at once, during stuck's pass" wait_event 30 'e["event"]=="grow" and e["pool"]=="dk"'
check "... one runner created" [ "$(field created)" = 1 ]
check "... and no pass of stuck has ended" [ "$(events_count 'e["event"]=="pass" and e["pool"]=="stuck"')" = 0 ]
check "... /healthz answers meanwhile (503: stuck never passed)" [ "$(curl -s -m 5 -o "$T/h" -w '%{http_code}' "$MURL/healthz")" = 503 ]
check "... naming stuck as not ready" grep -q "^pool stuck: " "$T/h"
check "... /metrics answers, dk's grown create counted" [ "$(metrics_value osrunner_reconcile_actions_total '{"pool":"dk","kind":"create","rule":"queued-job","outcome":"done"}')" = 1 ]
check "... dk is due again (the trigger)" wait_event 10 'e["event"]=="trigger" and e["pool"]=="dk"'

# --- SIGTERM during stuck's pass
T1=$SECONDS
kill -TERM "$D_PID"
check "SIGTERM: stuck's pass ends" wait_event 10 'e["event"]=="pass" and e["pool"]=="stuck"'
check "... cancelled, not failed over" grep -q cancelled "$T/match.json"
check "... no backoff for a stop" [ "$(field retry_in)" = None ]
check "... the stop event" wait_event 10 'e["event"]=="stop"'
daemon_kill TERM
check "... exit 0 ($DRC)" [ "$DRC" = 0 ]
check "... within 5 s of the signal ($((SECONDS - T1)) s)" [ $((SECONDS - T1)) -le 5 ]

# --- nothing left: dk's VMs and their records
mapfile -t IDS < <("$OSRUNNER" instance list --os-cloud ostb-demo --manager "$M" --json | json_ids)
[ "${#IDS[@]}" = 0 ] || "$OSRUNNER" instance delete --os-cloud ostb-demo "${IDS[@]}" >/dev/null
mapfile -t RUNNERS < <(runners_json | /usr/bin/python3 -c 'import json,sys
print("\n".join(r["name"] for r in json.load(sys.stdin)["runners"] if sys.argv[1] in r["scope"]))' "$GH_PATH")
for r in "${RUNNERS[@]}"; do [ -z "$r" ] || delete_runner_named "$r"; done
check "no server of ours left" no_servers "$M"
check "no runner record of ours left" no_runners
check "no schema violation at the stand-in" no_violations
finish
