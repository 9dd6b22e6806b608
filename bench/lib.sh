# Shared start of the bench/ scripts: bench dependencies, a release build of
# osrunner in $OSR, and the local cloud's environment. Source it from the
# repository's top directory.
scripts/deps --bench
# The library, the CLI and the daemon, warnings as errors; the tests are
# not needed for a benchmark.
cmake --preset release -DBUILD_TESTING=OFF >/dev/null
cmake --build --preset release >/dev/null
OSR=$PWD/build/release/src/cli/osrunner
STATE=${OSR_CLOUD_DIR:-$PWD/tests/cloud/state}
[ -r "$STATE/env.sh" ] || { echo "bench: the local cloud is not up (tests/cloud/up)" >&2; exit 1; }
# shellcheck disable=SC1091
. "$STATE/env.sh"
unset OS_CLOUD
OSC="/usr/bin/python3 /usr/bin/openstack"
mkdir -p bench/results
