# Shared start of the bench/ scripts: bench dependencies, a release build of
# osrunner in $OSR, and the local cloud's environment. Source it from the
# repository's top directory.
scripts/deps --bench
# The library and the CLI only: gcc 12 at -O2 raises false positives in
# some tests (format-truncation, null-dereference) that -Werror would stop;
# and, in the daemon's code of issue 12, src/lib/util/metrics.c:311
# (null-dereference) and src/daemon/events.c:21 (format-truncation): those
# stay warnings here (OSR_WERROR off), the dev preset keeps -Werror.
cmake --preset release -DBUILD_TESTING=OFF -DOSR_WERROR=OFF >/dev/null
cmake --build --preset release >/dev/null
OSR=$PWD/build/release/src/cli/osrunner
STATE=${OSR_CLOUD_DIR:-$PWD/tests/cloud/state}
[ -r "$STATE/env.sh" ] || { echo "bench: the local cloud is not up (tests/cloud/up)" >&2; exit 1; }
# shellcheck disable=SC1091
. "$STATE/env.sh"
unset OS_CLOUD
OSC="/usr/bin/python3 /usr/bin/openstack"
mkdir -p bench/results
