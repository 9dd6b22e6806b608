#!/bin/bash
# Fault trial: osrunner itself is stopped during `instance create --count 10`.
# - SIGTERM (servers in BUILD, and again once the first create is answered):
#   exit 143, and the launch deletes every server it created.
# - SIGINT: exit 130, likewise.
# - SIGKILL: nothing can clean up, so the launch id printed first is the
#   handle: `instance delete --launch ID` removes all ten.
# What is left is counted independently with the openstack CLI, before and
# after each trial: all servers of the project, this trial's names, duplicates.
# nova-conductor is paused (SIGSTOP) where the servers must stay in BUILD
# until the signal; the EXIT trap resumes it and deletes what the test made.
set -e
. "$OSR_SRC/tests/integration/lib.sh"
export OS_CLIENT_CONFIG_FILE="$CLOUDS"
M="osr-sig-$$"
TOKEN="AAAASIGTOKEN$RANDOM"
printf '%s\n' "$TOKEN" >"$T/token"
chmod 600 "$T/token"
COMMON=(--os-cloud ostb-admin --manager "$M" --image osr-test-image --flavor m1.tiny
        --labels self-hosted,sig --github-path octo/repo --token-file "$T/token" --timeout 300)
CONDUCTOR_PID=$(cat "$OSR_CLOUD_DIR/run/nova-conductor.pid")
PIDS=()

cleanup() {
  set +e
  kill -CONT -- "-$CONDUCTOR_PID" 2>/dev/null
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  ids=$($OPENSTACK --os-cloud ostb-admin server list --name "^$M-" -f value -c ID 2>/dev/null)
  # shellcheck disable=SC2086
  [ -n "$ids" ] && $OPENSTACK --os-cloud ostb-admin server delete --wait $ids >/dev/null 2>&1
  if [ -n "${GITHUB_TOKEN:-}" ]; then # runner records of a JIT trial that failed half-way
    for id in $("$OSRUNNER" github runners --github-path octo-org/octo-repo --json 2>/dev/null |
                /usr/bin/python3 -c 'import json,sys; print(" ".join(str(r["id"]) for r in json.load(sys.stdin) if r["name"].startswith(sys.argv[1])))' "$M-" 2>/dev/null); do
      "$OSRUNNER" github delete-runner --github-path octo-org/octo-repo "$id" >/dev/null 2>&1
    done
  fi
  rm -rf "$T"
}
trap cleanup EXIT

