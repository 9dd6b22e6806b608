#!/bin/bash
# osrunner instance create/list/show/delete/user-data against the local Nova:
# exit codes, JSON, masking, and that the registration token never shows up
# in any output or trace.
set -e
. "$(dirname "$0")/lib.sh"
export OS_CLIENT_CONFIG_FILE="$CLOUDS"
M="osr-cli-$$"
TOKEN="AAAACLITOKEN$RANDOM$RANDOM"
printf '%s\n' "$TOKEN" >"$T/token"
chmod 600 "$T/token"
COMMON=(--os-cloud ostb-admin --manager "$M" --image osr-test-image --flavor m1.tiny
        --labels self-hosted,cli --github-path octo/repo --token-file "$T/token")
all_out() { cat "$T"/*.out "$T"/*.err 2>/dev/null; }

# --- user data: masked unless --reveal, needs no cloud
run ud instance user-data --name r1 --labels a,b --github-path octo/repo --token-file "$T/token"
check "user-data exits 0" [ "$RC" = 0 ]
check "user-data is cloud-config" grep -q '^#cloud-config' "$T/ud.out"
check "user-data masks the token" bash -c "! grep -qF '$TOKEN' '$T/ud.out' && grep -q '\"\*\*\*\*\"' '$T/ud.out'"
set +e; "$OSRUNNER" instance user-data --reveal --name r1 --labels a --github-path o/r --token-file - <"$T/token" >"$T/reveal.txt" 2>&1; RC=$?; set -e
check "user-data --reveal (token from stdin) shows it" bash -c "[ $RC = 0 ] && grep -qF '$TOKEN' '$T/reveal.txt'"
rm -f "$T/reveal.txt"

# --- bad input fails before any create, with documented exit codes
run badname instance create "${COMMON[@]}" --name 'bad name'
check "invalid name: exit 2, says name" bash -c "[ $RC = 2 ] && grep -q 'name:' '$T/badname.err'"
run badlabel instance create "${COMMON[@]}" --name ok --labels 'a,,b'
check "empty label: exit 2" [ "$RC" = 2 ]
run badflavor instance create "${COMMON[@]}" --name ok --flavor no-such-flavor
check "unknown flavor: exit 5, names it" bash -c "[ $RC = 5 ] && grep -q \"flavor 'no-such-flavor' not found\" '$T/badflavor.err'"
run badimage instance create "${COMMON[@]}" --name ok --image no-such-image
check "unknown image: exit 5" [ "$RC" = 5 ]
run badnet instance create "${COMMON[@]}" --name ok --network no-such-net
check "unknown network: exit 5" [ "$RC" = 5 ]
(unset GITHUB_TOKEN; # a name two networks carry: refused, both ids listed
N1=$($OPENSTACK --os-cloud ostb-admin network create "$M-dup" -f value -c id)
N2=$($OPENSTACK --os-cloud ostb-admin network create "$M-dup" -f value -c id)
run dupnet instance create "${COMMON[@]}" --name ok --network "$M-dup"
check "ambiguous network name: exit 3, both ids listed" bash -c "[ $RC = 3 ] && grep -q \"2 networks are named '$M-dup'\" '$T/dupnet.err' && grep -q '$N1' '$T/dupnet.err' && grep -q '$N2' '$T/dupnet.err'"
$OPENSTACK --os-cloud ostb-admin network delete "$N1" "$N2"
run notoken instance create --os-cloud ostb-admin --name ok --image i --flavor f --labels a --github-path o/r
 [ "$RC" = 4 ] && grep -q 'no GitHub credentials' "$T/notoken.err") && ok "no token and no GitHub credentials: auth exit 4" || bad "no token and no GitHub credentials: auth exit 4"
run twotokens instance create "${COMMON[@]}" --name ok --jit-file "$T/token"
check "token file and JIT file: usage exit 2" [ "$RC" = 2 ]
run none instance list --os-cloud ostb-admin --manager "$M" --json
check "nothing was created" [ "$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' <"$T/none.out")" = 0 ]

# --- create 3, list, show, delete
run create -vv instance create "${COMMON[@]}" --name "$M-r" --count 3 --json
check "create --count 3 exits 0" [ "$RC" = 0 ]
check "three ACTIVE" [ "$(/usr/bin/python3 -c 'import json,sys; print(sum(s["status"]=="ACTIVE" for s in json.load(sys.stdin)))' <"$T/create.out")" = 3 ]
check "-vv traced the create" grep -q '> POST .*/servers' "$T/create.err"
check "the trace redacts user_data" grep -q '"user_data":"\*\*\*"' "$T/create.err"
run list instance list --os-cloud ostb-admin --manager "$M"
check "list shows the three" [ "$(grep -c "$M-r-" "$T/list.out")" = 3 ]
run show instance show --os-cloud ostb-admin "$M-r-2" --json
check "show by name" grep -q "\"osrunner-runner\": \"$M-r-2\"" "$T/show.out"
check "show --json: types kept" /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert all(isinstance(d[k], str) for k in ("id","name","status","created")) and isinstance(d["metadata"], dict) and isinstance(d["tags"], list)' "$T/show.out"
run showt instance show --os-cloud ostb-admin "$M-r-2"
check "show: key: value lines, metadata dotted" bash -c "grep -qx 'name: $M-r-2' '$T/showt.out' && grep -qx 'metadata.osrunner-runner: $M-r-2' '$T/showt.out'"
check "list: a header line, no tab" bash -c "head -1 '$T/list.out' | grep -q '^ID  *NAME  *STATUS  *LABELS\$' && ! grep -qP '\t' '$T/list.out'"
LID=$(sed -n 's/^osrunner: launch \([0-9a-f]\{32\}\) (instance delete --launch .*)$/\1/p' "$T/create.err")
check "create prints the launch id first" bash -c "[ -n '$LID' ] && head -1 '$T/create.err' | grep -q '^osrunner: launch $LID'"
check "--json carries the launch id" [ "$(grep -c "\"launch\": \"$LID\"" "$T/create.out")" = 3 ]
run llist instance list --os-cloud ostb-admin --launch "$LID" --json
check "list --launch finds the three" [ "$(json_ids <"$T/llist.out" | wc -l)" = 3 ]
check "list --json: types kept" /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d) == 3 and all(isinstance(s["metadata"], dict) and isinstance(s["tags"], list) for s in d)' "$T/llist.out"
run lbad instance list --os-cloud ostb-admin --launch 'bad id!'
check "list --launch with a bad id: exit 2" [ "$RC" = 2 ]
# --- a name in use is refused before anything is created
run taken instance create "${COMMON[@]}" --name "$M-r-2"
check "a name in use: exit 11, names the server" bash -c "[ $RC = 11 ] && grep -q \"a server named $M-r-2 exists already (id $($OPENSTACK --os-cloud ostb-admin server show "$M-r-2" -f value -c id)\" '$T/taken.err'"
run del instance delete --os-cloud ostb-admin "$M-r-1" "$M-r-2" "$M-r-3"
check "delete exits 0" [ "$RC" = 0 ]
check "delete reports three" [ "$(grep -c '^deleted' "$T/del.out")" = 3 ]
run ldel instance delete --os-cloud ostb-admin --launch "$LID"
check "delete --launch of a launch with nothing left: exit 0" [ "$RC" = 0 ]
run after instance list --os-cloud ostb-admin --manager "$M" --json
check "nothing left" [ "$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' <"$T/after.out")" = 0 ]
run gone instance show --os-cloud ostb-admin "$M-r-1"
check "show of a deleted server: exit 5" [ "$RC" = 5 ]

