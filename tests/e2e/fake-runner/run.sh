#!/bin/bash
# A fake actions-runner run.sh for osrunner's end-to-end test: like GitHub's
# it takes its settings from config.sh's files or a JIT config (--jitconfig
# or ACTIONS_RUNNER_INPUT_JITCONFIG), drops ACTIONS_RUNNER_INPUT_* from its
# environment, reads .env into the job's environment, goes online, runs one
# job (it records what a job would see in $OSR_E2E_DIR/job.txt), and, being
# ephemeral, removes itself. It talks to the GitHub stand-in's /_control API.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=bin/common.sh
. bin/common.sh
if [ "$(id -u)" = 0 ]; then
  echo "Must not run interactively with sudo"
  exit 1
fi
opt_jitconfig=""
read_input_env
while [ $# -gt 0 ]; do
  case "$1" in
    --jitconfig)
      [ $# -ge 2 ] || { echo "An error occurred: --jitconfig needs a value"; exit 1; }
      opt_jitconfig=$2
      shift 2
      ;;
    --once | --startuptype) shift ;;
    *)
      echo "Unrecognized command-line input arguments: '$1'."
      exit 1
      ;;
  esac
done
load_dotenv
umask 077
if [ -n "$opt_jitconfig" ]; then
  # The encoded JIT config: base64 of {".runner": b64, ".credentials": b64,
  # ".credentials_rsaparams": b64}; each file is written, as the runner does.
  jit=$(printf '%s' "$opt_jitconfig" | base64 -d 2>/dev/null) || { echo "An error occurred: the JIT config is not base64"; exit 1; }
  opt_jitconfig=""
  for f in .runner .credentials .credentials_rsaparams; do
    re="\"\\$f\":\"([A-Za-z0-9+/=]*)\""
    [[ $jit =~ $re ]] || { echo "An error occurred: the JIT config has no $f"; exit 1; }
    printf '%s' "${BASH_REMATCH[1]}" | base64 -d >"$f"
  done
  jit=""
  chmod 0644 .runner
fi
if [ ! -s .runner ] || [ ! -s .credentials_rsaparams ]; then
  echo "Not configured. Run config.sh to configure the runner."
  exit 1
fi
settings=$(cat .runner)
SERVER=$(json_field "$settings" serverUrl)
ID=$(json_field "$settings" agentId)
NAME=$(json_field "$settings" agentName)
EPHEMERAL=$(json_field "$settings" ephemeral || echo false)
cred_body() { printf '{"credential":%s%s}' "$(json_str "$(cat .credentials_rsaparams)")" "${1:-}"; }

call POST "$SERVER/_control/runners/$ID/session" < <(cred_body)
if [ "$HTTP_STATUS" != 200 ]; then
  echo "An error occurred: could not connect to GitHub ($HTTP_STATUS)"
  exit 1
fi
echo "√ Connected to GitHub"
echo
echo "Current runner version: '2.323.0'"
echo "$(now): Listening for Jobs"
JOB=e2e-job
call POST "$SERVER/_control/runners/$ID/job" < <(cred_body ",\"busy\":true,\"job\":\"$JOB\"")
[ "$HTTP_STATUS" = 200 ] || { echo "An error occurred: job assignment failed ($HTTP_STATUS)"; exit 1; }
echo "$(now): Running job: $JOB"

# "The job": what a workflow step would see.
job() {
  export GITHUB_ACTIONS=true CI=true RUNNER_NAME="$NAME" GITHUB_JOB="$JOB"
  mkdir -p "$E2E_DIR"
  {
    echo "== id"
    id
    echo "== env"
    env | LC_ALL=C sort
    echo "== cloud-init status"
    cloud-init status 2>&1 || true
    echo "== ps"
    ps -eww -o user,args
  } >"$E2E_DIR/job.txt" 2>&1
}
result=Succeeded
(job) || result=Failed
call POST "$SERVER/_control/runners/$ID/job" < <(cred_body ",\"busy\":false,\"job\":\"$JOB\",\"result\":\"$result\"")
echo "$(now): Job $JOB completed with result: $result"
if [ "$EPHEMERAL" = true ]; then
  call DELETE "$SERVER/_control/runners/$ID" < <(cred_body)
  [ "$HTTP_STATUS" = 204 ] || echo "$(now): removing the runner failed ($HTTP_STATUS)"
  rm -f .runner .credentials .credentials_rsaparams
fi
[ "$result" = Succeeded ]
