#!/bin/bash
# The fleet simulator (tests/sim/fleet.js) against the local Nova and the
# GitHub stand-in: osrunner launches a token-mode VM, a JIT one (in another
# project) and two more for the hooks; a hand-made server carries the
# runner.conf user data; one is in ERROR. One POST /sync registers exactly the
# ACTIVE ones (both modes online, with their labels), over Nova pages of one
# server; the hooks hold back a VM for good (never_register) or for one pass
# (late). A job is taken and finished: the runner record goes and Nova says
# SHUTOFF. The stand-in's busy_after_list hook turns a runner busy right after
# osrunner's list, so osrunner's delete of it is refused. A runner whose record
# osrunner deletes exits: the next sync powers its VM off. Everything is
# deleted at the end and nothing is left, at Nova or the stand-in; Prism sees
# no violation.
# Fails (does not skip) when the stand-in is not up.
set -euo pipefail
# shellcheck disable=SC1091
. "$(dirname "$0")/lib.sh"
SRC="${OSR_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
GH_DIR="${OSR_GITHUB_DIR:-$SRC/tests/github/state}"
if [ ! -r "$GH_DIR/env.sh" ]; then
  echo "FAIL: the GitHub stand-in is not up ($GH_DIR/env.sh missing); run tests/github/up" >&2
  exit 1
fi
# shellcheck disable=SC1091
. "$GH_DIR/env.sh"
. "$SRC/tests/github/violations.sh"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY
export OS_CLIENT_CONFIG_FILE="$CLOUDS" OS_CLOUD=ostb-admin
F=$OSR_GITHUB_FAKE_URL
if ! curl -sf -o /dev/null --max-time 5 "$F/_control/stats"; then
  echo "FAIL: the GitHub stand-in does not answer at $F; run tests/github/up" >&2
  exit 1
fi
VIOLATIONS_AT_START=$(stat -c %s "$OSR_GITHUB_VIOLATIONS_LOG")
M="sim-$$-$(date +%s | tail -c 5)"    # the manager id, the name prefix and the repository
REPO="$M/fleet"
OS=(/usr/bin/python3 /usr/bin/openstack)

SIM_PID=
cleanup() {
  local rc=$?
  if [ -n "$SIM_PID" ]; then kill "$SIM_PID" 2>/dev/null || true; fi
  # whatever this test made and did not delete (a failure half-way): ours by name prefix
  local ids
  ids=$("${OS[@]}" server list --all-projects --name "^$M-" -f value -c ID 2>/dev/null || true)
  if [ -n "$ids" ]; then
    echo "cleanup: deleting leftover servers: $ids" >&2
    # shellcheck disable=SC2086
    "${OS[@]}" server delete --wait $ids >/dev/null 2>&1 || true
  fi
  rm -rf "$T"
  exit "$rc"
}
trap cleanup EXIT

# sim METHOD PATH [JSON]: a call to the simulator; the answer in $T/sim.json, status in $ST
sim() {
  ST=$(curl -s -o "$T/sim.json" -w '%{http_code}' -X "$1" -H 'Content-Type: application/json' \
    ${3:+--data-binary "$3"} "$SIM$2")
}
simq() { jq -r "$1" "$T/sim.json"; }
# control_runner NAME: the stand-in's record of runner NAME (live, else the last removed), or null
control_runner() {
  curl -s "$F/_control/runners" | jq -c --arg n "$1" '([.runners[] | select(.name == $n)] +
    [.removed[] | select(.name == $n)] | first) // null'
}
nova_status() { "${OS[@]}" server show "$1" -f value -c status; }
# gh_runners NAME: osrunner github runners --json of the repository into $T/NAME.out
gh_runners() { run "$1" github runners --github-path "$REPO" --json; }

# ---- the simulator: started here, on any free port, for this manager's servers
# only, with Nova pages of one server (the paging is exercised)
exec {SIM_FD}< <(exec node "$SRC/tests/sim/fleet.js" --port 0 --manager "$M" --page-size 1 2>"$T/sim.log")
SIM_PID=$!
READY=
read -r -t 60 READY <&"$SIM_FD" || true
if [[ "$READY" != "ready http://127.0.0.1:"* ]]; then
  cat "$T/sim.log" >&2
  echo "FAIL: the simulator did not start (ready line: '$READY')" >&2
  exit 1
