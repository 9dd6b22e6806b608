#!/bin/bash
# osrunner image build: a small partitioned base image and a fake runner
# tarball made here; the runner comes over HTTP from a runner-info entry (and
# its SHA-256 is checked); builds with the offline and the libguestfs
# backends; libguestfs then reads every result back (files, owners, modes,
# contents, proxy files); two builds from the same inputs give the same files;
# a wrong SHA-256 leaves no build, no temporary file and no image; --upload
# publishes with the properties set. Needs tests/cloud/up (for --upload).
set -e
. "$(dirname "$0")/lib.sh"
. "$OSR_SRC/tests/images/lib.sh"
export OS_CLIENT_CONFIG_FILE="$CLOUDS"
CHECK="/usr/bin/python3 $OSR_SRC/tests/images/check-image.py"
trap 'kill $HTTP_PID 2>/dev/null; rm -rf "$T"' EXIT

BASE=$(osr_base_image)
mkdir -p "$T/www" "$T/work"
RUNNER_FILE=actions-runner-linux-x64-2.311.0.tar.gz
"$OSR_SRC/tests/images/mk-runner.sh" "$T/www/$RUNNER_FILE"
SHA=$(sha256sum "$T/www/$RUNNER_FILE" | cut -d' ' -f1)
osr_http_serve "$T/www"
URL="http://127.0.0.1:$HTTP_PORT/$RUNNER_FILE"
REDIRECT_URL="http://127.0.0.1:$HTTP_PORT/r/$RUNNER_FILE"
# GitHub's runner downloads list, with an osx entry that must be skipped.
cat >"$T/runner-info.json" <<JSON
[
 {"os": "osx", "architecture": "x64", "download_url": "http://127.0.0.1:9/nope.tar.gz",
  "filename": "actions-runner-osx-x64-2.311.0.tar.gz", "sha256_checksum": "$(printf '0%.0s' {1..64})"},
 {"os": "linux", "architecture": "x64", "download_url": "$REDIRECT_URL",
  "filename": "$RUNNER_FILE", "sha256_checksum": "$SHA", "temp_download_token": "tok-$RANDOM-secret"}
]
JSON
TOKEN=$(grep -o 'tok-[0-9]*-secret' "$T/runner-info.json")
PROXY=(--http-proxy http://proxy.example:3128 --https-proxy http://proxy.example:3129
       --no-proxy localhost,127.0.0.1,::1)
COMMON=(image build --base "$BASE" --runner-info "$T/runner-info.json" --no-packages
        --work-dir "$T/work")

# --- offline, twice, and libguestfs, from the same inputs; offline without proxies
run off1 "${COMMON[@]}" "${PROXY[@]}" --backend offline --output "$T/off1.qcow2"
check "offline build exits 0" [ "$RC" = 0 ]
check "offline build: one line per step on a pipe" grep -qE '^osrunner: \[2/[0-9]+\] convert the base image to raw: [0-9.]+ s' "$T/off1.err"
check "offline build: the runner came over HTTP, after a redirect" bash -c "grep -q 'GET /r/$RUNNER_FILE HTTP/1.1\" 302' '$T/http.log' && grep -q 'GET /$RUNNER_FILE HTTP/1.1\" 200' '$T/http.log'"
check "offline build: the download token is in no output" bash -c "! grep -qF '$TOKEN' '$T/off1.out' '$T/off1.err'"
run off2 "${COMMON[@]}" "${PROXY[@]}" --backend offline --output "$T/off2.qcow2" --json
check "second offline build exits 0" [ "$RC" = 0 ]
check "--json: quiet on stderr" [ ! -s "$T/off2.err" ]
check "--json: names the backend and the OS" /usr/bin/python3 -c "
import json,sys; d=json.load(open('$T/off2.out'))
assert d['backend']=='offline' and d['os_distro']=='ubuntu' and d['os_version']=='22.04' and d['runner_version']=='2.311.0', d"
start=$(date +%s)
run gfs "${COMMON[@]}" "${PROXY[@]}" --backend guestfs --output "$T/gfs.qcow2"
check "libguestfs build exits 0 (took $(( $(date +%s) - start )) s)" [ "$RC" = 0 ]
check "libguestfs build: names the accelerator" grep -qE 'guestfs backend, (kvm|tcg)' "$T/gfs.err"
run noproxy "${COMMON[@]}" --backend offline --output "$T/noproxy.qcow2" --extra-size 64M
check "offline build without proxies, grown by 64 MiB, exits 0" [ "$RC" = 0 ]
vsize() { qemu-img info --output=json "$1" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])'; }
check "offline build grew the disk by 64 MiB" [ "$(vsize "$T/noproxy.qcow2")" = $(( $(vsize "$BASE") + (64 << 20) )) ]
# Guest code (libguestfs only): packages through apt-get, then a custom script.
cat >"$T/custom.sh" <<'SH'
#!/bin/sh
# runs as root in the guest, after every other step
test -x /home/ubuntu/actions-runner/run.sh && echo "script saw the runner" >/etc/osrunner-script-ran
SH
run pkgs image build --base "$BASE" --runner-info "$T/runner-info.json" --work-dir "$T/work" \
  "${PROXY[@]}" --backend guestfs --packages "jq docker.io" \
  --script "$T/custom.sh" --output "$T/pkgs.qcow2"
