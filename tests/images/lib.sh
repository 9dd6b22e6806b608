# Helpers for the image tests: the cached base image, a runner tarball, a
# loopback HTTP server, and libguestfs settings. Source after tests/integration/lib.sh.

# The base image is cached under build/test-images/, keyed by the recipe's hash,
# so CI builds it once per recipe change.
osr_base_image() {
  local key dir
  key=$(cat "$OSR_SRC/tests/images/mk-base.sh" | sha256sum | cut -c1-16)
  dir="$OSR_SRC/build/test-images/$key"
  if [ ! -s "$dir/base.qcow2" ]; then
    mkdir -p "$dir"
    "$OSR_SRC/tests/images/mk-base.sh" "$dir/base.qcow2" >&2
  fi
  echo "$dir/base.qcow2"
}

# libguestfs: the direct backend, and TCG unless a hardware KVM module is
# loaded (an openable /dev/kvm alone proves nothing; see osr_build_accel_detect).
export LIBGUESTFS_BACKEND=direct
if [ -w /dev/kvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then
  export LIBGUESTFS_BACKEND_SETTINGS=force_kvm
else
  export LIBGUESTFS_BACKEND_SETTINGS=force_tcg
fi

# Under the asan preset: ignore what libguestfs itself does (see asan.supp).
if [ -n "${ASAN_OPTIONS:-}" ]; then
  export ASAN_OPTIONS="$ASAN_OPTIONS:suppressions=$OSR_SRC/tests/images/asan.supp"
fi

# Serve directory $1 on 127.0.0.1 (a free port); sets HTTP_PORT and HTTP_PID.
# The port comes back through a FIFO: no polling, no sleep.
osr_http_serve() {
  local fifo=$T/http-port.fifo
  rm -f "$fifo"; mkfifo "$fifo"
  /usr/bin/python3 - "$1" "$fifo" >"$T/http.log" 2>&1 <<'PY' &
import functools, http.server, os, sys
class Handler(http.server.SimpleHTTPRequestHandler):
    # Also a forward proxy for plain HTTP: "GET http://host/name" serves name.
    def translate_path(self, path):
        return os.path.join(sys.argv[1], os.path.basename(path.split("?", 1)[0]))
    # /r/NAME redirects to /NAME, as GitHub's release URLs redirect to a CDN.
    def do_GET(self):
        if self.path.startswith("/r/"):
            self.send_response(302)
            self.send_header("Location", "/" + self.path[3:])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[2], "w") as f:
    f.write("%d\n" % srv.server_address[1])
srv.serve_forever()
PY
  HTTP_PID=$!
  read -r HTTP_PORT <"$fifo"
}
