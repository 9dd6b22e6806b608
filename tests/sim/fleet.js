#!/usr/bin/env node
// tests/sim/fleet.js - the fleet simulator: plays osrunner's runner VMs
// against the real local Nova and the GitHub stand-in. Test-only; Node
// standard library only. See README.md.
//
// Nova's fake virt driver boots nothing, so no runner would ever register.
// This process does what each VM would: it lists the servers tagged
// managed-by=osrunner (every project, as admin, paged), reads each ACTIVE
// one's user data back (OS-EXT-SRV-ATTR:user_data), and registers the
// runner it describes with the stand-in's runner-side control API
// (/_control/runners/...): a registration token is used as config.sh would,
// a JIT runner is brought online. On command, a runner takes a job, finishes
// it, removes itself, and its VM is powered off with Nova's os-stop action.
//
// It is driven: POST /sync does one pass and answers when it is done. With
// --watch MS it also syncs by itself every MS milliseconds.
//
//   node tests/sim/fleet.js --port P [--watch MS] [--manager M] [--page-size N]
//        [--parallel N] [--stop-timeout S] [--cloud NAME]
//
// Env: OSR_CLOUD_DIR (tests/cloud/state: clouds.yaml), OSR_GITHUB_DIR
// (tests/github/state: env.sh with OSR_GITHUB_FAKE_URL), or
// OSR_GITHUB_FAKE_URL itself.
'use strict';
const http = require('http');
const https = require('https');
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const ROOT = path.resolve(__dirname, '..', '..');
const HOST = '127.0.0.1';
const MICROVERSION = 'compute 2.79'; // >= 2.3: user_data; >= 2.26: tag filters

// ---- options
function usage(msg) {
  if (msg)
    process.stderr.write(`fleet.js: ${msg}\n`);
  process.stderr.write('usage: node tests/sim/fleet.js --port P [--watch MS] [--manager M] [--page-size N]\n' +
    '         [--parallel N] [--stop-timeout S] [--cloud NAME]\n');
  process.exit(2);
}
const opts = { port: null, watch: 0, manager: null, pageSize: 1000, parallel: 16, stopTimeout: 60,
  cloud: 'ostb-admin' };
{
  const a = process.argv.slice(2);
  const num = (v, name, min) => {
    if (!/^\d+$/.test(v || '') || Number(v) < min)
      usage(`${name}: a number >= ${min} expected`);
    return Number(v);
  };
  for (let i = 0; i < a.length; i++) {
    const k = a[i], v = a[i + 1];
    switch (k) {
      case '--port': opts.port = num(v, k, 0); i++; break;
      case '--watch': opts.watch = num(v, k, 1); i++; break;
      case '--manager':
        if (!v || !/^[A-Za-z0-9._-]{1,64}$/.test(v))
          usage('--manager: 1-64 of A-Z a-z 0-9 . _ -');
        opts.manager = v; i++; break;
      case '--page-size': opts.pageSize = num(v, k, 1); i++; break;
      case '--parallel': opts.parallel = num(v, k, 1); i++; break;
      case '--stop-timeout': opts.stopTimeout = num(v, k, 1); i++; break;
      case '--cloud': if (!v) usage('--cloud NAME'); opts.cloud = v; i++; break;
      case '-h': case '--help': usage();
      // falls through
      default: usage(`unknown argument '${k}'`);
    }
  }
  if (opts.port === null)
    usage('--port is required (0: any free port)');
}
const env = (k, d) => (process.env[k] === undefined || process.env[k] === '' ? d : process.env[k]);
const CLOUD_DIR = path.resolve(env('OSR_CLOUD_DIR', path.join(ROOT, 'tests/cloud/state')));
const GITHUB_DIR = path.resolve(env('OSR_GITHUB_DIR', path.join(ROOT, 'tests/github/state')));

const log = (...m) => process.stderr.write(`[fleet ${new Date().toISOString()}] ${m.join(' ')}\n`);
function die(msg) {
  process.stderr.write(`fleet.js: ERROR: ${msg}\n`);
  process.exit(1);
}

// ---- configuration: the admin cloud of clouds.yaml, the fake's URL of env.sh

