#!/bin/bash
# osrunner image upload/list/show/delete against the local Glance: the data
# comes back with the same checksum, properties and tags are set, replacement
# keeps N images and marks the current one, delete by name rolls back, and an
# upload that is killed leaves no image: SIGTERM deletes it at once, and after
# SIGKILL the next `image list --cleanup` (or upload) removes the record.
# A file that is not its --disk-format is refused before any record exists,
# and the delete after a timed-out upload keeps to --timeout (a stand-in
# Glance that never answers). Needs tests/cloud/up.
set -e
. "$(dirname "$0")/lib.sh"
export OS_CLIENT_CONFIG_FILE="$CLOUDS"
C=(--os-cloud ostb-demo)
NAME=osr-it-glance-$$-$RANDOM
jq_py() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); $2" "$1"; }
ids_of() { "$OSRUNNER" "${C[@]}" image list --name "$1" --json | /usr/bin/python3 -c \
  'import json,sys; print(" ".join(i["id"]+":"+i["status"]+(":current" if i["current"] else "") for i in json.load(sys.stdin)))'; }
cleanup_images() { for i in $("$OSRUNNER" "${C[@]}" image list --name "$NAME" --json 2>/dev/null |
  /usr/bin/python3 -c 'import json,sys; print(" ".join(i["id"] for i in json.load(sys.stdin)))' 2>/dev/null); do
  "$OSRUNNER" "${C[@]}" image delete "$i" >/dev/null 2>&1 || true; done; }
trap 'cleanup_images; rm -rf "$T"' EXIT

head -c $((24 << 20)) /dev/urandom >"$T/a.img"
head -c $((16 << 20)) /dev/urandom >"$T/b.img"
head -c $((8 << 20)) /dev/urandom >"$T/c.img"

# --- upload, properties, download back
run up1 "${C[@]}" image upload "$T/a.img" --name "$NAME" --disk-format raw \
  --property os_distro=ubuntu --property osrunner_runner_version=2.311.0 --tag osr-it --json
check "upload exits 0" [ "$RC" = 0 ]
A=$(jq_py "$T/up1.out" 'print(d["image"]["id"])')
check "upload --json: the image is active and current" jq_py "$T/up1.out" 'assert d["image"]["status"]=="active" and d["image"]["current"], d'
run show1 "${C[@]}" image show "$NAME" --json
check "show by name gives the image" jq_py "$T/show1.out" "assert d['id']=='$A', d"
check "properties and tag are set" jq_py "$T/show1.out" \
  "assert d['os_distro']=='ubuntu' and d['osrunner_runner_version']=='2.311.0' and 'osr-it' in d['tags'] and d['disk_format']=='raw', d"
check "Glance's SHA-512 is the file's" jq_py "$T/show1.out" \
  "assert d['os_hash_algo']=='sha512' and d['os_hash_value']=='$(sha512sum "$T/a.img" | cut -d' ' -f1)', d"
$OPENSTACK --os-cloud ostb-demo image save --file "$T/a.back" "$A"
check "the image downloads back with the same SHA-256" [ "$(sha256sum <"$T/a.back")" = "$(sha256sum <"$T/a.img")" ]

# --- replacement: the new image is current, the old one kept (keep 2), then retired (keep 1)
run up2 "${C[@]}" image upload "$T/b.img" --name "$NAME" --disk-format raw --json
B=$(jq_py "$T/up2.out" 'print(d["image"]["id"])')
check "second upload: 0 retired with --keep 2 (default)" jq_py "$T/up2.out" 'assert d["retired"]==0, d'
check "list: B current, A kept" [ "$(ids_of "$NAME")" = "$B:active:current $A:active" ]
run tab "${C[@]}" image list --name "$NAME"
check "list table marks the current image" grep -qE "^$B +$NAME +active .* \\* " "$T/tab.out"
run up3 "${C[@]}" image upload "$T/c.img" --name "$NAME" --disk-format raw --keep 2 --json
Cid=$(jq_py "$T/up3.out" 'print(d["image"]["id"])')
check "third upload: the oldest (A) retired" [ "$(ids_of "$NAME")" = "$Cid:active:current $B:active" ]
run del "${C[@]}" image delete "$NAME"
check "delete by name removes the current image" grep -q "deleted $Cid" "$T/del.out"
check "... and rolls back to the previous one" [ "$(ids_of "$NAME")" = "$B:active:current" ]
run up4 "${C[@]}" image upload "$T/c.img" --name "$NAME" --disk-format raw --keep 1 --json
D=$(jq_py "$T/up4.out" 'print(d["image"]["id"])')
check "--keep 1: only the new image is left" [ "$(ids_of "$NAME")" = "$D:active:current" ]
run missing "${C[@]}" image show "osr-it-no-such-image-$$"
check "show of an unknown name: exit 5, one line" bash -c "[ '$RC' = 5 ] && [ \$(wc -l <'$T/missing.err') = 1 ]"
run noname "${C[@]}" image upload "$T/c.img"
check "upload without --name: usage error" [ "$RC" = 2 ]

