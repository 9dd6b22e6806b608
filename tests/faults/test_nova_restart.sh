#!/bin/bash
# Fault trial: nova-api is stopped in the middle of `instance create --count
# 10`, as soon as nova-api has logged the launch's first POST /servers, and
# started again after an outage of 10 s (and 5 s):
# - with a --timeout longer than the outage all ten become ACTIVE, exit 0;
# - with a --timeout shorter than the outage the launch fails (exit 9) and
#   every server is deleted again or named by id in the error;
# - with every server in BUILD (nova-conductor paused) when nova-api goes for
#   10 s, the polls fail for that long and all ten still become ACTIVE.
# Counted independently with the openstack CLI before and after each trial:
# all servers of the project, this trial's names, duplicate names. The EXIT
# trap starts nova-api again and deletes what the test made.
set -e
. "$OSR_SRC/tests/integration/lib.sh"
export OS_CLIENT_CONFIG_FILE="$CLOUDS"
M="osr-nr-$$"
TOKEN="AAAANRTOKEN$RANDOM"
printf '%s\n' "$TOKEN" >"$T/token"
chmod 600 "$T/token"
COMMON=(--os-cloud ostb-admin --manager "$M" --image osr-test-image --flavor m1.tiny
        --labels self-hosted,nr --github-path octo/repo --token-file "$T/token")
SERVICE="$OSR_SRC/tests/cloud/service"
NOVA_LOG="$OSR_CLOUD_DIR/log/nova-api.log"
CONDUCTOR_PID=$(cat "$OSR_CLOUD_DIR/run/nova-conductor.pid")
PIDS=()

cleanup() {
  set +e
  kill -CONT -- "-$CONDUCTOR_PID" 2>/dev/null
  "$SERVICE" start nova-api >/dev/null
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  ids=$($OPENSTACK --os-cloud ostb-admin server list --name "^$M-" -f value -c ID 2>/dev/null)
  # shellcheck disable=SC2086
  [ -n "$ids" ] && $OPENSTACK --os-cloud ostb-admin server delete --wait $ids >/dev/null 2>&1
  rm -rf "$T"
}
trap cleanup EXIT

