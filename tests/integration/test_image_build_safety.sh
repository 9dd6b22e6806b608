#!/bin/bash
# osrunner image build, what it hands to others and what it checks first
# (issue 8, points 9, 15 and 17), with the offline backend (seconds, no VM):
# - host tools and the libguestfs appliance see an allow-listed environment:
#   wrappers first in PATH (and LIBGUESTFS_HV) record what they were given,
#   with GITHUB_TOKEN, OS_PASSWORD and a proxy with a password in ours;
# - the output and the temporaries (disk.raw, the .tmp output) are 0600, and
#   a proxy URL with a password is warned about, without the password;
# - every local input is checked before the runner is downloaded; a SHA-256
#   mismatch of a local runner tarball exits 10 (integrity).
# Needs no cloud service (lib.sh only reads the local cloud's env.sh).
set -e
. "$(dirname "$0")/lib.sh"
. "$OSR_SRC/tests/images/lib.sh"
trap 'kill $HTTP_PID 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT

BASE=$(osr_base_image)
mkdir -p "$T/www" "$T/work" "$T/bin" "$T/rec"
RUNNER_FILE=actions-runner-linux-x64-2.311.0.tar.gz
"$OSR_SRC/tests/images/mk-runner.sh" "$T/www/$RUNNER_FILE"
SHA=$(sha256sum "$T/www/$RUNNER_FILE" | cut -d' ' -f1)
WRONG=$(printf 'f%.0s' {1..64})
osr_http_serve "$T/www"
URL="http://127.0.0.1:$HTTP_PORT/$RUNNER_FILE"

# Secrets in osrunner's environment that no child may see.
SECRET_TOKEN="ghp_osrtest$RANDOM$RANDOM"
SECRET_PW="ospw-$RANDOM$RANDOM"
PROXY_PW="pxpw-$RANDOM$RANDOM"

# Each wrapper records its environment, umask and, for the tools that get
# a file last, that file's mode; then runs the real tool. Paths are written
# into the wrapper: it cannot count on any variable of ours reaching it.
REAL_PATH=$PATH
for tool in qemu-img sfdisk e2fsck resize2fs; do
  real=$(PATH=$REAL_PATH command -v $tool)
  cat >"$T/bin/$tool" <<SH
#!/bin/bash
n=\$(mktemp "$T/rec/$tool.XXXXXX")
env >"\$n.env"; umask >"\$n.umask"
last=\${@: -1}
[ -f "\$last" ] && stat -c '%a %n' "\$last" >"\$n.mode"
exec "$real" "\$@"
SH
  chmod +x "$T/bin/$tool"
done

# runenv NAME VAR=VALUE... ARGS...: run osrunner with these variables added
runenv() {
  local name=$1; shift
  local vars=()
  while [[ $1 == *=* ]]; do vars+=("$1"); shift; done
  set +e
  env "${vars[@]}" "$OSRUNNER" "$@" >"$T/$name.out" 2>"$T/$name.err" </dev/null
  RC=$?
  set -e
}

# --- 15, 9: a build with secrets around; the tools see none of them
runenv env1 "GITHUB_TOKEN=$SECRET_TOKEN" "OS_PASSWORD=$SECRET_PW" \
  "https_proxy=http://u:$PROXY_PW@127.0.0.1:9" "PATH=$T/bin:$REAL_PATH" \
  image build --base "$BASE" --runner-url "$T/www/$RUNNER_FILE" \
  --runner-sha256 "$SHA" --no-packages --backend offline --extra-size 16M \
  --http-proxy "http://user:$PROXY_PW@proxy.example:3128" \
  --work-dir "$T/work" --output "$T/out.qcow2"
check "build with secrets in the environment exits 0" [ "$RC" = 0 ]
for tool in qemu-img sfdisk e2fsck resize2fs; do
  check "$tool ran (through its wrapper)" compgen -G "$T/rec/$tool.*.env"
