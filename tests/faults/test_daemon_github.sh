#!/bin/bash
# Fault trial: GitHub goes bad and good again under one running osrunnerd,
# for the SAME pool (min_idle 1, passes every 5 s), through the stand-in's
# fault hooks (POST /_control/hooks, tests/github/README.md):
# - 5xx: the next 3 REST requests of the pool's repository get 500. Passes
#   say observe_failed (runners, HTTP 500; service github, a retry_in within
#   the interval), counted in /metrics (passes, and the 500s in
#   osrunner_api_requests_total), delete and create nothing (the VM counts
#   as available: the runner list is unknown); once the 500s are used up a
#   pass is ok by itself.
# - a primary rate limit (403, remaining 0) whose reset is 4 s ahead: the
#   library waits for the reset inside the pass (osrunnerd lets it wait up
#   to 5 s; a longer wait is the backoff's, between passes); the
#   daemon answers /healthz, /metrics and a signed webhook (202 within
#   GitHub's 10 s) meanwhile, and the pass ends ok.
# - a primary rate limit whose reset is 25 s ahead, beyond that wait and
#   five intervals: a pass says observe_failed with the reset, /metrics
#   shows the limit (remaining 0, the reset time, the limit), the next pass
#   waits for the reset (retry_in), nothing is deleted, GitHub is not asked again before
#   the reset it announced (GitHub's docs: do not retry before
#   x-ratelimit-reset; requests made while rate-limited may get an
#   integration banned), and after the reset a pass is ok by itself.
# The pool ends at min_idle with the same VM. Last, SIGTERM while a pass
# waits out a rate limit (reset 4 s ahead) stops the daemon within 2 s. Needs a stand-in with the fault
# hooks (a fake.js of this tree): export OSR_GITHUB_DIR of one.
. "$OSR_SRC/tests/faults/daemon_faults_lib.sh"
if ! curl -sf "$OSR_GITHUB_FAKE_URL/_control/hooks" | grep -q '"fail_next"'; then
  echo "FAIL: the stand-in at $OSR_GITHUB_FAKE_URL has no fault hooks (fail_next): start one of this tree (tests/github/up)"
  exit 1
