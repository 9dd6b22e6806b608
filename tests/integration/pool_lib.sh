# Helpers of the pool engine's tests (test_pool*.sh): a manager id of the
# test's own, osrunner.yaml, the fleet simulator (tests/sim/fleet.js), the
# GitHub stand-in, and questions about what a pass printed (--json).
# Source it after lib.sh.
# shellcheck shell=bash disable=SC2034

GH_DIR="${OSR_GITHUB_DIR:-$OSR_SRC/tests/github/state}"
if [ ! -r "$GH_DIR/env.sh" ]; then
  echo "FAIL: the GitHub stand-in is not up ($GH_DIR/env.sh missing); run tests/github/up" >&2
  exit 1
fi
# shellcheck disable=SC1091
. "$GH_DIR/env.sh"
. "$OSR_SRC/tests/github/violations.sh"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY OSR_GITHUB_PATH OSR_GITHUB_TOKEN_FILE \
  OSR_GITHUB_APP_ID OSR_GITHUB_INSTALLATION_ID OSR_GITHUB_APP_KEY OSR_GITHUB_RUNNER_GROUP
export OS_CLIENT_CONFIG_FILE="$CLOUDS"
M="pt$$"                      # the manager id: lower case
GH_PATH="octo/pool-$$"
CFG="$T/osrunner.yaml"
VIOLATIONS_AT_START=$(stat -c %s "$OSR_GITHUB_VIOLATIONS_LOG")
GH=(--github-url "$OSR_GITHUB_URL" --github-token-file "$OSR_GITHUB_TEST_TOKEN_FILE")

