"""The peer of bench/reconcile.sh: one observe pass of a naive pool manager,
as a cold process, the way one is usually written with openstacksdk and a
plain GitHub client: list the pool's servers (tag-filtered, every page), then
GET each server; list the repository's runners (every page), then GET each
runner. It decides nothing and changes nothing (like `osrunner pool plan`).

Every HTTP request it sends is written to stderr as "naive: > METHOD URL"
(openstacksdk's through requests' HTTPAdapter.send, which keystoneauth uses
for every call, Keystone's included; GitHub's through urllib here), so the
bench counts its calls by service the same way as osrunner's -vv trace.
stdout: one JSON line, {"servers": N, "runners": N, "online": N}.

Usage: naive_pass.py CLOUD MANAGER POOL GITHUB_URL TOKEN_FILE OWNER/REPO [PER_PAGE]
(OS_CLIENT_CONFIG_FILE names clouds.yaml)."""
import json
import re
import sys
import urllib.request

import openstack
import requests.adapters


def trace(method, url):
    sys.stderr.write("naive: > %s %s\n" % (method, url))


_send = requests.adapters.HTTPAdapter.send


def traced_send(self, request, *args, **kwargs):
    trace(request.method, request.url)
    return _send(self, request, *args, **kwargs)


requests.adapters.HTTPAdapter.send = traced_send

cloud, manager, pool, gh_url, token_file, gh_path = sys.argv[1:7]
per_page = int(sys.argv[7]) if len(sys.argv) > 7 else 100
token = open(token_file).read().strip()

# Nova: the pool's servers by tag (compute 2.26 or later), then each one.
conn = openstack.connect(cloud=cloud, compute_api_version="2.79")
tags = "managed-by=osrunner,osrunner-manager=%s,osrunner-pool=%s" % (manager, pool)
servers = [conn.compute.get_server(s.id) for s in list(conn.compute.servers(tags=tags))]


# GitHub: the runner list, every page (Link: rel="next"), then each runner.
def gh_get(url):
    trace("GET", url)
    req = urllib.request.Request(url, headers={
        "Authorization": "Bearer " + token, "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "osrunner-bench-naive"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r), r.headers.get("Link", "")


base = gh_url.rstrip("/")
url = "%s/repos/%s/actions/runners?per_page=%d" % (base, gh_path, per_page)
listed = []
while url:
    body, link = gh_get(url)
    listed += body["runners"]
    m = re.search(r'<([^>]+)>;\s*rel="next"', link)
    url = m.group(1) if m else None
runners = [gh_get("%s/repos/%s/actions/runners/%d" % (base, gh_path, r["id"]))[0] for r in listed]

print(json.dumps({"servers": len(servers), "runners": len(runners),
                  "online": sum(1 for r in runners if r["status"] == "online")}))
