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
  jitconfigs: 0, deletes: 0 };
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
    return paginate(req, res, url, all, (r) => ({ total_count: all.length, runners: r }), rl);
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
    return send(res, 201, { token: rand(29), expires_at: reg ? isoOffset(expires) : isoZ(expires) }, rl);
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
    const r = { id: nextRunnerId++, name: body.name, os: 'unknown', status: 'offline',
      busy: body.name.startsWith('busy-'), ephemeral: true, runner_group_id: body.runner_group_id,
      version: null, labels: runnerLabels(body.labels), work_folder: body.work_folder || '_work' };
    if (r.busy) {
      r.status = 'online';
      r.os = 'Linux';
      r.version = RUNNER_VERSION;
    }
    s.runners.set(r.id, r);
    const jit = Buffer.from(JSON.stringify({
      '.runner': Buffer.from(JSON.stringify({ agentId: r.id, agentName: r.name, poolId: r.runner_group_id,
        serverUrl: PUBLIC_URL, gitHubUrl: PUBLIC_URL, workFolder: r.work_folder, ephemeral: true })).toString('base64'),
      '.credentials': Buffer.from(JSON.stringify({ scheme: 'OAuth', data: { clientId: crypto.randomUUID(),
        authorizationUrl: `${PUBLIC_URL}/_apis/oauth2/token` } })).toString('base64'),
      '.credentials_rsaparams': Buffer.from(`jit-secret-${rand(32)}`).toString('base64'),
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
      s.runners.delete(r.id);
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