fi
SIM=${READY#ready }
SIM=${SIM%% *}
ok "simulator ready at $SIM"

# launched NAME WHAT: the launch run NAME exited 0; else its error output is shown
launched() {
  if [ "$RC" = 0 ]; then ok "$2"; else bad "$2 (exit $RC)"; sed 's/^/    /' "$T/$1.err"; fi
}

# ---- the fleet: osrunner launches (credentials fetched from the stand-in)
COMMON=(--os-cloud ostb-admin --manager "$M" --image osr-test-image --flavor m1.tiny
        --github-path "$REPO")
run tok instance create "${COMMON[@]}" --name "$M-tok" --labels self-hosted,sim-tok,linux --json
launched tok "token-mode VM launched (ACTIVE)"
# (in the demo project: the simulator lists every project's servers)
run jit instance create "${COMMON[@]/ostb-admin/ostb-demo}" --name "$M-jit" --labels self-hosted,sim-jit,gpu --jit --json
launched jit "JIT VM launched in the demo project (ACTIVE)"
run never instance create "${COMMON[@]}" --name "$M-never" --labels sim-never --jit --json
launched never "the never-registering VM launched"
run late instance create "${COMMON[@]}" --name "$M-late" --labels sim-late --json
launched late "the late VM launched"
JIT_ID=$(jq -r '.[0].runner_id' "$T/jit.out")

# A server with the runner.conf form of the user data (osrunner's runner
# service), made by hand with a token from the stand-in's control API.
CONF_TOKEN=$(curl -s -X POST -d "{\"url\":\"https://github.com/$REPO\"}" "$F/_control/tokens" | jq -r .token)
CONF_JSON=$(jq -n --arg conf "mode=token
url=https://github.com/$REPO
name=$M-conf
labels=self-hosted,sim-conf
user=ubuntu
dir=/home/ubuntu/actions-runner
" --arg tok "$CONF_TOKEN" '{write_files: [
  {path: "/etc/osrunner/runner.conf", owner: "root:root", permissions: "0644", content: $conf},
  {path: "/run/osrunner/runner.secret", owner: "root:root", permissions: "0600", content: $tok}],
  runcmd: [["systemctl", "start", "--no-block", "osrunner-runner.service"]]}')
printf '#cloud-config\n%s\n' "$CONF_JSON" >"$T/conf.ud"
TAGS=(--tag managed-by=osrunner --tag "osrunner-manager=$M" --tag osrunner-pool=sim)
"${OS[@]}" --os-compute-api-version 2.52 server create --nic none --flavor m1.tiny --image osr-test-image \
  --user-data "$T/conf.ud" "${TAGS[@]}" --property "osrunner-runner=$M-conf" --wait "$M-conf" \
  >"$T/conf.out" 2>&1 || { cat "$T/conf.out"; bad "runner.conf VM created"; }
# ... and one in ERROR (more RAM than the fake host has): never registered
"${OS[@]}" --os-compute-api-version 2.52 server create --nic none --flavor osr.toobig --image osr-test-image \
  --user-data "$T/conf.ud" "${TAGS[@]}" --wait "$M-err" >"$T/err.out" 2>&1 || true  # --wait ends at ERROR
check "the ERROR server is in ERROR" [ "$(nova_status "$M-err")" = ERROR ]

