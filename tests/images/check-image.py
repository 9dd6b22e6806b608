#!/usr/bin/python3
"""Check a runner image's files, exported by `guestfish tar-out / X.tar
numericowner:true`, against what the builder promises.

check-image.py check IMAGE.tar RUNNER.tar.gz [--http U] [--https U] [--no-proxy L]
check-image.py same A.tar B.tar      (same files: paths, types, modes, owners,
                                      contents, link targets, mtimes)
Prints one 'ok'/'FAIL' line per check; exits 1 if any failed."""
import hashlib, io, json, sys, tarfile

fails = 0
def check(what, cond, detail=""):
    global fails
    print(("ok   " if cond else "FAIL ") + what + ("" if cond else f" ({detail})"))
    if not cond:
        fails += 1

def members(path):
    out = {}
    with tarfile.open(path) as t:
        for m in t.getmembers():
            name = m.name[2:] if m.name.startswith("./") else m.name.lstrip("/")
            name = "" if name == "." else name.rstrip("/")
            # A hard link reads as its file: which name tar saw first does not matter.
            data = t.extractfile(m).read() if (m.isfile() or m.islnk()) else None
            out[name] = (m, data)
    return out

def text(img, path):
    m = img.get(path)
    return m[1].decode() if m and m[1] is not None else None

def manifest(img):
    rows = {}
    for name, (m, data) in img.items():
        kind = "d" if m.isdir() else "l" if m.issym() else "f"
        rows[name] = (kind, m.mode & 0o7777, m.uid, m.gid,
                      hashlib.sha256(data).hexdigest() if data is not None else None,
                      m.linkname if kind == "l" else None, int(m.mtime))
    return rows

def do_check(args):
    img = members(args[0])
    runner = members(args[1])
    opt = dict(zip(args[2::2], args[3::2]))
    http, https, nop = opt.get("--http"), opt.get("--https"), opt.get("--no-proxy")
    passwd = text(img, "etc/passwd") or ""
    line = [l for l in passwd.splitlines() if l.startswith("ubuntu:")]
    check("user ubuntu exists with uid 1000, home and shell",
          line == ["ubuntu:x:1000:1000:Ubuntu:/home/ubuntu:/bin/bash"], line)
    group = text(img, "etc/group") or ""
    for g in ("docker", "sudo"):
        gl = [l for l in group.splitlines() if l.startswith(g + ":")]
        check(f"group {g} exists and has ubuntu",
              len(gl) == 1 and "ubuntu" in gl[0].split(":")[3].split(","), gl)
    sh = text(img, "etc/shadow") or ""
    check("shadow has a locked ubuntu entry", "\nubuntu:!:" in "\n" + sh)
    check("shadow keeps its mode 0640 and group shadow",
          img["etc/shadow"][0].mode & 0o7777 == 0o640 and img["etc/shadow"][0].gid == 42)
    home = img.get("home/ubuntu")
    check("/home/ubuntu is 0750 ubuntu:ubuntu",
          home and home[0].mode & 0o7777 == 0o750 and (home[0].uid, home[0].gid) == (1000, 1000))
    check("skel files copied", text(img, "home/ubuntu/.bashrc") == text(img, "etc/skel/.bashrc"))
    bad = []
    for name, (m, data) in runner.items():
        p = "home/ubuntu/actions-runner" + ("/" + name if name else "")
        got = img.get(p)
        if got is None:
            bad.append(p + " missing"); continue
        g, gdata = got
        if (g.uid, g.gid) != (1000, 1000):
            bad.append(f"{p} owner {g.uid}:{g.gid}")
        if m.issym():
            if not g.issym() or g.linkname != m.linkname:
                bad.append(p + " symlink")
            continue
        if g.mode & 0o7777 != m.mode & 0o7777:
            bad.append(f"{p} mode {oct(g.mode)} != {oct(m.mode)}")
        if (m.isfile() or m.islnk()) and gdata != data:
            bad.append(p + " content")
        if int(g.mtime) != int(m.mtime):
            bad.append(f"{p} mtime")
    check(f"runner: all {len(runner)} entries in /home/ubuntu/actions-runner, owned by ubuntu, same modes, contents, links and times",
          not bad, "; ".join(bad[:5]))
    env = text(img, "etc/environment") or ""
    check("/etc/environment keeps its PATH line", env.startswith('PATH="'))
    check("/etc/environment has no empty values",
          all(not l.endswith("=") and not l.endswith('=""') for l in env.splitlines()), env)
    for names, v in ((("HTTP_PROXY", "http_proxy"), http), (("HTTPS_PROXY", "https_proxy"), https),
                     (("NO_PROXY", "no_proxy"), nop)):
        for n in names:
            lines = [l for l in env.splitlines() if l.startswith(n + "=")]
            check(f"/etc/environment {n} " + ("= " + v if v else "absent"),
                  lines == ([f"{n}={v}"] if v else []), lines)
    apt = text(img, "etc/apt/apt.conf.d/90osrunner-proxy")
    want_apt = "".join(f'Acquire::{k}::Proxy "{v}";\n' for k, v in (("http", http), ("https", https)) if v)
    check("apt proxy config " + ("as expected" if want_apt else "absent"), apt == (want_apt or None), apt)
    drop = text(img, "etc/systemd/system/docker.service.d/http-proxy.conf")
    want_drop = None
    if http or https or nop:
        want_drop = "[Service]\n" + "".join(f'Environment="{k}={v}"\n' for k, v in
                                             (("HTTP_PROXY", http), ("HTTPS_PROXY", https), ("NO_PROXY", nop)) if v)
    check("docker drop-in " + ("as expected" if want_drop else "absent"), drop == want_drop, drop)
    want_cfg = None
    if http or https or nop:
        want_cfg = {"proxies": {"default": {k: v for k, v in (("httpProxy", http), ("httpsProxy", https), ("noProxy", nop)) if v}}}
    for who, p, uid in (("ubuntu", "home/ubuntu/.docker/config.json", 1000), ("root", "root/.docker/config.json", 0)):
        t = text(img, p)
        if want_cfg is None:
            check(f"docker config.json of {who} absent", t is None, t)
            continue
        check(f"docker config.json of {who} as expected", t is not None and json.loads(t) == want_cfg, t)
        m = img.get(p)
        check(f"docker config.json of {who} is 0600 {uid}:{uid}",
              m is not None and m[0].mode & 0o7777 == 0o600 and (m[0].uid, m[0].gid) == (uid, uid))

def do_same(args):
    a, b = manifest(members(args[0])), manifest(members(args[1]))
    diff = sorted(set(a) ^ set(b)) + sorted(k for k in set(a) & set(b) if a[k] != b[k])
    check(f"same files in both images ({len(a)} entries)", not diff,
          "; ".join(f"{k}: {a.get(k)} vs {b.get(k)}" for k in diff[:4]))

{"check": do_check, "same": do_same}[sys.argv[1]](sys.argv[2:])
sys.exit(1 if fails else 0)