// The subset of YAML tests/cloud/up writes: nested maps, scalars (plain or
// double/single-quoted), comments. Enough for clouds.yaml; not a YAML parser.
function miniYaml(text) {
  const root = {};
  const stack = [{ indent: -1, obj: root }];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+#.*$/, '').replace(/^\s*#.*$/, '');
    if (!line.trim())
      continue;
    const indent = line.length - line.trimStart().length;
    const m = /^([^:]+):(?:\s+(.*))?$/.exec(line.trim());
    if (!m)
      continue;
    while (stack.length > 1 && stack[stack.length - 1].indent >= indent)
      stack.pop();
    const parent = stack[stack.length - 1].obj;
    const key = m[1].trim().replace(/^["']|["']$/g, '');
    if (m[2] === undefined || m[2] === '') {
      parent[key] = {};
      stack.push({ indent, obj: parent[key] });
    } else {
      let v = m[2].trim();
      if (/^".*"$/.test(v))
        v = JSON.parse(v);
      else if (/^'.*'$/.test(v))
        v = v.slice(1, -1).replace(/''/g, "'");
      parent[key] = v;
    }
  }
  return root;
}
function loadCloud() {
  const file = path.join(CLOUD_DIR, 'clouds.yaml');
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    die(`${file}: ${e.message} (is the local cloud up? tests/cloud/up)`);
  }
  const c = (miniYaml(text).clouds || {})[opts.cloud];
  if (!c || !c.auth || !c.auth.auth_url || !c.auth.username || c.auth.password === undefined)
    die(`${file}: no password cloud '${opts.cloud}'`);
  return { authUrl: String(c.auth.auth_url).replace(/\/+$/, ''), username: c.auth.username,
    password: String(c.auth.password), project: c.auth.project_name || 'admin',
    userDomain: c.auth.user_domain_name || 'Default', projectDomain: c.auth.project_domain_name || 'Default',
    region: c.region_name || null, iface: c.interface || 'public' };
}
function loadFakeUrl() {
  if (process.env.OSR_GITHUB_FAKE_URL)
    return process.env.OSR_GITHUB_FAKE_URL.replace(/\/+$/, '');
  const file = path.join(GITHUB_DIR, 'env.sh');
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    die(`${file}: ${e.message} (is the GitHub stand-in up? tests/github/up)`);
  }
  const m = /^(?:export\s+)?OSR_GITHUB_FAKE_URL="?([^"\n]+)"?/m.exec(text);
  if (!m)
    die(`${file}: no OSR_GITHUB_FAKE_URL`);
  return m[1].replace(/\/+$/, '');
}
const CLOUD = loadCloud();
const FAKE = loadFakeUrl();

// ---- HTTP: keep-alive agents, a bound on requests in flight, JSON in and out
const agents = { 'http:': new http.Agent({ keepAlive: true, maxSockets: opts.parallel }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: opts.parallel }) };
const counters = { nova: 0, keystone: 0, github: 0 };

