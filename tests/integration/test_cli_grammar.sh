#!/bin/bash
# One CLI grammar: every group and every verb behaves the same for no verb,
# help, --help, -h, an unknown verb, too many or too few operands and an
# option of another sub-command. Each case is a usage error (exit 2) of one
# line and "see 'osrunner TOPIC --help'", or help on stdout (exit 0). None of
# them asks a cloud or GitHub anything (no clouds.yaml, no token here).
set -e
. "$(dirname "$0")/lib.sh"
unset GITHUB_TOKEN OSR_GITHUB_PATH OSR_GITHUB_URL
export OS_CLIENT_CONFIG_FILE="$T/none.yaml"

# usage_error NAME TOPIC MESSAGE ARGS...: exit 2, nothing on stdout, the
# message on the first line and the pointer to the help on the second.
usage_error() {
  local name=$1 topic=$2 msg=$3; shift 3
  run "$name" "$@"
  check "$* => exit 2" [ "$RC" = 2 ]
  check "$* => nothing on stdout" [ ! -s "$T/$name.out" ]
  check "$* => two lines on stderr" [ "$(wc -l <"$T/$name.err")" = 2 ]
  check "$* => '$msg'" grep -qF -- "osrunner: $msg" "$T/$name.err"
  local see="see 'osrunner${topic:+ $topic} --help'"
  check "$* => $see" [ "$(sed -n 2p "$T/$name.err")" = "$see" ]
}
helps() {
  local name=$1; shift
  run "$name" "$@"
  check "$* => exit 0" [ "$RC" = 0 ]
  check "$* => usage on stdout" grep -q '^Usage: osrunner' "$T/$name.out"
  check "$* => nothing on stderr" [ ! -s "$T/$name.err" ]
}

# --- every group: no verb, help, --help, -h, an unknown verb
n=0
while read -r group verbs; do
  n=$((n + 1))
  usage_error "g${n}_none" "$group" "$group needs a command: $verbs" "$group"
  helps "g${n}_help" "$group" help
  helps "g${n}_dhelp" "$group" --help
  helps "g${n}_h" "$group" -h
  check "$group: help, --help and -h print the same" \
    bash -c "cmp -s '$T/g${n}_help.out' '$T/g${n}_dhelp.out' && cmp -s '$T/g${n}_help.out' '$T/g${n}_h.out'"
  check "$group help: more than one line" [ "$(wc -l <"$T/g${n}_help.out")" -gt 1 ]
  usage_error "g${n}_unknown" "$group" "unknown $group command 'frob'" "$group" frob
  usage_error "g${n}_helpx" "$group" "$group help takes no arguments" "$group" help extra
done <<'TABLE'
cloud init or show
github runner-apps, token, jitconfig, runners, runner, delete-runner or url
instance create, list, show, delete or user-data
image build, upload, list, show or delete
TABLE

# --- every verb: --help, too many operands, too few, another's option.
# VERB | the message for too many (args in []) | for too few ("-": none) | a foreign option
n=0
while IFS='|' read -r verb many few foreign; do
  n=$((n + 1))
  read -r -a V <<<"$verb"
  topic="$verb"
  helps "v${n}_help" "${V[@]}" --help
  # shellcheck disable=SC2086
  manymsg=${many%% \[*}; manyargs=${many##*\[}; manyargs=${manyargs%]*}
  # shellcheck disable=SC2086
  [ "$many" = "-" ] || usage_error "v${n}_many" "$topic" "$manymsg" "${V[@]}" $manyargs
  if [ "$few" != "-" ]; then
    usage_error "v${n}_few" "$topic" "$few" "${V[@]}"
  fi
  # shellcheck disable=SC2086
  usage_error "v${n}_foreign" "$topic" "unknown option ${foreign%% *}" "${V[@]}" $foreign
done <<'TABLE'
cloud init|cloud init takes one FILE (or - for stdin) [a b]|cloud init takes one FILE (or - for stdin)|--all
cloud show|cloud show takes no arguments [x]|-|--output x
github runner-apps|runner-apps takes no arguments [x]|-|--name n
github token|token takes 1 argument [registration x]|token takes 1 argument|--os linux
github jitconfig|jitconfig takes no arguments [x]|-|--flavor m1
github runners|runners takes no arguments [x]|-|--reveal
github runner|runner takes 1 argument [1 2]|runner takes 1 argument|--name n
github delete-runner|delete-runner takes 1 argument [1 2]|delete-runner takes 1 argument|--output f
github url|url takes no arguments [x]|-|--labels a
instance create|unexpected argument 'x' [x]|-|--all
instance list|unexpected argument 'x' [x]|-|--flavor m1 --count 5
instance show|instance show takes one ID or NAME [a b]|instance show takes one ID or NAME|--all
instance delete|give --launch ID or servers, not both [--launch 0123 a]|instance delete needs an ID or NAME or --launch ID|--flavor m1
instance user-data|unexpected argument 'x' [x]|-|--image i
image build|unexpected argument 'x' [x]|-|--cleanup
image upload|image upload takes one FILE [a b]|image upload takes one FILE|--base b
image list|unexpected argument 'x' [x]|-|--runner-url u
image show|image show takes one NAME or ID [a b]|image show takes one NAME or ID|--name n
image delete|-|image delete takes one or more NAME or ID|--tag t
projects|projects takes no arguments [x]|-|--flavor m1
TABLE

# --- the top level keeps its own forms
usage_error top_none "" "no command given"
finish
