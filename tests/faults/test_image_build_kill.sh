#!/bin/bash
# Fault trial (issue 8, point 8): osrunner image build killed with SIGKILL
# while qemu-img compresses the image.
# - The child must die with it (PR_SET_PDEATHSIG): a qemu-img stand-in first
#   in PATH does the real compression into the .tmp output, tells its pid
#   through a FIFO (the trial waits on that, not on a sleep) and then stays
#   alive; after the kill it must be gone within 10 s.
# - What the killed build left (its work dir with disk.raw, the CLI's
#   download dir, the .tmp output; all private) is removed by the next build; a live build's work dir (its
#   lock held here) and a directory without our lock are left alone.
# - libguestfs: the appliance's qemu dies too (libguestfs's recovery process).
# Offline backend, then one libguestfs launch (killed as soon as qemu runs).
# No cloud service.
set -e
. "$OSR_SRC/tests/integration/lib.sh"
. "$OSR_SRC/tests/images/lib.sh"
P="" CHILD="" RECOVERY=""
cleanup() {
  [ -n "$P" ] && kill -KILL "$P" 2>/dev/null
  [ -n "$CHILD" ] && kill -KILL "$CHILD" 2>/dev/null
  for r in $RECOVERY; do kill -KILL "$r" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT

BASE=$(osr_base_image)
mkdir -p "$T/work" "$T/out" "$T/slow"
RUNNER=$T/actions-runner-linux-x64-2.311.0.tar.gz
"$OSR_SRC/tests/images/mk-runner.sh" "$RUNNER"
SHA=$(sha256sum "$RUNNER" | cut -d' ' -f1)
OUT=$T/out/img.qcow2
REAL=$(command -v qemu-img)
mkfifo "$T/child.fifo"
# The compress step (-c) runs for real, then hangs on as a slow child would.
cat >"$T/slow/qemu-img" <<SH
#!/bin/bash
case " \$* " in
*" -c "*) "$REAL" "\$@" || exit 1
          echo \$\$ >"$T/child.fifo"
          exec sleep 300 ;;
esac
exec "$REAL" "\$@"
SH
chmod +x "$T/slow/qemu-img"
BUILD=(image build --base "$BASE" --runner-url "$RUNNER" --runner-sha256 "$SHA" --no-packages
       --backend offline --work-dir "$T/work" --output "$OUT")

count_work() { find "$T/work" -maxdepth 1 -name 'osrunner-build-*' | wc -l; }
count_tmp() { find "$T/out" -maxdepth 1 -name 'img.qcow2.tmp-*' | wc -l; }

# --- the kill
PATH="$T/slow:$PATH" "$OSRUNNER" "${BUILD[@]}" >"$T/kill.out" 2>"$T/kill.err" </dev/null &
P=$!
if read -r -t 60 CHILD <"$T/child.fifo"; then
  ok "the build reached the compress step (child pid $CHILD)"
else
  bad "the build did not reach the compress step in 60 s"
fi
WORK=$(dirname "$(ls "$T"/work/osrunner-build-*/disk.raw 2>/dev/null | head -1)")
TMPOUT=$(ls "$T"/out/img.qcow2.tmp-* 2>/dev/null | head -1)
check "while it runs: the work dir holds disk.raw, mode 0600" \
  bash -c "[ -n '$WORK' ] && [ \"\$(stat -c %a '$WORK/disk.raw')\" = 600 ]"
check "while it runs: the .tmp output exists, mode 0600" \
  bash -c "[ -n '$TMPOUT' ] && [ \"\$(stat -c %a '$TMPOUT')\" = 600 ]"
kill -KILL "$P"
set +e; wait "$P"; RC=$?; set -e
P="" ALIVE=1
check "osrunner died of SIGKILL (137)" [ "$RC" = 137 ]
# tail --pid waits for the pid to go (it polls once a second), bounded by timeout.
if [ -n "$CHILD" ] && timeout 10 tail --pid="$CHILD" -f /dev/null; then
  ok "the child died with osrunner (within 10 s)"
  CHILD="" ALIVE=0
else
  bad "the child $CHILD outlived osrunner: $(ps -o pid,ppid,args -p "$CHILD" | tail -1)"