# --- the simulator, stopped with the test
SIM_PID=
sim_start() {
  local line=
  exec {SIM_FD}< <(exec node "$OSR_SRC/tests/sim/fleet.js" --port 0 --manager "$M" 2>"$T/sim.err")
  SIM_PID=$!
  if ! read -r -t 30 line <&"$SIM_FD" || [[ $line != "ready http://127.0.0.1:"* ]]; then
    echo "FAIL: the fleet simulator did not start: $line" >&2
    cat "$T/sim.err" >&2
    exit 1
  fi
  SIM_PORT=${line#ready http://127.0.0.1:}
  SIM_PORT=${SIM_PORT%% *}
}
sim_stop() {
  [ -n "$SIM_PID" ] || return 0
  kill "$SIM_PID" 2>/dev/null || true
  wait "$SIM_PID" 2>/dev/null || true
  SIM_PID=
}
pool_cleanup_trap() {
  sim_stop
  # Anything a failed test left: our servers by tag, our runners by path.
  local m ids id
  for m in "$M" "$M-b"; do
    mapfile -t ids < <("$OSRUNNER" instance list --os-cloud ostb-demo --manager "$m" --json 2>/dev/null | json_ids || true)
    if [ "${#ids[@]}" -gt 0 ] && [ -n "${ids[0]}" ]; then
      "$OSRUNNER" instance delete --os-cloud ostb-demo "${ids[@]}" >/dev/null 2>&1 || true
    fi
  done
  # and our runner records (the repository is this test's alone)
  for id in $(runners_json 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(" ".join(str(r["id"]) for r in json.load(sys.stdin)["runners"] if r["scope"]=="repos/"+sys.argv[1]))' "$GH_PATH" 2>/dev/null); do
    "$OSRUNNER" github delete-runner "$id" --github-path "$GH_PATH" "${GH[@]}" >/dev/null 2>&1 || true
  done
  [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap pool_cleanup_trap EXIT

not() { ! "$@"; }
sim_post() { curl -sf -X POST -H 'content-type: application/json' -d "${2:-{\}}" "http://127.0.0.1:$SIM_PORT/$1"; }
sim_sync() { sim_post sync >"$T/sync.json" || { echo "FAIL: simulator sync"; cat "$T/sim.err"; exit 1; }; }
fake_post() { curl -sf -X POST -H 'content-type: application/json' -d "$2" "$OSR_GITHUB_FAKE_URL/$1"; }

# --- osrunner.yaml
# pool_block NAME MIN_IDLE MAX [GITHUB_PATH] [FLAVOR]
pool_block() {
  cat <<EOF
  - name: $1
    cloud: ostb-demo
    github_path: ${4:-$GH_PATH}
    labels: [self-hosted, pool-test]
    image: osr-test-image
    flavor: ${5:-m1.tiny}
    min_idle: $2
    max_runners: $3
    timeouts: {bootstrap: 4s, registration_grace: 1s}
EOF
}
# write_config FILE MANAGER GITHUB_PATH POOLS...
write_config() {
  cat >"$1.tmp" <<EOF
manager: $2
github:
  url: $OSR_GITHUB_URL
  token_file: $OSR_GITHUB_TEST_TOKEN_FILE
pools:
$4
EOF
  mv "$1.tmp" "$1"
}

# reconcile NAME [POOL] [CONFIG]: a pass; the JSON in $T/NAME.out, exit code in $RC
reconcile() { run "$1" pool reconcile ${2:+"$2"} --config "${3:-$CFG}" --json; }
plan() { run "$1" pool plan ${2:+"$2"} --config "${3:-$CFG}" --json; }

# Questions about a pass's JSON (--json of reconcile or plan).
pj() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); $2" "$1" "${@:3}"; }
# actions FILE KIND RULE: how many
actions() { pj "$1" 'print(sum(1 for p in d["pools"] for a in p["actions"] if a["kind"]==sys.argv[2] and a["rule"]==sys.argv[3]))' "$2" "$3"; }
rule_count() { pj "$1" 'print(sum(1 for p in d["pools"] for a in p["actions"] if a["rule"]==sys.argv[2]))' "$2"; }
count_actions() { pj "$1" 'print(sum(len(p["actions"]) for p in d["pools"]))'; }
figure() { pj "$1" 'print(d["pools"][0]["figures"][sys.argv[2]])' "$2"; }
# action_server FILE RULE: the server name of the first action of RULE
action_server() { pj "$1" 'print(next(a["server_name"] for p in d["pools"] for a in p["actions"] if a["rule"]==sys.argv[2]))' "$2"; }
# outcome_of FILE SERVER_NAME OUTCOME [RULE]: an action on that server (any, for "") had that outcome
outcome_of() {
  pj "$1" 'sys.exit(0 if any(a["outcome"]==sys.argv[3] and (sys.argv[2]=="" or a["server_name"]==sys.argv[2]) and (len(sys.argv)<5 or a["rule"]==sys.argv[4]) for p in d["pools"] for a in p["actions"]) else 1)' "$2" "$3" "${4:-}"
}

# --- Nova, as the openstack CLI sees it
servers_json() { $OPENSTACK --os-cloud ostb-admin --os-compute-api-version 2.79 server list --all-projects --tags "osrunner-manager=$1" --long -f json; }
server_named() { $OPENSTACK --os-cloud ostb-admin server list --all-projects --name "^$1\$" -f value -c ID | grep -q .; }
no_servers() { [ "$(servers_json "$1" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 0 ]; }
# wait_active MANAGER N [POOL]: until N servers of ours are ACTIVE (5 min at most: a loaded Nova)
wait_active() {
  local i n
  for i in $(seq 1 600); do
    n=$("$OSRUNNER" instance list --os-cloud ostb-demo --manager "$1" --json |
      /usr/bin/python3 -c 'import json,sys; print(sum(1 for s in json.load(sys.stdin) if s["status"]=="ACTIVE" and (len(sys.argv)<2 or s.get("metadata",{}).get("osrunner-pool")==sys.argv[1])))' ${3:+"$3"})
    [ "$n" -ge "$2" ] && return 0
    read -r -t 0.5 <> <(:) || true # Nova's fake driver: ACTIVE in about a second
  done
  echo "FAIL: $2 ACTIVE servers of $1 did not come (have $n)"
  return 1
}
# wait_status MANAGER POOL STATUS N: until N servers of the pool have STATUS
wait_status() {
  local i n
  for i in $(seq 1 600); do
    n=$("$OSRUNNER" instance list --os-cloud ostb-demo --manager "$1" --json |
      /usr/bin/python3 -c 'import json,sys; print(sum(1 for s in json.load(sys.stdin) if s["status"]==sys.argv[2] and s.get("metadata",{}).get("osrunner-pool")==sys.argv[1]))' "$2" "$3")
    [ "$n" -ge "$4" ] && return 0
    read -r -t 0.5 <> <(:) || true
  done
  echo "FAIL: $4 servers of pool $2 did not reach $3"
  return 1
}
# wait_rule RULE POOL [CONFIG]: until a plan fires RULE (the bootstrap timeout passing)
wait_rule() {
  local i
  for i in $(seq 1 60); do
    plan waitrule "$2" "${3:-$CFG}"
    grep -q "\"rule\": \"$1\"" "$T/waitrule.out" && return 0
    read -r -t 0.5 <> <(:) || true
  done
  echo "FAIL: rule $1 never fired"
  return 1
}
server_tags_ok() {
  "$OSRUNNER" instance list --os-cloud ostb-demo --manager "$1" --json |
    /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)
ok = s and all("osrunner-pool=" + sys.argv[1] in x.get("tags", []) and x["metadata"].get("osrunner-pool") == sys.argv[1]
               and x["metadata"].get("osrunner-runner-id", "").isdigit() for x in s)
sys.exit(0 if ok else 1)' "$2"
}
names_ok() {
  "$OSRUNNER" instance list --os-cloud ostb-demo --manager "$1" --json |
    /usr/bin/python3 -c '
import json, re, sys
s = json.load(sys.stdin)
sys.exit(0 if s and all(re.fullmatch(re.escape(sys.argv[1]) + r"-[a-z0-9]{8}", x["name"]) for x in s) else 1)' "$2"
}

# --- the stand-in
runners_json() { curl -sf "$OSR_GITHUB_FAKE_URL/_control/runners"; }
# runner_named NAME: a live runner of that name in this test's repository
runner_named() { runners_json | /usr/bin/python3 -c 'import json,sys; sys.exit(0 if any(r["name"]==sys.argv[1] and r["scope"]=="repos/"+sys.argv[2] for r in json.load(sys.stdin)["runners"]) else 1)' "$1" "$GH_PATH"; }
# idle_runner POOL: an online runner of ours without a job; idle_runners POOL: all, as JSON
idle_runners() { runners_json | /usr/bin/python3 -c '
import json, sys
print(json.dumps([r["name"] for r in json.load(sys.stdin)["runners"] if r["name"].startswith(sys.argv[1] + "-") and r["status"] == "online" and not r["busy"] and sys.argv[2] in r["scope"]]))' "$1" "$GH_PATH"; }
idle_runner() { runners_json | /usr/bin/python3 -c '
import json, sys
rs = [r for r in json.load(sys.stdin)["runners"] if r["name"].startswith(sys.argv[1] + "-") and r["status"] == "online" and not r["busy"] and sys.argv[2] in r["scope"]]
print(rs[0]["name"])' "$1" "$GH_PATH"; }
no_runners() {
  runners_json | /usr/bin/python3 -c 'import json,sys; sys.exit(0 if not any(sys.argv[1] in r["scope"] for r in json.load(sys.stdin)["runners"]) else 1)' "$GH_PATH"
}
# jit_runner NAME LABELS: a runner record with no VM (a JIT config nobody uses)
jit_runner() {
  "$OSRUNNER" github jitconfig --github-path "$GH_PATH" "${GH[@]}" --name "$1" --labels "$2" \
    --output "$T/jit-$1" >/dev/null 2>&1
}
delete_runner_named() {
  local id
  id=$(runners_json | /usr/bin/python3 -c 'import json,sys; print(next(r["id"] for r in json.load(sys.stdin)["runners"] if r["name"]==sys.argv[1] and r["scope"]=="repos/"+sys.argv[2]))' "$1" "$GH_PATH")
  "$OSRUNNER" github delete-runner "$id" --github-path "$GH_PATH" "${GH[@]}" >/dev/null
}
# no_violations: Prism logged nothing new but the answers the schema-drift
# owner breaks on purpose (the observe-failure trials).
no_violations() { [ -z "$(new_violations "$VIOLATIONS_AT_START")" ]; }

# drain POOL [CONFIG]: passes with min_idle 0 until the pool is empty (a few at most)
drain() {
  local i tag
  tag=$(basename "${2:-$CFG}" .yaml)
  for i in 1 2 3 4 5 6; do
    sim_sync
    reconcile "drain-$tag-$1-$i" "$1" "${2:-$CFG}"
    [ "$(figure "$T/drain-$tag-$1-$i.out" servers)" = 0 ] && [ "$(figure "$T/drain-$tag-$1-$i.out" runners)" = 0 ] &&
      [ "$(count_actions "$T/drain-$tag-$1-$i.out")" = 0 ] && return 0
  done
  echo "FAIL: pool $1 did not drain"
  return 1
}
