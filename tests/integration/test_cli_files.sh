#!/bin/bash
# User-given files through the CLI (issue 8, points 11-13, 16, 17): FIFOs are
# refused at once instead of hanging, directories say so, a NUL byte in a
# secret is refused, secrets others may read get a warning, one name rule
# with escaped bytes, --jit-file content, a missing cacert and an oversized
# clouds.yaml are configuration errors (exit 3) whichever way they come.
# Every command runs under timeout: a missing fix fails, it does not hang.
set -e
. "$(dirname "$0")/lib.sh"

# trun NAME ARGS...: run with a 20 s bound (124: it hung)
trun() {
  local name=$1; shift
  set +e
  timeout 20 "$OSRUNNER" "$@" >"$T/$name.out" 2>"$T/$name.err" </dev/null
  RC=$?
  set -e
}
err_has() { grep -qF -- "$2" "$T/$1.err"; }
UD=(instance user-data --labels a --github-path octo/repo)

TOKEN="AAAAFILETOKEN$RANDOM$RANDOM"
printf '%s\n' "$TOKEN" >"$T/token"
chmod 600 "$T/token"
mkfifo "$T/fifo"
mkdir "$T/adir"

# --- 13: FIFOs, directories
trun tok_fifo "${UD[@]}" --name r1 --token-file "$T/fifo"
check "--token-file FIFO: refused at once, exit 1" [ "$RC" = 1 ]
check "--token-file FIFO: says it is a FIFO" err_has tok_fifo "$T/fifo: is a FIFO, not a regular file"
trun tok_dir "${UD[@]}" --name r1 --token-file "$T/adir"
check "--token-file directory: says 'is a directory'" err_has tok_dir "$T/adir: is a directory"
OS_CLIENT_CONFIG_FILE="$T/fifo" trun cfg_fifo cloud show
check "OS_CLIENT_CONFIG_FILE FIFO: refused at once" bash -c "[ $RC != 124 ] && [ $RC != 0 ]"
check "OS_CLIENT_CONFIG_FILE FIFO: says it is a FIFO" err_has cfg_fifo "is a FIFO, not a regular file"
trun init_fifo cloud init --output "$T/out.yaml" "$T/fifo"
check "cloud init FIFO: refused at once" bash -c "[ $RC != 124 ] && [ $RC != 0 ]"
check "cloud init FIFO: says it is a FIFO" err_has init_fifo "is a FIFO, not a regular file"
trun init_dir cloud init --output "$T/out.yaml" "$T/adir"
check "cloud init directory: says 'is a directory'" err_has init_dir "$T/adir: is a directory"
check "cloud init directory: nothing written" [ ! -e "$T/out.yaml" ]
trun gh_fifo github runners --github-path octo/repo --github-url http://127.0.0.1:9 --github-token-file "$T/fifo"
check "--github-token-file FIFO: refused at once" bash -c "[ $RC != 124 ] && [ $RC != 0 ]"
check "--github-token-file FIFO: says it is a FIFO" err_has gh_fifo "is a FIFO, not a regular file"
OS_CLIENT_CONFIG_FILE="$CLOUDS" trun up_fifo --os-cloud ostb-demo image upload "$T/fifo" --name "osr-fifo-$$" --disk-format raw
check "image upload FIFO: refused, does not hang" bash -c "[ $RC != 124 ] && [ $RC != 0 ]"
check "image upload FIFO: says it is a FIFO" err_has up_fifo "$T/fifo: is a FIFO, not a regular file"
LEFT=$(OS_CLIENT_CONFIG_FILE="$CLOUDS" $OPENSTACK --os-cloud ostb-demo image list --name "osr-fifo-$$" -f value -c ID) || LEFT="openstack image list failed"
check "image upload FIFO: no image left" [ -z "$LEFT" ]

