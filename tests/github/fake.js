#!/usr/bin/env node
// A small stateful stand-in for GitHub's self-hosted-runner REST endpoints.
// Test-only; Node standard library only. It runs two listeners:
//
//   FAKE_PORT  the fake GitHub itself. Prism (`prism proxy gh-runners.json`)
//              sits in front of it and checks every request and every answer
//              against GitHub's OpenAPI description. /_control/* is only here.
//   TAP_PORT   the URL clients use: a pass-through to Prism that records every
//              answer carrying an `sl-violations` header (a schema violation of
//              the request or of our answer) in $STATE_DIR/violations.log, so
//              tests can fail on it.
//
// Behaviour (see README.md): PAT "Bearer $FAKE_TOKEN", App JWTs checked with
// the App's public key, installation tokens; runners per repository or
// organisation; JIT configs (409 on a duplicate name); Link paging; magic
// owners: "ratelimited" (403, primary rate limit, reset RL_RESET_S ahead),
// "throttled*" (first request 429 with retry-after: 1), "nobody" (404),
// "schema-drift" (a runner list without the required "busy": Prism's 500);
// runners whose name starts with "busy-" are busy and cannot be deleted (422).
//
// The runner side (what config.sh and run.sh talk; not GitHub's REST API, so
// only on FAKE_PORT, under /_control/): register with a registration token
// the fake issued for that scope, go online with the runner's credential,
// take a job, remove itself; GET /_control/runners lists live, removed and
// refused runners with their history (README.md, "The runner side").
'use strict';
const http = require('http');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const env = (k, d) => (process.env[k] === undefined || process.env[k] === '' ? d : process.env[k]);
const FAKE_PORT = Number(env('FAKE_PORT', '29381'));
const TAP_PORT = Number(env('TAP_PORT', '29380'));
const PRISM_PORT = Number(env('PRISM_PORT', '29382'));
const PUBLIC_URL = env('PUBLIC_URL', `http://127.0.0.1:${TAP_PORT}`);
const TOKEN = env('FAKE_TOKEN', 'ghp_osrunnerTestToken0000000000000000000');
const APP_ID = env('APP_ID', '4242');
const APP_PUBKEY = env('APP_PUBKEY', '');
const STATE_DIR = env('STATE_DIR', path.join(__dirname, 'state'));
const RL_RESET_S = Number(env('RL_RESET_S', '2'));
const HOST = '127.0.0.1';
const DOC = 'https://docs.github.com/rest';
// Installation id -> lifetime of its tokens in seconds. 1002's are shorter
// than any sane refresh margin, so a client must fetch one for every request.
const INSTALLATIONS = { 1001: 3600, 1002: 30 };
const RUNNER_VERSION = '2.323.0';

const appKey = APP_PUBKEY ? crypto.createPublicKey(fs.readFileSync(APP_PUBKEY)) : null;
const scopes = new Map(); // "repos/o/r" | "orgs/o" -> { runners: Map(id -> runner), hits }
const instTokens = new Map(); // token -> { installation, expires (epoch s) }
const budgets = new Map(); // credential -> { used, reset }
const stats = { requests: 0, access_tokens: 0, registration_tokens: 0, remove_tokens: 0,
  jitconfigs: 0, deletes: 0, registrations: 0 };
// Tokens the fake issued: token -> { scope, kind: 'registration' | 'remove', expires (epoch s) }.
const issuedTokens = new Map();
const removedRunners = []; // runners that are gone, with their history (the control API shows them)
const refusedRegistrations = []; // POST /_control/runners/register calls that were refused
// The base URL a runner uses for /_control (what a JIT config's serverUrl says);
// set with POST /_control/config {runner_url}.
let runnerUrl = env('RUNNER_URL', `http://${'127.0.0.1'}:${env('FAKE_PORT', '29381')}`);
let nextRunnerId = 100;
let nextLabelId = 1;
let violations = 0;
let expectedViolations = 0;