function request(method, url, { headers = {}, body, timeout = 30000 } = {}) {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  const data = body === undefined ? null : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const h = { Accept: 'application/json', ...headers };
  if (data) {
    h['Content-Type'] = 'application/json';
    h['Content-Length'] = data.length;
  }
  return new Promise((resolve, reject) => {
    const req = mod.request(u, { method, headers: h, agent: agents[u.protocol], timeout }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try {
          json = text ? JSON.parse(text) : null;
        } catch (e) {
          json = null;
        }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${u.pathname}: no answer in ${timeout} ms`)));
    req.on('error', reject);
    if (data)
      req.write(data);
    req.end();
  });
}
const errText = (r) => (r.json && (r.json.message || (r.json.error && r.json.error.message) ||
  Object.values(r.json)[0]?.message)) || r.text.slice(0, 200);

// A counting semaphore: at most n of fn() at once.
function limiter(n) {
  let active = 0;
  const queue = [];
  const next = () => {
    if (active >= n || !queue.length)
      return;
    active++;
    const { fn, resolve, reject } = queue.shift();
    fn().then(resolve, reject).finally(() => {
      active--;
      next();
    });
  };
  return (fn) => new Promise((resolve, reject) => {
    queue.push({ fn, resolve, reject });
    next();
  });
}
const githubSlot = limiter(opts.parallel);
const novaSlot = limiter(Math.min(opts.parallel, 8));

// ---- Keystone: a project-scoped admin token and the compute endpoint
let auth = null; // { token, expires (ms), compute }
let authing = null;
async function authenticate() {
  counters.keystone++;
  const r = await request('POST', `${CLOUD.authUrl}/auth/tokens`, { body: { auth: {
    identity: { methods: ['password'], password: { user: { name: CLOUD.username,
      domain: { name: CLOUD.userDomain }, password: CLOUD.password } } },
    scope: { project: { name: CLOUD.project, domain: { name: CLOUD.projectDomain } } } } } });
  if (r.status !== 201 || !r.headers['x-subject-token'])
    throw new Error(`keystone: ${r.status} ${errText(r)}`);
  const tok = r.json.token;
  const svc = (tok.catalog || []).find((s) => s.type === 'compute');
  const ep = svc && svc.endpoints.find((e) => e.interface === CLOUD.iface &&
    (!CLOUD.region || e.region === CLOUD.region || e.region_id === CLOUD.region));
  if (!ep)
    throw new Error(`keystone: no ${CLOUD.iface} compute endpoint in the catalog`);
  return { token: r.headers['x-subject-token'], expires: Date.parse(tok.expires_at),
    compute: ep.url.replace(/\/+$/, '') };
}
async function getAuth(force) {
  if (!force && auth && auth.expires - Date.now() > 120000)
    return auth;
  if (!authing)
    authing = authenticate().then((a) => {
      auth = a;
      return a;
    }).finally(() => {
      authing = null;
    });
  return authing;
}
// nova(METHOD, PATH or URL, body): with the token, once more after a 401.
async function nova(method, p, body) {
  for (let attempt = 0; ; attempt++) {
    const a = await getAuth(attempt > 0);
    const url = /^https?:/.test(p) ? p : `${a.compute}${p}`;
    counters.nova++;
    const r = await request(method, url, { body,
      headers: { 'X-Auth-Token': a.token, 'OpenStack-API-Version': MICROVERSION } });
    if (r.status === 401 && attempt === 0)
      continue;
    return r;
  }
}
// Every server tagged managed-by=osrunner (and osrunner-manager=M with
// --manager), in every project, with user data: one paged list.
async function listServers() {
  const tags = ['managed-by=osrunner', ...(opts.manager ? [`osrunner-manager=${opts.manager}`] : [])];
  let url = `/servers/detail?all_tenants=1&limit=${opts.pageSize}&tags=${encodeURIComponent(tags.join(','))}`;
  const servers = [];
  const seen = new Set();
  let pages = 0;
  while (url) {
    const r = await nova('GET', url);
    pages++;
    if (r.status !== 200 || !r.json || !Array.isArray(r.json.servers))
      throw new Error(`nova: list servers: ${r.status} ${errText(r)}`);
    let fresh = 0;
    for (const s of r.json.servers)
      if (!seen.has(s.id)) {
        seen.add(s.id);
        servers.push(s);
        fresh++;
      }
    const next = (r.json.servers_links || []).find((l) => l.rel === 'next');
    // Nova gives a next link whenever a page is full; an empty or stale page ends it.
    url = next && fresh ? next.href : null;
    if (pages > 10000)
      throw new Error('nova: list servers: more than 10000 pages');
  }
  return { servers, pages };
}

// ---- the user data: what the VM would read
// osrunner's: "#cloud-config" then a JSON document whose write_files hold
// /etc/osrunner/runner.conf (key=value lines: mode, url, name, labels, ...)
// and /run/osrunner/runner.secret (the registration token or the JIT config).
// Older osrunner versions put config.sh's or run.sh's arguments in runcmd
// instead; those are read too.
function fileContent(f) {
  let c = typeof f.content === 'string' ? f.content : '';
  const enc = String(f.encoding || '').toLowerCase();
  if (['b64', 'base64', 'gz+b64', 'gzip+base64', 'gz+base64', 'gzip+b64'].includes(enc)) {
    let buf = Buffer.from(c, 'base64');
    if (enc.startsWith('gz'))
      buf = zlib.gunzipSync(buf);
    c = buf.toString('utf8');
  }
  return c;
}
function parseUserData(b64) {
  if (!b64)
    throw new Error('no user data');
  const text = Buffer.from(b64, 'base64').toString('utf8');
  if (!/^#cloud-config[ \t]*\r?\n/.test(text))
    throw new Error('user data is not #cloud-config');
  let doc;
  try {
    doc = JSON.parse(text.replace(/^#cloud-config[^\n]*\n/, ''));
  } catch (e) {
    throw new Error(`user data: not osrunner's JSON cloud-config (${e.message})`);
  }
  const files = Array.isArray(doc.write_files) ? doc.write_files : [];
  const conf = files.find((f) => f && f.path === '/etc/osrunner/runner.conf');
  const secret = files.find((f) => f && f.path === '/run/osrunner/runner.secret');
  if (conf) {
    const c = {};
    for (const line of fileContent(conf).split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0)
        c[line.slice(0, eq)] = line.slice(eq + 1);
    }
    if (!['token', 'jit'].includes(c.mode))
      throw new Error(`runner.conf: mode '${c.mode}' is not token or jit`);
    if (!secret)
      throw new Error('user data: no /run/osrunner/runner.secret');
    return { format: 'runner.conf', mode: c.mode, url: c.url || null, name: c.name || null,
      labels: (c.labels || '').split(',').map((l) => l.trim()).filter((l) => l),
      secret: fileContent(secret).trim() };
  }
  // The older form: runcmd ["sudo", ..., "sh", "-c", "cd DIR && exec ./config.sh \"$@\"", "config.sh", ARGS...]
  for (const cmd of Array.isArray(doc.runcmd) ? doc.runcmd : []) {
    if (!Array.isArray(cmd))
      continue;
    const at = cmd.findIndex((x) => x === 'config.sh' || x === 'run.sh');
    if (at < 0)
      continue;
    const args = cmd.slice(at + 1);
    const opt = (k) => {
      const i = args.indexOf(k);
      return i >= 0 && i + 1 < args.length ? String(args[i + 1]) : null;
    };
    if (cmd[at] === 'config.sh')
      return { format: 'runcmd', mode: 'token', url: opt('--url'), name: opt('--name'),
        labels: (opt('--labels') || '').split(',').map((l) => l.trim()).filter((l) => l), secret: opt('--token') };
    if (opt('--jitconfig'))
      return { format: 'runcmd', mode: 'jit', url: null, name: null, labels: [], secret: opt('--jitconfig') };
  }
  throw new Error('user data: no /etc/osrunner/runner.conf (not an osrunner runner)');
}
// An encoded JIT config: base64 JSON; .runner is base64 JSON with agentId,
// .credentials_rsaparams base64 of the runner's credential.
function parseJit(encoded) {
  const j = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8'));
  const runner = JSON.parse(Buffer.from(j['.runner'] || '', 'base64').toString('utf8'));
  const credential = Buffer.from(j['.credentials_rsaparams'] || '', 'base64').toString('utf8');
  if (!Number.isInteger(runner.agentId) || !credential)
    throw new Error('JIT config: no .runner agentId or .credentials_rsaparams');
  return { id: runner.agentId, name: runner.agentName || null, credential };
}

// ---- the fleet: server id -> entry
// entry: { server, name, project, nova_status, mode, scope, labels, runner_id,
//          credential, state, job, sightings, error, history }
// state: pending | late | never | registered | busy | finished | failed
const fleet = new Map();
const hooks = { never_register: new Set(), late: new Set() };
const stats = { syncs: 0, last_sync: null, registered: 0, jobs_taken: 0, jobs_finished: 0, stops: 0 };

const fakeCall = (method, p, body) => githubSlot(() => {
  counters.github++;
  return request(method, `${FAKE}${p}`, { body });
});
const at = () => new Date().toISOString();
function note(e, what) {
  e.history.push({ time: at(), what });
}

// Stop the VM (Nova's os-stop, as admin) and wait until Nova says SHUTOFF.
async function powerOff(e) {
  const r = await novaSlot(() => nova('POST', `/servers/${e.server}/action`, { 'os-stop': null }));
  if (r.status === 404)
    return 'gone';
  if (r.status !== 202 && !(r.status === 409 && /SHUTOFF|stopped/i.test(r.text)))
    throw new Error(`nova: os-stop ${e.name}: ${r.status} ${errText(r)}`);
  stats.stops++;
  note(e, 'os-stop');
  const end = Date.now() + opts.stopTimeout * 1000;
  for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
    const g = await novaSlot(() => nova('GET', `/servers/${e.server}`));
    if (g.status === 404)
      return 'gone';
    if (g.status === 200 && g.json && g.json.server) {
      e.nova_status = g.json.server.status;
      if (e.nova_status === 'SHUTOFF')
        return 'SHUTOFF';
      if (e.nova_status === 'ERROR')
        throw new Error(`nova: ${e.name} went to ERROR while stopping`);
    }
    if (Date.now() > end)
      throw new Error(`nova: ${e.name} not SHUTOFF after ${opts.stopTimeout} s (status ${e.nova_status})`);
    await new Promise((res) => setTimeout(res, delay)); // the bounded wait for Nova, not a test's sleep
  }
}

