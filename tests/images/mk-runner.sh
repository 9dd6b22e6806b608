#!/bin/bash
# A small fake actions-runner tarball, shaped like GitHub's: ./config.sh and
# ./run.sh (0755), bin/ with an executable and a symlink, a hard link,
# externals/ with a data file and a 0600 file, owned by 1001:121 as GitHub's
# are. Deterministic (fixed times, sorted, gzip -n).
# Usage: tests/images/mk-runner.sh OUT.tar.gz [FILLER_MIB]
set -euo pipefail
OUT=$1 FILLER_MIB=${2:-1}
W=$(mktemp -d -t osr-runner.XXXXXX)
trap 'rm -rf "$W"' EXIT
D=$W/actions-runner
mkdir -p "$D/bin" "$D/externals/node20/bin"
printf '#!/bin/bash\n[ "$(id -u)" = 0 ] && { echo "Must not run with sudo"; exit 1; }\necho "config $*" > .runner\necho "Runner successfully added"\n' >"$D/config.sh"
printf '#!/bin/bash\necho "RUNNER-RUN-MARKER user=$(id -un) runner=$(cat .runner) proxy=${HTTP_PROXY:-}"\n' >"$D/run.sh"
printf '\177ELF fake listener\n' >"$D/bin/Runner.Listener"
ln -s Runner.Listener "$D/bin/runsvc"
printf 'node\n' >"$D/externals/node20/bin/node"
ln "$D/externals/node20/bin/node" "$D/externals/node20/bin/node-hardlink"
if [ "$FILLER_MIB" -le 1 ]; then
  head -c $((FILLER_MIB * 1048576)) /dev/zero | tr '\0' 'x' >"$D/externals/filler.dat"
else
  # Benchmarks: real runners ship compressible binaries (node, .NET); use the host's.
  find /usr/lib -xdev -type f -name '*.so*' -size +64k 2>/dev/null | sort | xargs cat 2>/dev/null |
    head -c $((FILLER_MIB * 1048576)) >"$D/externals/filler.dat" || true
fi
printf 'secret-ish\n' >"$D/.credentials_example"
chmod 0755 "$D/config.sh" "$D/run.sh" "$D/bin/Runner.Listener" "$D/externals/node20/bin/node"
chmod 0600 "$D/.credentials_example"
find "$D" -exec touch -h -d @1700000100 {} +
tar --sort=name --owner=1001 --group=121 --numeric-owner --mtime=@1700000100 \
    -C "$D" -cf - . | gzip -n >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