# --- two launches of one name at once: never a name twice
set +e
"$OSRUNNER" instance create "${COMMON[@]}" --name "$M-race" --count 5 >"$T/race1.out" 2>"$T/race1.err" </dev/null &
P1=$!
"$OSRUNNER" instance create "${COMMON[@]}" --name "$M-race" --count 5 >"$T/race2.out" 2>"$T/race2.err" </dev/null &
P2=$!
wait $P1; R1=$?; wait $P2; R2=$?
set -e
$OPENSTACK --os-cloud ostb-admin server list --name "^$M-race-" -f value -c Name | sort >"$T/race.names"
check "race: no name twice ($(wc -l <"$T/race.names") servers; exits $R1 $R2)" bash -c "[ -z \"\$(uniq -d '$T/race.names')\" ]"
check "race: exits are 0 or 11, not both 0" bash -c "[[ '$R1 $R2' =~ ^(0|11)\ (0|11)$ ]] && [ '$R1 $R2' != '0 0' ]"
for r in 1 2; do
  L=$(sed -n 's/^osrunner: launch \([0-9a-f]*\) .*/\1/p' "$T/race$r.err")
  [ -n "$L" ] && "$OSRUNNER" instance delete --os-cloud ostb-admin --launch "$L" >/dev/null 2>&1 || true
