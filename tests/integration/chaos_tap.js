#!/usr/bin/env node
// tests/integration/chaos_tap.js - the chaos test's tap and executioner
// (test_daemon_chaos.sh). osrunnerd emits its events at the end of a pass,
// so its own lines cannot say what it was doing when it was killed. This
// small HTTP relay sits between the daemon and Keystone, Nova and the GitHub
// API, logs every request as it starts and as its answer ends, and sends the
// daemon's SIGKILL itself, so that each kill is recorded with exactly the
// requests in flight at that instant. Test-only; Node standard library only;
// 127.0.0.1 only.
//
//   node chaos_tap.js --keystone URL --nova URL --github URL --log FILE
//
// prints "ready CONTROL KEYSTONE NOVA GITHUB" (four ports) on stdout. The
// Keystone relay rewrites the Nova origin in its answers (the catalog), so
// the daemon reaches Nova through the Nova relay; Glance and Neutron are
// reached directly. Nothing is changed on the way but that origin, and the
// requests are forwarded as they come: a request whose sender dies is still
// carried out (Nova creates the server the dead daemon asked for), as on a
// real network.
//
// Control (JSON): POST /arm {pid, match?, nth?, delay_ms?, fallback_ms?, mode?}:
// SIGKILL pid delay_ms after the nth request whose line "SVC METHOD PATH"
// matches the regular expression match (no match: delay_ms after the arm),
// or after fallback_ms if that request never comes. POST /disarm. POST
// /reset: a new daemon starts (its phase is "start"). GET /kills:
// every kill, with the requests in flight then and the last lines before it.
'use strict';
const http = require('http');
const fs = require('fs');

const opts = {};
for (let i = 2; i < process.argv.length; i += 2)
  opts[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
for (const k of ['keystone', 'nova', 'github', 'log'])
  if (!opts[k]) {
    process.stderr.write(`chaos_tap.js: --${k} is required\n`);
    process.exit(2);
  }
const logFd = fs.openSync(opts.log, 'a');
const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
const t0 = Date.now();
const stamp = () => ((Date.now() - t0) / 1000).toFixed(3);
function log(line) {
  fs.writeSync(logFd, `${new Date().toISOString()} ${line}\n`);
}

let seq = 0;
const inflight = new Map(); // id -> {svc, line, t}
const recent = []; // the last lines, for a kill's record
function remember(s) {
  recent.push(`${stamp()} ${s}`);
  if (recent.length > 12)
    recent.shift();
}
const kills = [];
let arm = null;
// The phase of the daemon's pass, from its requests: a pass reads the
// runners first (observe), then deletes (runner records, servers, and waits
// for them), then creates (a JIT config or a registration token, then the
// server). The test compares the last request with the pass event.
let phase = { name: 'start', since: Date.now(), last: null };
function notePhase(line) {
  let p = null;
  if (/^github GET .*\/actions\/runners$/.test(line))
    p = 'observe';
  else if (/^github DELETE .*\/actions\/runners\/[0-9]+$|^nova DELETE \/v2\.1\/servers\//.test(line))
    p = 'delete';
  else if (/generate-jitconfig$|registration-token$|^nova POST \/v2\.1\/servers$/.test(line))
    p = 'create';
  if (p && p !== phase.name)
    phase = { name: p, since: Date.now(), last: null };
  phase.last = new Date().toISOString();
}

function killNow(why) {
  if (!arm)
    return;
  const a = arm;
  arm = null;
  clearTimeout(a.fallback);
  const now = Date.now();
  const rec = { round: a.round, mode: a.mode, why, pid: a.pid, at: new Date(now).toISOString(),
    since_arm_ms: now - a.armed, trigger: a.trigger || null, phase: phase.name, phase_ms: now - phase.since,
    last_request_at: phase.last,
    inflight: [...inflight.values()].map((r) => ({ svc: r.svc, line: r.line, ms: now - r.t })),
    recent: recent.slice(), error: null };
  try {
    process.kill(a.pid, 'SIGKILL');
  } catch (e) {
    rec.error = e.message; // it had died already: a crash, which the test reports
  }
  kills.push(rec);
  log(`KILL round=${a.round} mode=${a.mode} why=${why} inflight=${JSON.stringify(rec.inflight.map((r) => r.line))}`);
}
function onRequestLine(line) {
  if (!arm || arm.hit)
    return;
  if (arm.re && arm.re.test(line) && ++arm.seen >= arm.nth) {
    arm.hit = true;
    arm.trigger = line;
    clearTimeout(arm.fallback);
    setTimeout(() => killNow(`request ${arm && arm.seen}`), arm.delay);
  }
}

function relay(svc, target, rewrite) {
  const up = new URL(target);
  return http.createServer((req, res) => {
    const id = ++seq;
    const path = req.url.replace(/\?.*$/, '');
    const line = `${svc} ${req.method} ${path}`;
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      inflight.set(id, { svc, line, t: Date.now() });
      log(`> ${id} ${line}`);
      remember(`> ${line}`);
      notePhase(line);
      onRequestLine(line);
      const rw = rewrite && rewrite();
      const headers = { ...req.headers, host: up.host };
      if (rw)
        delete headers['accept-encoding'];
      const done = (status, why) => {
        if (!inflight.delete(id))
          return;
        log(`< ${id} ${status} ${line}${why ? ` (${why})` : ''}`);
        remember(`< ${status} ${line}`);
      };
      const u = new URL(req.url, up);
      const preq = http.request(u, { method: req.method, headers, agent }, (pres) => {
        const out = [];
        pres.on('data', (c) => out.push(c));
        pres.on('end', () => {
          let body = Buffer.concat(out);
          const h = { ...pres.headers };
          if (rw) {
            body = Buffer.from(body.toString('utf8').split(rw.from).join(rw.to));
            h['content-length'] = body.length;
          }
          if (res.destroyed) { // the daemon died: its request was carried out anyway
            log(`< ${id} ${pres.statusCode} ${line} (to nobody)`);
            return;
          }
          res.writeHead(pres.statusCode, h);
          res.end(body, () => done(pres.statusCode));
        });
      });
      preq.on('error', (e) => {
        if (!res.destroyed && !res.headersSent) {
          res.writeHead(502, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ message: `chaos_tap: ${e.message}` }));
        }
        done(502, e.message);
      });
      preq.end(Buffer.concat(chunks));
    });
    res.on('close', () => {
      if (!res.writableFinished && inflight.delete(id)) {
        log(`x ${id} ${line} (sender gone; the request goes on)`);
        remember(`x ${line}`);
      }
    });
  });
}

