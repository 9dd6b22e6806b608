#!/bin/bash
# osrunnerd without a cloud: its one pool names a cloud that clouds.yaml does
# not have, so each pass fails at once and nothing leaves the machine. What is
# checked: the listeners come from the file's metrics: and webhook: sections
# (port 0: the start event names the ports); /healthz is 503 with the reason;
# /metrics has the exact Content-Type and parses with prometheus_client;
# POST /webhook: GitHub's ping example signed 202, a bad signature 401, a
# signed body that is not JSON 400, a body over 1 MiB 413, GET 405, other
# paths 404; a signed queued job for labels no pool serves is counted under
# pool "none" and triggers nothing, one for the pool's labels triggers a pass;
# SIGHUP with a broken file keeps the old one; SIGHUP reads a rotated webhook
# secret, and one that cannot be read rejects the reload; SIGINT stops it
# with exit 0;
# while a pass hangs on a Keystone that never answers, HTTP is still served
# and SIGTERM stops it within 5 s; usage and configuration errors give their
# exit codes. Every wait is for an
# event line, bounded; no sleeps.
# Usage: test_daemon_offline.sh OSRUNNERD SRC_DIR
set -u
D=$1 SRC=$2
T=$(mktemp -d -t osr-dmn.XXXXXX)
D_PID=
cleanup() {
  if [ -n "$D_PID" ] && kill -0 "$D_PID" 2>/dev/null; then kill -KILL "$D_PID"; fi
  rm -rf "$T"
}
trap cleanup EXIT
FAILS=0
check() { local what=$1; shift; if "$@"; then echo "ok   $what"; else echo "FAIL $what"; FAILS=$((FAILS + 1)); fi; }
not() { ! "$@"; }
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY OS_CLOUD
export HOME=$T/home XDG_CACHE_HOME=$T/home/.cache OS_CLIENT_CONFIG_FILE=$T/clouds.yaml
mkdir -p "$HOME"
cat >"$T/clouds.yaml" <<'EOF'
clouds:
  somewhere:
    auth: {auth_url: "http://127.0.0.1:9/v3", username: u, password: p, project_name: x,
           user_domain_name: Default, project_domain_name: Default}
EOF
chmod 600 "$T/clouds.yaml"
printf 'gh-token-not-used\n' >"$T/gh.token"
SECRET="offline-secret-$$"
printf '%s\n' "$SECRET" >"$T/hook.secret"
chmod 600 "$T/gh.token" "$T/hook.secret"
CFG=$T/osrunner.yaml
cat >"$CFG" <<EOF
manager: offline
github: {url: "http://127.0.0.1:9", token_file: gh.token}
metrics: {listen: "127.0.0.1:0"}
webhook: {listen: "127.0.0.1:0", secret_file: hook.secret}
pools:
  - name: p
    cloud: nope
    github_path: octo/x
    labels: [self-hosted, gpu]
    image: i
    flavor: f
EOF

