// tests/github/trim.js: see regen-spec, which runs it on @octokit/openapi. Verbatim from
// ../shared/notes/github-api-stand-in.md (the recipe this stand-in follows).
// Build a small, patched OpenAPI document for the self-hosted-runner endpoints.
// usage: node trim.js <api.github.com.json> <out.json>
const fs = require('fs');
const [src, out] = process.argv.slice(2);
const spec = JSON.parse(fs.readFileSync(src, 'utf8'));
const keep = p => /^\/(repos\/\{owner\}\/\{repo\}|orgs\/\{org\})\/actions\/runners(\/|$)/.test(p)
  || p === '/orgs/{org}/actions/runner-groups'
  || p === '/app/installations/{installation_id}/access_tokens'
  || p === '/rate_limit';
const o = { openapi: spec.openapi, info: { ...spec.info, title: 'GitHub REST subset: self-hosted runners (patched for prism)' },
  servers: spec.servers, paths: {}, components: {} };
for (const p of Object.keys(spec.paths)) if (keep(p)) o.paths[p] = JSON.parse(JSON.stringify(spec.paths[p]));
// --- copy referenced components transitively
const seen = new Set();
function walk(x) {
  if (Array.isArray(x)) return x.forEach(walk);
  if (!x || typeof x !== 'object') return;
  if (typeof x.$ref === 'string' && !seen.has(x.$ref)) {
    seen.add(x.$ref);
    const [, , kind, name] = x.$ref.split('/');
    o.components[kind] = o.components[kind] || {};
    o.components[kind][name] = spec.components[kind][name];
    walk(spec.components[kind][name]);
  }
  for (const v of Object.values(x)) walk(v);
}
walk(o.paths);
// --- patches
const H = o.components.headers = o.components.headers || {};
const hdr = (ex, type='integer') => ({ schema: { type }, example: ex });
Object.assign(H, {
  'x-ratelimit-limit': hdr(5000), 'x-ratelimit-remaining': hdr(4999), 'x-ratelimit-reset': hdr(1893456000),
  'x-ratelimit-used': hdr(1), 'x-ratelimit-resource': hdr('core', 'string'),
  'x-github-api-version-selected': hdr('2022-11-28', 'string'),
});
const rl = (remaining) => ({
  'x-ratelimit-limit': { $ref: '#/components/headers/x-ratelimit-limit' },
  'x-ratelimit-remaining': remaining === undefined ? { $ref: '#/components/headers/x-ratelimit-remaining' } : hdr(remaining),
  'x-ratelimit-reset': { $ref: '#/components/headers/x-ratelimit-reset' },
  'x-ratelimit-used': remaining === 0 ? hdr(5000) : { $ref: '#/components/headers/x-ratelimit-used' },
  'x-ratelimit-resource': { $ref: '#/components/headers/x-ratelimit-resource' },
  'x-github-api-version-selected': { $ref: '#/components/headers/x-github-api-version-selected' },
});
const err = (description, example, headers) => ({ description, headers,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/basic-error' }, examples: { default: { value: example } } } } });
o.components.schemas['basic-error'] = spec.components.schemas['basic-error'];
const DOC = 'https://docs.github.com/rest';
o.components.securitySchemes = { github: { type: 'apiKey', in: 'header', name: 'Authorization' } };
for (const [p, item] of Object.entries(o.paths)) for (const [m, op] of Object.entries(item)) {
  if (m === 'parameters') continue;
  const r = {};
  for (const [code, resp0] of Object.entries(op.responses)) {
    // inline $ref'd responses so we can attach headers
    let resp = resp0.$ref ? JSON.parse(JSON.stringify(spec.components.responses[resp0.$ref.split('/').pop()])) : resp0;
    resp.headers = { ...(resp.headers || {}), ...rl() };
    if (resp.headers.Link) delete resp.headers.Link;   // static Link example always says rel="next" -> endless paging
    if (code === '422' && resp.content) for (const c of Object.values(resp.content)) c.examples = { default: { value:
      { message: 'Validation Failed', errors: ['Invalid request.'], documentation_url: DOC, status: '422' } } };
    if (code === '404' && resp.content) for (const c of Object.values(resp.content)) c.examples = { default: { value:
      { message: 'Not Found', documentation_url: DOC, status: '404' } } };
    if (code === '409' && resp.content) for (const c of Object.values(resp.content)) c.examples = { default: { value:
      { message: 'Already exists - A runner with the name x already exists.', documentation_url: DOC, status: '409' } } };
    r[code] = resp;
  }
  r['401'] = r['401'] || err('Requires authentication', { message: 'Bad credentials', documentation_url: DOC, status: '401' }, rl());
  r['403'] = r['403'] || err('Forbidden / primary rate limit exceeded',
      { message: 'API rate limit exceeded for installation ID 1.', documentation_url: DOC + '/overview/rate-limits-for-the-rest-api', status: '403' }, rl(0));
  r['404'] = r['404'] || err('Resource not found', { message: 'Not Found', documentation_url: DOC, status: '404' }, rl());
  r['429'] = r['429'] || err('Secondary rate limit', { message: 'You have exceeded a secondary rate limit.', documentation_url: DOC, status: '429' },
      { ...rl(), 'retry-after': hdr(1) });
  r['500'] = r['500'] || err('Server error', { message: 'Server Error', documentation_url: DOC, status: '500' }, rl());
  // also serve the GitHub media type so 'Accept: application/vnd.github+json' is not answered 406
  for (const resp of Object.values(r)) if (resp.content && resp.content['application/json'])
    resp.content['application/vnd.github+json'] = resp.content['application/json'];
  op.responses = r;
  if (p !== '/rate_limit') op.security = [{ github: [] }];
  // GitHub rejects requests without User-Agent (libcurl sends none by default); unknown API versions get a 400
  op.parameters = [...(op.parameters || []),
    { name: 'User-Agent', in: 'header', required: true, schema: { type: 'string', minLength: 1 } },
    { name: 'X-GitHub-Api-Version', in: 'header', required: false, schema: { type: 'string', enum: ['2022-11-28', '2026-03-10'] } }];
}
fs.writeFileSync(out, JSON.stringify(o, null, 1));
console.log('paths', Object.keys(o.paths).length, 'components', Object.fromEntries(Object.entries(o.components).map(([k,v])=>[k,Object.keys(v).length])), 'bytes', fs.statSync(out).size);