# --- 11: a NUL byte cuts nothing short: it is refused, naming the file
printf 'AAAA\0BBBB\n' >"$T/nul"
chmod 600 "$T/nul"
trun tok_nul "${UD[@]}" --name r1 --token-file "$T/nul" --reveal
check "--token-file with a NUL: exit 2" [ "$RC" = 2 ]
check "--token-file with a NUL: names the file" err_has tok_nul "$T/nul: contains a NUL byte"
check "--token-file with a NUL: no user data" [ ! -s "$T/tok_nul.out" ]
trun jit_nul "${UD[@]}" --name r1 --jit-file "$T/nul"
check "--jit-file with a NUL: refused" err_has jit_nul "$T/nul: contains a NUL byte"
trun gh_nul github runners --github-path octo/repo --github-url http://127.0.0.1:9 --github-token-file "$T/nul"
check "--github-token-file with a NUL: refused" err_has gh_nul "$T/nul: contains a NUL byte"

# --- 12: secrets others may read get a warning (and still work)
cp "$T/token" "$T/loose"
chmod 644 "$T/loose"
trun tok_loose "${UD[@]}" --name r1 --token-file "$T/loose"
check "--token-file 0644: still works" [ "$RC" = 0 ]
check "--token-file 0644: warned" err_has tok_loose "$T/loose: holds a secret but group or others may read it (mode 0644)"
trun tok_tight "${UD[@]}" --name r1 --token-file "$T/token"
check "--token-file 0600: no warning" bash -c "! grep -q warning '$T/tok_tight.err'"
trun gh_loose github url --github-path octo/repo --github-url http://127.0.0.1:9 --github-token-file "$T/loose"
check "--github-token-file 0644: warned" err_has gh_loose "GitHub token file $T/loose: holds a secret"
trun app_loose github url --github-path octo/repo --github-url http://127.0.0.1:9 --github-app-id 1 --github-installation-id 2 --github-app-key "$T/loose"
check "--github-app-key 0644: warned" err_has app_loose "GitHub App key $T/loose: holds a secret"
cp "$CLOUDS" "$T/clouds-loose.yaml"
chmod 644 "$T/clouds-loose.yaml"
OS_CLIENT_CONFIG_FILE="$T/clouds-loose.yaml" trun cfg_loose --os-cloud ostb-demo cloud show
check "clouds.yaml with a password, 0644: warned" err_has cfg_loose "$T/clouds-loose.yaml: holds a secret but group or others may read it"
OS_CLIENT_CONFIG_FILE="$CLOUDS" trun cfg_tight --os-cloud ostb-demo cloud show
check "clouds.yaml 0600: no warning" bash -c "[ $RC = 0 ] && ! grep -q warning '$T/cfg_tight.err'"
# (the test cloud's password is the word "secret": look for it as a value)
PW=$(secret_of ostb-demo password)
for s in "$TOKEN" "password: $PW" "password\": \"$PW"; do
  check "no secret in any output" bash -c "! cat '$T'/*.out '$T'/*.err | grep -qF -- '$s'"
done

# --- 16, 17: one name rule, escaped bytes; --jit-file content
trun jit_space github jitconfig --github-path octo/repo --github-url http://127.0.0.1:9 --github-token-file "$T/token" --name 'has space' --reveal
check "jitconfig name with a space: exit 2 like instance create" [ "$RC" = 2 ]
check "jitconfig name with a space: the name rule's message" err_has jit_space "name: 'has space' has ' '"
trun ud_space "${UD[@]}" --name 'has space' --token-file "$T/token"
check "user-data name with a space: the same message" err_has ud_space "name: 'has space' has ' '"
trun ud_ff "${UD[@]}" --name "$(printf 'bad\377name')" --token-file "$T/token"
check "invalid UTF-8 in a name: exit 2" [ "$RC" = 2 ]
check "invalid UTF-8 in a name: escaped as \\xff" err_has ud_ff "name: 'bad\\xffname' has '\\xff'"
check "invalid UTF-8 in a name: no raw byte" bash -c "! LC_ALL=C grep -q \$'\\xff' '$T/ud_ff.err'"
trun cmd_ff "$(printf 'bad\377\033[31m')"
check "unknown command: bytes escaped" err_has cmd_ff "unknown command 'bad\\xff\\x1b[31m'"
OS_CLIENT_CONFIG_FILE="$CLOUDS" trun cloud_ff --os-cloud "$(printf 'no\377')" cloud show
check "unknown cloud name: escaped, exit 5" bash -c "[ $RC = 5 ] && grep -qF \"no cloud named 'no\\xff'\" '$T/cloud_ff.err'"
check "no raw byte in any error" bash -c "! cat '$T'/*.err | LC_ALL=C grep -q \$'[\\x01-\\x08\\x0b-\\x1f\\xff]'"
printf 'ghp_thisisnotajitconfig\n' >"$T/notjit"
chmod 600 "$T/notjit"
trun jit_bad "${UD[@]}" --name r1 --jit-file "$T/notjit"
check "--jit-file that is not a JIT config: exit 2" [ "$RC" = 2 ]
check "--jit-file that is not a JIT config: says so" err_has jit_bad "jit config: not base64"
check "--jit-file that is not a JIT config: not shown" bash -c "! grep -q ghp_ '$T/jit_bad.err'"
printf '%s\n' "$(printf '{".runner":"x"}' | base64 -w0)" >"$T/goodjit"
chmod 600 "$T/goodjit"
trun jit_good "${UD[@]}" --name r1 --jit-file "$T/goodjit"
check "--jit-file with a JIT config: accepted" [ "$RC" = 0 ]