done
check "race: all deleted by launch" [ -z "$($OPENSTACK --os-cloud ostb-admin server list --name "^$M-race-" -f value -c ID)" ]

# --- Nova's ERROR: launch error with the fault, exit 9, nothing left
run err instance create "${COMMON[@]}" --name "$M-big" --flavor osr.toobig
check "ERROR: exit 9" [ "$RC" = 9 ]
check "ERROR: Nova's fault text" grep -q 'No valid host was found' "$T/err.err"
check "ERROR: says it was deleted" grep -q 'found; server [0-9a-f-]* was deleted again' "$T/err.err"
check "ERROR: no stray '. ;' in the message" bash -c "! grep -qF '. ;' '$T/err.err'"
run after2 instance list --os-cloud ostb-admin --manager "$M" --json
check "ERROR: nothing left" [ "$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' <"$T/after2.out")" = 0 ]

# --- credentials fetched from GitHub (the stand-in): a registration token, or
#     a JIT config per runner whose record goes again when the launch fails
GH_ENV="${OSR_GITHUB_DIR:-$OSR_SRC/tests/github/state}/env.sh"
if [ ! -r "$GH_ENV" ]; then
  bad "the GitHub stand-in is not up ($GH_ENV missing); run tests/github/up"
else
  # shellcheck disable=SC1090
  . "$GH_ENV"
  GH=(--os-cloud ostb-admin --manager "$M" --image osr-test-image --labels self-hosted,cli
      --github-path octo-org/octo-repo)
  run ghreg instance create "${GH[@]}" --flavor m1.tiny --name "$M-g" --json
  check "fetched registration token: ACTIVE" grep -q '"status": "ACTIVE"' "$T/ghreg.out"
  run ghjit instance create "${GH[@]}" --flavor m1.tiny --name "$M-j" --count 2 --jit --json
  check "--jit: two ACTIVE with runner ids" [ "$(grep -c '"runner_id"' "$T/ghjit.out")" = 2 ]
  run ghrunners github runners --github-path octo-org/octo-repo --json
  check "--jit: both runners registered at GitHub" [ "$(grep -c "\"$M-j-" "$T/ghrunners.out")" = 2 ]
  run ghbad instance create "${GH[@]}" --flavor osr.toobig --name "$M-jbad" --jit
  check "--jit launch that fails: exit 9" [ "$RC" = 9 ]
  run ghrunners2 github runners --github-path octo-org/octo-repo --json
  check "--jit launch that fails: its runner record is gone" bash -c "! grep -q '$M-jbad' '$T/ghrunners2.out'"
  for id in $(/usr/bin/python3 -c 'import json,sys; print(" ".join(str(s["runner_id"]) for s in json.load(sys.stdin)))' <"$T/ghjit.out"); do
    "$OSRUNNER" github delete-runner --github-path octo-org/octo-repo "$id" >/dev/null
  done
  run ghdel instance delete --os-cloud ostb-admin "$M-g" "$M-j-1" "$M-j-2"
  check "fetched-credential servers deleted" [ "$RC" = 0 ]
fi

# --- the token appears nowhere (every output of this test)
check "token in no output, error or trace" bash -c "! grep -rqF '$TOKEN' '$T'/*.out '$T'/*.err"
for cmd in "instance --help" "instance create --help" "instance list --help" "instance show --help" "instance delete --help" "instance user-data --help"; do
  # shellcheck disable=SC2086
  run help $cmd
  check "osrunner $cmd" bash -c "[ $RC = 0 ] && grep -q '^Usage: osrunner' '$T/help.out'"
done
finish
