#!/bin/bash
# A fake actions-runner config.sh for osrunner's end-to-end test: it behaves
# like GitHub's at the edges (options, ACTIONS_RUNNER_INPUT_* variables, root
# refused, .runner/.credentials written, its messages and exit codes) and
# registers with the GitHub stand-in's /_control/runners/register
# (tests/github/README.md) instead of GitHub.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=bin/common.sh
. bin/common.sh
if [ "$(id -u)" = 0 ]; then
  echo "Must not run with sudo"
  exit 1
fi
opt_url="" opt_token="" opt_name="" opt_labels="" opt_runnergroup="" opt_work="_work"
opt_unattended="" opt_ephemeral="" opt_replace=""
read_input_env
load_dotenv
while [ $# -gt 0 ]; do
  case "$1" in
    --url | --token | --name | --labels | --runnergroup | --work)
      [ $# -ge 2 ] || { echo "An error occurred: $1 needs a value"; exit 1; }
      printf -v "opt_${1#--}" '%s' "$2"
      shift 2
      ;;
    --unattended | --ephemeral | --replace | --disableupdate)
      printf -v "opt_${1#--}" true
      shift
      ;;
    *)
      echo "Unrecognized command-line input arguments: '$1'. For usage refer to: .\\config.cmd --help or ./config.sh --help"
      exit 1
      ;;
  esac
done
# Every process's argv while config.sh runs (its own and its parents' among them).
mkdir -p "$E2E_DIR"
ps -eww -o user,args >"$E2E_DIR/config-ps.txt"

cat <<'B'

--------------------------------------------------------------------------------
|        ____ _ _   _   _       _          _        _   _                      |
|       / ___(_) |_| | | |_   _| |__      / \   ___| |_(_) ___  _ __  ___      |
|      | |  _| | __| |_| | | | | '_ \    / _ \ / __| __| |/ _ \| '_ \/ __|     |
|      | |_| | | |_|  _  | |_| | |_) |  / ___ \ (__| |_| | (_) | | | \__ \     |
|       \____|_|\__|_| |_|\__,_|_.__/  /_/   \_\___|\__|_|\___/|_| |_|___/     |
|                                                                              |
|                       Self-hosted runner registration (fake)                 |
--------------------------------------------------------------------------------

B
if [ -e .runner ]; then
  echo "Cannot configure the runner because it is already configured. To reconfigure the runner, run 'config.cmd remove' or './config.sh remove' first."
  exit 1
fi
for need in url token; do
  v=opt_$need
  if [ -z "${!v}" ]; then
    [ "$opt_unattended" = true ] && { echo "An error occurred: --$need is required (unattended)"; exit 1; }
    echo "An error occurred: no terminal to ask for --$need"
    exit 1
  fi
done
[ -n "$opt_name" ] || opt_name=$(hostname)
[[ $opt_url =~ ^(https?://[^/]+)/ ]] || { echo "An error occurred: invalid --url"; exit 1; }
BASE=${BASH_REMATCH[1]}
echo "# Authentication"
echo
body="{\"url\":$(json_str "$opt_url"),\"token\":$(json_str "$opt_token"),\"name\":$(json_str "$opt_name")"
body+=",\"labels\":$(json_str "$opt_labels"),\"ephemeral\":${opt_ephemeral:-false},\"replace\":${opt_replace:-false}"
body+=",\"work\":$(json_str "$opt_work")"
[ -n "$opt_runnergroup" ] && body+=",\"runner_group\":$(json_str "$opt_runnergroup")"
body+="}"
opt_token=""
call POST "$BASE/_control/runners/register" <<<"$body"
body=""
case "$HTTP_STATUS" in
  201) ;;
  404)
    echo "Http response code: NotFound from 'POST $BASE/actions/runner-registration'"
    echo "An error occurred: Not configured. $(json_field "$HTTP_BODY" message || true)"
    exit 1
    ;;
  409)
    echo "A runner exists with the same name $opt_name."
    exit 1
    ;;
  *)
    echo "An error occurred: registration answered $HTTP_STATUS: $(json_field "$HTTP_BODY" message || echo "$HTTP_BODY")"
    exit 1
    ;;
esac
echo "√ Connected to GitHub"
echo
echo "# Runner Registration"
echo
id=$(json_field "$HTTP_BODY" id)
cred=$(json_field "$HTTP_BODY" credential)
[[ $HTTP_BODY =~ \"runner\":(\{[^}]*\}) ]] || { echo "An error occurred: no runner settings in the answer"; exit 1; }
dotrunner=${BASH_REMATCH[1]}
umask 077
printf '%s\n' "$dotrunner" >.runner
printf '{"scheme":"OAuth","data":{"clientId":"%s"}}\n' "$id" >.credentials
printf '%s' "$cred" >.credentials_rsaparams
chmod 0600 .credentials .credentials_rsaparams
chmod 0644 .runner
echo "√ Runner successfully added"
echo "√ Runner connection is good"
echo
echo "# Runner settings"
echo
echo "√ Settings Saved."
echo