const nova = new URL(opts.nova);
const ports = {};
const servers = {
  keystone: relay('keystone', opts.keystone, () => ({ from: nova.origin, to: `http://127.0.0.1:${ports.nova}` })),
  nova: relay('nova', opts.nova, null),
  github: relay('github', opts.github, null),
};
const control = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const send = (st, b) => {
      res.writeHead(st, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(b)}\n`);
    };
    let b = {};
    try {
      b = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
    } catch (e) {
      return send(400, { message: e.message });
    }
    if (req.method === 'POST' && req.url === '/arm') {
      if (arm)
        clearTimeout(arm.fallback);
      arm = { pid: Number(b.pid), round: b.round || null, mode: b.mode || null, re: b.match ? new RegExp(b.match) : null,
        nth: b.nth || 1, seen: 0, delay: b.delay_ms || 0, armed: Date.now(), hit: false, trigger: null };
      if (!arm.re) {
        arm.hit = true;
        arm.fallback = setTimeout(() => killNow('delay'), arm.delay);
      } else {
        arm.fallback = setTimeout(() => killNow('fallback'), b.fallback_ms || 15000);
      }
      log(`ARM ${JSON.stringify(b)}`);
      return send(200, { armed: true });
    }
    if (req.method === 'POST' && req.url === '/reset') { // a new daemon is about to start
      phase = { name: 'start', since: Date.now(), last: null };
      return send(200, { phase: phase.name });
    }
    if (req.method === 'POST' && req.url === '/disarm') {
      if (arm)
        clearTimeout(arm.fallback);
      arm = null;
      return send(200, { armed: false });
    }
    if (req.method === 'GET' && req.url === '/kills')
      return send(200, { kills });
    if (req.method === 'GET' && req.url === '/inflight')
      return send(200, { inflight: [...inflight.values()] });
    return send(404, { message: 'no such call' });
  });
});
let pending = 4;
for (const [name, srv] of Object.entries({ control, ...servers }))
  srv.listen(0, '127.0.0.1', () => {
    ports[name] = srv.address().port;
    if (--pending === 0)
      process.stdout.write(`ready ${ports.control} ${ports.keystone} ${ports.nova} ${ports.github}\n`);
  });
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
