# Shared helpers for the shell integration tests. Source it; it expects
# OSRUNNER (the CLI binary) and OSR_CLOUD_DIR (the local cloud's state). A
# test that needs no cloud sets OSR_NO_CLOUD=1 before sourcing it.
set -u
: "${OSRUNNER:?OSRUNNER must name the osrunner binary}"
if [ "${OSR_NO_CLOUD:-0}" != 1 ]; then
  : "${OSR_CLOUD_DIR:?OSR_CLOUD_DIR must name the local cloud state directory}"
  if [ ! -r "$OSR_CLOUD_DIR/env.sh" ]; then
    echo "FAIL: the local cloud is not up ($OSR_CLOUD_DIR/env.sh missing); run tests/cloud/up" >&2
    exit 1
  fi
  # shellcheck disable=SC1091
  . "$OSR_CLOUD_DIR/env.sh"
  CLOUDS="$OS_CLIENT_CONFIG_FILE"
fi
unset OS_CLOUD OS_CLIENT_CONFIG_FILE
OPENSTACK="/usr/bin/python3 /usr/bin/openstack"

T=$(mktemp -d -t osr-it.XXXXXX)
trap 'rm -rf "$T"' EXIT
# A private HOME: the token cache and ~/.config/openstack are the test's own.
export HOME="$T/home" XDG_CACHE_HOME="$T/home/.cache" XDG_CONFIG_HOME="$T/home/.config"
mkdir -p "$HOME"
cd "$T"

FAILS=0
PASSES=0
ok() { echo "ok   $*"; PASSES=$((PASSES + 1)); }
bad() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

# run NAME ARGS...: run osrunner, keep stdout/stderr in $T/NAME.{out,err}, exit code in $RC
run() {
  local name=$1; shift
  set +e
  "$OSRUNNER" "$@" >"$T/$name.out" 2>"$T/$name.err" </dev/null
  RC=$?
  set -e
}
finish() {
  echo "$PASSES passed, $FAILS failed"
  [ "$FAILS" = 0 ]
}
json_ids() { /usr/bin/python3 -c 'import json,sys; print("\n".join(sorted(p["id"] for p in json.load(sys.stdin))))'; }
mode_of() { stat -c %a "$1"; }
secret_of() { # secret_of CLOUD KEY: a value from the generated clouds.yaml
  /usr/bin/python3 - "$CLOUDS" "$1" "$2" <<'PY'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))["clouds"][sys.argv[2]]["auth"]
print(c[sys.argv[3]])
PY
}