done
check "no tool saw GITHUB_TOKEN, OS_PASSWORD or the proxy password" \
  bash -c "! grep -l -e '$SECRET_TOKEN' -e '$SECRET_PW' -e '$PROXY_PW' '$T'/rec/*.env"
check "no tool saw a proxy variable or an OS_ variable" \
  bash -c "! grep -il -e '^https*_proxy=' -e '^OS_' -e '^GITHUB_' '$T'/rec/*.env"
check "the tools still got PATH" bash -c "grep -q '^PATH=$T/bin:' '$T'/rec/qemu-img.*.env"
check "every tool ran with umask 0077" bash -c "[ \"\$(sort -u '$T'/rec/*.umask)\" = 0077 ]"
check "the output is 0600" [ "$(mode_of "$T/out.qcow2")" = 600 ]
check "disk.raw was 0600 while sfdisk worked on it" \
  bash -c "grep -h 'disk.raw' '$T'/rec/sfdisk.*.mode | grep -q '^600 '"
check "the .tmp output was 0600 while qemu-img wrote it" \
  bash -c "grep -h 'out.qcow2.tmp-' '$T'/rec/qemu-img.*.mode | grep -q '^600 '"
check "a proxy URL with a password is warned about" \
  grep -q 'warning: the proxy URL carries a password' "$T/env1.err"
check "... and the password is in no output" bash -c "! grep -qF '$PROXY_PW' '$T/env1.out' '$T/env1.err'"
check "nothing left in the work dir" [ -z "$(ls -A "$T/work")" ]
run nopw image build --base "$BASE" --runner-url "$T/www/$RUNNER_FILE" --runner-sha256 "$SHA" \
  --no-packages --backend offline --http-proxy http://proxy.example:3128 \
  --work-dir "$T/work" --output "$T/nopw.qcow2"
check "a proxy without a password: no warning" bash -c "[ '$RC' = 0 ] && ! grep -q warning '$T/nopw.err'"

# --- 15: the libguestfs appliance too: a stand-in hypervisor records its
# environment and fails, so no appliance really boots.
# (It answers libguestfs's version probe: libguestfs trips over empty output.)
cat >"$T/bin/fake-qemu" <<SH
#!/bin/bash
env >>"$T/rec/hv.env"
echo "QEMU emulator version 7.2.0 (osrunner test stand-in)"
exit 1
SH
chmod +x "$T/bin/fake-qemu"
runenv gfs "GITHUB_TOKEN=$SECRET_TOKEN" "OS_PASSWORD=$SECRET_PW" "LIBGUESTFS_HV=$T/bin/fake-qemu" \
  image build --base "$BASE" --runner-url "$T/www/$RUNNER_FILE" \
  --runner-sha256 "$SHA" --no-packages --backend guestfs --work-dir "$T/work" \
  --output "$T/gfs.qcow2"
check "guestfs with a failing hypervisor: fails cleanly" bash -c "[ '$RC' != 0 ] && [ ! -e '$T/gfs.qcow2' ] && [ -z \"\$(ls -A '$T/work')\" ]"
check "libguestfs ran the hypervisor" [ -s "$T/rec/hv.env" ]
check "the hypervisor saw neither GITHUB_TOKEN nor OS_PASSWORD" \
  bash -c "! grep -q -e '$SECRET_TOKEN' -e '$SECRET_PW' -e '^GITHUB_TOKEN=' -e '^OS_PASSWORD=' '$T/rec/hv.env'"

# --- 17: local inputs first; no download for a bad --base
: >"$T/http.log"
run nobase image build --base "$T/missing.qcow2" --runner-url "$URL" --runner-sha256 "$SHA" \
  --no-packages --work-dir "$T/work" --output "$T/x.qcow2"
check "missing --base: exit 5, naming it" bash -c "[ '$RC' = 5 ] && grep -q 'base image $T/missing.qcow2' '$T/nobase.err'"
check "missing --base: nothing was downloaded" bash -c "! grep -q 'GET ' '$T/http.log'"
run dirbase image build --base "$T/www" --runner-url "$URL" --runner-sha256 "$SHA" \
  --no-packages --work-dir "$T/work" --output "$T/x.qcow2"