fi
WORK_BEFORE=$(count_work) TMP_BEFORE=$(count_tmp)
check "the kill left its work and download dirs and its .tmp output ($WORK_BEFORE, $TMP_BEFORE)" \
  test "$WORK_BEFORE" = 2 -a "$TMP_BEFORE" = 1

# --- a live build's dir (its lock held by this shell) and a lockless one
LIVE=$T/work/osrunner-build-live42
mkdir -m 700 "$LIVE" "$T/work/osrunner-build-nolock"
: >"$LIVE/lock"
exec 9<"$LIVE/lock"
flock -n 9

# --- the next build sweeps
run next -v "${BUILD[@]}" 9<&-
check "the next build exits 0" [ "$RC" = 0 ]
check "it removed the stale work dir (with disk.raw)" [ ! -e "$WORK" ]
check "it removed the stale download dir" [ "$(count_work)" = 2 ]
check "it removed the stale .tmp output" [ ! -e "$TMPOUT" ]
check "a live build's work dir is untouched" [ -e "$LIVE/lock" ]
check "a work dir without our lock is untouched" [ -d "$T/work/osrunner-build-nolock" ]
check "the new output is complete and 0600" bash -c "qemu-img check -q '$OUT' && [ \"\$(stat -c %a '$OUT')\" = 600 ]"
exec 9<&-
WORK_AFTER=$(($(count_work) - 2)) TMP_AFTER=$(count_tmp)
echo "figures: work and download dirs of the killed build before/after the next build: $WORK_BEFORE/$WORK_AFTER;" \
  ".tmp outputs: $TMP_BEFORE/$TMP_AFTER; children alive 10 s after the kill: $ALIVE"
check "nothing of the killed build is left" test "$WORK_AFTER" = 0 -a "$TMP_AFTER" = 0
rm -rf "$LIVE" "$T/work/osrunner-build-nolock"

# --- libguestfs: SIGKILL once the appliance's qemu runs. libguestfs's own
# recovery process (on by default) polls every 2 s and kills qemu when its
# parent is gone. LIBGUESTFS_HV is a stand-in that reports qemu's pid
# through the FIFO when the appliance really starts, then execs qemu.
REAL_QEMU=$(command -v qemu-system-x86_64)
cat >"$T/slow/hv" <<SH
#!/bin/bash
case " \$* " in
*" -kernel "*) echo \$\$ >"$T/child.fifo" ;;
esac
exec "$REAL_QEMU" "\$@"
SH
chmod +x "$T/slow/hv"
LIBGUESTFS_HV="$T/slow/hv" "$OSRUNNER" image build --base "$BASE" --runner-url "$RUNNER" \
  --runner-sha256 "$SHA" --no-packages --backend guestfs --work-dir "$T/work" \
  --output "$T/out/gfs.qcow2" >"$T/gkill.out" 2>"$T/gkill.err" </dev/null &
P=$!
CHILD=""
if read -r -t 120 CHILD <"$T/child.fifo"; then
  ok "the guestfs build started the appliance (qemu pid $CHILD)"
else
  bad "the guestfs build did not start the appliance in 120 s"
fi
kill -KILL "$P"
set +e; wait "$P"; set -e
P="" start=$(date +%s)
if [ -n "$CHILD" ] && timeout 20 tail --pid="$CHILD" -f /dev/null; then
  ok "the appliance died after osrunner (in about $(( $(date +%s) - start )) s)"
  CHILD=""
else
  bad "the appliance $CHILD outlived osrunner by 20 s"
fi
# The recovery process (a fork of osrunner: same command line) holds the
# work dir's lock until it exits, just after it killed qemu: wait for it too.
# ([.]: the pattern does not match the command line of pgrep's caller.)
RECOVERY=$(pgrep -f -- "--output $T/out/gfs[.]qcow2" || true)
for r in $RECOVERY; do
  timeout 10 tail --pid="$r" -f /dev/null || true
done
check "no process of the killed guestfs build is left" \
  bash -c "! pgrep -f -- '--output $T/out/gfs[.]qcow2' >/dev/null"
RECOVERY=""
run gnext "${BUILD[@]}"
check "the next build exits 0 and sweeps the guestfs build's dirs" \
  bash -c "[ '$RC' = 0 ] && [ \"\$(find '$T/work' -mindepth 1 | wc -l)\" = 0 ]"

finish