all_servers() { $OPENSTACK --os-cloud ostb-admin server list -f value -c ID | wc -l; }
named() { $OPENSTACK --os-cloud ostb-admin server list --name "^$1-" -f value -c ID | wc -l; }
dups() { $OPENSTACK --os-cloud ostb-admin server list --name "^$M-" -f value -c Name | sort | uniq -d | wc -l; }
now() { date +%s.%N; }
secs() { /usr/bin/python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$@"; }
# wait_for SECONDS COMMAND...: poll a condition, bounded
wait_for() {
  local end=$((SECONDS + $1)); shift
  until "$@"; do [ $SECONDS -lt $end ] || return 1; sleep 0.1; done
}
NOVA_LOG="$OSR_CLOUD_DIR/log/nova-api.log"
posts() { grep -c '"POST /v2.1/servers HTTP' "$NOVA_LOG" || true; }
more_posts_than() { [ "$(posts)" -gt "$1" ]; }
launch_id_of() { sed -n 's/^osrunner: launch \([0-9a-f]\{32\}\) .*/\1/p' "$1"; }
has_launch_line() { [ -n "$(launch_id_of "$1")" ]; }
# at_least N LAUNCH: the launch has N servers (osrunner's own list, one request)
at_least() {
  [ "$("$OSRUNNER" instance list --os-cloud ostb-admin --launch "$2" --json 2>/dev/null | json_ids | grep -c .)" -ge "$1" ]
}

# start NAME: instance create --count 10 in the background; sets PID
start() {
  "$OSRUNNER" instance create "${COMMON[@]}" --name "$M-$1" --count 10 >"$T/$1.out" 2>"$T/$1.err" </dev/null &
  PID=$!
  PIDS+=("$PID")
}

# trial NAME SIGNAL EXPECTED-EXIT PAUSE(yes|no) WAIT-FOR-SERVERS
trial() {
  local name=$1 sig=$2 want=$3 pause=$4 need=$5 before after t0 ts t1 rc lid p0
  before=$(all_servers)
  p0=$(posts)
  [ "$pause" = yes ] && kill -STOP -- "-$CONDUCTOR_PID"
  t0=$(now)
  start "$name"
  check "$name: the launch id comes first" wait_for 60 has_launch_line "$T/$name.err"
  lid=$(launch_id_of "$T/$name.err")
  if [ "$need" = first-post ]; then
    check "$name: nova-api answered the first create" wait_for 60 more_posts_than "$p0"
  elif [ "$need" -gt 0 ]; then
    check "$name: $need servers exist before the signal" wait_for 120 at_least "$need" "$lid"
  fi
  ts=$(now)
  kill "-$sig" "$PID"
  set +e; wait "$PID"; rc=$?; set -e
  t1=$(now)
  [ "$pause" = yes ] && kill -CONT -- "-$CONDUCTOR_PID"
  after=$(all_servers)
  echo "trial $name: SIG$sig after $(secs "$t0" "$ts") s, exit $rc $(secs "$ts" "$t1") s later; servers before $before, after $after; of the launch $(named "$M-$name"); $(grep -o 'interrupted; [0-9]* instances' "$T/$name.err")"
  check "$name: exit $want" [ "$rc" = "$want" ]
  check "$name: none of the launch left" [ "$(named "$M-$name")" = 0 ]
  check "$name: as many servers as before" [ "$after" = "$before" ]
  check "$name: says it was interrupted" grep -q 'interrupted' "$T/$name.err"
}

trial term TERM 143 yes 10
trial int INT 130 yes 10
# In flight: the signal once nova-api has answered the first create, while
# the others go out and the first ones build.
trial early TERM 143 no first-post

# --- SIGKILL: ten servers abandoned, then found and deleted by the launch id
before=$(all_servers)
kill -STOP -- "-$CONDUCTOR_PID"
t0=$(now)
start kill
check "kill: the launch id comes first" wait_for 60 has_launch_line "$T/kill.err"
LID=$(launch_id_of "$T/kill.err")
check "kill: 10 servers exist" wait_for 120 at_least 10 "$LID"
kill -KILL "$PID"
set +e; wait "$PID"; KRC=$?; set -e
kill -CONT -- "-$CONDUCTOR_PID"
left=$(named "$M-kill")
check "kill: SIGKILL leaves the 10 servers ($left)" [ "$left" = 10 ]
check "kill: no duplicate names" [ "$(dups)" = 0 ]
run listk instance list --os-cloud ostb-admin --launch "$LID" --json
check "kill: list --launch shows the 10" [ "$(json_ids <"$T/listk.out" | grep -c .)" = 10 ]
run delk instance delete --os-cloud ostb-admin --launch "$LID"
t1=$(now)
after=$(all_servers)
echo "trial kill: SIGKILL, exit $KRC; $left left, delete --launch exit $RC; $(secs "$t0" "$t1") s; servers before $before, after $after"
check "kill: delete --launch exits 0" [ "$RC" = 0 ]
check "kill: delete --launch reports 10" [ "$(grep -c '^deleted' "$T/delk.out")" = 10 ]
check "kill: none of the launch left" [ "$(named "$M-kill")" = 0 ]
check "kill: as many servers as before" [ "$after" = "$before" ]
# --- SIGTERM with a JIT config per runner: the runner records go too
GH_ENV="${OSR_GITHUB_DIR:-$OSR_SRC/tests/github/state}/env.sh"
if [ ! -r "$GH_ENV" ]; then
  bad "the GitHub stand-in is not up ($GH_ENV missing); run tests/github/up"
else
  # shellcheck disable=SC1090
  . "$GH_ENV"
  before=$(all_servers)
  kill -STOP -- "-$CONDUCTOR_PID"
  "$OSRUNNER" instance create --os-cloud ostb-admin --manager "$M" --image osr-test-image \
    --flavor m1.tiny --labels self-hosted,sig --github-path octo-org/octo-repo --jit \
    --name "$M-jit" --count 3 --timeout 300 >"$T/jit.out" 2>"$T/jit.err" </dev/null &
  PID=$!
  PIDS+=("$PID")
  check "jit: the launch id comes first" wait_for 60 has_launch_line "$T/jit.err"
  LID=$(launch_id_of "$T/jit.err")
  check "jit: 3 servers exist before the signal" wait_for 120 at_least 3 "$LID"
  run jitrunners github runners --github-path octo-org/octo-repo --json
  check "jit: 3 runner records registered" [ "$(grep -c "\"$M-jit-" "$T/jitrunners.out")" = 3 ]
  kill -TERM "$PID"
  set +e; wait "$PID"; JRC=$?; set -e
  kill -CONT -- "-$CONDUCTOR_PID"
  run jitrunners2 github runners --github-path octo-org/octo-repo --json
  echo "trial jit: SIGTERM, exit $JRC; servers before $before, after $(all_servers); runner records left $(grep -c "\"$M-jit-" "$T/jitrunners2.out" || true)"
  check "jit: exit 143" [ "$JRC" = 143 ]
  check "jit: none of the launch left" [ "$(named "$M-jit")" = 0 ]
  check "jit: the runner records are gone" bash -c "! grep -q '\"$M-jit-' '$T/jitrunners2.out'"
fi
check "the token is in no output" bash -c "! grep -rqF '$TOKEN' '$T'/*.out '$T'/*.err"
finish