check "libguestfs build with packages and a script exits 0" [ "$RC" = 0 ]
check "... and grew the disk by 1.5 GiB for the packages" [ "$(vsize "$T/pkgs.qcow2")" = $(( $(vsize "$BASE") + (1536 << 20) )) ]
check "no temporary file is left in the work dir" [ -z "$(ls -A "$T/work")" ]
for f in off1 off2 gfs noproxy; do
  check "$f.qcow2 is a compressed qcow2" bash -c "qemu-img info --output=json '$T/$f.qcow2' | grep -q '\"format\": \"qcow2\"' && qemu-img check -q '$T/$f.qcow2'"
done

# --- libguestfs reads all four back (one appliance for all)
guestfish --ro -a "$T/off1.qcow2" -a "$T/off2.qcow2" -a "$T/gfs.qcow2" -a "$T/noproxy.qcow2" \
  -a "$T/pkgs.qcow2" >"$T/guestfish.log" 2>&1 <<G || true
run
mount-ro /dev/sda1 /
tar-out / $T/off1.tar numericowner:true
umount /
mount-ro /dev/sdb1 /
tar-out / $T/off2.tar numericowner:true
umount /
mount-ro /dev/sdc1 /
tar-out / $T/gfs.tar numericowner:true
umount /
mount-ro /dev/sdd1 /
tar-out / $T/noproxy.tar numericowner:true
umount /
mount-ro /dev/sde1 /
tar-out / $T/pkgs.tar numericowner:true
G
check "guestfish read the five images" [ -s "$T/pkgs.tar" ]
for f in off1 gfs; do
  echo "--- $f"
  if $CHECK check "$T/$f.tar" "$T/www/$RUNNER_FILE" --http http://proxy.example:3128 \
       --https http://proxy.example:3129 --no-proxy localhost,127.0.0.1,169.254.169.254,::1 >"$T/$f.check"; then
    ok "$f: every file as promised ($(grep -c '^ok' "$T/$f.check") checks)"
  else
    bad "$f: $(grep FAIL "$T/$f.check" | head -3)"
  fi
done
if $CHECK check "$T/noproxy.tar" "$T/www/$RUNNER_FILE" >"$T/noproxy.check"; then
  ok "no proxy: no proxy file, no empty value ($(grep -c '^ok' "$T/noproxy.check") checks)"
else
  bad "no proxy: $(grep FAIL "$T/noproxy.check" | head -3)"
fi
if $CHECK check "$T/pkgs.tar" "$T/www/$RUNNER_FILE" --http http://proxy.example:3128 \
     --https http://proxy.example:3129 --no-proxy localhost,127.0.0.1,169.254.169.254,::1 >"$T/pkgs.check"; then
  ok "packages + script: every file as promised ($(grep -c '^ok' "$T/pkgs.check") checks)"
else
  bad "packages + script: $(grep FAIL "$T/pkgs.check" | head -3)"
fi
tar -xf "$T/pkgs.tar" -C "$T" ./var/log/apt-stub.log ./etc/machine-id ./etc/osrunner-script-ran 2>/dev/null || true
check "apt-get ran update, then install -y --no-install-recommends of the packages" bash -c \
  "grep -qx 'apt-get -q update' '$T/var/log/apt-stub.log' && grep -qx 'apt-get -q -y --no-install-recommends install jq docker.io' '$T/var/log/apt-stub.log'"
check "apt-get ran with policy-rc.d in place (no services start) and the proxy" bash -c \
  "! grep -q 'policy-rc.d=no' '$T/var/log/apt-stub.log' && grep -q 'http_proxy=http://proxy.example:3128 DEBIAN_FRONTEND=noninteractive' '$T/var/log/apt-stub.log'"
check "apt-get clean ran; policy-rc.d is gone again" bash -c \
  "grep -qx 'apt-get clean' '$T/var/log/apt-stub.log' && ! tar -tf '$T/pkgs.tar' | grep -q 'usr/sbin/policy-rc.d'"
check "the custom script ran as root after the runner was in place" grep -q 'script saw the runner' "$T/etc/osrunner-script-ran"
check "after guest code: machine-id emptied, /var/lib/cloud emptied" bash -c \
  "[ -f '$T/etc/machine-id' ] && [ ! -s '$T/etc/machine-id' ] && tar -tf '$T/pkgs.tar' | grep -qx './var/lib/cloud/' && ! tar -tf '$T/pkgs.tar' | grep -q 'var/lib/cloud/.'"
