#!/bin/bash
# Fault trial: Glance is killed (SIGKILL of its process group) in the middle
# of `image upload`, while the data flows, and started again. Promised:
#   - osrunner exits non-zero with one error line naming the cause;
#   - the image that was current before is still there, active and current;
#   - no other image is touched (openstack CLI snapshot of every image);
#   - after the restart, `image list --cleanup` removes the record the dead
#     upload left, and a rerun of the upload succeeds;
#   - at the end, 0 extra images (openstack CLI count).
# Synchronisation: the upload is stopped (SIGSTOP) once Glance reports its
# image 'saving' and osrunner has sent bytes, Glance is killed, and the upload
# resumes (SIGCONT) into the dead connection. Needs tests/cloud/up.
set -e
. "${OSR_SRC:?}/tests/integration/lib.sh"
export OS_CLIENT_CONFIG_FILE="$CLOUDS"
SERVICE="$OSR_SRC/tests/cloud/service"
OS="$OPENSTACK --os-cloud ostb-admin"
C=(--os-cloud ostb-demo)
NAME=osr-fault-glance-$$-$RANDOM
P=
cleanup() {
  local i
  [ -n "$P" ] && { kill -CONT "$P" 2>/dev/null || true; kill -KILL "$P" 2>/dev/null || true; wait "$P" 2>/dev/null || true; }
  "$SERVICE" status glance || "$SERVICE" start glance >/dev/null || true
  for i in $($OS image list --name "$NAME" -f value -c ID 2>/dev/null); do
    $OS image delete "$i" >/dev/null 2>&1 || true
  done
}
trap 'cleanup; rm -rf "$T"' EXIT

every_image() { $OS image list --long -f value -c ID -c Status -c Checksum -c Project | sort; }
images_of() { # images_of NAME: "id:status[:current]" as osrunner lists them
  "$OSRUNNER" "${C[@]}" image list --name "$1" --json | /usr/bin/python3 -c \
    'import json,sys; print(" ".join(i["id"]+":"+i["status"]+(":current" if i["current"] else "") for i in json.load(sys.stdin)))'
}

head -c $((1 << 20)) /dev/urandom >"$T/prev.img"
head -c $((256 << 20)) /dev/zero >"$T/big.img"
TOTAL0=$($OS image list -f value -c ID | wc -l)

# The image that is current before the trial.
run prev "${C[@]}" image upload "$T/prev.img" --name "$NAME" --disk-format raw
PREV=$(cat "$T/prev.out")
check "setup: the previous image is current" [ "$(images_of "$NAME")" = "$PREV:active:current" ]
SNAP0=$(every_image)

# --- the upload, Glance killed while the bytes flow
"$OSRUNNER" "${C[@]}" image upload "$T/big.img" --name "$NAME" --disk-format raw --timeout 120 \
  >"$T/up.out" 2>"$T/up.err" </dev/null &
P=$!
saving=
end=$((SECONDS + 60))
while kill -0 "$P" 2>/dev/null && [ $SECONDS -lt $end ]; do
  case " $(images_of "$NAME" 2>/dev/null) " in *:saving*) saving=1; break ;; esac
done
if [ -n "$saving" ]; then
  kill -STOP "$P"
  NEWREC=$(images_of "$NAME" | tr ' ' '\n' | sed -n 's/:saving.*//p')
  "$SERVICE" kill glance >/dev/null
  kill -CONT "$P"
  set +e; wait "$P"; RC=$?; set -e
  P=
  err_lines=$(grep -v -e '^osrunner: uploading ' -e '^osrunner: debug: ' -e '^osrunner: info: ' "$T/up.err" || true)
  echo "osrunner said: $err_lines"
  check "upload with Glance killed: exits non-zero (rc $RC)" bash -c "[ '$RC' != 0 ] && [ '$RC' -lt 128 ]"
  check "... one error line naming the cause (the PUT's connection) and the record left" bash -c \
    "[ \$(printf '%s\n' \"\$1\" | wc -l) = 1 ] && printf '%s\n' \"\$1\" | grep -q 'PUT .*/file: .*image $NEWREC is left behind'" _ "$err_lines"
  "$SERVICE" start glance >/dev/null
  check "after the restart the record is still there ('saving' or 'queued')" bash -c \
    "case ' $(images_of "$NAME") ' in *' $NEWREC:saving'*|*' $NEWREC:queued'*|*' $NEWREC:killed'*) true ;; *) false ;; esac"
  cur=$(images_of "$NAME" | tr ' ' '\n' | grep ':current' || true)
  check "the previous image is still active and current ($cur)" [ "$cur" = "$PREV:active:current" ]
  SNAP1=$(every_image | grep -v "^$NEWREC " || true)
  check "no other image touched (openstack CLI: $(echo "$SNAP0" | wc -l) images, same id/status/checksum/owner)" \
    [ "$SNAP1" = "$SNAP0" ]
  run clean "${C[@]}" image list --cleanup --name "$NAME"
  check "image list --cleanup removes the record left behind" bash -c \
    "[ '$RC' = 0 ] && grep -q 'removed 1 stale image record' '$T/clean.err' && [ -z \"\$($OS image list -f value -c ID | grep '$NEWREC')\" ]"
  run again "${C[@]}" image upload "$T/big.img" --name "$NAME" --disk-format raw --keep 1
  AGAIN=$(cat "$T/again.out")
  check "a rerun of the upload succeeds and is current (rc $RC)" bash -c \
    "[ '$RC' = 0 ] && [ '$(images_of "$NAME")' = '$AGAIN:active:current' ]"
else
  bad "the upload never reached 'saving' ($(cat "$T/up.err"))"
fi

cleanup
TOTAL1=$($OS image list -f value -c ID | wc -l)
echo "figures: images before $TOTAL0, during the trial $(echo "$SNAP0" | wc -l) (with the previous one)," \
  "left by the killed upload 1 record ($NEWREC, removed by --cleanup), after the clean-up $TOTAL1"
check "0 extra images at the end ($TOTAL1 = $TOTAL0)" [ "$TOTAL1" = "$TOTAL0" ]
finish