# systemd's side: a notify socket that records what the daemon says
exec {NFD}< <(exec /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
s.settimeout(60)
while True:
    m = s.recv(4096).decode()
    print(m.replace("\n", " | "), flush=True)
    if "STOPPING=1" in m:
        break
' "$T/notify")
IFS= read -r -t 20 line <&"$NFD"
check "notify socket bound" [ "${line:-}" = bound ]

EV=$T/events.jsonl
: >"$EV"
exec {DFD}< <(NOTIFY_SOCKET=$T/notify WATCHDOG_USEC=1000000 exec "$D" --config "$CFG" --interval 3600 2>"$T/d.err")
D_PID=$!
wait_event() { # wait_event SECONDS PYTHON_CONDITION_ON_e
  local deadline=$((SECONDS + $1)) line
  while [ "$SECONDS" -lt "$deadline" ]; do
    IFS= read -r -t $((deadline - SECONDS + 1)) line <&"$DFD" || return 1
    printf '%s\n' "$line" >>"$EV"
    if printf '%s\n' "$line" | /usr/bin/python3 -c "import json,sys; e=json.load(sys.stdin); sys.exit(0 if ($2) else 1)" 2>/dev/null; then
      printf '%s\n' "$line" >"$T/match.json"
      return 0
    fi
  done
  return 1
}
field() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$T/match.json" "$1"; }

check "start event" wait_event 20 'e["event"]=="start"'
MPORT=$(field metrics_port)
WPORT=$(field webhook_port)
two_ports() { [ "$MPORT" -gt 0 ] && [ "$WPORT" -gt 0 ] && [ "$MPORT" != "$WPORT" ]; }
check "metrics: and webhook: of the file give two listeners" two_ports
M=http://127.0.0.1:$MPORT W=http://127.0.0.1:$WPORT
check "the pass fails at once (no such cloud)" wait_event 20 'e["event"]=="pass" and e["pool"]=="p" and e["result"]=="error"'

code() { curl -s -o "$T/body" -w '%{http_code}' "$@"; }
check "/healthz 503" [ "$(code "$M/healthz")" = 503 ]
check "... with the reason" grep -q "^pool p: cannot open: .*no cloud named 'nope'" "$T/body"
curl -s -D "$T/m.h" -o "$T/m" "$M/metrics"
check "/metrics Content-Type exact" grep -qx $'Content-Type: text/plain; version=0.0.4; charset=utf-8\r' "$T/m.h"
check "/metrics parses" bash -c "/usr/bin/python3 '$SRC/tests/unit/prom_parse.py' <'$T/m' >/dev/null"
check "... the failed pass counted" grep -qx 'osrunner_reconcile_passes_total{pool="p",result="error"} 1' "$T/m"
check "... a histogram with +Inf" grep -q '^osrunner_reconcile_duration_seconds_bucket{pool="p",le="+Inf"} 1$' "$T/m"

sig() { echo "sha256=$(openssl dgst -sha256 -hmac "$SECRET" <"$1" | sed 's/^.*= //')"; }
hook() { # hook EVENT FILE [SIGNATURE]: the status
  code -H "X-GitHub-Event: $1" -H 'Content-Type: application/json' \
    ${3:+-H "X-Hub-Signature-256: $3"} --data-binary "@$2" "$W/webhook"
}
PING=$SRC/tests/fixtures/webhooks/ping.json
check "ping, signed: 202" [ "$(hook ping "$PING" "$(sig "$PING")")" = 202 ]
check "... seen as a ping" wait_event 10 'e["event"]=="webhook" and e["github_event"]=="ping" and e["result"]=="accepted"'
check "ping, signature of another body: 401" [ "$(hook ping "$PING" "$(sig "$CFG")")" = 401 ]
printf 'payload=%%7B%%7D' >"$T/form"
check "signed, not JSON: 400" [ "$(hook workflow_job "$T/form" "$(sig "$T/form")")" = 400 ]
head -c 1100000 /dev/zero | tr '\0' ' ' >"$T/big"
check "over 1 MiB: 413" [ "$(hook workflow_job "$T/big" "$(sig "$T/big")")" = 413 ]
check "over 1 MiB, any event name: 413" [ "$(hook "zzz-made-up" "$T/big")" = 413 ]
check "a signed push: 202" [ "$(hook push "$PING" "$(sig "$PING")")" = 202 ]
check "... ignored" wait_event 10 'e["event"]=="webhook" and e["github_event"]=="push" and e["result"]=="ignored"'
check "GET /webhook: 405" [ "$(code "$W/webhook")" = 405 ]
check "other paths: 404" [ "$(code "$W/")" = 404 ]
/usr/bin/python3 - "$SRC/tests/fixtures/webhooks/workflow_job_queued.json" "$T" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
open(sys.argv[2] + "/other.json", "w").write(json.dumps(d))          # [self-hosted, k8s]
d["workflow_job"]["labels"] = ["self-hosted", "GPU"]                  # GitHub ignores case
open(sys.argv[2] + "/ours.json", "w").write(json.dumps(d))
d["action"] = "completed"; d["workflow_job"]["conclusion"] = "success"
open(sys.argv[2] + "/ours_done.json", "w").write(json.dumps(d))
PY
check "queued for labels no pool serves: 202" [ "$(hook workflow_job "$T/other.json" "$(sig "$T/other.json")")" = 202 ]
check "queued for the pool's labels: 202" [ "$(hook workflow_job "$T/ours.json" "$(sig "$T/ours.json")")" = 202 ]
check "... triggers p" wait_event 10 'e["event"]=="trigger" and e["pool"]=="p"'
check "... only once" [ "$(grep -c '"event":"trigger"' "$EV")" = 1 ]
check "... and p's pass runs, with the job queued" wait_event 10 'e["event"]=="pass" and e["pool"]=="p" and e["queued"]==1'
redeliver() { # the same delivery id twice, as GitHub's "Redeliver" sends it
  code -H "X-GitHub-Event: workflow_job" -H "X-GitHub-Delivery: 72d3162e-cc78-11e3-81ab-4c9367dc0958" \
    -H "X-Hub-Signature-256: $(sig "$T/ours.json")" --data-binary "@$T/ours.json" "$W/webhook"
}
check "a delivery with an id: 202" [ "$(redeliver)" = 202 ]
check "... triggers p again" wait_event 10 'e["event"]=="trigger" and e["pool"]=="p"'
check "its redelivery: 202" [ "$(redeliver)" = 202 ]
check "... seen as a duplicate" wait_event 10 'e["event"]=="webhook" and e["result"]=="duplicate"'
check "... and not acted on (2 triggers in all)" [ "$(grep -c '"event":"trigger"' "$EV")" = 2 ]
check "the job completed: 202" [ "$(hook workflow_job "$T/ours_done.json" "$(sig "$T/ours_done.json")")" = 202 ]
check "... triggers p, whose pass has no job queued" wait_event 10 'e["event"]=="pass" and e["pool"]=="p" and e["queued"]==0'
curl -s -o "$T/m2" "$M/metrics"
check "metrics: the unserved job under pool none" grep -qx 'osrunner_webhook_jobs_total{pool="none",action="queued"} 1' "$T/m2"
check "metrics: the served ones under p" grep -qx 'osrunner_webhook_jobs_total{pool="p",action="queued"} 2' "$T/m2"
check "metrics: no queued job left" grep -qx 'osrunner_queued_jobs{pool="p"} 0' "$T/m2"
check "metrics: the duplicate counted" grep -qx 'osrunner_webhooks_total{event="workflow_job",result="duplicate"} 1' "$T/m2"
check "metrics: results by event" bash -c "grep -qx 'osrunner_webhooks_total{event=\"ping\",result=\"accepted\"} 1' '$T/m2' && grep -qx 'osrunner_webhooks_total{event=\"workflow_job\",result=\"bad_payload\"} 1' '$T/m2' && grep -qx 'osrunner_webhooks_total{event=\"unverified\",result=\"too_large\"} 2' '$T/m2'"
check "metrics: no label from an unverified sender" not grep -q zzz-made-up "$T/m2"
check "metrics: a push is event other" grep -qx 'osrunner_webhooks_total{event="other",result="ignored"} 1' "$T/m2"
check "the secrets appear nowhere" bash -c "! grep -q -e '$SECRET' -e gh-token-not-used '$EV' '$T/d.err' '$T/m2'"

cp "$CFG" "$T/good.yaml"
printf 'manager: offline\ngithub: {token_file: gh.token}\npools:\n  - name: p\n    min_idle: -1\n' >"$CFG"
cp "$CFG" "$T/broken.yaml"
kill -HUP "$D_PID"
check "SIGHUP, broken file: rejected" wait_event 10 'e["event"]=="reload"'
check "... file:line:col" bash -c "grep -q '\"error\":\"$CFG:[0-9]*:[0-9]*: ' '$T/match.json'"
check "... still serving" [ "$(code "$M/healthz")" = 503 ]
# A secret rotation: SIGHUP reads the secret file again.
OLD_SECRET=$SECRET
SECRET="offline-rotated-$$"
printf '%s\n' "$SECRET" >"$T/hook.secret" # still mode 600
cp "$T/good.yaml" "$CFG"
kill -HUP "$D_PID"
check "SIGHUP, the secret file rotated: reload ok" wait_event 10 'e["event"]=="reload" and e["outcome"]=="ok"'
check "... a ping signed with the new secret: 202" [ "$(hook ping "$PING" "$(sig "$PING")")" = 202 ]
check "... one signed with the old secret: 401" [ "$(hook ping "$PING" "$(SECRET=$OLD_SECRET sig "$PING")")" = 401 ]
mv "$T/hook.secret" "$T/hook.secret.away"
kill -HUP "$D_PID"
check "SIGHUP, the secret file gone: rejected" \
  wait_event 10 'e["event"]=="reload" and e["outcome"]=="rejected" and e["error"].startswith("webhook secret: ")'
check "... naming the file" grep -q 'hook.secret' "$T/match.json"
check "... the secret in force stays" [ "$(hook ping "$PING" "$(sig "$PING")")" = 202 ]
mv "$T/hook.secret.away" "$T/hook.secret"
kill -INT "$D_PID"
check "SIGINT: stop event" wait_event 10 'e["event"]=="stop"'
wait "$D_PID"
RC=$?
D_PID=
check "... exit 0" [ "$RC" = 0 ]
: >"$T/notify.log"
while IFS= read -r -t 20 line <&"$NFD"; do printf '%s\n' "$line" >>"$T/notify.log"; done
check "sd_notify: READY=1" grep -qx 'READY=1' "$T/notify.log"
check "sd_notify: STATUS" grep -qx 'STATUS=0 of 1 pools ready' "$T/notify.log"
check "sd_notify: WATCHDOG=1 (WATCHDOG_USEC set)" grep -qx 'WATCHDOG=1' "$T/notify.log"
check "sd_notify: RELOADING=1 on SIGHUP" grep -qx 'RELOADING=1' "$T/notify.log"
check "sd_notify: STOPPING=1 last" bash -c "[ \"\$(tail -1 '$T/notify.log')\" = STOPPING=1 ]"
check "stderr is empty" bash -c "[ ! -s '$T/d.err' ] || { cat '$T/d.err'; false; }"

# A pass that hangs: the cloud's Keystone accepts and never answers. The
# daemon still answers HTTP during the pass (osr_session_set_wait_hook), and
# a SIGTERM cancels the pass's request in flight and stops it within 5 s.
exec {HFD}< <(exec /usr/bin/python3 -c '
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True)
held = []
while True:
    c, _ = s.accept(); held.append(c)
')
H_PID=$!
IFS= read -r -t 20 HPORT <&"$HFD"
cat >"$T/clouds.yaml" <<EOF
clouds:
  hold:
    auth: {auth_url: "http://127.0.0.1:$HPORT/v3", username: u, password: p, project_name: x,
           user_domain_name: Default, project_domain_name: Default}
EOF
sed 's/cloud: nope/cloud: hold/' "$T/good.yaml" >"$T/hold.yaml"
exec {D3}< <(exec "$D" --config "$T/hold.yaml" --interval 3600 2>"$T/d3.err")
D_PID=$!
DFD=$D3
: >"$EV"
check "hanging cloud: starts" wait_event 20 'e["event"]=="start"'
MPORT=$(field metrics_port)
WPORT=$(field webhook_port)
M=http://127.0.0.1:$MPORT W=http://127.0.0.1:$WPORT
T0=$SECONDS
check "during the hanging pass /healthz answers 503" [ "$(code -m 5 "$M/healthz")" = 503 ]
check "... 'no pass yet'" grep -q "^pool p: no pass yet" "$T/body"
check "... a signed webhook gets its 202 within 5 s" [ "$(code -m 5 -H "X-GitHub-Event: workflow_job" -H "X-Hub-Signature-256: $(sig "$T/ours.json")" --data-binary "@$T/ours.json" "$W/webhook")" = 202 ]
check "... and no pass has ended yet" [ "$(grep -c '"event":"pass"' "$EV")" = 0 ]
T1=$SECONDS
kill -TERM "$D_PID"
check "SIGTERM during the pass: the pass ends" wait_event 10 'e["event"]=="pass"'
check "... its request cancelled" grep -q 'cancelled' "$T/match.json"
check "... then the stop event" wait_event 10 'e["event"]=="stop"'
wait "$D_PID"
RC=$?
D_PID=
check "... exit 0" [ "$RC" = 0 ]
check "... within 5 s of the signal ($((SECONDS - T1)) s)" [ $((SECONDS - T1)) -le 5 ]
kill "$H_PID" 2>/dev/null
wait "$H_PID" 2>/dev/null

# Exit codes.
run() { "$D" "$@" >"$T/out" 2>"$T/err" </dev/null; echo $?; }
check "--interval 1: usage error 2" [ "$(run --config "$T/good.yaml" --interval 1)" = 2 ]
check "unknown option: 2" [ "$(run --bogus)" = 2 ]
check "--help: 0" [ "$(run --help)" = 0 ]
check "invalid configuration: 3" [ "$(run --config "$T/broken.yaml")" = 3 ]
check "... with file:line:col" grep -q "^osrunnerd: $T/broken.yaml:[0-9]*:[0-9]*: " "$T/err"
check "no configuration file: 5" [ "$(run --config "$T/nonexistent.yaml")" = 5 ]
check "bad listen address: 1" [ "$(run --config "$T/good.yaml" --metrics-listen localhost)" = 1 ]
check "... named" grep -q "listen address 'localhost'" "$T/err"
chmod 644 "$T/hook.secret"
exec {D2}< <(exec "$D" --config "$T/good.yaml" --interval 3600 2>"$T/d2.err")
D_PID=$!
DFD=$D2
check "a readable secret file: starts" wait_event 20 'e["event"]=="start"'
kill -TERM "$D_PID"
wait "$D_PID"
D_PID=
check "... with a warning naming it" grep -q "hook.secret" "$T/d2.err"
[ "$FAILS" = 0 ]
