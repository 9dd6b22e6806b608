#!/usr/bin/python3
"""A small HTTP forward proxy for fault trials: it forwards every request
(absolute-form, as libcurl sends them through http_proxy) to its origin on
127.0.0.1, keeping client connections alive, except the first DROP requests
`POST .../servers`: after reading one of those it closes the client
connection without a byte of answer,

  --mode before: without forwarding it (Nova never sees it: not created);
  --mode after:  after forwarding it and reading Nova's answer (created).

Each POST /servers is logged to --log as one line:
  post n=N reused=0|1 action=forward|drop-before|drop-after status=S
(reused=1: the client connection had carried a request before). Other
requests are counted in "req" lines. It prints its port on stdout once
listening, binds 127.0.0.1 only, and exits by itself after --lifetime s.
"""
import argparse
import http.client
import os
import socket
import sys
import threading
import urllib.parse

HOP = {"connection", "proxy-connection", "keep-alive", "proxy-authorization", "te",
       "trailer", "transfer-encoding", "upgrade"}

lock = threading.Lock()
posts = 0


def log(args, line):
    with lock:
        with open(args.log, "a") as f:
            f.write(line + "\n")


def read_request(rfile):
    line = rfile.readline(65536)
    if not line:
        return None
    while line in (b"\r\n", b"\n"):
        line = rfile.readline(65536)
        if not line:
            return None
    method, target, _ = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    headers = []
    while True:
        h = rfile.readline(65536)
        if h in (b"\r\n", b"\n", b""):
            break
        name, _, value = h.decode("latin-1").rstrip("\r\n").partition(":")
        headers.append((name.strip(), value.strip()))
    lower = {k.lower(): v for k, v in headers}
    body = b""
    if lower.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int(rfile.readline().split(b";")[0], 16)
            if size == 0:
                while rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                break
            body += rfile.read(size)
            rfile.readline()
    elif "content-length" in lower:
        body = rfile.read(int(lower["content-length"]))
    return method, target, headers, body


def handle(args, conn):
    global posts
    rfile = conn.makefile("rb")
    upstream = {}
    served = 0
    try:
        while True:
            req = read_request(rfile)
            if req is None:
                return
            method, target, headers, body = req
            u = urllib.parse.urlsplit(target)
            if u.scheme != "http" or u.hostname not in ("127.0.0.1", "localhost"):
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                served += 1
                continue
            path = u.path + ("?" + u.query if u.query else "")
            action = "forward"
            n = 0
            is_create = method == "POST" and u.path.rstrip("/").endswith("/servers")
            if is_create:
                with lock:
                    posts += 1
                    n = posts
                if n <= args.drop:
                    action = "drop-" + args.mode
            else:
                log(args, "req %s %s" % (method, u.path))
            if action == "drop-before":
                log(args, "post n=%d reused=%d action=%s status=-" % (n, served > 0, action))
                return
            key = (u.hostname, u.port or 80)
            up = upstream.get(key)
            if up is None:
                up = upstream[key] = http.client.HTTPConnection(key[0], key[1], timeout=60)
            up.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for k, v in headers:
                if k.lower() not in HOP and k.lower() != "content-length":
                    up.putheader(k, v)
            if body or method in ("POST", "PUT", "PATCH"):
                up.putheader("Content-Length", str(len(body)))
            up.endheaders(body if body else None)
            resp = up.getresponse()
            data = resp.read()
            if resp.getheader("Connection", "").lower() == "close":
                up.close()
                del upstream[key]
            if is_create:
                log(args, "post n=%d reused=%d action=%s status=%d" %
                    (n, served > 0, action, resp.status))
            if action == "drop-after":
                return
            out = ["HTTP/1.1 %d %s" % (resp.status, resp.reason)]
            for k, v in resp.getheaders():
                if k.lower() not in HOP and k.lower() != "content-length":
                    out.append("%s: %s" % (k, v))
            if method != "HEAD":
                out.append("Content-Length: %d" % len(data))
            conn.sendall(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") +
                         (data if method != "HEAD" else b""))
            served += 1
    except (OSError, ValueError, http.client.HTTPException) as e:
        log(args, "error %s" % e)
    finally:
        for up in upstream.values():
            up.close()
        try:
            conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        conn.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=("before", "after"), required=True)
    p.add_argument("--drop", type=int, default=1)
    p.add_argument("--log", required=True)
    p.add_argument("--lifetime", type=float, default=300)
    args = p.parse_args()
    # Bounded lifetime, whatever happens to the test.
    t = threading.Timer(args.lifetime, lambda: os._exit(0))
    t.daemon = True
    t.start()
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    print(srv.getsockname()[1], flush=True)
    sys.stdout.close()
    while True:
        c, _ = srv.accept()
        threading.Thread(target=handle, args=(args, c), daemon=True).start()


if __name__ == "__main__":
    main()