check "two offline builds from the same inputs: the same files" $CHECK same "$T/off1.tar" "$T/off2.tar"
check "offline and libguestfs builds: the same files" $CHECK same "$T/off1.tar" "$T/gfs.tar"

# --- a wrong SHA-256: no build, no temporary file, no image
NAME=osr-it-build-$$-$RANDOM
WRONG=$(printf 'f%.0s' {1..64})
run badsha image build --base "$BASE" --runner-url "$URL" --runner-sha256 "$WRONG" --no-packages \
  --work-dir "$T/work" --output "$T/bad.qcow2" --upload --name "$NAME" --os-cloud ostb-demo
check "wrong runner SHA-256: fails (exit 10, integrity)" [ "$RC" = 10 ]
check "wrong runner SHA-256: says so in one line" bash -c "[ \$(wc -l <'$T/badsha.err') -le 2 ] && grep -q 'SHA-256 mismatch: expected $WRONG' '$T/badsha.err'"
check "wrong runner SHA-256: no build step ran" bash -c "! grep -q '\[1/' '$T/badsha.err'"
check "wrong runner SHA-256: no output file" [ ! -e "$T/bad.qcow2" ]
check "wrong runner SHA-256: nothing left in the work dir" [ -z "$(ls -A "$T/work")" ]
run badsha_list --os-cloud ostb-demo image list --name "$NAME" --json
check "wrong runner SHA-256: no image in Glance" [ "$(cat "$T/badsha_list.out")" = "[]" ]

# --- clear errors for what cannot be built
sed 's/"linux", "architecture": "x64"/"linux", "architecture": "s390x"/' "$T/runner-info.json" >"$T/s390x.json"
run arch image build --base "$BASE" --runner-info "$T/s390x.json" --runner-arch s390x --no-packages --output "$T/x.qcow2"
check "unsupported architecture: usage error naming it" bash -c "[ '$RC' = 2 ] && grep -q \"architecture 's390x' is not supported\" '$T/arch.err'"
run offpk image build --base "$BASE" --runner-url "$URL" --runner-sha256 "$SHA" --backend offline --packages jq --output "$T/x.qcow2"
check "offline backend with packages: refused" bash -c "[ '$RC' = 2 ] && grep -q 'cannot install packages' '$T/offpk.err'"

# --- the download honours --http-proxy: a host that does not resolve, through our proxy
run viaproxy image build --base "$BASE" --runner-url "http://runner.invalid/$RUNNER_FILE" \
  --runner-sha256 "$SHA" --http-proxy "http://127.0.0.1:$HTTP_PORT" --no-packages \
  --work-dir "$T/work" --output "$T/viaproxy.qcow2"
check "download through --http-proxy: exits 0" [ "$RC" = 0 ]
check "download through --http-proxy: the proxy got the absolute URL" grep -q "GET http://runner.invalid/$RUNNER_FILE" "$T/http.log"

# --- interrupted: SIGTERM while the appliance starts; nothing is left
"$OSRUNNER" image build --base "$BASE" --runner-url "$URL" --runner-sha256 "$SHA" --no-packages \
  --backend guestfs --work-dir "$T/work" --output "$T/int.qcow2" >"$T/int.out" 2>"$T/int.err" &
P=$!
# The build's work directory appears when it starts: then interrupt it.
while kill -0 $P 2>/dev/null && ! ls -d "$T"/work/osrunner-build-* >/dev/null 2>&1; do :; done
kill -TERM $P
set +e; wait $P; RC=$?; set -e
check "SIGTERM during a build: exit 143" [ "$RC" = 143 ]
check "SIGTERM during a build: says interrupted" grep -q 'interrupted' "$T/int.err"
check "SIGTERM during a build: no output, no temporary file" bash -c "[ ! -e '$T/int.qcow2' ] && [ -z \"\$(ls -A '$T/work')\" ]"

# --- build and publish: properties set
run pub --os-cloud ostb-demo "${COMMON[@]}" --backend offline --upload --name "$NAME" --json
check "build --upload exits 0" [ "$RC" = 0 ]
IMG=$(/usr/bin/python3 -c "import json; print(json.load(open('$T/pub.out'))['image']['id'])" 2>/dev/null || true)
run pubshow --os-cloud ostb-demo image show "$IMG" --json
check "published image has its properties" /usr/bin/python3 -c "
import json; d=json.load(open('$T/pubshow.out'))
assert d['status']=='active' and d['os_distro']=='ubuntu' and d['os_version']=='22.04', d
assert d['architecture']=='x86_64' and d['osrunner_runner_version']=='2.311.0', d
assert d['osrunner_build_id'] and d['osrunner_builder_version'] and d['disk_format']=='qcow2', d"
check "the temporary upload file is gone" [ -z "$(ls -A "$T/work")" ]
run pubdel --os-cloud ostb-demo image delete "$IMG"
check "clean up: delete the image" [ "$RC" = 0 ]

finish
