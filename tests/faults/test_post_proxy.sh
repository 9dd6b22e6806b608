#!/bin/bash
# Fault trial: a forward proxy (post_proxy.py) between osrunner and the cloud
# drops the client connection after reading the first two `POST /servers`,
# without answering,
#   - before forwarding them (Nova never saw them: nothing was created), and
#   - after forwarding them (Nova created the servers; osrunner never heard).
# `instance create --count 5` goes through it. Counted independently with the
# openstack CLI and the proxy's own log, each variant must end with exactly
# the 5 servers osrunner reported, no duplicate, and every POST the proxy saw
# one that osrunner sent on purpose (its trace): libcurl re-sent none by
# itself. Everything the trial made is deleted in the EXIT trap.
set -e
# shellcheck disable=SC1091
. "${OSR_SRC:-$(dirname "$0")/../..}/tests/integration/lib.sh"
export OS_CLIENT_CONFIG_FILE="$CLOUDS"
PROXY="${OSR_SRC:-$(dirname "$0")/../..}/tests/faults/post_proxy.py"
M="osr-fpp-$$"
COUNT=5
DROP=2
printf 'AAAAPROXYTOKEN%s\n' "$RANDOM$RANDOM" >"$T/token"
chmod 600 "$T/token"
PROXY_PID=

stop_proxy() {
  if [ -n "$PROXY_PID" ]; then
    kill "$PROXY_PID" 2>/dev/null || true
    wait "$PROXY_PID" 2>/dev/null || true
    PROXY_PID=
  fi
}
our_servers() { # ID NAME of every server of this trial
  $OPENSTACK --os-cloud ostb-admin server list --all-projects --name "^$M-" -f value -c ID -c Name
}
cleanup() {
  set +e
  stop_proxy
  ids=$(our_servers | cut -d' ' -f1)
  # shellcheck disable=SC2086
  [ -n "$ids" ] && $OPENSTACK --os-cloud ostb-admin server delete --wait $ids
  rm -rf "$T"
}
trap cleanup EXIT

start_proxy() { # start_proxy MODE: PROXY_PID, PORT
  rm -f "$T/port" "$T/proxy.log"
  : >"$T/proxy.log"
  mkfifo "$T/port"
  /usr/bin/python3 "$PROXY" --mode "$1" --drop "$DROP" --log "$T/proxy.log" --lifetime 400 \
    >"$T/port" 2>"$T/proxy.err" &
  PROXY_PID=$!
  PORT=
  read -r -t 10 PORT <"$T/port" || true
  [ -n "$PORT" ] || { echo "the proxy did not start: $(cat "$T/proxy.err")"; exit 1; }
}

before_total=$($OPENSTACK --os-cloud ostb-admin server list --all-projects -f value -c ID | wc -l)
before_images=$($OPENSTACK --os-cloud ostb-admin image list -f value -c ID | wc -l)
check "no server of this trial before" [ -z "$(our_servers)" ]

for mode in before after; do
  start_proxy "$mode"
  set +e
  # osrunner's own libcurl through the proxy: tests/cloud's no_proxy exempts
  # loopback, so it goes for this one command.
  env -u no_proxy -u NO_PROXY http_proxy="http://127.0.0.1:$PORT" timeout 300 \
    "$OSRUNNER" -vv instance create --os-cloud ostb-admin --manager "$M" --image osr-test-image \
    --flavor m1.tiny --labels self-hosted,proxy --github-path octo/repo --token-file "$T/token" \
    --name "$M-$mode" --count "$COUNT" --json >"$T/$mode.out" 2>"$T/$mode.err" </dev/null
  RC=$?
  set -e
  stop_proxy
  cp "$T/proxy.log" "$T/$mode.proxy"

  # What the proxy saw, what osrunner sent, what Nova has.
  seen=$(grep -c '^post ' "$T/$mode.proxy" || true)
  dropped=$(grep -c "action=drop-$mode" "$T/$mode.proxy" || true)
  forwarded=$(grep '^post ' "$T/$mode.proxy" | grep -vc 'status=-' || true)
  reused=$(grep -c '^post .*reused=1' "$T/$mode.proxy" || true)
  traced=$(grep -c '> POST http://127.0.0.1:[0-9]*/v2.1/servers$' "$T/$mode.err" || true)
  $OPENSTACK --os-cloud ostb-admin server list --all-projects --name "^$M-$mode-" -f value \
    -c ID -c Name | sort >"$T/$mode.nova"
  in_nova=$(wc -l <"$T/$mode.nova")
  names=$(cut -d' ' -f2 "$T/$mode.nova" | sort -u | wc -l)
  /usr/bin/python3 -c '
import json, sys
for s in json.load(open(sys.argv[1])):
    if s.get("status") == "ACTIVE":
        print(s["id"], s["name"])' "$T/$mode.out" 2>/dev/null | sort >"$T/$mode.reported" || true
  reported=$(wc -l <"$T/$mode.reported")
  echo "figures $mode: exit $RC; proxy saw $seen POST /servers ($dropped dropped $mode forwarding," \
    "$forwarded forwarded to Nova, $reused on a reused connection); osrunner traced $traced;" \
    "Nova has $in_nova ($names names); osrunner reported $reported ACTIVE"

  check "$mode: the proxy carried osrunner's requests (http_proxy honoured)" \
    grep -q '^req GET /v2.1/flavors' "$T/$mode.proxy"
  check "$mode: the proxy dropped $DROP creates" [ "$dropped" = "$DROP" ]
  check "$mode: no POST re-sent below osrunner (proxy saw $seen, trace shows $traced)" \
    [ "$seen" = "$traced" ]
  check "$mode: no POST went on a reused connection" [ "$reused" = 0 ]
  check "$mode: create --count $COUNT exits 0" [ "$RC" = 0 ]
  check "$mode: $COUNT servers reported ACTIVE" [ "$reported" = "$COUNT" ]
  check "$mode: Nova has exactly the reported servers (0 extra)" cmp -s "$T/$mode.nova" "$T/$mode.reported"
  check "$mode: 0 duplicate names" [ "$names" = "$in_nova" ]
  if [ "$mode" = before ]; then
    check "before: the dropped creates never reached Nova" [ "$forwarded" = "$COUNT" ]
    check "before: they were sent again" [ "$seen" = $((COUNT + DROP)) ]
  else
    check "after: the dropped creates were adopted, not sent again" [ "$seen" = "$COUNT" ]
  fi
  check "$mode: no token in any output" bash -c "! grep -qF '$(cat "$T/token")' '$T/$mode.out' '$T/$mode.err'"
done

# Delete what the trial made, with osrunner itself (no proxy), and count again.
ids=$(our_servers | cut -d' ' -f1)
# shellcheck disable=SC2086
[ -z "$ids" ] || run del instance delete --os-cloud ostb-admin $ids
check "nothing of this trial left" [ -z "$(our_servers)" ]
after_total=$($OPENSTACK --os-cloud ostb-admin server list --all-projects -f value -c ID | wc -l)
after_images=$($OPENSTACK --os-cloud ostb-admin image list -f value -c ID | wc -l)
echo "figures: servers in the cloud before $before_total, after $after_total; images before" \
  "$before_images, after $after_images (shared cloud; of this trial: 0 servers left, no image touched)"
finish
