#!/bin/bash
# osrunner's runner service, written to the VM by osrunner's user data and run
# by osrunner-runner.service as root once cloud-init is done. It registers the
# runner (token mode), runs it once as the runner user, and reports each step
# as an "osrunner: EVENT name=NAME ..." line on the console and in the journal.
# The unit powers the VM off when this script ends, whatever the outcome.
#
# Nothing here is generated: every value comes from runner.conf as data (read,
# never evaluated), and the secret from a root-only file that is deleted once
# read. The secret reaches config.sh or run.sh only through the environment
# variable the runner reads (ACTIONS_RUNNER_INPUT_TOKEN or _JITCONFIG), never
# through an argument, so it is in no process's argv and in no log.
set -u
conf=${OSR_RUNNER_CONF:-/etc/osrunner/runner.conf}
secret_file=${OSR_RUNNER_SECRET:-/run/osrunner/runner.secret}
console=${OSR_RUNNER_CONSOLE:-/dev/console}

mode='' url='' name='' labels='' runner_group='' user=ubuntu dir=/home/ubuntu/actions-runner
# shellcheck disable=SC2034 # read through ${!v} below
http_proxy='' https_proxy='' no_proxy=''

say() {
    local line="osrunner: $1 name=${name:-?}${2:+ $2}"
    line=${line//[^[:print:]]/?}
    printf '%s\n' "$line"
    { printf '%s\n' "$line" >>"$console"; } 2>/dev/null || true
}

stop() { # stop EXIT-CODE EVENT [DETAILS]
    say "$2" "${3:-}"
    say poweroff
    exit "$1"
}

if [ -r "$conf" ]; then
    while IFS= read -r line || [ -n "$line" ]; do
        key=${line%%=*}
        value=${line#*=}
        case $key in
        mode | url | name | labels | runner_group | user | dir | http_proxy | https_proxy | no_proxy)
            printf -v "$key" '%s' "$value"
            ;;
        esac
    done <"$conf"
else
    stop 1 registration-failed "reason=no-config"
fi

say starting "mode=$mode"
if ! secret=$(cat -- "$secret_file" 2>/dev/null) || [ -z "$secret" ]; then
    rm -f -- "$secret_file"
    stop 1 registration-failed "reason=no-secret"
fi
rm -f -- "$secret_file"

home=$(getent passwd "$user" | cut -d: -f6)
export HOME=${home:-/home/$user} USER=$user LOGNAME=$user SHELL=/bin/bash LANG=C.UTF-8
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
for v in http_proxy https_proxy no_proxy; do
    if [ -n "${!v}" ]; then
        export "${v?}" "${v^^}=${!v}"
    else
        unset "$v" "${v^^}"
    fi
done
cd -- "$dir" || stop 1 registration-failed "reason=no-runner-directory"

# As the runner user, with no sudo and no PAM: the environment is this one.
gid=$(id -g -- "$user" 2>/dev/null) || stop 1 registration-failed "reason=no-user"
drop=(setpriv --reuid="$user" --regid="$gid" --init-groups --)

# Copy the runner's output to the journal, and mark its milestones on the console.
watch() {
    local line
    while IFS= read -r line; do
        printf '%s\n' "$line"
        case $line in
        *"Listening for Jobs"*) say listening ;;
        *"Running job: "*) say job-started "job=${line##*Running job: }" ;;
        *" completed with result: "*) say job-finished "result=${line##* completed with result: }" ;;
        esac
    done
}

set -o pipefail
if [ "$mode" = token ]; then
    args=(--unattended --ephemeral --url "$url" --name "$name" --labels "$labels")
    [ -n "$runner_group" ] && args+=(--runnergroup "$runner_group")
    ACTIONS_RUNNER_INPUT_TOKEN=$secret "${drop[@]}" ./config.sh "${args[@]}" 2>&1 | watch
    rc=$?
    unset secret
    [ "$rc" -eq 0 ] || stop "$rc" registration-failed "exit=$rc"
    say registered "mode=token"
    "${drop[@]}" ./run.sh 2>&1 | watch
    rc=$?
elif [ "$mode" = jit ]; then
    say registered "mode=jit"
    ACTIONS_RUNNER_INPUT_JITCONFIG=$secret "${drop[@]}" ./run.sh 2>&1 | watch
    rc=$?
    unset secret
else
    stop 1 registration-failed "reason=unknown-mode"
fi
stop "$rc" finished "exit=$rc"
