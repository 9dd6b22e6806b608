#!/bin/bash
# 150 runners over many pages: with GitHub's runner list cut into pages of 7
# (22 pages) the pool engine sees every runner, so it finds no false orphan:
# no VM is taken for one whose runner is gone, no runner for a ghost (the AWS
# module's #167). The pass's calls grow with the pages, not the runners.
set -e
. "$(dirname "$0")/lib.sh"
. "$OSR_SRC/tests/integration/pool_lib.sh"
sim_start
N=150
write_config "$CFG" "$M" "$GH_PATH" "$(pool_block pg $N $N)"
reconcile mk pg
check "$N creates" [ "$(actions "$T/mk.out" create missing)" = $N ]
check "... all done" [ "$RC" = 0 ]
wait_active "$M" $N
sim_sync
check "the simulator registered all $N" \
  pj "$T/sync.json" 'sys.exit(0 if len(d["registered"]) == int(sys.argv[2]) and not d["errors"] else 1)' $N

run small -v pool plan pg --config "$CFG" --per-page 7 --json
check "pages of 7: exit 0" [ "$RC" = 0 ]
check "pages of 7: $N idle" [ "$(figure "$T/small.out" idle)" = $N ]
check "pages of 7: $N runners of ours" [ "$(figure "$T/small.out" runners)" = $N ]
check "pages of 7: no action at all (no false orphan)" [ "$(count_actions "$T/small.out")" = 0 ]
PAGES=$(grep -c '> GET .*/actions/runners?' "$T/small.err" || true)
check "pages of 7: $(( (N + 6) / 7 )) GitHub pages read" [ "$PAGES" = $(( (N + 6) / 7 )) ]
check "pages of 7: no GET per server or per runner" \
  bash -c "! grep -Eq '> GET .*/(servers/[0-9a-f-]{36}|actions/runners/[0-9]+)( |$)' '$T/small.err'"
run smallr pool reconcile pg --config "$CFG" --per-page 7 --json
check "a reconcile over pages of 7 takes no action" [ "$(count_actions "$T/smallr.out")" = 0 ]

write_config "$CFG" "$M" "$GH_PATH" "$(pool_block pg 0 $N)"
drain pg
check "nothing of ours is left in Nova" no_servers "$M"
check "nothing of ours is left at GitHub" no_runners
check "Prism saw no schema violation" no_violations
finish
