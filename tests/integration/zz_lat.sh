#!/bin/bash
set -e
. "$(dirname "$0")/lib.sh"
. "$OSR_SRC/tests/integration/pool_lib.sh"
. "$OSR_SRC/tests/integration/daemon_lib.sh"
trap daemon_trap EXIT
printf 's3cret\n' >"$T/secret"; chmod 600 "$T/secret"
write_config "$CFG" "$M" "$GH_PATH" "$(pool_block la 1 3)"
job_payload queued 77 '["self-hosted","pool-test"]' "$T/q.json"
cat "$CFG" | tail -12
daemon_start --config "$CFG" --webhook-secret-file "$T/secret" --interval 3600 --log-level debug
wait_event 300 'e["event"]=="pass"'
cat "$T/match.json"
: > "$T/d.err"
webhook_post "$T/q.json" "$(webhook_sig s3cret "$T/q.json")"
wait_event 60 'e["event"]=="grow"'
cat "$T/match.json"
grep -E "^osrunnerd: debug: (> |< )" "$T/d.err" | head -40
wait_event 300 'e["event"]=="pass"'
daemon_kill TERM
drain la 2>/dev/null || true
