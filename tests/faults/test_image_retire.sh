#!/bin/bash
# Fault trial: image retirement never deletes what osrunner did not publish in
# the caller's own project. Three cases (issue 8, point 1), each with
# `image upload --keep 1`, which retires every older image it may:
#   A. as admin, with demo's private image of the name (published by osrunner
#      as demo, so it even carries the marker);
#   B. as admin, with a hand-made image of the name in admin's own project;
#   C. as demo (not admin), with admin's public image of the name.
# The images that are not the uploader's are snapshotted with the openstack
# CLI before and after (id, status, checksum, owner, updated_at): 0 of them may
# change. The upload exits 0 and a warning names each image left alone. Our
# own older image is still retired. Needs tests/cloud/up.
set -e
. "${OSR_SRC:?}/tests/integration/lib.sh"
export OS_CLIENT_CONFIG_FILE="$CLOUDS"
OS="$OPENSTACK --os-cloud ostb-admin"
NAME=osr-fault-retire-$$-$RANDOM
cleanup() {
  local i
  for i in $($OS image list --name "$NAME" -f value -c ID 2>/dev/null); do
    $OS image delete "$i" >/dev/null 2>&1 || true
  done
}
trap 'cleanup; rm -rf "$T"' EXIT

head -c $((1 << 20)) /dev/urandom >"$T/f.img"
# snapshot IDS...: one line per image as admin sees it, or "ID gone"
snapshot() {
  local i line
  for i in "$@"; do
    line=$($OS image show "$i" -f value -c id -c status -c checksum -c owner -c updated_at 2>/dev/null |
      tr '\n' ' ' || true)
    echo "$i ${line:-gone}"
  done
}
count() { $OS image list -f value -c ID | wc -l; }
count_name() { $OS image list --name "$NAME" -f value -c ID | wc -l; }
up() { # up CLOUD: upload f.img as NAME with --keep 1; the new id in $NEW
  run "$1" --os-cloud "$2" image upload "$T/f.img" --name "$NAME" --disk-format raw --keep 1 --json
  NEW=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["image"]["id"])' "$T/$1.out" 2>/dev/null || true)
}
hand_made() { # hand_made CLOUD [--public]: an image of NAME made with the openstack CLI
  $OPENSTACK --os-cloud "$1" image create "$NAME" --disk-format raw --container-format bare \
    --file "$T/f.img" ${2:-} -f value -c id
}
TOTAL0=$(count)
echo "images before: $TOTAL0 in all"

# --- A: as admin, demo's private image (osrunner's, with the marker)
up a0 ostb-demo
DEMO=$NEW
check "A: demo's osrunner upload (setup)" [ "$RC" = 0 ]
before=$(snapshot "$DEMO")
up a1 ostb-admin
A1=$NEW
check "A: admin's upload --keep 1 exits 0" [ "$RC" = 0 ]
check "A: ... retires nothing" grep -q '"retired": 0' "$T/a1.out"
check "A: ... warns about demo's image" grep -q "warning: image $DEMO is also named '$NAME' but belongs to project" "$T/a1.err"
after=$(snapshot "$DEMO")
check "A: demo's private image is untouched (openstack CLI)" [ "$before" = "$after" ]

# --- B: as admin, a hand-made image in admin's own project
HAND=$(hand_made ostb-admin)
before=$(snapshot "$DEMO" "$HAND")
up b1 ostb-admin
B1=$NEW
check "B: admin's upload --keep 1 exits 0" [ "$RC" = 0 ]
check "B: ... retires admin's own older upload only" grep -q '"retired": 1' "$T/b1.out"
check "B: ... warns about the hand-made image" grep -q "warning: image $HAND is also named '$NAME' but was not published by osrunner" "$T/b1.err"
after=$(snapshot "$DEMO" "$HAND")
check "B: the hand-made and demo's images are untouched" [ "$before" = "$after" ]
check "B: admin's first upload was retired" [ "$(snapshot "$A1")" = "$A1 gone" ]

# --- C: as demo, admin's public image
PUB=$(hand_made ostb-admin --public)
before=$(snapshot "$DEMO" "$HAND" "$PUB" "$B1")
n_before=$(count_name)
up c1 ostb-demo
C1=$NEW
check "C: demo's upload --keep 1 exits 0 (exit 4 before)" [ "$RC" = 0 ]
check "C: ... warns about admin's public image" grep -q "warning: image $PUB is also named '$NAME' but" "$T/c1.err"
after=$(snapshot "$DEMO" "$HAND" "$PUB" "$B1")
# demo's own older upload (DEMO) is demo's to retire: it must be the one change.
exp=$(echo "$before" | sed "s|^$DEMO .*|$DEMO gone|")
check "C: admin's public, private and hand-made images are untouched; demo's old one retired" [ "$after" = "$exp" ]
n_after=$(count_name)
check "C: images of the name: $n_before before, $n_after after (one retired, one new)" [ "$n_after" = "$n_before" ]

# --- the figures
left=$(count_name)
cleanup
TOTAL1=$(count)
echo "figures: not-ours images watched 4 (demo's, hand-made, public, admin's), touched 0 expected;" \
  "images of the name at the end $left (hand-made, public, admin's B1, demo's C1); after clean-up $TOTAL1 in all (before $TOTAL0)"
check "0 extra images after clean-up ($TOTAL1 = $TOTAL0)" [ "$TOTAL1" = "$TOTAL0" ]
check "images of the name at the end: hand-made, public, B1, C1" [ "$left" = 4 ]
finish
