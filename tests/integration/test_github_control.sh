#!/bin/bash
# The GitHub stand-in's runner side (/_control/ on the fake's port; see
# tests/github/README.md): tokens the REST API issued are remembered per
# scope with their expiry; register refuses an unknown, foreign, remove or
# expired token (404) and a taken name (409, unless replace); a registered
# runner goes online with its credential (a wrong one is 401), takes a job
# and removes itself; JIT runners use their .credentials_rsaparams; the REST
# view through Prism agrees, and Prism sees no violation. Fails (does not
# skip) when the stand-in is not up.
set -u
GH_DIR="${OSR_GITHUB_DIR:-${OSR_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/github/state}"
if [ ! -r "$GH_DIR/env.sh" ]; then
  echo "FAIL: the GitHub stand-in is not up ($GH_DIR/env.sh missing); run tests/github/up" >&2
  exit 1
fi
# shellcheck disable=SC1091
. "$GH_DIR/env.sh"
. "$(dirname "$0")/../github/violations.sh"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY
F=$OSR_GITHUB_FAKE_URL
if ! curl -sf -o /dev/null --max-time 5 "$F/_control/stats"; then
  echo "FAIL: the GitHub stand-in does not answer at $F; run tests/github/up" >&2
  exit 1
fi
VIOLATIONS_AT_START=$(stat -c %s "$OSR_GITHUB_VIOLATIONS_LOG")
T=$(mktemp -d -t osr-gh-ctl.XXXXXX)
trap 'rm -rf "$T"' EXIT
P="ctl$$-$(date +%s | tail -c 6)"
REPO="$P/app"
ORG="$P-org"

FAILS=0
PASSES=0
ok() { echo "ok   $*"; PASSES=$((PASSES + 1)); }
bad() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
# req NAME METHOD URL [JSON]: the answer in $T/NAME, its status in $ST
req() {
  local name=$1 method=$2 url=$3 body=${4:-}
  ST=$(curl -s -o "$T/$name" -w '%{http_code}' -X "$method" -H 'Content-Type: application/json' \
    -H 'User-Agent: osr-test' -H "Authorization: Bearer $GITHUB_TOKEN" -H 'X-GitHub-Api-Version: 2022-11-28' \
    ${body:+--data-binary "$body"} "$url")
}
field() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$T/$1"; }
control_record() { # control_record NAME: the record named NAME among runners and removed (JSON)
  curl -s "$F/_control/runners" | /usr/bin/python3 -c "
import json, sys
d = json.load(sys.stdin)
m = [r for r in d['runners'] + d['removed'] if r['name'] == sys.argv[1]]
print(json.dumps(m[-1] if m else None))" "$1"
}

# Tokens from the REST API (through the tap and Prism)
req tok POST "$OSR_GITHUB_URL/repos/$REPO/actions/runners/registration-token"
check "registration token issued (201)" [ "$ST" = 201 ]
TOKEN=$(field tok 'd["token"]')
req rmtok POST "$OSR_GITHUB_URL/repos/$REPO/actions/runners/remove-token"
RMTOKEN=$(field rmtok 'd["token"]')
URL="http://10.0.2.2:1/$REPO"

reg() { # reg NAME TOKEN [EXTRA_JSON] [URL]
  req "reg-$1" POST "$F/_control/runners/register" \
    "{\"url\":\"${4:-$URL}\",\"token\":\"$2\",\"name\":\"$1\",\"labels\":\"e2e,linux\",\"ephemeral\":true${3:-}}"
}
reg r-unknown NOTATOKEN
check "an unknown token: 404" [ "$ST" = 404 ]
reg r-foreign "$TOKEN" "" "http://x/$P/other"
check "a token of another scope: 404" [ "$ST" = 404 ]
reg r-remove "$RMTOKEN"
check "a remove token: 404" [ "$ST" = 404 ]
req exp POST "$F/_control/tokens" "{\"url\":\"http://x/$REPO\",\"expires_in\":-1}"
check "an expired token issued by /_control/tokens (201)" [ "$ST" = 201 ]
reg r-expired "$(field exp 'd["token"]')"
check "an expired token: 404" [ "$ST" = 404 ]
check "the refusals are listed" [ "$(curl -s "$F/_control/runners" | /usr/bin/python3 -c "
import json, sys
print(len([r for r in json.load(sys.stdin)['refused'] if r['name'] in ('r-unknown', 'r-foreign', 'r-remove', 'r-expired') and r['status'] == 404]))")" -ge 4 ]

