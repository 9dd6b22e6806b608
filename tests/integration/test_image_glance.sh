#!/bin/bash
# osrunner image upload/list/show/delete against the local Glance: the data
# comes back with the same checksum, properties and tags are set, replacement
# keeps N images and marks the current one, delete by name rolls back, and an
# upload that is killed leaves no image: SIGTERM deletes it at once, and after
# SIGKILL the next `image list --cleanup` (or upload) removes the record.
# Needs tests/cloud/up.
set -e
. "$(dirname "$0")/lib.sh"
export OS_CLIENT_CONFIG_FILE="$CLOUDS"
C=(--os-cloud ostb-demo)
NAME=osr-it-glance-$$-$RANDOM
jq_py() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); $2" "$1"; }
ids_of() { "$OSRUNNER" "${C[@]}" image list --name "$1" --json | /usr/bin/python3 -c \
  'import json,sys; print(" ".join(i["id"]+":"+i["status"]+(":current" if i["current"] else "") for i in json.load(sys.stdin)))'; }
cleanup_images() { for i in $("$OSRUNNER" "${C[@]}" image list --name "$NAME" --json 2>/dev/null |
  /usr/bin/python3 -c 'import json,sys; print(" ".join(i["id"] for i in json.load(sys.stdin)))' 2>/dev/null); do
  "$OSRUNNER" "${C[@]}" image delete "$i" >/dev/null 2>&1 || true; done; }
trap 'cleanup_images; rm -rf "$T"' EXIT

head -c $((24 << 20)) /dev/urandom >"$T/a.img"
head -c $((16 << 20)) /dev/urandom >"$T/b.img"
head -c $((8 << 20)) /dev/urandom >"$T/c.img"

# --- upload, properties, download back
run up1 "${C[@]}" image upload "$T/a.img" --name "$NAME" --disk-format raw \
  --property os_distro=ubuntu --property osrunner_runner_version=2.311.0 --tag osr-it --json
check "upload exits 0" [ "$RC" = 0 ]
A=$(jq_py "$T/up1.out" 'print(d["image"]["id"])')
check "upload --json: the image is active and current" jq_py "$T/up1.out" 'assert d["image"]["status"]=="active" and d["image"]["current"], d'
run show1 "${C[@]}" image show "$NAME" --json
check "show by name gives the image" jq_py "$T/show1.out" "assert d['id']=='$A', d"
check "properties and tag are set" jq_py "$T/show1.out" \
  "assert d['os_distro']=='ubuntu' and d['osrunner_runner_version']=='2.311.0' and 'osr-it' in d['tags'] and d['disk_format']=='raw', d"
check "Glance's SHA-512 is the file's" jq_py "$T/show1.out" \
  "assert d['os_hash_algo']=='sha512' and d['os_hash_value']=='$(sha512sum "$T/a.img" | cut -d' ' -f1)', d"
$OPENSTACK --os-cloud ostb-demo image save --file "$T/a.back" "$A"
check "the image downloads back with the same SHA-256" [ "$(sha256sum <"$T/a.back")" = "$(sha256sum <"$T/a.img")" ]

# --- replacement: the new image is current, the old one kept (keep 2), then retired (keep 1)
run up2 "${C[@]}" image upload "$T/b.img" --name "$NAME" --disk-format raw --json
B=$(jq_py "$T/up2.out" 'print(d["image"]["id"])')
check "second upload: 0 retired with --keep 2 (default)" jq_py "$T/up2.out" 'assert d["retired"]==0, d'
check "list: B current, A kept" [ "$(ids_of "$NAME")" = "$B:active:current $A:active" ]
run tab "${C[@]}" image list --name "$NAME"
check "list table marks the current image" grep -qE "^$B +$NAME +active .* \\* " "$T/tab.out"
run up3 "${C[@]}" image upload "$T/c.img" --name "$NAME" --disk-format raw --keep 2 --json
Cid=$(jq_py "$T/up3.out" 'print(d["image"]["id"])')
check "third upload: the oldest (A) retired" [ "$(ids_of "$NAME")" = "$Cid:active:current $B:active" ]
run del "${C[@]}" image delete "$NAME"
check "delete by name removes the current image" grep -q "deleted $Cid" "$T/del.out"
check "... and rolls back to the previous one" [ "$(ids_of "$NAME")" = "$B:active:current" ]
run up4 "${C[@]}" image upload "$T/c.img" --name "$NAME" --disk-format raw --keep 1 --json
D=$(jq_py "$T/up4.out" 'print(d["image"]["id"])')
check "--keep 1: only the new image is left" [ "$(ids_of "$NAME")" = "$D:active:current" ]
run missing "${C[@]}" image show "osr-it-no-such-image-$$"
check "show of an unknown name: exit 5, one line" bash -c "[ '$RC' = 5 ] && [ \$(wc -l <'$T/missing.err') = 1 ]"
run noname "${C[@]}" image upload "$T/c.img"
check "upload without --name: usage error" [ "$RC" = 2 ]

# --- an upload that is killed: start a big one, wait until Glance says "saving"
truncate -s 3G "$T/big.img"
wait_saving() { # until the name has an image in status saving, or the uploader is gone
  while kill -0 "$1" 2>/dev/null; do
    case " $(ids_of "$2") " in *:saving*) return 0 ;; esac
  done
  return 1
}
KNAME=$NAME-term
"$OSRUNNER" "${C[@]}" image upload "$T/big.img" --name "$KNAME" --disk-format raw >"$T/term.out" 2>"$T/term.err" &
P=$!
if wait_saving $P "$KNAME"; then
  kill -TERM $P
  set +e; wait $P; RC=$?; set -e
  check "SIGTERM mid-upload: exit 143" [ "$RC" = 143 ]
  check "SIGTERM mid-upload: says interrupted" grep -q 'interrupted after' "$T/term.err"
  check "SIGTERM mid-upload: no image left, without any cleanup" [ -z "$(ids_of "$KNAME")" ]
else
  bad "SIGTERM mid-upload: the upload never reached 'saving' ($(cat "$T/term.err"))"
fi
KNAME=$NAME-kill
"$OSRUNNER" "${C[@]}" image upload "$T/big.img" --name "$KNAME" --disk-format raw >"$T/kill.out" 2>"$T/kill.err" &
P=$!
if wait_saving $P "$KNAME"; then
  kill -KILL $P
  set +e; wait $P; RC=$?; set -e
  check "SIGKILL mid-upload: the process died (exit 137)" [ "$RC" = 137 ]
  check "SIGKILL mid-upload: Glance still has the record" [ -n "$(ids_of "$KNAME")" ]
  run clean "${C[@]}" image list --cleanup --name "$KNAME" --json
  check "image list --cleanup removes the dead upload's record" bash -c "[ '$RC' = 0 ] && [ \"\$(cat '$T/clean.out')\" = '[]' ]"
  check "openstack image list agrees: no image left" bash -c "[ -z \"\$($OPENSTACK --os-cloud ostb-demo image list --name '$KNAME' -f value -c ID)\" ]"
else
  bad "SIGKILL mid-upload: the upload never reached 'saving' ($(cat "$T/kill.err"))"
fi

finish