# --- an upload that is killed: start a big one, wait until Glance says "saving"
truncate -s 3G "$T/big.img"
wait_saving() { # until the name has an image in status saving, or the uploader is gone
  while kill -0 "$1" 2>/dev/null; do
    case " $(ids_of "$2") " in *:saving*) return 0 ;; esac
  done
  return 1
}
KNAME=$NAME-term
"$OSRUNNER" "${C[@]}" image upload "$T/big.img" --name "$KNAME" --disk-format raw >"$T/term.out" 2>"$T/term.err" &
P=$!
if wait_saving $P "$KNAME"; then
  kill -TERM $P
  set +e; wait $P; RC=$?; set -e
  check "SIGTERM mid-upload: exit 143" [ "$RC" = 143 ]
  check "SIGTERM mid-upload: says interrupted" grep -q 'interrupted after' "$T/term.err"
  check "SIGTERM mid-upload: no image left, without any cleanup" [ -z "$(ids_of "$KNAME")" ]
else
  bad "SIGTERM mid-upload: the upload never reached 'saving' ($(cat "$T/term.err"))"
fi
KNAME=$NAME-kill
"$OSRUNNER" "${C[@]}" image upload "$T/big.img" --name "$KNAME" --disk-format raw >"$T/kill.out" 2>"$T/kill.err" &
P=$!
if wait_saving $P "$KNAME"; then
  kill -KILL $P
  set +e; wait $P; RC=$?; set -e
  check "SIGKILL mid-upload: the process died (exit 137)" [ "$RC" = 137 ]
  check "SIGKILL mid-upload: Glance still has the record" [ -n "$(ids_of "$KNAME")" ]
  run clean "${C[@]}" image list --cleanup --name "$KNAME" --json
  check "image list --cleanup removes the dead upload's record" bash -c "[ '$RC' = 0 ] && [ \"\$(cat '$T/clean.out')\" = '[]' ]"
  check "openstack image list agrees: no image left" bash -c "[ -z \"\$($OPENSTACK --os-cloud ostb-demo image list --name '$KNAME' -f value -c ID)\" ]"
else
  bad "SIGKILL mid-upload: the upload never reached 'saving' ($(cat "$T/kill.err"))"
fi

# --- content that is not --disk-format: refused (exit 10) before any record exists
BNAME=$NAME-bad
: >"$T/empty.img"
printf 'not a disk image\n' >"$T/text.img"
qemu-img create -q -f qcow2 "$T/real.qcow2" 64M
head -c 65536 "$T/real.qcow2" >"$T/trunc.qcow2"
n_before=$($OPENSTACK --os-cloud ostb-demo image list -f value -c ID | wc -l)
for c in "empty.img qcow2 but the file is empty" "empty.img raw but the file is empty" \
         "text.img qcow2 but the file is raw" "real.qcow2 raw but the file is qcow2" \
         "trunc.qcow2 qcow2 is not inside the file"; do
  read -r f fmt says <<<"$c"
  run bad "${C[@]}" image upload "$T/$f" --name "$BNAME" --disk-format "$fmt"
  check "$f as $fmt: exit 10, one line naming the file and '$says'" bash -c \
    "[ '$RC' = 10 ] && [ \$(grep -vc '^osrunner: uploading ' '$T/bad.err') = 1 ] &&
     grep -q '^osrunner: $T/$f: --disk-format $fmt, .*$says' '$T/bad.err'"
done
check "bad files left no image record (queued or other), by the openstack CLI" bash -c \
  "[ -z \"\$($OPENSTACK --os-cloud ostb-demo image list --name '$BNAME' -f value -c ID)\" ] &&
   [ \$($OPENSTACK --os-cloud ostb-demo image list -f value -c ID | wc -l) = $n_before ]"
run good "${C[@]}" image upload "$T/real.qcow2" --name "$BNAME" --keep 1
check "a real qcow2 (qemu-img create) passes the check" [ "$RC" = 0 ]
for i in $(ids_of "$BNAME"); do "$OSRUNNER" "${C[@]}" image delete "${i%%:*}" >/dev/null 2>&1 || true; done

