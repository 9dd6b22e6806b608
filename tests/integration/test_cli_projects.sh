#!/bin/bash
# osrunner projects against the local Keystone: the same set as the openstack
# CLI for both users, application credentials, the token cache, re-auth on 401,
# and the error paths (wrong password, unreachable auth_url).
set -e
. "$(dirname "$0")/lib.sh"
export OS_CLIENT_CONFIG_FILE="$CLOUDS"

# --- same set as openstack project list, admin and member
run admin_all --os-cloud ostb-admin projects --all --json
check "admin: projects --all exits 0" [ "$RC" = 0 ]
json_ids <"$T/admin_all.out" >"$T/admin_all.ids"
$OPENSTACK --os-cloud ostb-admin project list -f value -c ID | sort >"$T/osc_admin_all.ids"
check "admin: projects --all == openstack project list" cmp -s "$T/admin_all.ids" "$T/osc_admin_all.ids"
check "admin: sees admin, demo and service" [ "$(wc -l <"$T/admin_all.ids")" -ge 3 ]

run admin_mine --os-cloud ostb-admin projects --json
json_ids <"$T/admin_mine.out" >"$T/admin_mine.ids"
$OPENSTACK --os-cloud ostb-admin project list --my-projects -f value -c ID | sort >"$T/osc_admin_mine.ids"
check "admin: projects == openstack project list --my-projects" cmp -s "$T/admin_mine.ids" "$T/osc_admin_mine.ids"

run demo --os-cloud ostb-demo projects --json
check "demo: projects exits 0" [ "$RC" = 0 ]
json_ids <"$T/demo.out" >"$T/demo.ids"
$OPENSTACK --os-cloud ostb-demo project list -f value -c ID | sort >"$T/osc_demo.ids"
check "demo: projects == openstack project list" cmp -s "$T/demo.ids" "$T/osc_demo.ids"
check "demo: exactly one project" [ "$(wc -l <"$T/demo.ids")" = 1 ]

run demo_all --os-cloud ostb-demo projects --all
check "demo: --all is forbidden, auth exit code 4" [ "$RC" = 4 ]
check "demo: --all error is one line" [ "$(wc -l <"$T/demo_all.err")" = 1 ]

run table --os-cloud ostb-demo projects
check "table output names the demo project" grep -q ' demo ' "$T/table.out"

# --- application credentials, by id and by name + user
run appcred --os-cloud ostb-demo-appcred projects --json
check "app credential (id): exits 0" [ "$RC" = 0 ]
json_ids <"$T/appcred.out" >"$T/appcred.ids"
check "app credential (id): sees the demo project" cmp -s "$T/appcred.ids" "$T/demo.ids"
run appcred_name --os-cloud ostb-demo-appcred-name projects --json
check "app credential (name+user): exits 0" [ "$RC" = 0 ]
json_ids <"$T/appcred_name.out" >"$T/appcred_name.ids"
check "app credential (name+user): sees the demo project" cmp -s "$T/appcred_name.ids" "$T/demo.ids"

# --- token cache: the second run sends no POST /v3/auth/tokens
rm -rf "$XDG_CACHE_HOME"
run cold -v --os-cloud ostb-admin projects
check "cold run authenticates" grep -q '> POST .*/v3/auth/tokens' "$T/cold.err"
run warm -v --os-cloud ostb-admin projects
check "warm run exits 0" [ "$RC" = 0 ]
check "warm run sends no POST /v3/auth/tokens" bash -c "! grep -q 'auth/tokens' '$T/warm.err'"
check "warm run says the token came from the cache" grep -q 'token from cache' "$T/warm.err"
cache_files=("$XDG_CACHE_HOME"/osrunner/tokens/*.json)
check "one cache file per auth" [ "${#cache_files[@]}" = 1 ]
check "cache file is 0600" [ "$(mode_of "${cache_files[0]}")" = 600 ]
check "cache directory is 0700" [ "$(mode_of "$XDG_CACHE_HOME/osrunner/tokens")" = 700 ]
run nocache -v --no-token-cache --os-cloud ostb-admin projects
check "--no-token-cache authenticates" grep -q '> POST .*/v3/auth/tokens' "$T/nocache.err"

# --- a revoked token: one re-authentication on 401, then success
/usr/bin/python3 - "${cache_files[0]}" <<'PY'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d["token"] = "gAAAAA-revoked-token"
json.dump(d, open(p, "w"))
PY
run reauth -v --os-cloud ostb-admin projects
check "revoked cached token: exits 0" [ "$RC" = 0 ]
check "revoked cached token: rejected once" [ "$(grep -c 'token rejected' "$T/reauth.err")" = 1 ]
check "revoked cached token: one new POST" [ "$(grep -c '> POST .*/v3/auth/tokens' "$T/reauth.err")" = 1 ]

# --- wrong password: auth exit code, the password appears nowhere
BADPW="Wr0ng-pw-$RANDOM$RANDOM"
sed "0,/password: .*/s//password: $BADPW/" "$CLOUDS" >"$T/bad.yaml"
chmod 600 "$T/bad.yaml"
OS_CLIENT_CONFIG_FILE="$T/bad.yaml" run badpw -vv --os-cloud ostb-admin projects
check "wrong password: exit code 4" [ "$RC" = 4 ]
check "wrong password: says authentication failed" grep -q '^osrunner: authentication failed' "$T/badpw.err"
check "wrong password: password nowhere in output or trace" bash -c "! grep -rqF -- '$BADPW' '$T'/badpw.out '$T'/badpw.err '$XDG_CACHE_HOME'"
OS_CLIENT_CONFIG_FILE="$T/bad.yaml" run badpw_show --os-cloud ostb-admin cloud show --json
check "cloud show masks the password" bash -c "! grep -qF -- '$BADPW' '$T/badpw_show.out' && grep -q '\"password\": \"\*\*\*\*\"' '$T/badpw_show.out'"

# --- unreachable auth_url: network exit code, quickly
cat >"$T/unreach.yaml" <<YAML
clouds:
  gone:
    auth:
      auth_url: http://127.0.0.1:9/v3
      username: admin
      password: x
      project_name: admin
YAML
start=$(date +%s%N)
OS_CLIENT_CONFIG_FILE="$T/unreach.yaml" run unreach --os-cloud gone projects
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "unreachable auth_url: exit code 6" [ "$RC" = 6 ]
check "unreachable auth_url: message names the URL" grep -q '127.0.0.1:9/v3' "$T/unreach.err"
check "unreachable auth_url: fails within 10 s (took ${elapsed_ms} ms)" [ "$elapsed_ms" -lt 10000 ]

finish
