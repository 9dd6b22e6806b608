#!/bin/bash
# osrunner config check: a good osrunner.yaml summarised and as typed JSON, a
# bad one refused with FILE:LINE:COL, the key path and exit 3, no secret
# echoed, the default path, usage errors. Needs no cloud and no GitHub.
set -e
OSR_NO_CLOUD=1
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

mkdir -p "$T/etc"
cat >"$T/etc/osrunner.yaml" <<'YAML'
manager: ci-a
github:
  url: https://api.github.com
  token_file: github.token
pools:
  - name: small
    cloud: prod
    github_path: my-org/my-repo
    labels: [self-hosted, linux, x64]
    image: github-runner-jammy
    flavor: m1.small
    network: ci-net
    min_idle: 2
    max_runners: 20
    timeouts: {build: 10m, job: 2h}
  - name: big
    cloud: prod
    github_path: my-org
    runner_group: ci
    labels: [self-hosted, big]
    image: github-runner-jammy
    flavor: m1.xlarge
    jit: false
YAML

# --- a good file: the summary
run ok config check --config "$T/etc/osrunner.yaml"
check "good file: exit 0" [ "$RC" = 0 ]
check "good file: says ok" grep -qx "$T/etc/osrunner.yaml: ok" "$T/ok.out"
check "good file: names the manager" grep -qx "manager: ci-a" "$T/ok.out"
check "good file: a row per pool with its sizes" grep -qE '^small +prod +my-org/my-repo +2 +20 ' "$T/ok.out"
check "good file: defaults shown (max 10)" grep -qE '^big +prod +my-org +0 +10 ' "$T/ok.out"
check "good file: nothing on stderr" [ ! -s "$T/ok.err" ]

# --- --json: typed, defaults applied, relative paths from the file's directory
run json config check -c "$T/etc/osrunner.yaml" --json
check "--json: exit 0" [ "$RC" = 0 ]
check "--json: typed and complete" "$PY" - "$T/json.out" "$T/etc" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["manager"] == "ci-a", d
assert d["github"] == {"url": "https://api.github.com", "auth": "token_file",
                       "token_file": sys.argv[2] + "/github.token"}, d["github"]
small, big = d["pools"]
assert small["labels"] == ["self-hosted", "linux", "x64"]
assert small["min_idle"] == 2 and small["max_runners"] == 20
assert small["timeouts"] == {"build": 600, "bootstrap": 1200, "registration_grace": 120, "job": 7200}
assert small["jit"] is True and small["config_drive"] is False and small["runner_group"] is None
assert big["jit"] is False and big["runner_group"] == "ci" and big["network"] is None
assert big["min_idle"] == 0 and big["max_runners"] == 10 and big["security_groups"] == []
assert big["timeouts"]["job"] == 21600
PY

# --- bad files: one line, FILE:LINE:COL and the key path, exit 3
bad_case() { # bad_case NAME EXPECTED-STDERR-LINE (the file is $T/NAME.yaml)
  run "$1" config check --config "$T/$1.yaml"
  check "$1: exit 3" [ "$RC" = 3 ]
  check "$1: the one line" [ "$(cat "$T/$1.err")" = "osrunner: $T/$1.yaml:$2" ]
  check "$1: nothing on stdout" [ ! -s "$T/$1.out" ]
}
sed 's/min_idle: 2/min_idel: 2/' "$T/etc/osrunner.yaml" >"$T/typo.yaml"
bad_case typo "13:5: pools[0]: unknown key 'min_idel' (did you mean 'min_idle'?)"
sed 's/min_idle: 2/min_idle: 30/' "$T/etc/osrunner.yaml" >"$T/minmax.yaml"
bad_case minmax "13:15: pools[0].min_idle: 30 is more than max_runners (20, line 14)"
sed 's/name: big/name: small/' "$T/etc/osrunner.yaml" >"$T/dup.yaml"
bad_case dup "16:11: pools[1].name: duplicate pool name 'small' (also at line 6, column 11)"
sed 's/labels: \[self-hosted, big\]/labels: self-hosted/' "$T/etc/osrunner.yaml" >"$T/labels.yaml"
bad_case labels "20:13: pools[1].labels: expected a list of strings, found a string (write [a])"
sed '/flavor: m1.small/d' "$T/etc/osrunner.yaml" >"$T/missing.yaml"
bad_case missing "6:5: pools[0]: missing 'flavor'"
sed 's|token_file: github.token|token: ghp_DoNotPrintMe|' "$T/etc/osrunner.yaml" >"$T/inline.yaml"
bad_case inline "4:3: github.token: inline credentials are refused; put the token in a file (mode 0600) and name it with token_file"
check "inline token: never echoed" bash -c "! grep -q ghp_DoNotPrintMe '$T/inline.err'"
printf 'manager: ci-a\ngithub: {token_file: /t, app_id: 1, installation_id: 2, app_key_file: /k}\npools: []\n' >"$T/both.yaml"
bad_case both "2:34: github: both token_file and a GitHub App given; use one: token_file, or app_id, installation_id and app_key_file"
printf 'manager: ci-a\n  bad: [\n' >"$T/syntax.yaml"
run syntax config check --config "$T/syntax.yaml"
check "YAML syntax error: exit 3" [ "$RC" = 3 ]
check "YAML syntax error: file:line" grep -q "^osrunner: $T/syntax.yaml:2:" "$T/syntax.err"

# --- files and usage
run nofile config check --config "$T/none.yaml"
check "no such file: exit 5" [ "$RC" = 5 ]
run dir config check --config "$T/etc"
check "a directory: exit 1" [ "$RC" = 1 ]
run default config check
check "default path /etc/osrunner/osrunner.yaml named" grep -q "/etc/osrunner/osrunner.yaml" "$T/default.err"
run operand config check "$T/etc/osrunner.yaml"
check "an operand: usage exit 2" [ "$RC" = 2 ]
run noverb config
check "config without a verb: usage exit 2" [ "$RC" = 2 ]
run unknown config check --confi x
check "an unknown option: usage exit 2" [ "$RC" = 2 ]
run help config check --help
check "--help: exit 0" [ "$RC" = 0 ]
check "--help: names the default file" grep -q "/etc/osrunner/osrunner.yaml" "$T/help.out"
check "--help: points to osrunner.yaml(5)" grep -q "osrunner.yaml(5)" "$T/help.out"
run mainhelp --help
check "osrunner --help lists config check" grep -q "config check" "$T/mainhelp.out"
finish