check "a directory as --base: exit 2, 'is a directory'" bash -c "[ '$RC' = 2 ] && grep -q 'is a directory' '$T/dirbase.err'"
run noscript image build --base "$BASE" --runner-url "$URL" --runner-sha256 "$SHA" \
  --backend guestfs --script "$T/missing.sh" --work-dir "$T/work" --output "$T/x.qcow2"
check "missing --script: exit 5" [ "$RC" = 5 ]
run nowork image build --base "$BASE" --runner-url "$URL" --runner-sha256 "$SHA" \
  --no-packages --work-dir "$T/missing-dir" --output "$T/x.qcow2"
check "missing --work-dir: exit 5" [ "$RC" = 5 ]
run nooutdir image build --base "$BASE" --runner-url "$URL" --runner-sha256 "$SHA" \
  --no-packages --work-dir "$T/work" --output "$T/missing-dir/x.qcow2"
check "--output in a missing directory: exit 5" [ "$RC" = 5 ]
run badbasesha image build --base "$BASE" --base-sha256 "$WRONG" --runner-url "$URL" \
  --runner-sha256 "$SHA" --no-packages --work-dir "$T/work" --output "$T/x.qcow2"
check "local --base with a wrong --base-sha256: exit 10" [ "$RC" = 10 ]
check "none of these downloaded anything" bash -c "! grep -q 'GET ' '$T/http.log'"

# --- 17: a SHA-256 mismatch is an integrity failure (exit 10), local or downloaded
run badlocal image build --base "$BASE" --runner-url "$T/www/$RUNNER_FILE" --runner-sha256 "$WRONG" \
  --no-packages --work-dir "$T/work" --output "$T/x.qcow2"
check "local runner tarball, wrong SHA-256: exit 10" [ "$RC" = 10 ]
check "... saying so" grep -q "SHA-256 mismatch: expected $WRONG" "$T/badlocal.err"
run badremote image build --base "$BASE" --runner-url "$URL" --runner-sha256 "$WRONG" \
  --no-packages --work-dir "$T/work" --output "$T/x.qcow2"
check "downloaded runner tarball, wrong SHA-256: exit 10" [ "$RC" = 10 ]
run help image build --help
check "--help says a mismatch exits 10" grep -q 'a mismatch stops the build (exit 10)' "$T/help.out"
check "nothing was built, nothing left" bash -c "[ ! -e '$T/x.qcow2' ] && [ -z \"\$(ls -A '$T/work')\" ]"

# --- file:// URLs are local paths (RFC 8089), %-escapes decoded; other hosts refused
cp "$T/www/$RUNNER_FILE" "$T/www/with space.tar.gz"
run fileurl image build --base "$BASE" --runner-url "file://$T/www/with%20space.tar.gz" \
  --runner-sha256 "$SHA" --no-packages --work-dir "$T/work" --output "$T/f.qcow2"
check "--runner-url file:///PATH builds" [ "$RC" = 0 ] && [ -s "$T/f.qcow2" ]
run fileurlbad image build --base "$BASE" --runner-url "file://$T/www/with%20space.tar.gz" \
  --runner-sha256 "$WRONG" --no-packages --work-dir "$T/work" --output "$T/g.qcow2"
check "--runner-url file:// with a wrong SHA-256: exit 10" [ "$RC" = 10 ]
run fileurlhost image build --base "$BASE" --runner-url "file://elsewhere$T/www/$RUNNER_FILE" \
  --runner-sha256 "$SHA" --no-packages --work-dir "$T/work" --output "$T/g.qcow2"
check "--runner-url file://HOST/...: refused (exit 2)" [ "$RC" = 2 ]
check "... saying so in one line" bash -c "[ \$(wc -l <'$T/fileurlhost.err') = 1 ] && grep -q 'file:///PATH' '$T/fileurlhost.err'"
check "file:// downloaded nothing" bash -c "! grep -q 'with' '$T/http.log'"

finish