# ---- pass 1: the ACTIVE ones register; the hooks and the ERROR one do not
sim POST /hooks "{\"never_register\":[\"$M-never\"],\"late\":[\"$M-late\"]}"
check "hooks set" [ "$ST" = 200 ]
sim POST /sync
cp "$T/sim.json" "$T/sync1.json"
check "sync 1: 200" [ "$ST" = 200 ]
check "sync 1: registered exactly conf, jit, tok" [ "$(simq '.registered | join(" ")')" = "$M-conf $M-jit $M-tok" ]
check "sync 1: no errors" [ "$(simq '.errors | length')" = 0 ]
check "sync 1: saw the 6 servers" [ "$(simq .servers)" = 6 ]
check "sync 1: over Nova pages of one server (>= 6 pages)" [ "$(simq .pages)" -ge 6 ]
check "sync 1: never_register hook skipped" [ "$(simq ".skipped[] | select(.name == \"$M-never\") | .reason")" = "never_register hook" ]
check "sync 1: late hook skipped" grep -q "late hook" <<<"$(simq ".skipped[] | select(.name == \"$M-late\") | .reason")"
check "sync 1: ERROR server skipped" [ "$(simq ".skipped[] | select(.name == \"$M-err\") | .reason")" = "status ERROR" ]

labels_of() { control_runner "$1" | jq -r '.labels | sort | join(",")'; }
field_of() { control_runner "$1" | jq -r "$2"; }
check "token runner online at the stand-in" [ "$(field_of "$M-tok" '"\(.status) \(.ephemeral) \(.scope)"')" = "online true repos/$REPO" ]
check "token runner labels: config.sh's plus its own (linux deduplicated)" [ "$(labels_of "$M-tok")" = "Linux,X64,self-hosted,sim-tok" ]
check "JIT runner online at the stand-in, the id osrunner got" [ "$(field_of "$M-jit" '"\(.status) \(.id)"')" = "online $JIT_ID" ]
check "JIT runner labels: the ones asked for" [ "$(labels_of "$M-jit")" = "gpu,self-hosted,sim-jit" ]
check "runner.conf runner online with its labels" [ "$(field_of "$M-conf" '"\(.status) \(.labels | sort | join(","))"')" = "online Linux,X64,self-hosted,sim-conf" ]
check "never_register: its JIT record stays offline" [ "$(field_of "$M-never" .status)" = offline ]
check "late: not registered yet" [ "$(control_runner "$M-late")" = null ]
check "history: registered, then session" [ "$(field_of "$M-tok" '[.history[].call] | join(",")')" = register,session ]

# ---- pass 2: the late one comes; the rest is quiet
sim POST /sync
check "sync 2: registered exactly late" [ "$(simq '.registered | join(" ")')" = "$M-late" ]
check "sync 2: never still skipped" [ "$(simq "[.skipped[] | select(.name == \"$M-never\")] | length")" = 1 ]
check "late runner online now" [ "$(field_of "$M-late" .status)" = online ]
sim GET /state
check "state: conf, jit, late, tok registered; never never; err pending" \
  [ "$(simq '[.servers[] | "\(.name | sub("^.*-"; ""))=\(.state)"] | join(" ")')" = "conf=registered err=pending jit=registered late=registered never=never tok=registered" ]
check "state: the JIT VM is of another project than the token one" \
  [ "$(simq "[.servers[] | select(.name == \"$M-jit\" or .name == \"$M-tok\") | .project] | unique | length")" = 2 ]
check "state: runner ids known" [ "$(simq "[.servers[] | select(.state == \"registered\") | .runner_id | numbers] | length")" = 4 ]

# ---- a job: taken (busy), finished (runner gone, VM SHUTOFF)
sim POST /jobs/take "{\"name\":\"$M-tok\",\"job\":\"build-1\"}"
check "take: 200, tok" [ "$ST $(simq '.taken[0].name')" = "200 $M-tok" ]
check "take: busy at the stand-in" [ "$(field_of "$M-tok" .busy)" = true ]
gh_runners r1
check "take: osrunner github runners says busy" [ "$(jq -r ".[] | select(.name == \"$M-tok\") | .busy" "$T/r1.out")" = true ]
sim POST /jobs/take "{\"name\":\"$M-tok\"}"
check "take of a busy runner: 409" [ "$ST" = 409 ]
sim POST /jobs/finish "{\"name\":\"$M-tok\",\"result\":\"Succeeded\"}"
check "finish: 200, SHUTOFF" [ "$ST $(simq '.finished[0].status')" = "200 SHUTOFF" ]
check "finish: the runner record is gone (removed by the runner)" \
  [ "$(curl -s "$F/_control/runners" | jq -r --arg n "$M-tok" '([.runners[] | select(.name == $n)] | length), (.removed[] | select(.name == $n) | .history[-1].call)' | paste -sd' ')" = "0 deleted (runner)" ]
check "finish: the job's result in its history" [ "$(field_of "$M-tok" '[.history[] | select(.call == "job") | "\(.busy):\(.job // .result)"] | join(",")')" = "true:build-1,false:Succeeded" ]
check "finish: Nova says SHUTOFF" [ "$(nova_status "$M-tok")" = SHUTOFF ]
sim POST /jobs/take '{"count":1}'
check "take count 1: one idle runner busy" [ "$ST $(simq '.taken | length')" = "200 1" ]
TAKEN=$(simq '.taken[0].name')
check "take count 1: busy at the stand-in" [ "$(field_of "$TAKEN" .busy)" = true ]
sim POST /jobs/take '{"count":10}'
check "take count 10 with 2 idle: 409" [ "$ST" = 409 ]
sim POST /sync
check "sync 3: the SHUTOFF VM is not registered again" [ "$(simq '.registered | length') $(simq '.errors | length')" = "0 0" ]

# ---- the race hook: busy right after the list osrunner read
IDLE=$M-jit
[ "$TAKEN" != "$IDLE" ] || IDLE=$M-late
IDLE_ID=$(field_of "$IDLE" .id)
hooked() { curl -s "$F/_control/hooks" | jq --arg n "${1,,}" '.busy_after_list | index($n) != null'; }
curl -s -o /dev/null -X POST -d "{\"busy_after_list\":\"$IDLE\"}" "$F/_control/hooks"
check "race: hook set" [ "$(hooked "$IDLE")" = true ]
gh_runners r2
check "race: the list osrunner read says idle" [ "$(jq -r ".[] | select(.name == \"$IDLE\") | .busy" "$T/r2.out")" = false ]
check "race: the hook is consumed" [ "$(hooked "$IDLE")" = false ]
run rdel github delete-runner --github-path "$REPO" "$IDLE_ID"
check "race: osrunner's delete of it is refused (busy: exit 8)" [ "$RC" = 8 ]
check "race: the runner is still there, busy" [ "$(field_of "$IDLE" '"\(.status) \(.busy) \(.removed_at)"')" = "online true null" ]
gh_runners r3
check "race: the next list shows it busy" [ "$(jq -r ".[] | select(.name == \"$IDLE\") | .busy" "$T/r3.out")" = true ]
curl -s -o /dev/null -X POST -d "{\"busy_after_list\":\"$M-nobody\"}" "$F/_control/hooks"
gh_runners r4
check "race: a list without the name consumes nothing" [ "$(hooked "$M-nobody")" = true ]
curl -s -o /dev/null -X POST -d '{"clear":true}' "$F/_control/hooks"
check "race: clear drops the hooks" [ "$(hooked "$M-nobody")" = false ]

# ---- the end: every job finished, every record and server deleted
sim POST /jobs/finish "{\"names\":[\"$TAKEN\",\"$IDLE\"]}"
check "finish both busy ones: SHUTOFF" [ "$ST $(simq '[.finished[].status] | join(",")')" = "200 SHUTOFF,SHUTOFF" ]
LEFT=$(curl -s "$F/_control/runners" | jq -r --arg p "$M-" '.runners[] | select(.name | startswith($p)) | "\(.id) \(.name) \(.status)"')
IDLE_LEFT=$(printf '%s\n' "$M-conf" "$M-jit" "$M-late" | grep -vxF -e "$TAKEN" -e "$IDLE")
check "left at the stand-in: the idle one and the never-registered JIT record" \
  [ "$(awk '{print $2, $3}' <<<"$LEFT" | sort | paste -sd' ')" = "$(printf '%s online\n%s offline' "$IDLE_LEFT" "$M-never" | sort | paste -sd' ')" ]
while read -r id _; do
  run rdel2 github delete-runner --github-path "$REPO" "$id"
  check "runner $id deleted through osrunner" [ "$RC" = 0 ]
done <<<"$LEFT"
sim POST /sync
check "sync: the idle runner whose record was deleted exits, its VM powers off" \
  [ "$(simq '.stopped | join(" ")') $(simq '.errors | length')" = "$IDLE_LEFT 0" ]
check "  and Nova says SHUTOFF" [ "$(nova_status "$IDLE_LEFT")" = SHUTOFF ]
check "  the never-registered one is left alone" [ "$(nova_status "$M-never")" = ACTIVE ]
mapfile -t IDS < <(jq -r '.servers[].server' <(curl -s "$SIM/state"))
check "the simulator knows all 6 servers" [ "${#IDS[@]}" = 6 ]
"${OS[@]}" server delete --wait "${IDS[@]}"
sim POST /sync
check "sync after the deletes: nothing seen, nothing known" [ "$(simq .servers) $(curl -s "$SIM/state" | jq '.servers | length')" = "0 0" ]
check "nothing left at Nova" [ -z "$("${OS[@]}" server list --all-projects --name "^$M-" -f value -c ID)" ]
gh_runners r5
check "nothing left at the stand-in" [ "$(jq length "$T/r5.out") $(curl -s "$F/_control/runners" | jq --arg p "$M-" '[.runners[] | select(.name | startswith($p))] | length')" = "0 0" ]
check "the simulator's calls: at most one Keystone token" [ "$(curl -s "$SIM/state" | jq .calls.keystone)" = 1 ]
sim POST /quit
check "quit" [ "$ST" = 200 ]
wait "$SIM_PID" 2>/dev/null || true
SIM_PID=
check "Prism saw no schema violation" [ -z "$(new_violations "$VIOLATIONS_AT_START")" ]
finish