// What the VM does once it is ACTIVE: register (token) or come online (JIT).
// Returns 'registered' or throws; a refusal (4xx) marks the entry failed and
// powers the VM off, as the runner's service does when config.sh fails.
async function bootRunner(e, ud) {
  if (ud.mode === 'token') {
    const r = await fakeCall('POST', '/_control/runners/register', { url: ud.url, token: ud.secret,
      name: e.name, labels: ud.labels, ephemeral: true });
    if (r.status !== 201)
      return refused(e, `register: ${r.status} ${errText(r)}`, r.status);
    e.runner_id = r.json.id;
    e.credential = r.json.credential;
    note(e, `registered as runner ${e.runner_id}`);
  } else {
    let j;
    try {
      j = parseJit(ud.secret);
    } catch (err) {
      return refused(e, err.message, 400);
    }
    e.runner_id = j.id;
    e.credential = j.credential;
  }
  const s = await fakeCall('POST', `/_control/runners/${e.runner_id}/session`, { credential: e.credential });
  if (s.status !== 200)
    return refused(e, `session: ${s.status} ${errText(s)}`, s.status);
  note(e, 'online');
  e.state = 'registered';
  stats.registered++;
  return 'registered';
}
async function refused(e, why, status) {
  if (status >= 500)
    throw new Error(why); // the stand-in is in trouble: try again on the next pass
  e.state = 'failed';
  e.error = why;
  note(e, `registration failed: ${why}; powering off`);
  try {
    await powerOff(e);
  } catch (err) {
    e.error += `; ${err.message}`;
  }
  throw new Error(why);
}