all_servers() { $OPENSTACK --os-cloud ostb-admin server list -f value -c ID | wc -l; }
launch_ids() { $OPENSTACK --os-cloud ostb-admin server list --name "^$1-" -f value -c ID; }
dups() { $OPENSTACK --os-cloud ostb-admin server list --name "^$1-" -f value -c Name | sort | uniq -d | wc -l; }
active() { $OPENSTACK --os-cloud ostb-admin server list --name "^$1-" --status ACTIVE -f value -c ID | wc -l; }
now() { date +%s.%N; }
secs() { /usr/bin/python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$@"; }
wait_for() { # wait_for SECONDS COMMAND...: poll a condition, bounded
  local end=$((SECONDS + $1)); shift
  until "$@"; do [ $SECONDS -lt $end ] || return 1; sleep 0.05; done
}
posts() { grep -c '"POST /v2.1/servers HTTP' "$NOVA_LOG" || true; }
more_posts_than() { [ "$(posts)" -gt "$1" ]; }

# trial NAME OUTAGE-S TIMEOUT-S [POSTS [PAUSE]]: nova-api stops once it has
# logged POSTS (default 1) creates of the launch; PAUSE=yes pauses the
# conductor until nova-api is back. Sets RC, BEFORE, AFTER, T_RUN, RETRIES.
trial() {
  local name=$1 outage=$2 timeout=$3 want=${4:-1} pause=${5:-no} p0 t0 ts t1 pid
  BEFORE=$(all_servers)
  p0=$(posts)
  t0=$(now)
  "$OSRUNNER" -v instance create "${COMMON[@]}" --name "$M-$name" --count 10 --timeout "$timeout" \
    >"$T/$name.out" 2>"$T/$name.err" </dev/null &
  pid=$!
  PIDS+=("$pid")
  [ "$pause" = yes ] && kill -STOP -- "-$CONDUCTOR_PID"
  check "$name: nova-api saw $want create(s)" wait_for 60 more_posts_than $((p0 + want - 1))
  "$SERVICE" stop nova-api >/dev/null
  ts=$(now)
  # The outage itself is the fault being injected: it lasts this long.
  sleep "$outage"
  [ "$pause" = yes ] && kill -CONT -- "-$CONDUCTOR_PID"
  "$SERVICE" start nova-api >/dev/null
  echo "$name: nova-api down for $(secs "$ts" "$(now)") s, from $(secs "$t0" "$ts") s into the launch"
  set +e; wait "$pid"; RC=$?; set -e
  t1=$(now)
  T_RUN=$(secs "$t0" "$t1")
  AFTER=$(all_servers)
  RETRIES="$(grep -c 'looking it up before another' "$T/$name.err" || true) creates looked up, $(grep -c 'poll failed' "$T/$name.err" || true) polls failed, $(grep -c 'delete of server .* failed' "$T/$name.err" || true) deletes retried"
}

for t in long10:10:1:no long5:5:1:no poll10:10:10:yes; do
  IFS=: read -r name outage posts pause <<<"$t"
  trial "$name" "$outage" 300 "$posts" "$pause"
  n=$(launch_ids "$M-$name" | grep -c . || true)
  a=$(active "$M-$name")
  d=$(dups "$M-$name")
  echo "trial $name: outage ${outage} s, --timeout 300: exit $RC after $T_RUN s; servers before $BEFORE, after $AFTER; of the launch $n ($a ACTIVE, $d duplicate names); $RETRIES"
  check "$name: exit 0" [ "$RC" = 0 ]
  [ "$RC" = 0 ] || { echo "---- $name: osrunner's log (the end)"; tail -n 80 "$T/$name.err"; }
  [ "$pause" = yes ] && check "$name: the polls failed during the outage" grep -q 'poll failed' "$T/$name.err"
  check "$name: 10 servers, all ACTIVE" [ "$n:$a" = "10:10" ]
  check "$name: no duplicate names" [ "$d" = 0 ]
  check "$name: 10 more servers than before" [ "$AFTER" = $((BEFORE + 10)) ]
  check "$name: stdout lists 10" [ "$(grep -c ' ACTIVE$' "$T/$name.out")" = 10 ]
  run "del$name" instance delete --os-cloud ostb-admin --launch "$(sed -n 's/^osrunner: launch \([0-9a-f]*\) .*/\1/p' "$T/$name.err")"
  check "$name: delete --launch" [ "$RC" = 0 ]
  check "$name: back to $BEFORE servers" [ "$(all_servers)" = "$BEFORE" ]
done

# --- the deadline passes during the outage: nothing is abandoned silently
trial short 12 4
ids=$(launch_ids "$M-short")
unnamed=0
for id in $ids; do grep -q "$id" "$T/short.err" || unnamed=$((unnamed + 1)); done
echo "trial short: outage 12 s, --timeout 4: exit $RC after $T_RUN s; servers before $BEFORE, after $AFTER; of the launch $(echo "$ids" | grep -c . || true) ($unnamed not named in the error); $RETRIES"
check "short: exit 9" [ "$RC" = 9 ]
check "short: every server left is named by id" [ "$unnamed" = 0 ]
check "short: says LEFT for every server left" bash -c "[ $(echo "$ids" | grep -c . || true) = \$(grep -c 'is LEFT' '$T/short.err' || true) ]"
check "short: no duplicate names" [ "$(dups "$M-short")" = 0 ]
check "short: deleted again" [ -z "$ids" ]
check "short: as many servers as before" [ "$AFTER" = "$BEFORE" ]
check "the token is in no output" bash -c "! grep -rqF '$TOKEN' '$T'/*.out '$T'/*.err"
finish