# --- the clean-up DELETE after a timed-out upload keeps to --timeout, not the
# 60 s default: a stand-in Keystone+Glance on 127.0.0.1 that takes the PUT's
# data and never answers it, nor the DELETE that follows.
cat >"$T/fake.py" <<'PY'
import http.server, json, socketserver, sys, threading
release = threading.Event()
log = open(sys.argv[1], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        while n > 0:
            got = self.rfile.read(min(n, 1 << 16))
            if not got: break
            n -= len(got)
    def answer(self, code, obj, hdrs=()):
        b = json.dumps(obj).encode()
        self.send_response(code)
        for k, v in hdrs: self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers(); self.wfile.write(b)
    def hang(self):
        log.write("%s %s\n" % (self.command, self.path.split("?")[0]))
        release.wait(120)  # until the client gives up (or the test ends)
        self.close_connection = True
    def do_POST(self):
        self.body()
        base = "http://127.0.0.1:%d" % self.server.server_port
        if self.path == "/v3/auth/tokens":
            self.answer(201, {"token": {"expires_at": "2099-01-01T00:00:00.000000Z",
                "methods": ["password"], "user": {"id": "u1", "name": "demo", "domain": {"id": "default"}},
                "project": {"id": "p1", "name": "demo", "domain": {"id": "default"}},
                "catalog": [{"type": "image", "name": "glance", "endpoints": [
                    {"interface": "public", "region": "RegionOne", "region_id": "RegionOne", "url": base}]},
                    {"type": "identity", "name": "keystone", "endpoints": [
                    {"interface": "public", "region": "RegionOne", "region_id": "RegionOne", "url": base + "/v3"}]}]}},
                [("X-Subject-Token", "fake-token")])
        elif self.path == "/v2/images":
            log.write("POST /v2/images\n")
            self.answer(201, {"id": "11111111-2222-3333-4444-555555555555", "name": "x", "status": "queued"})
        else:
            self.answer(404, {})
    def do_GET(self):
        self.answer(200, {"images": []})
    def do_PUT(self):
        self.body(); self.hang()
    def do_DELETE(self):
        self.hang()
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
srv = S(("127.0.0.1", 0), H)
print(srv.server_port, flush=True)
threading.Thread(target=srv.serve_forever, daemon=True).start()
sys.stdin.read()  # until the test ends (it kills us)
PY
: >"$T/fake.log"
coproc FAKE { exec /usr/bin/python3 "$T/fake.py" "$T/fake.log"; }
FAKE_PID_SAVED=$FAKE_PID
trap 'kill "$FAKE_PID_SAVED" 2>/dev/null || true; wait "$FAKE_PID_SAVED" 2>/dev/null || true; cleanup_images; rm -rf "$T"' EXIT
if read -r -t 20 FPORT <&"${FAKE[0]}" && [ -n "$FPORT" ]; then
  cat >"$T/fake-clouds.yaml" <<EOF
clouds:
  fake:
    auth: {auth_url: "http://127.0.0.1:$FPORT/v3", username: demo, password: not-secret,
           project_name: demo, user_domain_name: Default, project_domain_name: Default}
    region_name: RegionOne
    interface: public
EOF
  chmod 600 "$T/fake-clouds.yaml"
  head -c $((1 << 20)) /dev/urandom >"$T/small.img"
  t0=$(date +%s)
  set +e
  OS_CLIENT_CONFIG_FILE="$T/fake-clouds.yaml" timeout -s KILL 50 "$OSRUNNER" --os-cloud fake \
    image upload "$T/small.img" --name x --disk-format raw --timeout 3 >"$T/to.out" 2>"$T/to.err" </dev/null
  RC=$?
  set -e
  secs=$(( $(date +%s) - t0 ))
  check "upload --timeout 3 against a Glance that never answers: fails (rc $RC), not killed" \
    bash -c "[ '$RC' != 0 ] && [ '$RC' != 137 ]"
  check "... and its clean-up DELETE was sent" grep -q "^DELETE /v2/images/11111111" "$T/fake.log"
  check "... and keeps to --timeout: done in ${secs} s (< 20; the 60 s default before)" [ "$secs" -lt 20 ]
  check "... the record left is named by id in the one error line, exit 9" bash -c \
    "[ '$RC' = 9 ] && [ \$(grep -vc '^osrunner: uploading ' '$T/to.err') = 1 ] &&
     grep -q 'timed out.*image 11111111-2222-3333-4444-555555555555 is left behind' '$T/to.err'"
else
  bad "the stand-in Glance did not start"
fi

finish
