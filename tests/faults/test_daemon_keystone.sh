#!/bin/bash
# Fault trial: Keystone stopped, then started again, while osrunnerd runs
# (passes every 5 s). The pool (min_idle 1) is up first. Keystone goes; the
# daemon must then authenticate again, which a cached token would hide (Nova
# takes a token it has validated before), so its token cache is removed and
# the pool's session reopened with SIGHUP *during* the outage: from there on
# every pass needs Keystone. Checks: the daemon keeps running (/healthz and
# /metrics answer, the metrics parse), its passes say they failed (result
# not ok, with the error and the failing service "identity", counted in
# osrunner_reconcile_passes_total and osrunner_api_requests_total, with a
# backoff no longer than the interval),
# nothing is deleted while it cannot observe, the VM is still there; after
# Keystone is back a pass succeeds by itself (no restart, no further
# SIGHUP) and the pool is at min_idle: one VM, one runner record, the same
# as before. The EXIT trap starts Keystone again whatever happens.
. "$OSR_SRC/tests/faults/daemon_faults_lib.sh"

faults_config ks 1 2
check "daemon started" faults_daemon
check "first pass ok" wait_event 300 'e["event"]=="pass" and e["pool"]=="ks" and e["result"]=="ok"'
check "... it created min_idle's runner" [ "$(events_count 'e["event"]=="action" and e["kind"]=="create" and e["outcome"]=="done"')" = 1 ]
BEFORE=$(server_ids)
check "one VM of ours in Nova" [ "$(n_servers)" = 1 ]

# --- Keystone down
svc_stop keystone
N0=$(ev_lines)
# With the token it holds, Nova may still take the daemon's calls (it keeps
# tokens it validated): either result is fine, what counts is that the pass
# ends and deletes nothing.
check "a pass ends while Keystone is down, with the token it holds" wait_event 60 'e["event"]=="pass" and e["pool"]=="ks"'
echo "     (its result: $(field result))"
rm -rf "$XDG_CACHE_HOME"
kill -HUP "$D_PID"
check "reload during the outage: ok" wait_event 60 'e["event"]=="reload" and e["outcome"]=="ok"'
check "a pass fails while Keystone is down" wait_event 120 'e["event"]=="pass" and e["pool"]=="ks" and e["result"]!="ok"'
cp "$T/match.json" "$T/failed-pass.json"
check "... the result says so ($(field result))" grep -Eq '"result": *"(error|observe_failed)"' "$T/failed-pass.json"
check "... the state names Keystone's failure" grep -q 'observe failed: .*auth/tokens: Failed to connect' "$T/failed-pass.json"
check "... the failing service: identity ($(field service))" [ "$(field service)" = identity ]
check "... and when it retries (retry_in $(field retry_in) s, at most the interval)" \
  /usr/bin/python3 -c 'import sys; sys.exit(0 if 0 < float(sys.argv[1]) <= 5.5 else 1)' "$(field retry_in)"
check "a second pass fails too (the daemon retries on its own)" wait_event 120 'e["event"]=="pass" and e["pool"]=="ks" and e["result"]!="ok"'
check "/healthz answers during the outage" answers "$MURL/healthz"
# Once ready a pool stays "ready" in /healthz (src/daemon/README.md: ready
# means it passed once); the failure is in the pass events and the metrics.
echo "     (/healthz says: $(tr '\n' ' ' <"$T/http.out"))"
check "/metrics answers and parses during the outage" metrics_parse
check "... the failed passes are counted" [ "$(( $(passes_total ks error) + $(passes_total ks observe_failed) ))" -ge 2 ]
check "... Keystone's unanswered requests counted (status 0)" [ "$(metrics_value osrunner_api_requests_total '{"pool": "ks", "service": "identity", "status": "0"}')" -ge 1 ]
check "... the pool backs off (osrunner_pool_backoff_seconds > 0)" \
  /usr/bin/python3 -c 'import sys; sys.exit(0 if float(sys.argv[1] or 0) > 0 else 1)' "$(metrics_value osrunner_pool_backoff_seconds '{"pool": "ks"}')"
check "nothing deleted during the outage" [ "$(deletes_since "$N0")" = 0 ]

# --- Keystone back: the next pass succeeds by itself
svc_start keystone
check "after Keystone is back a pass is ok" wait_event 120 'e["event"]=="pass" and e["pool"]=="ks" and e["result"]=="ok"'
check "... ready, state ok" [ "$(field state)" = ok ]
check "... no failing service, no retry_in" [ "$(field service):$(field retry_in)" = None:None ]
check "... the backoff is over (osrunner_pool_backoff_seconds 0)" [ "$(metrics_value osrunner_pool_backoff_seconds '{"pool": "ks"}')" = 0 ]
check "... without a further reload or restart" [ "$(events_count 'e["event"] in ("reload","start")')" = 2 ]
check "nothing was deleted, before or after" [ "$(deletes_since 0)" = 0 ]
check "the pool is at min_idle: the same one VM" [ "$(server_ids)" = "$BEFORE" ]
check "... and one runner record" [ "$(n_runners)" = 1 ]
check "... of that VM" fleet_ok orphans
check "/healthz 200" [ "$(http_code "$MURL/healthz")" = 200 ]
faults_end
finish
