#!/bin/bash
# One output for every list and show command: --json parses and keeps JSON
# types (numbers, booleans, null, arrays), and the text is a header line and
# aligned columns, no tabs, the same from one run to the next. Against the
# local cloud and the GitHub stand-in (read-only, but one JIT runner of a
# unique name, deleted again).
set -e
. "$(dirname "$0")/lib.sh"
GH_DIR="${OSR_GITHUB_DIR:-${OSR_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/github/state}"
if [ ! -r "$GH_DIR/env.sh" ]; then
  echo "FAIL: the GitHub stand-in is not up ($GH_DIR/env.sh missing); run tests/github/up" >&2
  exit 1
fi
# shellcheck disable=SC1091
. "$GH_DIR/env.sh"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY OSR_GITHUB_PATH OSR_GITHUB_TOKEN_FILE \
  OSR_GITHUB_APP_ID OSR_GITHUB_INSTALLATION_ID OSR_GITHUB_APP_KEY OSR_GITHUB_RUNNER_GROUP
export OS_CLIENT_CONFIG_FILE="$CLOUDS"
REPO=octo-org/octo-repo
NAME="osr-out-$$-$(date +%s | tail -c 6)"
RID=""
cleanup() {
  [ -z "$RID" ] || "$OSRUNNER" github delete-runner --github-path "$REPO" "$RID" >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap cleanup EXIT

# types FILE SHAPE KEY=TYPE...: the JSON in FILE is a list of objects (SHAPE
# list, at least one) or one object; each KEY has TYPE: str, int, bool, list,
# obj, or int|null and the like.
types() {
  /usr/bin/python3 - "$@" <<'PY'
import json, sys
path, shape, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
names = {"str": str, "list": list, "obj": dict, "null": type(None), "bool": bool}
with open(path) as f:
    d = json.load(f)
rows = d if shape == "list" else [d]
if shape == "list" and (not isinstance(d, list) or not d):
    sys.exit("not a non-empty list")
if shape == "object" and not isinstance(d, dict):
    sys.exit("not an object")
for r in rows:
    for spec in specs:
        key, want = spec.split("=")
        v = r
        for part in key.split("/"):
            if not isinstance(v, dict) or part not in v:
                sys.exit("no key %s in %r" % (key, r))
            v = v[part]
        ok = False
        for t in want.split("|"):
            if t == "int":
                ok = ok or (isinstance(v, int) and not isinstance(v, bool))
            else:
                ok = ok or isinstance(v, names[t])
        if not ok:
            sys.exit("%s: %r is not %s" % (key, v, want))
PY
}
# text NAME HEADER: a header line first, no tab, no control character.
text() {
  local f="$T/$1.out"
  [ "$(head -c ${#2} "$f")" = "$2" ] && ! grep -qP '[\x00-\x08\x09\x0b-\x1f]' "$f"
}

# --- projects
run pj --os-cloud ostb-admin projects --json
check "projects --json: exit 0" [ "$RC" = 0 ]
check "projects --json: types" types "$T/pj.out" list id=str name=str domain_id=str enabled=bool description=str
run pt --os-cloud ostb-admin projects
run pt2 --os-cloud ostb-admin projects
check "projects: header and columns, no tab" text pt "ID  "
check "projects: the same output twice" cmp -s "$T/pt.out" "$T/pt2.out"
check "projects: a row per project" [ "$(($(wc -l <"$T/pt.out") - 1))" = "$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/pj.out")" ]

# --- cloud show
printf 'clouds:\n  typed:\n    verify: false\n    identity_api_version: 3\n    auth:\n      auth_url: https://k.example.com/v3\n      username: u\n      password: p\n      project_name: x\n' >"$T/typed.yaml"
chmod 600 "$T/typed.yaml"
OS_CLIENT_CONFIG_FILE="$T/typed.yaml" run cs --os-cloud typed cloud show --json
check "cloud show --json: types" types "$T/cs.out" object cloud=str verify=bool identity_api_version=int auth/username=str auth/password=str
OS_CLIENT_CONFIG_FILE="$T/typed.yaml" run cst --os-cloud typed cloud show
check "cloud show: key: value lines" bash -c "grep -qx 'verify: false' '$T/cst.out' && grep -qx 'identity_api_version: 3' '$T/cst.out' && grep -qx 'auth.password: \*\*\*\*' '$T/cst.out'"

# --- image list / show (the images the cloud has)
run il --os-cloud ostb-admin image list --json
check "image list --json: exit 0" [ "$RC" = 0 ]
check "image list --json: types" types "$T/il.out" list id=str name=str status=str size=int\|null current=bool tags=list
IMG=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["id"])' "$T/il.out" 2>/dev/null || echo none)
run is --os-cloud ostb-admin image show "$IMG" --json
check "image show --json: types" types "$T/is.out" object id=str size=int\|null min_disk=int protected=bool tags=list
run ilt --os-cloud ostb-admin image list
check "image list: header and columns, no tab" text ilt "ID  "
run ist --os-cloud ostb-admin image show "$IMG"
check "image show: key: value lines" grep -qx "id: $IMG" "$T/ist.out"

# --- instance list (instance show: test_cli_instance.sh, which has servers)
run sl --os-cloud ostb-admin instance list --all --json
check "instance list --json: exit 0, a list" bash -c "[ $RC = 0 ] && /usr/bin/python3 -c 'import json,sys; assert isinstance(json.load(open(sys.argv[1])), list)' '$T/sl.out'"
if [ "$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/sl.out")" -gt 0 ]; then
  check "instance list --json: types" types "$T/sl.out" list id=str name=str status=str metadata=obj tags=list
fi
run slt --os-cloud ostb-admin instance list --all
check "instance list: header, no tab" text slt "ID  "

# --- github runner-apps / runners / runner
run ga github runner-apps --github-path "$REPO" --json
check "runner-apps --json: types" types "$T/ga.out" list os=str architecture=str version=str filename=str sha256_checksum=str
run gat github runner-apps --github-path "$REPO"
check "runner-apps: header and columns, no tab" text gat "OS  "
run gj github jitconfig --github-path "$REPO" --name "$NAME" --labels self-hosted,osr-out --output "$T/jit" --json
RID=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["runner_id"])' "$T/gj.out" 2>/dev/null || true)
check "jitconfig --json: runner_id is a number" types "$T/gj.out" object runner_id=int name=str
run gr github runners --github-path "$REPO" --name "$NAME" --json
check "runners --json: types" types "$T/gr.out" list id=int name=str status=str busy=bool ephemeral=bool runner_group_id=int labels=list
run grt github runners --github-path "$REPO" --name "$NAME"
check "runners: header first, no tab" text grt "ID  "
check "runners: one row, labels joined" grep -qE "^$RID +$NAME +[a-z]+ +no +self-hosted,osr-out\$" "$T/grt.out"
run g1 github runner --github-path "$REPO" "${RID:-0}" --json
check "runner ID --json: types" types "$T/g1.out" object id=int name=str busy=bool labels=list
run g1t github runner --github-path "$REPO" "${RID:-0}"
check "runner ID: key: value lines" bash -c "grep -qx 'id: $RID' '$T/g1t.out' && grep -qx 'busy: false' '$T/g1t.out' && grep -qx 'labels: self-hosted,osr-out' '$T/g1t.out'"
finish
