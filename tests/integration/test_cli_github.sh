#!/bin/bash
# osrunner github ... against the GitHub stand-in (tests/github/up), in the
# repository and organisation forms: runner-apps, tokens (--output 0600 or
# --reveal only), jitconfig -> runners -> delete-runner, a duplicate name
# (409), a busy runner (422), paging, App auth, the auth and rate-limit exit
# codes; no secret in any output or trace without --reveal; Prism reports no
# schema violation, and does catch one the fake makes on purpose. Fails (does
# not skip) when the stand-in is not up.
set -u
: "${OSRUNNER:?OSRUNNER must name the osrunner binary}"
GH_DIR="${OSR_GITHUB_DIR:-${OSR_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/github/state}"
if [ ! -r "$GH_DIR/env.sh" ]; then
  echo "FAIL: the GitHub stand-in is not up ($GH_DIR/env.sh missing); run tests/github/up" >&2
  exit 1
fi
# shellcheck disable=SC1091
. "$GH_DIR/env.sh"
. "$(dirname "$0")/../github/violations.sh"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY OSR_GITHUB_PATH OSR_GITHUB_TOKEN_FILE \
  OSR_GITHUB_APP_ID OSR_GITHUB_INSTALLATION_ID OSR_GITHUB_APP_KEY OSR_GITHUB_RUNNER_GROUP
if ! curl -sf -o /dev/null --max-time 5 -H 'User-Agent: osr-test' "$OSR_GITHUB_URL/rate_limit"; then
  echo "FAIL: the GitHub stand-in does not answer at $OSR_GITHUB_URL; run tests/github/up" >&2
  exit 1
fi
VIOLATIONS_AT_START=$(stat -c %s "$OSR_GITHUB_VIOLATIONS_LOG")
PAT=$GITHUB_TOKEN

