#!/bin/bash
# The runner VM's service script (data/runner-service.sh) on the host, with
# the runner.conf that `osrunner instance user-data` renders and a fake runner
# in a temporary directory: the secret reaches config.sh/run.sh only through
# ACTIONS_RUNNER_INPUT_*, never argv; the secret file is deleted; a failing
# config.sh stops everything; every step writes its status line; the exit code
# is run.sh's. tests/e2e proves the same in a real guest, with the unit.
# Usage: test_runner_service.sh OSRUNNER SCRIPT   (as root: it drops to nobody)
set -euo pipefail
OSRUNNER=$1 SCRIPT=$2
if [ "$(id -u)" != 0 ]; then
  echo "skipped: needs root (the script drops to another user)"
  exit 77
fi
T=$(mktemp -d -t osr-svc.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
chmod 0755 "$T"
FAILS=0 PASSES=0
ok() { echo "ok   $*"; PASSES=$((PASSES + 1)); }
bad() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
absent() { ! grep -rqF -- "$1" "${@:2}"; }

SECRET='AAtok-3f9e1c77b2d04a6e'
JIT=$(printf '{".runner":"%s"}' "$(printf 'jit-secret-payload' | base64 -w0)" | base64 -w0)
printf '%s\n' "$SECRET" >"$T/token"
printf '%s\n' "$JIT" >"$T/jit"
chmod 0600 "$T/token" "$T/jit"

# A fake runner as nobody: it records who ran it, its argv, its own
# environment's ACTIONS_RUNNER_INPUT_* and the proxies, and prints what the
# real runner prints at the points the service watches.
mkrunner() { # DIR CONFIG_EXIT RUN_EXIT
  local d=$1
  rm -rf "$d"; mkdir -p "$d"
  cat >"$d/config.sh" <<EOF
#!/bin/bash
{ echo "user=\$(id -un)"; echo "token=\${ACTIONS_RUNNER_INPUT_TOKEN:-}"; for a in "\$@"; do echo "arg=\$a"; done
  tr '\0' ' ' </proc/\$\$/cmdline; echo; tr '\0' ' ' </proc/\$PPID/cmdline; echo; } >"$d/config.log"
echo "√ Runner successfully added"
exit $2
EOF
  cat >"$d/run.sh" <<EOF
#!/bin/bash
{ echo "user=\$(id -un)"; echo "jit=\${ACTIONS_RUNNER_INPUT_JITCONFIG:-}"
  echo "token=\${ACTIONS_RUNNER_INPUT_TOKEN:-}"; for a in "\$@"; do echo "arg=\$a"; done
  env | grep -E '^(HTTPS?_PROXY|NO_PROXY|https?_proxy|no_proxy|LANG|HOME)=' | sort
  tr '\0' ' ' </proc/\$\$/cmdline; echo; } >"$d/run.log"
echo "√ Connected to GitHub"
echo "2026-12-01 12:00:00Z: Listening for Jobs"
echo "2026-12-01 12:00:01Z: Running job: build and test"
echo "2026-12-01 12:00:02Z: Job build and test completed with result: Succeeded"
exit $3
EOF
  chmod 0755 "$d" "$d/config.sh" "$d/run.sh"
  chown nobody: "$d"
}

# The runner.conf osrunner renders, as the VM gets it, with the user and the
# directory pointed at this test's.
render() { # NAME SECRET-OPTION FILE [EXTRA OPTIONS...]
  local n=$1 opt=$2 f=$3; shift 3
  "$OSRUNNER" instance user-data --name "$n" --labels 'e2e,$(touch '"$T"'/pwned),a b' \
    --github-path octo/e2e --github-url http://10.0.2.2:29381 "$opt" "$f" --reveal "$@" >"$T/ud"
  /usr/bin/python3 - "$T/ud" "$T/conf" "$T/secret" <<'PY'
import json, sys
doc = json.loads(open(sys.argv[1]).read().split("\n", 1)[1])
files = {f["path"]: f["content"] for f in doc["write_files"]}
open(sys.argv[2], "w").write(files["/etc/osrunner/runner.conf"])
open(sys.argv[3], "w").write(files["/run/osrunner/runner.secret"])
PY
  sed -i "s|^user=.*|user=nobody|; s|^dir=.*|dir=$T/runner|" "$T/conf"
  chmod 0600 "$T/secret"
}

service() { # run the script as the unit would; exit code in RC, console in $T/console
  : >"$T/console"
  set +e
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin OSR_RUNNER_CONF="$T/conf" OSR_RUNNER_SECRET="$T/secret" \
    OSR_RUNNER_CONSOLE="$T/console" bash "$SCRIPT" >"$T/journal" 2>&1
  RC=$?
  set -e
}

# --- token mode: register, run once, every status line
mkrunner "$T/runner" 0 0
render r-token --token-file "$T/token" --http-proxy http://proxy.example:3128 --no-proxy 10.0.2.2
service
check "token: exit 0" [ "$RC" = 0 ]
check "token: secret file deleted" [ ! -e "$T/secret" ]
check "token: config.sh ran as nobody" grep -qx 'user=nobody' "$T/runner/config.log"
check "token: config.sh got the token from ACTIONS_RUNNER_INPUT_TOKEN" grep -qxF "token=$SECRET" "$T/runner/config.log"
check "token: the token is in no argv" bash -c "! grep -v '^token=' '$T/runner/config.log' | grep -qF -- '$SECRET'"
check "token: labels arrive as one argument, unevaluated" grep -qxF 'arg=e2e,$(touch '"$T"'/pwned),a b' "$T/runner/config.log"
check "token: nothing was evaluated" [ ! -e "$T/pwned" ]
check "token: config.sh argv as the real runner takes it" \
  bash -c "grep -qxF 'arg=--url' '$T/runner/config.log' && grep -qxF 'arg=http://10.0.2.2:29381/octo/e2e' '$T/runner/config.log' && grep -qxF 'arg=--ephemeral' '$T/runner/config.log' && grep -qxF 'arg=--unattended' '$T/runner/config.log' && grep -qxF 'arg=r-token' '$T/runner/config.log'"
check "token: run.sh ran as nobody, without the token" \
  bash -c "grep -qx 'user=nobody' '$T/runner/run.log' && grep -qx 'token=' '$T/runner/run.log' && grep -qx 'jit=' '$T/runner/run.log'"
check "token: run.sh has no arguments" bash -c "! grep -q '^arg=' '$T/runner/run.log'"
check "token: HTTPS_PROXY defaults to the HTTP proxy" grep -qx 'HTTPS_PROXY=http://proxy.example:3128' "$T/runner/run.log"
check "token: NO_PROXY has the defaults and the user's" grep -qx 'NO_PROXY=localhost,127.0.0.1,169.254.169.254,10.0.2.2' "$T/runner/run.log"
check "token: lower-case proxies too" grep -qx 'http_proxy=http://proxy.example:3128' "$T/runner/run.log"
check "token: LANG is C.UTF-8" grep -qx 'LANG=C.UTF-8' "$T/runner/run.log"
want="osrunner: starting name=r-token mode=token
osrunner: registered name=r-token mode=token
osrunner: listening name=r-token
osrunner: job-started name=r-token job=build and test
osrunner: job-finished name=r-token result=Succeeded
osrunner: finished name=r-token exit=0
osrunner: poweroff name=r-token"
check "token: the console tells the story" [ "$(cat "$T/console")" = "$want" ]
check "token: the journal has the runner's output and the status lines" \
  bash -c "grep -qF 'Runner successfully added' '$T/journal' && grep -qF 'osrunner: finished name=r-token exit=0' '$T/journal'"
check "token: the token is in neither the journal nor the console" absent "$SECRET" "$T/journal" "$T/console"

# --- a failing config.sh stops everything: no run.sh, a status line, its exit code
mkrunner "$T/runner" 3 0
render r-fail --token-file "$T/token"
service
check "registration fails: exit 3" [ "$RC" = 3 ]
check "registration fails: run.sh never started" [ ! -e "$T/runner/run.log" ]
check "registration fails: the console says why" grep -qx 'osrunner: registration-failed name=r-fail exit=3' "$T/console"
check "registration fails: then poweroff" [ "$(tail -1 "$T/console")" = "osrunner: poweroff name=r-fail" ]
check "registration fails: secret file deleted" [ ! -e "$T/secret" ]

# --- JIT: no config.sh, the config through ACTIONS_RUNNER_INPUT_JITCONFIG
mkrunner "$T/runner" 0 0
render r-jit --jit-file "$T/jit"
service
check "jit: exit 0" [ "$RC" = 0 ]
check "jit: config.sh not run" [ ! -e "$T/runner/config.log" ]
check "jit: run.sh got the config from the environment" grep -qxF "jit=$JIT" "$T/runner/run.log"
check "jit: the config is in no argv" bash -c "! grep -v '^jit=' '$T/runner/run.log' | grep -qF -- '$JIT'"
check "jit: registered line" grep -qx 'osrunner: registered name=r-jit mode=jit' "$T/console"
check "jit: secret file deleted" [ ! -e "$T/secret" ]
check "jit: the config is in neither the journal nor the console" absent "$JIT" "$T/journal" "$T/console"

# --- run.sh's exit code is the service's (the unit powers off either way)
mkrunner "$T/runner" 0 7
render r-exit --jit-file "$T/jit"
service
check "run.sh exits 7: the service exits 7" [ "$RC" = 7 ]
check "run.sh exits 7: finished line" grep -qx 'osrunner: finished name=r-exit exit=7' "$T/console"

# --- no secret: registration fails at once, nothing runs
mkrunner "$T/runner" 0 0
render r-nosecret --token-file "$T/token"
rm -f "$T/secret"
service
check "no secret: exit 1" [ "$RC" = 1 ]
check "no secret: nothing ran" [ ! -e "$T/runner/config.log" ] && [ ! -e "$T/runner/run.log" ]
check "no secret: the console says why" grep -qx 'osrunner: registration-failed name=r-nosecret reason=no-secret' "$T/console"

# --- no proxy given: no proxy variable at all
mkrunner "$T/runner" 0 0
render r-plain --jit-file "$T/jit"
service
check "no proxy: exit 0" [ "$RC" = 0 ]
check "no proxy: no proxy variable" bash -c "! grep -qi 'proxy=' '$T/runner/run.log'"

echo "$PASSES passed, $FAILS failed"
[ "$FAILS" = 0 ]
