#!/bin/bash
# osrunner pool: the grammar and the exit codes that need no cloud (usage 2,
# a bad osrunner.yaml 3, no such file or pool 5, a cloud missing from
# clouds.yaml 5), --help of every verb. The passes themselves are in
# test_pool*.sh.
set -e
# shellcheck disable=SC2034 # read by lib.sh
OSR_NO_CLOUD=1
. "$(dirname "$0")/lib.sh"
printf 'ghp_x\n' >"$T/token"
chmod 600 "$T/token"
cat >"$T/osrunner.yaml" <<YAML
manager: ci-a
github:
  url: http://127.0.0.1:1
  token_file: $T/token
pools:
  - name: small
    cloud: no-such-cloud
    github_path: my-org/my-repo
    labels: [self-hosted]
    image: img
    flavor: m1.small
YAML
printf 'clouds:\n  other:\n    auth: {auth_url: "http://127.0.0.1:1/v3", username: u, password: p, project_name: x}\n' >"$T/clouds.yaml"
export OS_CLIENT_CONFIG_FILE="$T/clouds.yaml"

run noverb pool
check "pool without a verb: exit 2" [ "$RC" = 2 ]
run flush0 pool flush --config "$T/osrunner.yaml"
check "flush without POOL: exit 2, says so" bash -c "[ $RC = 2 ] && grep -q 'pool flush takes one POOL' '$T/flush0.err'"
run two pool plan a b --config "$T/osrunner.yaml"
check "plan with two pools: exit 2" [ "$RC" = 2 ]
run pp pool plan --per-page 0 --config "$T/osrunner.yaml"
check "--per-page 0: exit 2" [ "$RC" = 2 ]
run busy pool plan --busy --config "$T/osrunner.yaml"
check "--busy is flush's alone: exit 2" [ "$RC" = 2 ]
run nofile pool plan --config "$T/none.yaml"
check "no such config: exit 5" [ "$RC" = 5 ]
printf 'manager: ci-a\npools: 3\n' >"$T/bad.yaml"
run badcfg pool status --config "$T/bad.yaml"
check "bad config: exit 3 with file:line:col" bash -c "[ $RC = 3 ] && grep -q 'bad.yaml:[0-9]*:[0-9]*' '$T/badcfg.err'"
run nopool pool plan nope --config "$T/osrunner.yaml"
check "unknown pool: exit 5, named" bash -c "[ $RC = 5 ] && grep -q \"no pool 'nope'\" '$T/nopool.err'"
run nocloud pool plan small --config "$T/osrunner.yaml"
check "the pool's cloud is not in clouds.yaml: exit 5" [ "$RC" = 5 ]
check "... the message names it" grep -q 'no-such-cloud' "$T/nocloud.err"
for v in plan reconcile status flush; do
  run "help$v" pool "$v" --help
  check "pool $v --help: exit 0, usage" bash -c "[ $RC = 0 ] && grep -q '^Usage: osrunner pool $v' '$T/help$v.out'"
done
check "the man page documents exit status 12" grep -q 'A pool pass could not read' "$OSR_SRC/docs/man/osrunner.1"
finish