// One pass: list, register what came up, forget what is gone.
async function syncOnce() {
  const t0 = Date.now();
  const result = { registered: [], skipped: [], stopped: [], errors: [], servers: 0, pages: 0, ms: 0 };
  const { servers, pages } = await listServers();
  result.servers = servers.length;
  result.pages = pages;
  const present = new Set(servers.map((s) => s.id));
  for (const id of [...fleet.keys()])
    if (!present.has(id))
      fleet.delete(id); // the server is gone: forget it
  const work = [];
  for (const s of servers) {
    let e = fleet.get(s.id);
    if (!e) {
      e = { server: s.id, name: (s.metadata && s.metadata['osrunner-runner']) || s.name, server_name: s.name,
        project: s.tenant_id || null, manager: (s.metadata && s.metadata['osrunner-manager']) || null,
        nova_status: s.status, mode: null, scope: null, labels: [], runner_id: null, credential: null,
        state: 'pending', job: null, sightings: 0, error: null, history: [] };
      fleet.set(s.id, e);
    }
    e.nova_status = s.status;
    if (e.state !== 'pending' && e.state !== 'late' && e.state !== 'never')
      continue; // handled already (or failed: a VM registers once)
    if (s.status !== 'ACTIVE') {
      result.skipped.push({ name: e.name, server: s.id, reason: `status ${s.status}` });
      continue;
    }
    let ud;
    try {
      ud = parseUserData(s['OS-EXT-SRV-ATTR:user_data']);
    } catch (err) {
      if (!('OS-EXT-SRV-ATTR:user_data' in s))
        err.message = 'no OS-EXT-SRV-ATTR:user_data in the list (not admin, or microversion < 2.3)';
      e.state = 'failed';
      e.error = err.message;
      result.errors.push({ name: e.name, server: s.id, error: err.message });
      continue;
    }
    e.name = ud.name || e.name;
    e.mode = ud.mode;
    e.scope = ud.url;
    e.labels = ud.labels;
    e.format = ud.format;
    e.sightings++;
    if (hooks.never_register.has(e.name)) {
      e.state = 'never';
      result.skipped.push({ name: e.name, server: s.id, reason: 'never_register hook' });
      continue;
    }
    if (hooks.late.has(e.name) && e.sightings < 2) {
      e.state = 'late';
      result.skipped.push({ name: e.name, server: s.id, reason: 'late hook: registers on the next pass' });
      continue;
    }
    work.push(bootRunner(e, ud).then(() => result.registered.push(e.name),
      (err) => result.errors.push({ name: e.name, server: s.id, error: err.message })));
  }
  // A runner whose record is gone (deleted through the REST API: the engine's
  // scale-down, or by hand) exits, and its VM powers off, as on a real VM.
  const online = [...fleet.values()].filter((e) => (e.state === 'registered' || e.state === 'busy') && e.runner_id);
  if (online.length) {
    const r = await fakeCall('GET', '/_control/runners');
    if (r.status !== 200 || !r.json || !Array.isArray(r.json.runners))
      result.errors.push({ name: null, server: null, error: `stand-in runner list: ${r.status} ${errText(r)}` });
    else {
      const live = new Set(r.json.runners.map((x) => x.id));
      for (const e of online.filter((x) => !live.has(x.runner_id))) {
        e.state = 'removed';
        note(e, 'runner record removed at GitHub: the runner exits; powering off');
        work.push(powerOff(e).then((st) => result.stopped.push(`${e.name}`) && st,
          (err) => result.errors.push({ name: e.name, server: e.server, error: err.message })));
      }
    }
  }
  await Promise.all(work);
  result.registered.sort();
  result.stopped.sort();
  result.ms = Date.now() - t0;
  stats.syncs++;
  stats.last_sync = { time: at(), ms: result.ms, servers: result.servers, pages: result.pages,
    registered: result.registered.length, errors: result.errors.length };
  return result;
}
// Passes run one after another: a /sync answers with a pass that began after it.
let chain = Promise.resolve();
function sync() {
  const p = chain.then(syncOnce);
  chain = p.catch(() => {});
  return p;
}