reg "$P-a" "$TOKEN"
check "register with an issued token: 201" [ "$ST" = 201 ]
ID=$(field "reg-$P-a" 'd["id"]')
CRED=$(field "reg-$P-a" 'd["credential"]')
check "labels as config.sh makes them" [ "$(field "reg-$P-a" '",".join(d["labels"])')" = "self-hosted,Linux,X64,e2e" ]
check "the .runner settings name it" [ "$(field "reg-$P-a" 'd["runner"]["agentName"], d["runner"]["agentId"] == d["id"]')" = "$P-a True" ]
req rest-a GET "$OSR_GITHUB_URL/repos/$REPO/actions/runners/$ID"
check "REST: it exists, offline, Linux" [ "$ST $(field rest-a 'd["status"], d["os"]')" = "200 offline Linux" ]
reg "$P-a" "$TOKEN"
check "the same name again: 409" [ "$ST" = 409 ]
req sess-bad POST "$F/_control/runners/$ID/session" '{"credential":"wrong"}'
check "a session with a wrong credential: 401" [ "$ST" = 401 ]
req sess POST "$F/_control/runners/$ID/session" "{\"credential\":\"$CRED\"}"
check "a session with its credential: 200" [ "$ST" = 200 ]
req rest-on GET "$OSR_GITHUB_URL/repos/$REPO/actions/runners/$ID"
check "REST: it is online" [ "$(field rest-on 'd["status"]')" = online ]
req job POST "$F/_control/runners/$ID/job" "{\"credential\":\"$CRED\",\"busy\":true,\"job\":\"j1\"}"
req rest-busy GET "$OSR_GITHUB_URL/repos/$REPO/actions/runners/$ID"
check "REST: it is busy with a job" [ "$ST $(field rest-busy 'd["busy"]')" = "200 True" ]
req jobdone POST "$F/_control/runners/$ID/job" "{\"credential\":\"$CRED\",\"busy\":false,\"job\":\"j1\",\"result\":\"Succeeded\"}"
req del-bad DELETE "$F/_control/runners/$ID" '{"credential":"wrong"}'
check "a delete with a wrong credential: 401" [ "$ST" = 401 ]
req del DELETE "$F/_control/runners/$ID" "{\"credential\":\"$CRED\"}"
check "the runner removes itself: 204" [ "$ST" = 204 ]
req rest-gone GET "$OSR_GITHUB_URL/repos/$REPO/actions/runners/$ID"
check "REST: it is gone (404)" [ "$ST" = 404 ]
check "its history: register, session, job, job, delete" [ "$(control_record "$P-a" | /usr/bin/python3 -c "
import json, sys
r = json.load(sys.stdin)
print(' '.join(h['call'] for h in r['history'] if not h['call'].startswith('refused')), r['removed_at'] is not None)")" = "register session job job deleted (runner) True" ]

# replace
reg "$P-b" "$TOKEN"
OLD=$(field "reg-$P-b" 'd["id"]')
reg "$P-b" "$TOKEN" ',"replace":true'
check "replace: 201 with a new id" [ "$ST $(field "reg-$P-b" 'd["id"] != '"$OLD")" = "201 True" ]
req rest-old GET "$OSR_GITHUB_URL/repos/$REPO/actions/runners/$OLD"
check "replace: the old runner is gone" [ "$ST" = 404 ]

# organisations and runner groups
req otok POST "$OSR_GITHUB_URL/orgs/$ORG/actions/runners/registration-token"
OTOKEN=$(field otok 'd["token"]')
reg "$P-o" "$OTOKEN" ',"runner_group":"ci"' "http://x/$ORG"
check "an organisation runner in group ci (id 2)" [ "$ST $(control_record "$P-o" | /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["scope"], r["runner_group_id"])')" = "201 orgs/$ORG 2" ]
reg "$P-o2" "$OTOKEN" ',"runner_group":"nope"' "http://x/$ORG"
check "an unknown runner group: 404" [ "$ST" = 404 ]

# JIT: the config carries the runner URL; the credential is .credentials_rsaparams
req cfg POST "$F/_control/config" '{"runner_url":"http://10.0.2.2:4242"}'
req jit POST "$OSR_GITHUB_URL/repos/$REPO/actions/runners/generate-jitconfig" \
  "{\"name\":\"$P-j\",\"runner_group_id\":1,\"labels\":[\"e2e\"]}"
check "generate-jitconfig: 201" [ "$ST" = 201 ]
JID=$(field jit 'd["runner"]["id"]')
field jit 'd["encoded_jit_config"]' | base64 -d >"$T/jit.json"
SERVER=$(/usr/bin/python3 -c 'import base64,json,sys; print(json.loads(base64.b64decode(json.load(open(sys.argv[1]))[".runner"]))["serverUrl"])' "$T/jit.json")
check "the JIT .runner's serverUrl is the runner URL" [ "$SERVER" = http://10.0.2.2:4242 ]
RSA=$(/usr/bin/python3 -c 'import base64,json,sys; print(base64.b64decode(json.load(open(sys.argv[1]))[".credentials_rsaparams"]).decode())' "$T/jit.json")
req jsess POST "$F/_control/runners/$JID/session" "{\"credential\":\"$RSA\"}"
check "a JIT runner connects with its .credentials_rsaparams" [ "$ST" = 200 ]
req jdel DELETE "$F/_control/runners/$JID" "{\"credential\":\"$RSA\"}"
check "and removes itself" [ "$ST" = 204 ]
curl -s -o /dev/null -X POST -d "{\"runner_url\":\"${F}\"}" "$F/_control/config"
check "no credential in GET /_control/runners" bash -c "! curl -s '$F/_control/runners' | grep -qF -e '$CRED' -e '$RSA'"
check "Prism saw no schema violation" [ -z "$(new_violations "$VIOLATIONS_AT_START")" ]
echo "$PASSES passed, $FAILS failed"
[ "$FAILS" = 0 ]