# --- 17: a missing cacert is a configuration error naming clouds.yaml:line
/usr/bin/python3 - "$CLOUDS" "$T/cacert.yaml" <<'PY'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
d = c["clouds"]["ostb-demo"]
d["cacert"] = "/nonexistent/ca.pem"
yaml.safe_dump({"clouds": {"ostb-demo": d}}, open(sys.argv[2], "w"), sort_keys=False)
PY
chmod 600 "$T/cacert.yaml"
LINE=$(grep -n 'cacert:' "$T/cacert.yaml" | cut -d: -f1)
OS_CLIENT_CONFIG_FILE="$T/cacert.yaml" trun cacert --os-cloud ostb-demo projects
check "missing cacert: exit 3" [ "$RC" = 3 ]
check "missing cacert: names clouds.yaml:LINE and the file" err_has cacert "$T/cacert.yaml:$LINE:"
check "missing cacert: the cacert key and path" err_has cacert "cacert: /nonexistent/ca.pem: No such file or directory"
OS_CACERT=/nonexistent/ca.pem OS_AUTH_URL=http://127.0.0.1:9/v3 OS_USERNAME=u OS_PASSWORD=p \
  OS_PROJECT_NAME=p trun cacert_env projects
check "missing OS_CACERT: exit 3 naming the variable" bash -c "[ $RC = 3 ] && grep -qF 'OS_CACERT: /nonexistent/ca.pem' '$T/cacert_env.err'"

# --- 17: over 1 MiB: exit 3 and the same message both ways
{ cat "$CLOUDS"; head -c 1100000 /dev/zero | tr '\0' '#'; echo; } >"$T/big.yaml"
chmod 600 "$T/big.yaml"
OS_CLIENT_CONFIG_FILE="$T/big.yaml" trun big_env --os-cloud ostb-demo cloud show
check "clouds.yaml over 1 MiB via OS_CLIENT_CONFIG_FILE: exit 3" [ "$RC" = 3 ]
check "... names the file and the limit" err_has big_env "$T/big.yaml: larger than 1048576 bytes"
trun big_init cloud init --output "$T/out.yaml" "$T/big.yaml"
check "clouds.yaml over 1 MiB via cloud init FILE: exit 3, same message" bash -c "[ $RC = 3 ] && grep -qF '$T/big.yaml: larger than 1048576 bytes' '$T/big_init.err'"
set +e; timeout 20 "$OSRUNNER" cloud init --output "$T/out.yaml" - <"$T/big.yaml" >"$T/big_stdin.out" 2>"$T/big_stdin.err"; RC=$?; set -e
check "clouds.yaml over 1 MiB via cloud init -: exit 3" bash -c "[ $RC = 3 ] && grep -qF '<stdin>: larger than 1048576 bytes' '$T/big_stdin.err'"

finish