// ---- jobs
function pick(body, states) {
  const all = [...fleet.values()];
  if (typeof body.name === 'string') {
    const e = all.find((x) => x.name === body.name);
    if (!e)
      throw httpError(404, `no runner named ${body.name}`);
    if (!states.includes(e.state))
      throw httpError(409, `${body.name} is ${e.state}, not ${states.join(' or ')}`);
    return [e];
  }
  if (Array.isArray(body.names))
    return body.names.flatMap((n) => pick({ name: n }, states));
  if (Number.isInteger(body.count) && body.count >= 1) {
    const free = all.filter((x) => states.includes(x.state)).sort((x, y) => (x.name < y.name ? -1 : 1));
    if (free.length < body.count)
      throw httpError(409, `only ${free.length} runner(s) ${states.join(' or ')}, ${body.count} asked`);
    return free.slice(0, body.count);
  }
  throw httpError(400, 'name, names or count expected');
}
async function takeJobs(body) {
  const picked = pick(body, ['registered']);
  const job = typeof body.job === 'string' ? body.job : 'sim-job';
  for (const e of picked)
    e.state = 'busy'; // claimed now, so a parallel take cannot pick it too
  const out = await Promise.all(picked.map(async (e) => {
    const r = await fakeCall('POST', `/_control/runners/${e.runner_id}/job`, { credential: e.credential, busy: true, job });
    if (r.status !== 200) {
      e.state = 'registered';
      return { name: e.name, error: `job: ${r.status} ${errText(r)}` };
    }
    e.job = job;
    stats.jobs_taken++;
    note(e, `job ${job} started`);
    return { name: e.name, runner_id: e.runner_id, job };
  }));
  return { taken: out.filter((x) => !x.error), errors: out.filter((x) => x.error) };
}
async function finishJobs(body) {
  const picked = pick(body, ['busy', 'registered']);
  const result = typeof body.result === 'string' ? body.result : 'Succeeded';
  const out = await Promise.all(picked.map(async (e) => {
    const prev = e.state;
    e.state = 'finishing';
    try {
      const j = await fakeCall('POST', `/_control/runners/${e.runner_id}/job`, { credential: e.credential, busy: false,
        result });
      if (j.status !== 200 && j.status !== 404)
        throw new Error(`job done: ${j.status} ${errText(j)}`);
      const d = await fakeCall('DELETE', `/_control/runners/${e.runner_id}`, { credential: e.credential });
      if (d.status !== 204 && d.status !== 404)
        throw new Error(`runner delete: ${d.status} ${errText(d)}`);
      note(e, `job finished (${result}), runner removed itself`);
      e.state = 'finished';
      stats.jobs_finished++;
      const t0 = Date.now();
      const status = await powerOff(e);
      return { name: e.name, server: e.server, runner_id: e.runner_id, result, status, stop_ms: Date.now() - t0 };
    } catch (err) {
      if (e.state === 'finishing')
        e.state = prev;
      return { name: e.name, error: err.message };
    }
  }));
  return { finished: out.filter((x) => !x.error), errors: out.filter((x) => x.error) };
}

