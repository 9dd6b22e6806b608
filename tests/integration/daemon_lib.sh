# Helpers of the tests that run osrunnerd as a real process: start it with
# its events on a pipe, read them (bounded waits on event lines, no sleeps),
# sign and post webhooks, stop it. Source it after lib.sh and pool_lib.sh.
# shellcheck shell=bash disable=SC2034
: "${OSRUNNERD:?OSRUNNERD must name the osrunnerd binary}"

WEBHOOK_FIX="$OSR_SRC/tests/fixtures/webhooks"
D_PID=
DFD=
EV="$T/events.jsonl"
: >"$EV"

# daemon_start ARGS...: osrunnerd with --metrics-listen/--webhook-listen on
# picked ports unless ARGS name them; waits for its start event and sets
# MPORT, WPORT, MURL, WURL. stderr goes to $T/d.err (appended).
daemon_start() {
  exec {DFD}< <(exec "$OSRUNNERD" --metrics-listen 127.0.0.1:0 --webhook-listen 127.0.0.1:0 "$@" 2>>"$T/d.err")
  D_PID=$!
  if ! wait_event 30 'e["event"]=="start"'; then
    echo "FAIL: osrunnerd did not start"; cat "$T/d.err"; return 1
  fi
  MPORT=$(field metrics_port)
  WPORT=$(field webhook_port)
  MURL="http://127.0.0.1:$MPORT"
  WURL="http://127.0.0.1:$WPORT"
}

# daemon_kill [SIGNAL]: signal the daemon (default KILL) and reap it; sets DRC.
daemon_kill() {
  DRC=
  [ -n "$D_PID" ] || return 0
  kill "-${1:-KILL}" "$D_PID" 2>/dev/null || true
  wait "$D_PID" 2>/dev/null && DRC=0 || DRC=$?
  D_PID=
  [ -z "$DFD" ] || exec {DFD}<&-
  DFD=
}

daemon_trap() {
  daemon_kill KILL
  pool_cleanup_trap
}

# wait_event SECONDS PYTHON_CONDITION: read events until one satisfies the
# condition on e (a dict); all lines are kept in $EV; the match in $T/match.json.
wait_event() {
  local deadline=$((SECONDS + $1)) line
  while [ "$SECONDS" -lt "$deadline" ]; do
    if ! IFS= read -r -t $((deadline - SECONDS + 1)) line <&"$DFD"; then
      return 1
    fi
    printf '%s\n' "$line" >>"$EV"
    if printf '%s\n' "$line" | /usr/bin/python3 -c "import json,sys; e=json.load(sys.stdin); sys.exit(0 if ($2) else 1)" 2>/dev/null; then
      printf '%s\n' "$line" >"$T/match.json"
      return 0
    fi
  done
  return 1
}
field() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$T/match.json" "$1"; }
# events_count PYTHON_CONDITION: how many events seen so far satisfy it
events_count() { /usr/bin/python3 -c "import json,sys
print(sum(1 for l in open(sys.argv[1]) if (lambda e: $1)(json.loads(l))))" "$EV"; }

# webhook_sig SECRET FILE: the X-Hub-Signature-256 value of FILE's bytes
webhook_sig() { printf 'sha256=%s' "$(openssl dgst -sha256 -hmac "$1" <"$2" | sed 's/^.*= //')"; }
# webhook_post FILE [SIGNATURE] [EVENT]: POST FILE to $WURL/webhook; prints the status
webhook_post() {
  curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -H "X-GitHub-Event: ${3:-workflow_job}" -H "X-GitHub-Delivery: d-$$-$RANDOM$RANDOM" \
    ${2:+-H "X-Hub-Signature-256: $2"} --data-binary "@$1" "$WURL/webhook"
}
# job_payload ACTION JOB_ID LABELS_JSON OUT: GitHub's example workflow_job
# delivery with another action, job id and runs-on labels
job_payload() {
  /usr/bin/python3 - "$WEBHOOK_FIX/workflow_job_$1.json" "$2" "$3" "$4" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["workflow_job"]["id"] = int(sys.argv[2])
d["workflow_job"]["labels"] = json.loads(sys.argv[3])
json.dump(d, open(sys.argv[4], "w"))
PY
}
# metrics_value NAME LABELS_JSON: one sample of /metrics, parsed with
# Debian's prometheus_client (empty when absent)
metrics_value() {
  curl -sf "$MURL/metrics" | /usr/bin/python3 -c '
import json, sys
from prometheus_client.parser import text_string_to_metric_families
want = json.loads(sys.argv[2])
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        if s.name == sys.argv[1] and all(s.labels.get(k) == v for k, v in want.items()):
            print(s.value if s.value != int(s.value) else int(s.value)); sys.exit(0)' "$1" "$2"
}
