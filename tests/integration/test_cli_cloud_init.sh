#!/bin/bash
# osrunner cloud init / show: atomic private writes, invalid input changes
# nothing, symlinks are refused, the default path and the documented exit codes.
set -e
. "$(dirname "$0")/lib.sh"

# --- default path, modes
run init "cloud" init "$CLOUDS"
check "init exits 0" [ "$RC" = 0 ]
DEST="$XDG_CONFIG_HOME/openstack/clouds.yaml"
check "written to ~/.config/openstack/clouds.yaml" cmp -s "$DEST" "$CLOUDS"
check "file mode 0600" [ "$(mode_of "$DEST")" = 600 ]
check "directory mode 0700" [ "$(mode_of "$XDG_CONFIG_HOME/openstack")" = 700 ]
check "no temporary file left" [ "$(ls -A "$XDG_CONFIG_HOME/openstack" | wc -l)" = 1 ]

# --- the installed file is found by the search path
run show --os-cloud ostb-demo cloud show --json
check "cloud show finds the installed file" grep -q "\"source\": \"$DEST\"" "$T/show.out"
check "cloud show masks secrets" grep -q '"password": "\*\*\*\*"' "$T/show.out"
PW=$(secret_of ostb-demo password)
check "cloud show never prints the password" bash -c "! grep -qF -- '$PW' '$T/show.out'"
run projects --os-cloud ostb-demo projects
check "projects works from the installed file" [ "$RC" = 0 ]

# --- invalid input leaves the old file byte-identical
cp "$DEST" "$T/before"
printf 'clouds:\n  x:\n    auth:\n      auth_url: ftp://nope\n' >"$T/invalid.yaml"
run bad "cloud" init "$T/invalid.yaml"
check "invalid input: config exit code 3" [ "$RC" = 3 ]
check "invalid input: message names file:line:col" grep -q "invalid.yaml:4:17" "$T/bad.err"
check "invalid input: old file byte-identical" cmp -s "$DEST" "$T/before"
check "invalid input: no temporary file left" [ "$(ls -A "$XDG_CONFIG_HOME/openstack" | wc -l)" = 1 ]

set +e; printf 'clouds:\n  a: {}\n  a: {}\n' | "$OSRUNNER" cloud init - >"$T/dup.out" 2>"$T/dup.err"; RC=$?; set -e
check "duplicate key from stdin: exit 3" [ "$RC" = 3 ]
check "duplicate key from stdin: names <stdin>" grep -q '<stdin>:3' "$T/dup.err"
check "stdin input: old file byte-identical" cmp -s "$DEST" "$T/before"

# --- --output, from stdin
set +e; "$OSRUNNER" cloud init --output "$T/out/sub/clouds.yaml" - <"$CLOUDS" >"$T/o.out" 2>"$T/o.err"; RC=$?; set -e
check "--output from stdin exits 0" [ "$RC" = 0 ]
check "--output: new directories are 0700" [ "$(mode_of "$T/out/sub")" = 700 ]
check "--output: file is 0600" [ "$(mode_of "$T/out/sub/clouds.yaml")" = 600 ]

# --- a symlink planted at the target is refused and its target untouched
echo "precious" >"$T/victim"
ln -s "$T/victim" "$T/link.yaml"
run link "cloud" init --output "$T/link.yaml" "$CLOUDS"
check "symlink target: refused (exit 1)" [ "$RC" = 1 ]
check "symlink target: victim untouched" [ "$(cat "$T/victim")" = precious ]
check "symlink target: still a symlink" [ -L "$T/link.yaml" ]

# --- usage and help
run noarg "cloud" init
check "cloud init without FILE: usage exit 2" [ "$RC" = 2 ]
run missing "cloud" init "$T/does-not-exist.yaml"
check "missing input file: not-found exit 5" [ "$RC" = 5 ]
for cmd in "--help" "cloud --help" "cloud init --help" "cloud show --help" "projects --help"; do
  # shellcheck disable=SC2086
  run help $cmd
  check "osrunner $cmd exits 0 and prints Usage" bash -c "[ $RC = 0 ] && grep -q '^Usage: osrunner' '$T/help.out'"
done
run ver --version
check "--version" grep -q '^osrunner [0-9]' "$T/ver.out"
run unknown frobnicate
check "unknown command: exit 2, one-line error" bash -c "[ $RC = 2 ] && grep -q \"^osrunner: unknown command 'frobnicate'\" '$T/unknown.err'"
run badopt projects --bogus
check "unknown option: exit 2" [ "$RC" = 2 ]

# --- several clouds and no choice lists them
OS_CLIENT_CONFIG_FILE="$CLOUDS" run several "cloud" show
check "several clouds, no choice: config exit 3" [ "$RC" = 3 ]
check "several clouds: names listed" grep -q 'ostb-admin' "$T/several.err"
OS_CLIENT_CONFIG_FILE="$CLOUDS" run unknowncloud --os-cloud nope "cloud" show
check "unknown cloud: not-found exit 5" [ "$RC" = 5 ]


# --- cloud show --json keeps JSON types
printf 'clouds:\n  typed:\n    verify: false\n    identity_api_version: 3\n    auth:\n      auth_url: https://k.example.com/v3\n      username: u\n      password: p\n      project_name: x\n' >"$T/typed.yaml"
chmod 600 "$T/typed.yaml"
OS_CLIENT_CONFIG_FILE="$T/typed.yaml" run typed "cloud" show --json
check "cloud show --json: exit 0" [ "$RC" = 0 ]
check "cloud show --json: verify is a JSON boolean" /usr/bin/python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); sys.exit(c["verify"] is not False)' "$T/typed.out"
check "cloud show --json: identity_api_version is a JSON integer" /usr/bin/python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); v=c["identity_api_version"]; sys.exit(not (type(v) is int and v == 3))' "$T/typed.out"
check "cloud show --json: the password stays a masked string" grep -q '"password": "\*\*\*\*"' "$T/typed.out"

# --- a domain-scoped cloud is valid; a command that needs a project says so
printf 'clouds:\n  dom:\n    auth:\n      auth_url: http://127.0.0.1:9/v3\n      username: u\n      password: p\n      domain_name: Admins\n' >"$T/dom.yaml"
chmod 600 "$T/dom.yaml"
OS_CLIENT_CONFIG_FILE="$T/dom.yaml" run dom "cloud" show --json
check "domain-scoped cloud: cloud show exits 0" [ "$RC" = 0 ]
OS_CLIENT_CONFIG_FILE="$T/dom.yaml" run domlist instance list
check "domain-scoped cloud: instance list is a config error (exit 3)" [ "$RC" = 3 ]
check "domain-scoped cloud: the message says a project is needed" grep -q "^osrunner: cloud 'dom' is domain-scoped; this command needs a project" "$T/domlist.err"

finish