const now = () => Math.floor(Date.now() / 1000);
const rand = (n, alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789') =>
  Array.from(crypto.randomBytes(n), (b) => alphabet[b % alphabet.length]).join('');
// GitHub's two timestamp forms: "2020-01-22T12:13:35.123-08:00" and "...Z".
function isoOffset(epoch) {
  const d = new Date((epoch - 8 * 3600) * 1000 + 123);
  return d.toISOString().replace('Z', '-08:00');
}
const isoZ = (epoch) => new Date(epoch * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

function scope(key) {
  let s = scopes.get(key);
  if (!s) {
    s = { runners: new Map(), hits: 0 };
    scopes.set(key, s);
  }
  return s;
}

function send(res, status, body, extra = {}) {
  const headers = {
    'x-github-request-id': `${rand(4, '0123456789ABCDEF')}:${rand(8, '0123456789ABCDEF')}`,
    'x-github-api-version-selected': '2022-11-28',
    'x-github-media-type': 'github.v3; format=json',
    ...extra,
  };
  if (body === undefined) {
    res.writeHead(status, headers);
    return res.end();
  }
  const data = Buffer.from(JSON.stringify(body));
  headers['content-type'] = 'application/json; charset=utf-8';
  headers['content-length'] = data.length;
  res.writeHead(status, headers);
  res.end(data);
}
const error = (res, status, message, extra = {}, more = {}) =>
  send(res, status, { message, documentation_url: DOC, status: String(status), ...more }, extra);

// The rate-limit budget of one credential: 5000 an hour.
function budget(cred) {
  let b = budgets.get(cred);
  if (!b || b.reset <= now()) {
    b = { used: 0, reset: now() + 3600 };
    budgets.set(cred, b);
  }
  return b;
}
function rlHeaders(b, remaining) {
  return {
    'x-ratelimit-limit': '5000',
    'x-ratelimit-remaining': String(remaining === undefined ? 5000 - b.used : remaining),
    'x-ratelimit-reset': String(b.reset),
    'x-ratelimit-used': String(remaining === 0 ? 5000 : b.used),
    'x-ratelimit-resource': 'core',
  };
}

function b64urlDecode(s) {
  return Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}
// An App's JWT: RS256 over "header.payload", iss = the App, valid now, at most 10 minutes.
function checkJwt(jwt) {
  const parts = jwt.split('.');
  if (!appKey || parts.length !== 3)
    return 'not a JWT';
  let header, claims;
  try {
    header = JSON.parse(b64urlDecode(parts[0]).toString('utf8'));
    claims = JSON.parse(b64urlDecode(parts[1]).toString('utf8'));
  } catch (e) {
    return 'malformed JWT';
  }
  if (header.alg !== 'RS256')
    return `JWT alg ${header.alg} is not RS256`;
  const ok = crypto.verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), appKey, b64urlDecode(parts[2]));
  if (!ok)
    return 'JWT signature does not verify';
  if (String(claims.iss) !== APP_ID)
    return `JWT iss ${claims.iss} is not the App ${APP_ID}`;
  const t = now();
  if (!Number.isInteger(claims.iat) || !Number.isInteger(claims.exp))
    return 'JWT iat/exp missing';
  if (claims.iat > t + 60)
    return "'Issued at' claim ('iat') must be an Integer representing a time in the past.";
  if (claims.exp <= t)
    return "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires.";
  if (claims.exp - claims.iat > 600 + 60)
    return "'Expiration time' claim ('exp') is too far in the future.";
  return null;
}

