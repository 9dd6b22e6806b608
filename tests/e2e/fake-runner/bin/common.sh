# shellcheck shell=bash disable=SC2034
# Shared by the fake runner's config.sh and run.sh (sourced; bash, coreutils
# and curl only).

# ACTIONS_RUNNER_INPUT_X -> opt_x (lower case), then remove every
# ACTIONS_RUNNER_INPUT_* from the environment, as the real runner does once it
# has read them.
read_input_env() {
  local v k
  for v in $(compgen -e); do
    case "$v" in
      ACTIONS_RUNNER_INPUT_*)
        k=${v#ACTIONS_RUNNER_INPUT_}
        k=${k,,}
        printf -v "opt_$k" '%s' "${!v}"
        unset "$v"
        ;;
    esac
  done
}

# The runner directory's .env: KEY=VALUE lines, split at the first "=", no
# quoting; exported to this process and so to the job.
load_dotenv() {
  local line key
  [ -f .env ] || return 0
  while IFS= read -r line || [ -n "$line" ]; do
    [ -z "$line" ] && continue
    case "$line" in \#*) continue ;; esac
    case "$line" in *=*) ;; *) continue ;; esac
    key=${line%%=*}
    [[ "$key" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
    export "$key=${line#*=}"
  done <.env
}

# A JSON string literal of $1.
json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\t'/\\t}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  printf '"%s"' "$s"
}

# json_field JSON KEY: the value of a top-level string or number field (the
# stand-in's and our own one-line JSON).
json_field() {
  local re="\"$2\":(\"([^\"\\\\]*)\"|([0-9]+|true|false))"
  [[ $1 =~ $re ]] || return 1
  printf '%s' "${BASH_REMATCH[2]}${BASH_REMATCH[3]}"
}

now() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# call METHOD URL: send stdin as the JSON body (secrets stay out of argv);
# sets HTTP_STATUS and HTTP_BODY.
call() {
  local out
  out=$(curl -sS --max-time 30 -X "$1" -H 'Content-Type: application/json' --data-binary @- \
    -w '\n%{http_code}' "$2") || { HTTP_STATUS=000; HTTP_BODY=$out; return 0; }
  HTTP_STATUS=${out##*$'\n'}
  HTTP_BODY=${out%$'\n'*}
}

# Where the e2e test reads its evidence from the disk afterwards.
E2E_DIR=${OSR_E2E_DIR:-/home/ubuntu/e2e}
