#!/bin/bash
# The image build backends are modules loaded only by a build that uses one:
# `osrunner --version` and `osrunner projects` map no libguestfs, libvirt,
# glib, ICU, libarchive or libext2fs, and load at most two shared objects
# more than a program linking only libcurl, jansson, libyaml and libcrypto
# (bench/floor.c; libcom_err comes with libcurl's Kerberos); an offline
# build loads image-offline.so and not libguestfs; a missing module fails the build naming the file (exit 5);
# cmake --install puts the modules in LIBDIR/osrunner, where the installed
# library finds them. What a process loads is read from the dynamic loader
# (LD_DEBUG=libs: every object it initialises, dlopen()ed ones included).
set -e
. "$(dirname "$0")/lib.sh"
. "$OSR_SRC/tests/images/lib.sh"
export OS_CLIENT_CONFIG_FILE="$CLOUDS"
BUILD=$(cd "$(dirname "$OSRUNNER")/../.." && pwd)
HEAVY='guestfs|libvirt|glib-2|gobject|gio-2|libicu|libarchive|libext2fs'

# loaded NAME CMD...: the shared objects CMD initialises, one a line, in
# $T/NAME.libs (the dynamic loader left out).
loaded() {
  local name=$1; shift
  rm -f "$T/ld.$name".*
  set +e
  LD_DEBUG=libs LD_DEBUG_OUTPUT="$T/ld.$name" "$@" >"$T/$name.out" 2>"$T/$name.err" </dev/null
  RC=$?
  set -e
  cat "$T/ld.$name".* | sed -n 's/.*calling init: //p' | sort -u |
    grep -v '/ld-linux' >"$T/$name.libs" || true
}
none_heavy() { ! grep -E "$HEAVY" "$T/$1.libs"; }

# --- the floor: libcurl, jansson, libyaml, libcrypto and curl_global_init
# (built as the CLI is: with the sanitizers under the asan preset, whose
# libtirpc is then one more object: see src/lib/CMakeLists.txt)
SAN=() EXTRA=2
if ldd "$OSRUNNER" | grep -q libasan; then SAN=(-fsanitize=address,undefined) EXTRA=3; fi
cc -O2 "${SAN[@]}" -o "$T/floor" "$OSR_SRC/bench/floor.c" \
  $(pkg-config --cflags --libs libcurl jansson yaml-0.1 libcrypto)
loaded floor "$T/floor"
FLOOR=$(wc -l <"$T/floor.libs")
check "the floor program runs" [ "$RC" = 0 ]

# --- osrunner --version and osrunner projects
# light NAME ARGS...: osrunner ARGS loads no heavy library, and few objects
light() {
  local name=$1 n; shift
  loaded "$name" "$OSRUNNER" "$@"
  check "$* exits 0" [ "$RC" = 0 ]
  check "$*: maps none of libguestfs, libvirt, glib, ICU, libarchive, libext2fs" \
    none_heavy "$name"
  n=$(wc -l <"$T/$name.libs")
  check "$*: loads $n shared objects, at most the floor's $FLOOR + $EXTRA" \
    [ "$n" -le $((FLOOR + EXTRA)) ]
}
light version --version
light projects --os-cloud ostb-admin projects
LIB=$(ldd "$OSRUNNER" | awk '/libosrunner/ {print $3}')
check "the CLI and libosrunner need none of them (ldd)" \
  bash -c "! ldd '$OSRUNNER' '$LIB' | grep -E '$HEAVY'"

# --- an offline build loads its module, and only it
BASE=$(osr_base_image)
mkdir -p "$T/work"
"$OSR_SRC/tests/images/mk-runner.sh" "$T/runner.tar.gz"
SHA=$(sha256sum "$T/runner.tar.gz" | cut -d' ' -f1)
BUILD_ARGS=(image build --base "$BASE" --runner-url "$T/runner.tar.gz" --runner-sha256 "$SHA"
            --no-packages --work-dir "$T/work")
loaded offline "$OSRUNNER" "${BUILD_ARGS[@]}" --backend offline --output "$T/off.qcow2"
check "offline build exits 0" [ "$RC" = 0 ]
check "offline build: loads osrunner/image-offline.so beside the library" \
  grep -qx "$(dirname "$LIB")/osrunner/image-offline.so" "$T/offline.libs"
check "offline build: and libext2fs with it" grep -q 'libext2fs' "$T/offline.libs"
check "offline build: no libguestfs, no guestfs module" \
  bash -c "! grep -E 'guestfs|libvirt' '$T/offline.libs'"

# --- a missing module: the library alone, in a directory of its own
mkdir -p "$T/lib"
cp "$(readlink -f "$LIB")" "$T/lib/$(basename "$LIB")"
INSTALLED=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BUILD/CMakeCache.txt")
set +e
LD_LIBRARY_PATH="$T/lib" "$OSRUNNER" "${BUILD_ARGS[@]}" --backend guestfs \
  --output "$T/gfs.qcow2" >"$T/missing.out" 2>"$T/missing.err" </dev/null
RC=$?
set -e
if ls "$INSTALLED"/lib*/osrunner/image-guestfs.so "$INSTALLED"/lib/*/osrunner/image-guestfs.so \
  >/dev/null 2>&1; then
  echo "skip missing module: one is installed under $INSTALLED"
else
  check "missing module: exit 5 (not found)" [ "$RC" = 5 ]
  check "missing module: one line naming the file" \
    grep -qx "osrunner: the guestfs backend is not installed: $T/lib/osrunner/image-guestfs.so: No such file or directory (cmake --install puts it there)" "$T/missing.err"
  check "missing module: no output, nothing in the work dir" \
    bash -c "[ ! -e '$T/gfs.qcow2' ] && [ -z \"\$(ls -A '$T/work')\" ]"
fi

# --- cmake --install: the modules go to LIBDIR/osrunner, and are found there
cmake --install "$BUILD" --prefix "$T/inst" >"$T/install.log" 2>&1
ILIB=$(dirname "$(find "$T/inst" -name 'libosrunner.so.0' | head -1)")
check "cmake --install: both modules in LIBDIR/osrunner" \
  test -f "$ILIB/osrunner/image-offline.so" -a -f "$ILIB/osrunner/image-guestfs.so"
loaded installed env LD_LIBRARY_PATH="$ILIB" "$T/inst/bin/osrunner" "${BUILD_ARGS[@]}" \
  --backend offline --output "$T/inst.qcow2"
check "installed CLI: offline build exits 0" [ "$RC" = 0 ]
check "installed CLI: loads the installed module" \
  grep -qx "$ILIB/osrunner/image-offline.so" "$T/installed.libs"
finish