// Who is calling: { cred } or { jwt } or { error }.
function authenticate(req) {
  const m = /^(?:Bearer|token) +(\S+)$/i.exec(req.headers.authorization || '');
  if (!m)
    return { error: 'Requires authentication' };
  const t = m[1];
  if (t === TOKEN)
    return { cred: 'pat' };
  const it = instTokens.get(t);
  if (it) {
    if (it.expires <= now())
      return { error: 'Bad credentials' };
    return { cred: `installation:${it.installation}` };
  }
  if (t.split('.').length === 3)
    return { jwt: t };
  return { error: 'Bad credentials' };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
      if (n > 1 << 20)
        reject(new Error('body too large'));
      else
        chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const runnerLabels = (names) => names.map((n) => ({
  id: nextLabelId++, name: n,
  type: ['self-hosted', 'linux', 'x64', 'arm64', 'windows', 'macos'].includes(n.toLowerCase()) ? 'read-only' : 'custom',
}));
const publicRunner = (r) => ({ id: r.id, name: r.name, os: r.os, status: r.status, busy: r.busy,
  ephemeral: r.ephemeral, runner_group_id: r.runner_group_id, version: r.version, labels: r.labels });

function runnerApps(key) {
  const apps = [];
  for (const [os, archs] of [['osx', ['x64', 'arm64']], ['linux', ['x64', 'arm', 'arm64']], ['win', ['x64', 'arm64']]]) {
    for (const arch of archs) {
      const ext = os === 'win' ? 'zip' : 'tar.gz';
      const filename = `actions-runner-${os}-${arch}-${RUNNER_VERSION}.${ext}`;
      apps.push({
        os, architecture: arch, filename,
        download_url: `https://github.com/actions/runner/releases/download/v${RUNNER_VERSION}/${filename}`,
        sha256_checksum: crypto.createHash('sha256').update(`${filename}:${key}`).digest('hex'),
        temp_download_token: `tdt_${rand(30)}`,
      });
    }
  }
  return apps;
}

function groupsOf(key) {
  const groups = [{ id: 1, name: 'Default', visibility: 'all', default: true, inherited: false,
    allows_public_repositories: false, runners_url: `${PUBLIC_URL}/${key}/actions/runner-groups/1/runners` }];
  if (key.startsWith('orgs/'))
    groups.push({ id: 2, name: 'ci', visibility: 'all', default: false, inherited: false,
      allows_public_repositories: false, runners_url: `${PUBLIC_URL}/${key}/actions/runner-groups/2/runners` });
  return groups;
}

// GET list with ?per_page=&page= and GitHub's Link header.
function paginate(req, res, url, items, wrap, extra) {
  const perPage = Math.min(Math.max(Number(url.searchParams.get('per_page') || 30), 1), 100);
  const page = Math.max(Number(url.searchParams.get('page') || 1), 1);
  const last = Math.max(Math.ceil(items.length / perPage), 1);
  const slice = items.slice((page - 1) * perPage, page * perPage);
  const links = [];
  const at = (p) => {
    const u = new URL(url.pathname + url.search, PUBLIC_URL);
    u.searchParams.set('page', String(p));
    return `<${u.href}>`;
  };
  if (page < last)
    links.push(`${at(page + 1)}; rel="next"`, `${at(last)}; rel="last"`);
  if (page > 1)
    links.push(`${at(page - 1)}; rel="prev"`, `${at(1)}; rel="first"`);
  send(res, 200, wrap(slice), links.length ? { ...extra, link: links.join(', ') } : extra);
  return slice;
}


// ---- runners as the runner-side protocol sees them (/_control/runners/*)
const isoNow = () => new Date().toISOString();
function newRunner(key, { name, runner_group_id, ephemeral, labels, work_folder, via }) {
  const r = { id: nextRunnerId++, name, os: 'Linux', status: 'offline', busy: name.startsWith('busy-'),
    ephemeral: !!ephemeral, runner_group_id, version: RUNNER_VERSION, labels, work_folder: work_folder || '_work',
    scope: key, credential: null, created_at: isoNow(), history: [{ time: isoNow(), call: via }] };
  scope(key).runners.set(r.id, r);
  return r;
}
function removeRunner(s, r, why) {
  s.runners.delete(r.id);
  r.status = 'offline';
  r.busy = false;
  r.history.push({ time: isoNow(), call: why });
  r.removed_at = isoNow();
  removedRunners.push(r);
}
// The runner directory's .runner file, as config.sh writes it (and a JIT config holds it).
const dotRunner = (r, serverUrl) => ({ agentId: r.id, agentName: r.name, poolId: r.runner_group_id,
  poolName: r.runner_group_id === 1 ? 'Default' : String(r.runner_group_id), serverUrl,
  gitHubUrl: `${PUBLIC_URL}/${r.scope.replace(/^(repos|orgs)\//, '')}`, workFolder: r.work_folder,
  ephemeral: r.ephemeral });
const controlRunner = (r) => ({ id: r.id, name: r.name, scope: r.scope, os: r.os, status: r.status, busy: r.busy,
  ephemeral: r.ephemeral, runner_group_id: r.runner_group_id, labels: r.labels.map((l) => l.name),
  created_at: r.created_at, removed_at: r.removed_at || null, history: r.history });
// GitHub's config.sh URL -> a scope key: <host>/<owner>/<repo> or <host>/<org>.
function scopeOfUrl(u) {
  let parsed;
  try {
    parsed = new URL(u);
  } catch (e) {
    return null;
  }
  const segs = parsed.pathname.split('/').filter((x) => x);
  if (segs.length === 2)
    return `repos/${segs[0]}/${segs[1]}`.toLowerCase();
  if (segs.length === 1)
    return `orgs/${segs[0]}`.toLowerCase();
  return null;
}
function findRunner(id) {
  for (const s of scopes.values()) {
    const r = s.runners.get(id);
    if (r)
      return { s, r };
  }
  return null;
}
async function jsonBody(req) {
  const raw = (await readBody(req)).toString('utf8');
  if (!raw.trim())
    return {};
  return JSON.parse(raw);
}
const ctl = (res, status, body) => send(res, status, body);
const ctlError = (res, status, message) => send(res, status, { message });

// The race hook (POST /_control/hooks {busy_after_list: NAME}): the next REST
// runner list answered with NAME in it marks that runner busy right after the
// answer went out, as if it took a job between a client's observe and act.
// One hook per name; each is consumed by the list that fires it; {clear: true}
// drops them all.
const busyAfterListHooks = new Set(); // lower-case runner names
function busyAfterList(key, page) {
  for (const pr of page) {
    const n = pr.name.toLowerCase();
    const r = busyAfterListHooks.has(n) && scope(key).runners.get(pr.id);
    if (!r)
      continue;
    busyAfterListHooks.delete(n);
    r.busy = true;
    r.history.push({ time: isoNow(), call: 'job', busy: true, job: 'busy_after_list hook' });
  }
}

// The fault hooks (POST /_control/hooks), for the same client going bad then
// good (the magic owners are bad for good):
// - {fail_next: {status, count, scope?}}: the next COUNT REST requests (of
//   that scope, "repos/o/r" or "orgs/o", when given) are answered STATUS with
//   GitHub's error body, counted off as they go; {fail_next: null} disarms;
// - {rate_limit_until: EPOCH}: until then every REST request gets GitHub's
//   primary rate limit (403, x-ratelimit-remaining 0, x-ratelimit-reset EPOCH);
//   null lifts it.
// /rate_limit and /app/installations/*/access_tokens are not affected.
const faults = { failNext: null, rateLimitUntil: null, failed: 0, limited: 0 };
const hooksState = () => ({ busy_after_list: [...busyAfterListHooks], fail_next: faults.failNext,
  rate_limit_until: faults.rateLimitUntil, failed: faults.failed, rate_limited: faults.limited });
// A fault hook's answer for this request, when one is armed: true if sent.
function faultHook(res, key) {
  if (faults.rateLimitUntil !== null && now() < faults.rateLimitUntil) {
    faults.limited++;
    error(res, 403, 'API rate limit exceeded for user ID 1.', { ...rlHeaders({ used: 5000, reset: faults.rateLimitUntil }, 0) },
      { documentation_url: `${DOC}/overview/rate-limits-for-the-rest-api` });
    return true;
  }
  const f = faults.failNext;
  if (f && (f.scope === null || f.scope === key)) {
    if (--f.count <= 0)
      faults.failNext = null;
    faults.failed++;
    error(res, f.status, f.status >= 500 ? 'Server Error' : 'Forbidden');
    return true;
  }
  return false;
}

// The runner-side protocol (what config.sh and run.sh talk), under /_control/.
async function control(req, res, p, m) {
  let mm;
  if (p === '/_control/hooks' && (m === 'POST' || m === 'GET')) {
    const b = m === 'POST' ? await jsonBody(req) : {};
    const add = b.busy_after_list === undefined ? [] : [].concat(b.busy_after_list);
    if (!add.every((n) => typeof n === 'string' && n))
      return ctlError(res, 400, 'busy_after_list: a runner name (or a list of names)');
    const fn = b.fail_next;
    if (fn !== undefined && fn !== null && (typeof fn !== 'object' || !Number.isInteger(fn.status) ||
        fn.status < 400 || fn.status > 599 || !Number.isInteger(fn.count) || fn.count < 1 ||
        (fn.scope !== undefined && typeof fn.scope !== 'string')))
      return ctlError(res, 400, 'fail_next: {status: 400..599, count: >= 1, scope?: "repos/O/R" | "orgs/O"}');
    const rl = b.rate_limit_until;
    if (rl !== undefined && rl !== null && !Number.isInteger(rl))
      return ctlError(res, 400, 'rate_limit_until: a Unix time (seconds), or null');
    if (b.clear) {
      busyAfterListHooks.clear();
      faults.failNext = null;
      faults.rateLimitUntil = null;
    }
    add.forEach((n) => busyAfterListHooks.add(n.toLowerCase()));
    if (fn !== undefined)
      faults.failNext = fn && { status: fn.status, count: fn.count, scope: fn.scope ? fn.scope.toLowerCase() : null };
    if (rl !== undefined)
      faults.rateLimitUntil = rl;
    return ctl(res, 200, hooksState());
  }
  if (p === '/_control/config' && m === 'POST') {
    const b = await jsonBody(req);
    if (typeof b.runner_url === 'string' && b.runner_url)
      runnerUrl = b.runner_url.replace(/\/+$/, '');
    return ctl(res, 200, { runner_url: runnerUrl });
  }
  if (p === '/_control/tokens' && m === 'POST') {
    const b = await jsonBody(req);
    const key = scopeOfUrl(b.url || '');
    const kind = b.kind || 'registration';
    if (!key || !['registration', 'remove'].includes(kind))
      return ctlError(res, 400, 'url (<github_url>/<owner>/<repo> or <github_url>/<org>) and kind registration|remove');
    const token = rand(29);
    const expires = now() + Number(b.expires_in === undefined ? 3600 : b.expires_in);
    issuedTokens.set(token, { scope: key, kind, expires });
    return ctl(res, 201, { token, scope: key, kind, expires_at: isoZ(expires) });
  }
  if (p === '/_control/runners' && m === 'GET') {
    const runners = [];
    for (const s of scopes.values())
      for (const r of s.runners.values())
        runners.push(controlRunner(r));
    runners.sort((x, y) => x.id - y.id);
    return ctl(res, 200, { runners, removed: removedRunners.map(controlRunner), refused: refusedRegistrations });
  }
  if (p === '/_control/runners/register' && m === 'POST') {
    const b = await jsonBody(req);
    const key = scopeOfUrl(b.url || '');
    const t = issuedTokens.get(b.token || '');
    const refuse = (status, message) => {
      refusedRegistrations.push({ time: isoNow(), name: b.name || null, scope: key, status, message });
      return ctlError(res, status, message);
    };
    if (!key)
      return refuse(404, `Http response code: NotFound from 'POST ${b.url}' (not a repository or organisation URL)`);
    if (!t || t.kind !== 'registration' || t.scope !== key)
      return refuse(404, "Http response code: NotFound from 'POST /actions/runner-registration' (unknown token)");
    if (t.expires <= now())
      return refuse(404, "Http response code: NotFound from 'POST /actions/runner-registration' (token expired)");
    if (typeof b.name !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(b.name))
      return refuse(400, 'name: 1-64 of A-Z a-z 0-9 . _ -');
    const custom = (Array.isArray(b.labels) ? b.labels : String(b.labels || '').split(','))
      .map((l) => String(l).trim()).filter((l) => l);
    let group = 1;
    if (b.runner_group !== undefined && b.runner_group !== null && b.runner_group !== '') {
      const g = groupsOf(key).find((x) => String(x.id) === String(b.runner_group) ||
        x.name.toLowerCase() === String(b.runner_group).toLowerCase());
      if (!g)
        return refuse(404, `Could not find any self-hosted runner group named '${b.runner_group}'.`);
      group = g.id;
    }
    const s = scope(key);
    const dup = [...s.runners.values()].find((r) => r.name.toLowerCase() === b.name.toLowerCase());
    if (dup && !b.replace)
      return refuse(409, `A runner exists with the same name ${b.name}.`);
    if (dup)
      removeRunner(s, dup, 'replaced');
    // config.sh adds the system labels; names compare case-insensitively.
    const names = [];
    for (const l of ['self-hosted', 'Linux', 'X64', ...custom])
      if (!names.some((n) => n.toLowerCase() === l.toLowerCase()))
        names.push(l);
    const r = newRunner(key, { name: b.name, runner_group_id: group, ephemeral: b.ephemeral,
      labels: runnerLabels(names), work_folder: b.work, via: 'register' });
    r.credential = rand(40, 'abcdefghijklmnopqrstuvwxyz0123456789');
    stats.registrations++;
    const serverUrl = `http://${req.headers.host}`;
    return ctl(res, 201, { id: r.id, name: r.name, credential: r.credential, labels: names,
      runner: dotRunner(r, serverUrl) });
  }
  if ((mm = /^\/_control\/runners\/(\d+)(?:\/(session|job))?$/.exec(p))) {
    const found = findRunner(Number(mm[1]));
    if (!found)
      return ctlError(res, 404, 'Not Found');
    const { s, r } = found;
    const b = await jsonBody(req);
    if (!r.credential || b.credential !== r.credential) {
      r.history.push({ time: isoNow(), call: `refused ${m} ${mm[2] || 'runner'}` });
      return ctlError(res, 401, 'Bad credentials');
    }
    if (mm[2] === 'session' && m === 'POST') {
      r.status = 'online';
      r.history.push({ time: isoNow(), call: 'session' });
      return ctl(res, 200, { id: r.id, status: r.status });
    }
    if (mm[2] === 'job' && m === 'POST') {
      r.busy = !!b.busy;
      r.history.push({ time: isoNow(), call: 'job', busy: r.busy, ...(b.job ? { job: String(b.job) } : {}),
        ...(b.result ? { result: String(b.result) } : {}) });
      return ctl(res, 200, { id: r.id, busy: r.busy });
    }
    if (!mm[2] && m === 'DELETE') {
      removeRunner(s, r, 'deleted (runner)');
      return send(res, 204, undefined);
    }
  }
  return ctlError(res, 404, 'Not Found');
}

async function handle(req, res) {
  stats.requests++;
  const url = new URL(req.url, PUBLIC_URL);
  const p = url.pathname;
  const m = req.method;
  let mm;

  // ---- control (not part of GitHub; only on FAKE_PORT)
  if (p === '/_control/stats' && m === 'GET')
    return send(res, 200, { ...stats, violations, scopes: scopes.size });
  if (p === '/_control/violations' && m === 'GET')
    return send(res, 200, { count: violations, expected: expectedViolations });
  if (p.startsWith('/_control/')) {
    try {
      return await control(req, res, p, m);
    } catch (e) {
      return ctlError(res, 400, `bad request: ${e.message}`);
    }
  }

  if (p === '/rate_limit' && m === 'GET') {
    const a = authenticate(req);
    const b = budget(a.cred || 'anonymous');
    const core = { limit: 5000, remaining: 5000 - b.used, reset: b.reset, used: b.used };
    return send(res, 200, { resources: { core, search: { ...core, limit: 30, remaining: 30, used: 0 } }, rate: core },
      rlHeaders(b));
  }

  const auth = authenticate(req);
  if ((mm = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(p)) && m === 'POST') {
    const why = auth.jwt ? checkJwt(auth.jwt) : 'A JSON web token could not be decoded';
    if (why)
      return error(res, 401, why);
    const inst = Number(mm[1]);
    if (!(inst in INSTALLATIONS))
      return error(res, 404, 'Not Found');
    stats.access_tokens++;
    const token = `ghs_${rand(36, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789')}`;
    const expires = now() + INSTALLATIONS[inst];
    instTokens.set(token, { installation: inst, expires });
    return send(res, 201, { token, expires_at: isoZ(expires), permissions: { administration: 'write' },
      repository_selection: 'all' });
  }

  mm = /^\/(repos\/([^/]+)\/([^/]+)|orgs\/([^/]+))\/actions\/(runners|runner-groups)(?:\/([^/]+))?$/.exec(p);
  if (!mm)
    return error(res, 404, 'Not Found');
  if (auth.error || auth.jwt)
    return error(res, 401, auth.jwt ? 'A JSON web token cannot be used here' : auth.error);
  const key = mm[1].toLowerCase();
  const owner = (mm[2] || mm[4]).toLowerCase();
  const kind = mm[5];
  const sub = mm[6];
  const b = budget(auth.cred);
  const s = scope(key);
  s.hits++;
  if (faultHook(res, key))
    return undefined;

  if (owner === 'ratelimited') {
    // A primary rate limit: 403, remaining 0, the reset a moment ahead.
    const reset = now() + RL_RESET_S;
    return error(res, 403, 'API rate limit exceeded for user ID 1.', { ...rlHeaders({ used: 5000, reset }, 0) },
      { documentation_url: `${DOC}/overview/rate-limits-for-the-rest-api` });
  }
  if (owner.startsWith('throttled') && s.hits === 1)
    return error(res, 429, 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
      { ...rlHeaders(b), 'retry-after': '1' });
  if (owner === 'nobody')
    return error(res, 404, 'Not Found', rlHeaders(b));
  b.used++;
  const rl = rlHeaders(b);

  if (kind === 'runner-groups') {
    if (!key.startsWith('orgs/') || sub !== undefined || m !== 'GET')
      return error(res, 404, 'Not Found', rl);
    const groups = groupsOf(key);
    return paginate(req, res, url, groups, (g) => ({ total_count: groups.length, runner_groups: g }), rl);
  }

  if (sub === undefined && m === 'GET') {
    const name = url.searchParams.get('name');
    const all = [...s.runners.values()].filter((r) => name === null || r.name === name)
      .sort((x, y) => x.id - y.id).map(publicRunner);
    if (owner === 'schema-drift')  // an answer that breaks the schema: Prism must catch it
      return send(res, 200, { total_count: 1, runners: [{ id: 1, name: 'drift', os: 'linux', status: 'online', labels: [] }] }, rl);
    const page = paginate(req, res, url, all, (r) => ({ total_count: all.length, runners: r }), rl);
    return busyAfterList(key, page);
  }
  if (sub === 'downloads' && m === 'GET')
    return send(res, 200, runnerApps(key), rl);
  if ((sub === 'registration-token' || sub === 'remove-token') && m === 'POST') {
    const body = await readBody(req);
    if (body.length)
      return error(res, 422, 'Validation Failed', rl, { errors: ['This endpoint takes no body.'] });
    const reg = sub === 'registration-token';
    stats[reg ? 'registration_tokens' : 'remove_tokens']++;
    const expires = now() + 3600;
    const token = rand(29);
    issuedTokens.set(token, { scope: key, kind: reg ? 'registration' : 'remove', expires });
    return send(res, 201, { token, expires_at: reg ? isoOffset(expires) : isoZ(expires) }, rl);
  }
  if (sub === 'generate-jitconfig' && m === 'POST') {
    let body;
    try {
      body = JSON.parse((await readBody(req)).toString('utf8'));
    } catch (e) {
      return error(res, 422, 'Validation Failed', rl, { errors: ['Problems parsing JSON'] });
    }
    if (!body || typeof body.name !== 'string' || !body.name || !Number.isInteger(body.runner_group_id) ||
        !Array.isArray(body.labels) || body.labels.length < 1 || body.labels.length > 100 ||
        !body.labels.every((l) => typeof l === 'string' && l))
      return error(res, 422, 'Validation Failed', rl, { errors: ['Invalid request.'] });
    if (!groupsOf(key).some((g) => g.id === body.runner_group_id))
      return error(res, 404, 'Not Found', rl);
    if ([...s.runners.values()].some((r) => r.name.toLowerCase() === body.name.toLowerCase()))
      return error(res, 409, `Already exists - A runner with the name ${body.name} already exists.`, rl);
    stats.jitconfigs++;
    const r = newRunner(key, { name: body.name, runner_group_id: body.runner_group_id, ephemeral: true,
      labels: runnerLabels(body.labels), work_folder: body.work_folder || '_work', via: 'jit-config' });
    r.os = 'unknown';
    r.version = null;
    if (r.busy) {
      r.status = 'online';
      r.os = 'Linux';
      r.version = RUNNER_VERSION;
    }
    const rsaparams = `jit-secret-${rand(32)}`;
    r.credential = rsaparams;
    const jit = Buffer.from(JSON.stringify({
      '.runner': Buffer.from(JSON.stringify(dotRunner(r, runnerUrl))).toString('base64'),
      '.credentials': Buffer.from(JSON.stringify({ scheme: 'OAuth', data: { clientId: crypto.randomUUID(),
        authorizationUrl: `${runnerUrl}/_apis/oauth2/token` } })).toString('base64'),
      '.credentials_rsaparams': Buffer.from(rsaparams).toString('base64'),
    })).toString('base64');
    return send(res, 201, { runner: publicRunner(r), encoded_jit_config: jit }, rl);
  }
  if (sub !== undefined && /^\d+$/.test(sub)) {
    const r = s.runners.get(Number(sub));
    if (m === 'GET')
      return r ? send(res, 200, publicRunner(r), rl) : error(res, 404, 'Not Found', rl);
    if (m === 'DELETE') {
      if (!r)
        return error(res, 404, 'Not Found', rl);
      if (r.busy)
        return error(res, 422, `Bad request - Runner ${r.name} is still running a job`, rl);
      removeRunner(s, r, 'deleted (REST)');
      stats.deletes++;
      return send(res, 204, undefined, rl);
    }
  }
  return error(res, 404, 'Not Found', rl);
}

// ---- the tap: clients -> TAP_PORT -> Prism -> FAKE_PORT
fs.mkdirSync(STATE_DIR, { recursive: true });
const violationsLog = path.join(STATE_DIR, 'violations.log');
// A violation is an answer with an sl-violations header (Prism found the
// request or our answer at odds with the schema) or Prism's own
// application/problem+json refusal (invalid request, unknown path, no auth).
// A request sent with "x-osr-expect-violation: 1" (the stand-in's self-test)
// is counted apart and not logged.
function tap(req, res) {
  const expected = req.headers['x-osr-expect-violation'] === '1';
  const up = http.request({ host: HOST, port: PRISM_PORT, method: req.method, path: req.url, headers: req.headers },
    (ures) => {
      const v = ures.headers['sl-violations'];
      const prism = /^application\/problem\+json/.test(ures.headers['content-type'] || '');
      if (v || prism) {
        if (expected) {
          expectedViolations++;
        } else {
          violations++;
          fs.appendFileSync(violationsLog, `${JSON.stringify({ time: new Date().toISOString(), method: req.method,
            path: req.url.split('?')[0], status: ures.statusCode, violations: v || 'refused by Prism' })}\n`);
        }
      }
      res.writeHead(ures.statusCode, ures.headers);
      ures.pipe(res);
    });
  up.on('error', (e) => {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`tap: Prism unreachable: ${e.message}\n`);
  });
  req.pipe(up);
}

const fake = http.createServer((req, res) => {
  handle(req, res).catch((e) => {
    if (!res.headersSent)
      error(res, 500, `fake: ${e.message}`);
  });
});
fake.listen(FAKE_PORT, HOST);
http.createServer(tap).listen(TAP_PORT, HOST);
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
console.log(`fake GitHub on ${HOST}:${FAKE_PORT}, tap on ${HOST}:${TAP_PORT} -> Prism ${PRISM_PORT}`);