T=$(mktemp -d -t osr-gh-it.XXXXXX)
trap 'rm -rf "$T"' EXIT
export HOME="$T/home"
mkdir -p "$HOME"
cd "$T" || exit 1
P="cli$$-$(date +%s | tail -c 6)" # unique owners and names for this run
P=${P//[^a-z0-9-]/}

FAILS=0
PASSES=0
ok() { echo "ok   $*"; PASSES=$((PASSES + 1)); }
bad() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
all() { eval "$1"; } # all 'CMD && CMD': one check of several conditions
# run NAME ARGS...: osrunner with stdout/stderr in $T/NAME.{out,err}, exit code in $RC.
# Outputs of runs named reveal_* may hold secrets; all others must not.
run() {
  local name=$1; shift
  "$OSRUNNER" "$@" >"$T/$name.out" 2>"$T/$name.err" </dev/null
  RC=$?
}
jq_py() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$2"; }
mode_of() { stat -c %a "$1"; }

REPO="$P-o/hello"
ORG="$P-org"

# --- runner applications
run apps github runner-apps --github-path "$REPO"
check "runner-apps: exit 0" [ "$RC" = 0 ]
check "runner-apps: a linux x64 line" grep -qE '^linux +x64 +[0-9.]+ +actions-runner-linux-x64-' "$T/apps.out"
run apps_json github runner-apps --github-path "$ORG" --os linux --arch x64 --json
check "runner-apps --json --os --arch: one entry" [ "$(jq_py 'len(d)' "$T/apps_json.out")" = 1 ]
check "runner-apps --json: sha256 of 64 hex" [ "$(jq_py 'len(d[0]["sha256_checksum"])' "$T/apps_json.out")" = 64 ]
check "runner-apps --json: temp_download_token masked" [ "$(jq_py 'd[0]["temp_download_token"]' "$T/apps_json.out")" = "****" ]
run reveal_apps github runner-apps --github-path "$ORG" --os linux --arch x64 --json --reveal
TDT=$(jq_py 'd[0]["temp_download_token"]' "$T/reveal_apps.out")
check "runner-apps --reveal: the download token shown" all '[ "${#TDT}" -gt 10 ] && [ "$TDT" != "****" ]'

# --- registration and remove tokens
run token_noout github token registration --github-path "$REPO"
check "token without --output/--reveal: usage exit 2" [ "$RC" = 2 ]
check "token without --output/--reveal: says why" grep -q 'secret' "$T/token_noout.err"
run token_file -vv github token registration --github-path "$REPO" --output "$T/reg.token"
check "token registration --output: exit 0" [ "$RC" = 0 ]
check "token file is mode 600" [ "$(mode_of "$T/reg.token")" = 600 ]
REG=$(cat "$T/reg.token")
check "token file holds a token" [ "${#REG}" -ge 20 ]
check "token --output prints no token" [ ! -s "$T/token_file.out" ]
run token_org_json github token remove --github-path "$ORG" --output "$T/rm.token" --json
check "token remove (org) --json: exit 0" [ "$RC" = 0 ]
check "token remove --json: no token field" [ "$(jq_py '"token" in d' "$T/token_org_json.out")" = False ]
check "token remove --json: expires_at ahead" /usr/bin/python3 -c '
import json,sys,datetime
d=json.load(open(sys.argv[1]))
t=datetime.datetime.strptime(d["expires_at"],"%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
left=(t-datetime.datetime.now(datetime.timezone.utc)).total_seconds()
sys.exit(0 if 3400 < left < 3700 else 1)' "$T/token_org_json.out"
RMT=$(cat "$T/rm.token")
run reveal_token github token registration --github-path "$ORG" --reveal
REVEALED=$(cat "$T/reveal_token.out")
check "token --reveal prints the token" [ "${#REVEALED}" -ge 20 ]

# --- JIT config -> list -> delete, repository and organisation
for form in repo org; do
  if [ $form = repo ]; then path=$REPO; else path=$ORG; fi
  name="$P-$form-r1"
  run jit_$form -vv github jitconfig --github-path "$path" --name "$name" --labels self-hosted,osr-it --output "$T/jit_$form"
  check "$form: jitconfig exit 0" [ "$RC" = 0 ]
  check "$form: jit config file is mode 600" [ "$(mode_of "$T/jit_$form")" = 600 ]
  id=$(sed -n 's/^osrunner: runner \([0-9]*\) .*/\1/p' "$T/jit_$form.err")
  check "$form: jitconfig names the runner id" [ -n "$id" ]
  run list_$form github runners --github-path "$path" --json
  check "$form: runners lists the new runner" [ "$(jq_py "[r['labels'] for r in d if r['id'] == ${id:-0} and r['name'] == '$name']" "$T/list_$form.out")" = "[['self-hosted', 'osr-it']]" ]
  run named_$form github runners --github-path "$path" --name "$name"
  check "$form: runners --name shows it" grep -qE "^$id +$name +offline +no +self-hosted,osr-it\$" "$T/named_$form.out"
  run dup_$form github jitconfig --github-path "$path" --name "$name" --output "$T/jit_dup"
  check "$form: duplicate name: exit 8" [ "$RC" = 8 ]
  check "$form: duplicate name: a clear one-line error" all '[ "$(wc -l <"$T/dup_$form.err")" = 1 ] && grep -q "already exists" "$T/dup_$form.err"'
  check "$form: duplicate name: no file written" [ ! -e "$T/jit_dup" ]
  run show_$form github runner "$id" --github-path "$path" --json
  check "$form: runner ID --json" [ "$(jq_py 'd["name"]' "$T/show_$form.out")" = "$name" ]
  run del_$form github delete-runner "$id" --github-path "$path"
  check "$form: delete-runner exit 0" [ "$RC" = 0 ]
  run del2_$form github delete-runner "$id" --github-path "$path"
  check "$form: delete-runner again: exit 5" [ "$RC" = 5 ]
  run gone_$form github runners --github-path "$path" --name "$name" --json
  check "$form: gone from the list" [ "$(jq_py 'len(d)' "$T/gone_$form.out")" = 0 ]
  # a busy runner cannot be deleted: 422, its own exit code and message
  run busy_$form github jitconfig --github-path "$path" --name "busy-$P-$form" --output "$T/jit_busy_$form" --json
  bid=$(jq_py 'd["runner_id"]' "$T/busy_$form.out")
  run busydel_$form github delete-runner "$bid" --github-path "$path"
  check "$form: busy runner: exit 8 (not 5)" [ "$RC" = 8 ]
  check "$form: busy runner: says busy" grep -q "runner $bid is busy: .*HTTP 422" "$T/busydel_$form.err"
done
# --- a refused --output is refused before the runner is registered (no runner
# left at GitHub, so the name is not taken afterwards)
mkdir -p "$T/outdir"
ln -s "$T/victim" "$T/outlink"
: >"$T/notadir"
for bad in outdir outlink notadir/sub; do
  tag=${bad//\//_}
  run refused_$tag github jitconfig --github-path "$REPO" --name "$P-refused" --output "$T/$bad"
  check "jitconfig -o $bad: refused" [ "$RC" != 0 ]
  run refused_list_$tag github runners --github-path "$REPO" --name "$P-refused" --json
  check "jitconfig -o $bad: no runner at GitHub" [ "$(jq_py 'len(d)' "$T/refused_list_$tag.out")" = 0 ]
done
check "jitconfig -o a symlink: says so, target untouched" bash -c "grep -q 'is a symbolic link' '$T/refused_outlink.err' && [ ! -e '$T/victim' ]"
run refused_ok github jitconfig --github-path "$REPO" --name "$P-refused" --output "$T/jit_refused" --json
check "jitconfig after the refusals: the name is free (exit 0, not 409)" [ "$RC" = 0 ]
run refused_del github delete-runner "$(jq_py 'd["runner_id"]' "$T/refused_ok.out")" --github-path "$REPO"
# --- the config cannot be written after the registration (a full disk): the
# runner is deleted again, so no runner is left and the name stays free
SMALL="$T/small"
mkdir "$SMALL"
if mount -t tmpfs -o size=4k,mode=0700 tmpfs "$SMALL" 2>/dev/null; then
  trap 'umount "$SMALL" 2>/dev/null || true; rm -rf "$T"' EXIT
  dd if=/dev/zero of="$SMALL/fill" bs=1k count=64 2>/dev/null || true
  run full github jitconfig --github-path "$REPO" --name "$P-full" --output "$SMALL/jit"
  check "jitconfig, disk full after registering: exit 1" [ "$RC" = 1 ]
  check "jitconfig, disk full: says the runner was unregistered again" grep -q "runner [0-9]* ($P-full) unregistered again" "$T/full.err"
  run full_list github runners --github-path "$REPO" --name "$P-full" --json
  check "jitconfig, disk full: no runner left at GitHub" [ "$(jq_py 'len(d)' "$T/full_list.out")" = 0 ]
  check "jitconfig, disk full: no file, no temporary" [ "$(ls -A "$SMALL")" = fill ]
  umount "$SMALL"
else
  echo "skip: cannot mount a tmpfs here (not root?): the disk-full case is not tried"
fi
run token_refused github token registration --github-path "$REPO" --output "$T/outdir"
check "token -o a directory: refused before asking GitHub" bash -c "[ $RC != 0 ] && grep -q 'is a directory' '$T/token_refused.err'"

run reveal_jit github jitconfig --github-path "$ORG" --name "$P-revealed" --reveal --json
JITREV=$(jq_py 'd["encoded_jit_config"]' "$T/reveal_jit.out")
check "jitconfig --reveal --json: the config shown" [ "${#JITREV}" -gt 20 ]

# organisation: a runner group by name
run grp github jitconfig --github-path "$ORG" --name "$P-grp" --runner-group ci --output "$T/jit_grp" --json
gid=$(jq_py 'd["runner_id"]' "$T/grp.out")
run grp_show github runner "$gid" --github-path "$ORG" --json
check "org: --runner-group ci resolves to group 2" [ "$(jq_py 'd["runner_group_id"]' "$T/grp_show.out")" = 2 ]

# --- paging: 3 pages of 2, followed to the end
for i in 1 2 3 4 5; do
  run page$i github jitconfig --github-path "$P-paged" --name "$P-p$i" --output "$T/jit_page$i"
done
run paged -v github runners --github-path "$P-paged" --per-page 2 --json
check "paging: all 5 runners" [ "$(jq_py 'len(d)' "$T/paged.out")" = 5 ]
check "paging: 3 GETs" [ "$(grep -c '> GET .*/actions/runners?' "$T/paged.err")" = 3 ]

# --- GitHub App
OSR_GITHUB_APP_ID=$OSR_GITHUB_TEST_APP_ID OSR_GITHUB_INSTALLATION_ID=$OSR_GITHUB_TEST_INSTALLATION_ID \
  OSR_GITHUB_APP_KEY=$OSR_GITHUB_TEST_APP_KEY run app -v github runners --github-path "$P-paged"
check "App auth: exit 0" [ "$RC" = 0 ]
check "App auth: an installation token was fetched" grep -q 'POST .*/app/installations/1001/access_tokens' "$T/app.err"
check "App auth: the runners listed" [ "$(grep -c "$P-p" "$T/app.out")" = 5 ]
run app_conflict github runners --github-path "$ORG" --github-app-id 1 --github-installation-id 2 \
  --github-app-key "$OSR_GITHUB_TEST_APP_KEY" --github-token-file "$OSR_GITHUB_TEST_TOKEN_FILE"
check "App and token together: usage exit 2" [ "$RC" = 2 ]

# --- auth failures: exit 4
env -u GITHUB_TOKEN "$OSRUNNER" github runners --github-path "$ORG" >"$T/notoken.out" 2>"$T/notoken.err"
RC=$?
check "no token: exit 4" [ "$RC" = 4 ]
check "no token: says so" grep -q 'no GitHub credentials' "$T/notoken.err"
GITHUB_TOKEN=ghp_wrongWrongWrong000000000000000000000 run wrongtoken github token registration --github-path "$ORG" --output "$T/x"
check "wrong token: exit 4" [ "$RC" = 4 ]
check "wrong token: Bad credentials" grep -q 'HTTP 401: Bad credentials' "$T/wrongtoken.err"
check "wrong token: no file" [ ! -e "$T/x" ]
run missing_file github runners --github-path "$ORG" --github-token-file "$T/nope"
check "missing token file: config exit 3" [ "$RC" = 3 ]

# --- forced rate limit: bounded wait, then exit 8
start=$(date +%s%N)
run ratelimit github runners --github-path ratelimited --rate-limit-wait 3
ms=$((($(date +%s%N) - start) / 1000000))
check "rate limit: exit 8" [ "$RC" = 8 ]
check "rate limit: waited once, reported" [ "$(grep -c 'warning: GitHub rate limit (HTTP 403): waiting' "$T/ratelimit.err")" = 1 ]
check "rate limit: clear error" grep -q 'HTTP 403: API rate limit exceeded.*still rate-limited after waiting' "$T/ratelimit.err"
check "rate limit: bounded (took ${ms} ms)" all '[ "$ms" -ge 900 ] && [ "$ms" -lt 6000 ]'
run ratelimit0 github token registration --github-path ratelimited/x --rate-limit-wait 0 --reveal
check "rate limit, no waiting: exit 8 at once" all '[ "$RC" = 8 ] && grep -q "more than the 0 s of waiting allowed" "$T/ratelimit0.err"'

# --- usage and local checks
run badpath github runners --github-path 'a/b/c'
check "bad path: usage exit 2" [ "$RC" = 2 ]
run nopath github runners
check "no path: usage exit 2" [ "$RC" = 2 ]
run badopt github runners --github-path "$ORG" --labels x
check "an option of another command: usage exit 2" [ "$RC" = 2 ]
run url github url --github-path "$REPO"
check "url: the stand-in's web URL" [ "$(cat "$T/url.out")" = "$OSR_GITHUB_URL/$REPO" ]
run url_ghes github url --github-path octo/hello --github-url https://ghe.example.com/api/v3
check "url: GHES host form" [ "$(cat "$T/url_ghes.out")" = "https://ghe.example.com/octo/hello" ]
env -u OSR_GITHUB_URL "$OSRUNNER" github url --github-path octo >"$T/url_gh.out" 2>&1
check "url: github.com by default" [ "$(cat "$T/url_gh.out")" = "https://github.com/octo" ]

# --- no secret anywhere but in --reveal output and --output files
SECRETS=("$PAT" "$REG" "$RMT" "$REVEALED" "$TDT" "$JITREV")
for f in "$T"/jit_repo "$T"/jit_org "$T"/jit_busy_repo "$T"/jit_page1; do SECRETS+=("$(cat "$f")"); done
leaks=0
for f in "$T"/*.out "$T"/*.err; do
  case "$(basename "$f")" in reveal_*) continue ;; esac
  for s in "${SECRETS[@]}"; do
    if [ -n "$s" ] && grep -qF -- "$s" "$f"; then echo "  leak: a secret in $(basename "$f")"; leaks=$((leaks + 1)); fi
  done
done
check "no token or JIT config in any output without --reveal (${#SECRETS[@]} secrets)" [ "$leaks" = 0 ]
check "-vv traces redact the Authorization header" grep -q 'Authorization: <redacted>' "$T/token_file.err"
check "-vv traces redact the token in bodies" grep -q '"token":"\*\*\*"' "$T/token_file.err"
check "-vv traces redact the JIT config in bodies" grep -q '"encoded_jit_config":"\*\*\*"' "$T/jit_repo.err"

# --- the stand-in itself: Prism catches an answer that breaks GitHub's schema
curl -s -D "$T/drift.h" -o "$T/drift.b" -H 'x-osr-expect-violation: 1' -H 'User-Agent: osr-test' \
  -H "Authorization: Bearer $PAT" "$OSR_GITHUB_URL/repos/schema-drift/x/actions/runners"
check "stand-in self-test: a schema-breaking answer gets sl-violations" grep -qi "^sl-violations: .*required property 'busy'" "$T/drift.h"

# --- image build --runner-version asks GitHub's downloads list (the stand-in's
#     download URLs point to github.com, so only the choice is tested here)
# (--base must exist: local inputs are checked before GitHub is asked.)
printf 'not an image' >"$T/base.img"
set +e
"$OSRUNNER" image build --base "$T/base.img" --runner-version 9.9.9 --github-path octo-org/octo-repo \
  >"$T/rv.out" 2>"$T/rv.err"; RC=$?
set -e
check "image build --runner-version X.Y.Z that GitHub does not list: exit 5" [ "$RC" = 5 ]
check "  and says which version GitHub offers" grep -q 'GitHub offers runner 2\.[0-9]*\.[0-9]*, not 9.9.9' "$T/rv.err"
set +e
"$OSRUNNER" image build --base "$T/base.img" --runner-version latest >"$T/rv2.out" 2>"$T/rv2.err"; RC=$?
set -e
check "image build --runner-version without --github-path: usage exit 2" [ "$RC" = 2 ]

# --- last: nothing this test sent or got broke GitHub's schema
NEW_VIOLATIONS=$(new_violations "$VIOLATIONS_AT_START")
if [ -z "$NEW_VIOLATIONS" ]; then
  ok "Prism reported no schema violation (sl-violations) for this run"
else
  bad "Prism reported schema violations:"
  printf '%s\n' "$NEW_VIOLATIONS"
fi

echo "$PASSES passed, $FAILS failed"
[ "$FAILS" = 0 ]