// ---- the command API
function httpError(status, message) {
  const e = new Error(message);
  e.status = status;
  return e;
}
function publicEntry(e) {
  return { server: e.server, name: e.name, server_name: e.server_name, project: e.project, manager: e.manager,
    nova_status: e.nova_status, mode: e.mode, format: e.format || null, scope: e.scope, labels: e.labels,
    runner_id: e.runner_id, state: e.state, job: e.job, error: e.error, history: e.history };
}
function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const t = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(t.trim() ? JSON.parse(t) : {});
      } catch (e) {
        reject(httpError(400, `bad JSON: ${e.message}`));
      }
    });
    req.on('error', reject);
  });
}
function answer(res, status, body) {
  const data = Buffer.from(`${JSON.stringify(body, null, 1)}\n`);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': data.length });
  res.end(data);
}
const names = (v) => (Array.isArray(v) ? v : v === undefined ? [] : [v]).map(String);
async function route(req, res) {
  const p = new URL(req.url, `http://${HOST}`).pathname;
  const m = req.method;
  if (m === 'POST' && p === '/sync')
    return answer(res, 200, await sync());
  if (m === 'POST' && p === '/jobs/take')
    return answer(res, 200, await takeJobs(await readJson(req)));
  if (m === 'POST' && p === '/jobs/finish')
    return answer(res, 200, await finishJobs(await readJson(req)));
  if (m === 'POST' && p === '/hooks') {
    const b = await readJson(req);
    if (b.clear)
      hooks.never_register.clear(), hooks.late.clear();
    names(b.never_register).forEach((n) => hooks.never_register.add(n));
    names(b.late).forEach((n) => hooks.late.add(n));
    return answer(res, 200, { never_register: [...hooks.never_register], late: [...hooks.late] });
  }
  if (m === 'GET' && (p === '/state' || p === '/')) {
    const servers = [...fleet.values()].map(publicEntry).sort((x, y) => (x.name < y.name ? -1 : 1));
    const by = {};
    for (const e of servers)
      by[e.state] = (by[e.state] || 0) + 1;
    return answer(res, 200, { servers, states: by, hooks: { never_register: [...hooks.never_register],
      late: [...hooks.late] }, stats, calls: counters, options: { manager: opts.manager, page_size: opts.pageSize,
      parallel: opts.parallel, watch_ms: opts.watch || null }, fake_url: FAKE });
  }
  if (m === 'POST' && p === '/quit') {
    answer(res, 200, { bye: true });
    return setImmediate(() => process.exit(0));
  }
  throw httpError(404, `no ${m} ${p}`);
}
const server = http.createServer((req, res) => {
  route(req, res).catch((e) => {
    if (!e.status)
      log(`${req.method} ${req.url}: ${e.stack || e.message}`);
    if (!res.headersSent)
      answer(res, e.status || 500, { message: e.message });
  });
});
server.on('error', (e) => die(`listen on ${HOST}:${opts.port}: ${e.message}`));
server.listen(opts.port, HOST, async () => {
  try {
    await getAuth(); // fail now, not at the first /sync, when the cloud is unreachable
  } catch (e) {
    die(`${e.message} (cloud '${opts.cloud}' of ${CLOUD_DIR}/clouds.yaml)`);
  }
  const port = server.address().port;
  if (opts.watch) {
    const tick = () => sync().then((r) => {
      if (r.registered.length || r.errors.length)
        log(`watch: ${r.servers} servers, registered ${r.registered.length}, errors ${r.errors.length}` +
          `${r.errors.length ? `: ${r.errors.map((x) => `${x.name}: ${x.error}`).join('; ')}` : ''}`);
    }, (e) => log(`watch: sync failed: ${e.message}`)).finally(() => setTimeout(tick, opts.watch));
    tick();
  }
  process.stdout.write(`ready http://${HOST}:${port} (fake ${FAKE}, compute ${auth.compute}` +
    `${opts.manager ? `, manager ${opts.manager}` : ''}${opts.watch ? `, watch ${opts.watch} ms` : ''})\n`);
});
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