fi
hooks() { curl -sf "$OSR_GITHUB_FAKE_URL/_control/hooks" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
hooks_clear() { fake_post _control/hooks '{"clear": true}' >/dev/null 2>&1 || true; }
gh_trap() { hooks_clear; faults_trap; }
trap gh_trap EXIT

faults_config gh 1 2
check "daemon started" faults_daemon
check "first pass ok" wait_event 300 'e["event"]=="pass" and e["pool"]=="gh" and e["result"]=="ok"'
check "... it created min_idle's runner" [ "$(events_count 'e["event"]=="action" and e["kind"]=="create" and e["outcome"]=="done"')" = 1 ]
BEFORE=$(server_ids)
check "one VM of ours in Nova" [ "$(n_servers)" = 1 ]

# --- 5xx
N0=$(ev_lines)
F0=$(hooks failed)
check "fail_next: 3 x 500 on our repository" hook_set "{\"fail_next\": {\"status\": 500, \"count\": 3, \"scope\": \"repos/$GH_PATH\"}}"
check "a pass fails to observe" wait_event 120 'e["event"]=="pass" and e["pool"]=="gh" and e["result"]=="observe_failed"'
cp "$T/match.json" "$T/p500.json"
check "... naming the runner list and GitHub's 500" grep -q 'observe failed: runners: .*HTTP 500' "$T/p500.json"
check "... creating nothing ($(field creates) creates)" [ "$(field creates)" = 0 ]
check "... the failing service: github ($(field service))" [ "$(field service)" = github ]
check "... a retry within the interval (retry_in $(field retry_in))" \
  /usr/bin/python3 -c 'import sys; sys.exit(0 if 0 < float(sys.argv[1]) <= 5.5 else 1)' "$(field retry_in)"
check "/healthz answers" answers "$MURL/healthz"
check "/metrics answers and parses" metrics_parse
check "... observe_failed counted" [ "$(passes_total gh observe_failed)" -ge 1 ]
check "the 500s get used up" wait_event 180 'e["event"]=="pass" and e["pool"]=="gh" and e["result"]=="ok"'
check "... all 3 answered by the stand-in ($(( $(hooks failed) - F0 )))" [ "$(( $(hooks failed) - F0 ))" = 3 ]
check "... and the next pass is ok by itself (state $(field state))" [ "$(field state)" = ok ]
check "/metrics: the three 500s in osrunner_api_requests_total" [ "$(metrics_value osrunner_api_requests_total "{\"pool\": \"gh\", \"service\": \"github\", \"status\": \"500\"}")" = 3 ]
check "nothing deleted or created through the 5xx" [ "$(tail -n +$((N0 + 1)) "$EV" | grep -c '"event": *"action"' || true)" = 0 ]
check "the same VM" [ "$(server_ids)" = "$BEFORE" ]

# --- a rate limit the library waits out (reset 4 s ahead)
L0=$(hooks rate_limited)
N1=$(ev_lines)
ERR0=$(wc -l <"$T/d.err")
check "rate limit until now + 4 s" hook_set "{\"rate_limit_until\": $(($(date +%s) + 4))}"
check "... a pass at once (a signed completed webhook)" [ "$(signed_job completed 9200$$)" = 202 ]
waiting() { tail -n +$((ERR0 + 1)) "$T/d.err" | grep -q 'GitHub rate limit (HTTP 403): waiting'; }
wait_waiting() { local end=$((SECONDS + 60)); until waiting; do [ $SECONDS -lt $end ] || return 1; read -r -t 0.2 <> <(:) || true; done; }
check "the pass waits for the reset (its warning)" wait_waiting
check "... /healthz answers meanwhile" answers "$MURL/healthz"
check "... /metrics answers meanwhile" metrics_parse
T0=$SECONDS
check "... a signed webhook gets its 202 meanwhile" [ "$(signed_job completed 9300$$)" = 202 ]
check "... within GitHub's 10 s ($((SECONDS - T0)) s)" [ $((SECONDS - T0)) -le 10 ]
check "the pass ends ok after the reset" wait_event 120 'e["event"]=="pass" and e["pool"]=="gh"'
check "... result ok ($(field result))" [ "$(field result)" = ok ]
check "... the stand-in rate-limited it ($(( $(hooks rate_limited) - L0 )))" [ "$(( $(hooks rate_limited) - L0 ))" -ge 1 ]
check "nothing deleted or created" [ "$(tail -n +$((N1 + 1)) "$EV" | grep -c '"event": *"action"' || true)" = 0 ]

# --- a rate limit beyond the library's wait and the interval (reset 25 s ahead)
RESET=$(($(date +%s) + 25))
N2=$(ev_lines)
check "rate limit until now + 25 s" hook_set "{\"rate_limit_until\": $RESET}"
L1=$(hooks rate_limited)
check "a pass fails to observe" wait_event 120 'e["event"]=="pass" and e["pool"]=="gh" and e["result"]=="observe_failed"'
cp "$T/match.json" "$T/prl.json"
check "... naming the rate limit and its reset" grep -Eq 'observe failed: runners: .*HTTP 403: API rate limit exceeded.*resets in [0-9]+ s' "$T/prl.json"
check "/metrics: GitHub requests remaining 0" [ "$(metrics_value osrunner_github_rate_limit_remaining '{"pool": "gh"}')" = 0 ]
check "/metrics: the reset time GitHub gave" [ "$(metrics_value osrunner_github_rate_limit_reset_timestamp_seconds '{"pool": "gh"}')" = "$RESET" ]
check "/metrics: the limit GitHub gave (5000)" [ "$(metrics_value osrunner_github_rate_limit_limit '{"pool": "gh"}')" = 5000 ]
check "... the next pass waits for the reset (retry_in $(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["retry_in"])' "$T/prl.json") s)" \
  /usr/bin/python3 -c 'import json,sys,time; r=json.load(open(sys.argv[1]))["retry_in"]; sys.exit(0 if r and r >= int(sys.argv[2]) - time.time() - 5 else 1)' "$T/prl.json" "$RESET"
check "the rate limit ends; a pass after the reset is ok" wait_event 180 'e["event"]=="pass" and e["pool"]=="gh" and e["result"]=="ok"'
AFTER_L=$(( $(hooks rate_limited) - L1 ))
check "GitHub was not asked again before its reset ($AFTER_L more rate-limited answers)" [ "$AFTER_L" = 1 ]
check "... the passes in between failed ($(tail -n +$((N2 + 1)) "$EV" | grep -c '"observe_failed"' || true) of them), none crashed the daemon" kill -0 "$D_PID"
check "nothing deleted or created through the rate limit" [ "$(tail -n +$((N2 + 1)) "$EV" | grep -c '"event": *"action"' || true)" = 0 ]
check "/metrics: requests remaining again" [ "$(metrics_value osrunner_github_rate_limit_remaining '{"pool": "gh"}')" -gt 0 ]
check "the pool is at min_idle: the same one VM" [ "$(server_ids)" = "$BEFORE" ]
check "... and its runner record" fleet_ok orphans
check "... and no VM without one" fleet_ok bare

# --- SIGTERM while a pass waits out a rate limit
ERR1=$(wc -l <"$T/d.err")
check "rate limit until now + 4 s" hook_set "{\"rate_limit_until\": $(($(date +%s) + 4))}"
check "... a pass at once (a signed completed webhook)" [ "$(signed_job completed 9400$$)" = 202 ]
waiting2() { tail -n +$((ERR1 + 1)) "$T/d.err" | grep -q 'GitHub rate limit (HTTP 403): waiting'; }
wait_waiting2() { local end=$((SECONDS + 60)); until waiting2; do [ $SECONDS -lt $end ] || return 1; read -r -t 0.2 <> <(:) || true; done; }
check "a pass waits for the reset" wait_waiting2
T0=$SECONDS
kill -TERM "$D_PID"
check "SIGTERM during that wait: the stop event" wait_event 15 'e["event"]=="stop"'
check "... within 2 s, the wait cut short ($((SECONDS - T0)) s)" [ $((SECONDS - T0)) -le 2 ]
hooks_clear
faults_end sent
finish
