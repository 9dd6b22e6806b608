/* A session with one cloud: HTTP engine, token (memory, cache, Keystone), catalog. */
#include "session.h"

#include "fs.h"
#include "keystone.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A token this close to expiry is not used: it could run out mid-operation. */
#define TOKEN_MARGIN_S 120

struct osr_session {
    osr__http *http;
    osr_error err;
    char *auth_url;
    char *identity_url; /* v3 base, resolved lazily */
    char *interface;
    char *region;
    char *auth_body;  /* POST /v3/auth/tokens body; secret */
    char *cache_path; /* NULL: no cache */
    osr__token *token;
    osr_token_source source;
    char secret_digest[65]; /* SHA-256 of every auth setting; memory only */
    unsigned int auth_count;
    char *domain_scoped; /* the cloud's name when it is domain-scoped, else NULL */
    void *parked;        /* osr__session_park() */
    void (*parked_free)(void *);
};

/* A domain-scoped cloud is valid; only services that need a project refuse it. */
static int need_project(osr_session *s, const char *service_type)
{
    char q[OSR__QUOTE_MAX];

    if (s->domain_scoped == NULL || strcmp(service_type, "identity") == 0)
        return 0;
    return osr__error_set(&s->err, OSR_ECONFIG,
                          "cloud '%s' is domain-scoped; this command needs a project (set "
                          "project_name or project_id)",
                          osr__quote(q, sizeof(q), s->domain_scoped, 64));
}

static char *default_cache_dir(void)
{
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");

    if (xdg && *xdg == '/')
        return osr__sprintf("%s/osrunner/tokens", xdg);
    if (home && *home)
        return osr__sprintf("%s/.cache/osrunner/tokens", home);
    return NULL;
}

/*
 * The cache file is named from the non-secret identity only (auth type, auth
 * URL, user, project, domains, application credential id or name): a hash of
 * the password would be an offline oracle for guessing it. Whether the token
 * in it belongs to the current secrets too is checked with a key kept inside
 * the private file: SHA-256 over a random salt and every auth setting,
 * secrets included, so a changed password or token never reuses a token.
 */
#define CACHE_PREFIX "v2-"

static int auth_settings(osr__buf *b, const osr_cloud *cloud, bool with_secrets)
{
    size_t n = osr_cloud_setting_count(cloud);
    int error = osr__buf_printf(b, "%s\n", osr_cloud_auth_type(cloud));

    for (size_t i = 0; i < n && error == 0; i++) {
        const char *k, *v;
        int secret = 0;
        if (osr_cloud_setting(&k, &v, &secret, cloud, i, 1) < 0)
            continue;
        if (strncmp(k, "auth.", 5) == 0 && (with_secrets || !secret))
            error = osr__buf_printf(b, "%s=%s\n", k, v);
    }
    return error;
}

static int cache_name(char out[65], const osr_cloud *cloud)
{
    osr__buf b = OSR__BUF_INIT;
    int error = osr__buf_puts(&b, "osrunner-token-name-v2\n");

    if (error == 0)
        error = auth_settings(&b, cloud, false);
    if (error == 0)
        error = osr__sha256_hex(out, b.data, b.len);
    osr__buf_free(&b);
    return error;
}

/* Every auth setting, secrets included; the digest never reaches the disk. */
static int secret_digest(char out[65], const osr_cloud *cloud)
{
    osr__buf b = OSR__BUF_INIT;
    int error = osr__buf_puts(&b, "osrunner-token-secrets-v2\n");

    if (error == 0)
        error = auth_settings(&b, cloud, true);
    if (error == 0)
        error = osr__sha256_hex(out, b.data, b.len);
    osr__buf_free_secret(&b);
    return error;
}

/* The key a cache file is checked with: SHA-256 of its salt and the digest. */
static int cache_key(char out[65], const char *salt, const osr_session *s)
{
    char *text = osr__sprintf("osrunner-token-key-v2\n%s\n%s\n", salt, s->secret_digest);
    int error = text ? osr__sha256_hex(out, text, strlen(text)) : OSR_ENOMEM;

    osr__secret_free(text);
    return error;
}

/* The cache directory must be private and ours: a looser one of ours is
 * tightened (with a warning), anyone else's is not used. */
static bool cache_dir_ok(osr_session *s, const char *dir)
{
    struct stat st;

    if (lstat(dir, &st) < 0)
        return errno == ENOENT; /* created 0700 by the first write */
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
        osr__http_log(s->http, OSR_LOG_WARN,
                      "token cache %s: not a directory of ours; the cache is not used", dir);
        return false;
    }
    if ((st.st_mode & 077) != 0) {
        if (chmod(dir, 0700) < 0) {
            osr__http_log(s->http, OSR_LOG_WARN,
                          "token cache %s: mode %04o and cannot tighten it (%s); the cache is "
                          "not used",
                          dir, (unsigned)(st.st_mode & 07777), strerror(errno));
            return false;
        }
        osr__http_log(s->http, OSR_LOG_WARN,
                      "token cache %s: mode %04o let others in; tightened to 0700", dir,
                      (unsigned)(st.st_mode & 07777));
    }
    return true;
}

/* Cache files of the first format were named by an unsalted hash of every
 * auth setting, password included: remove ours. */
static void cache_remove_v1(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        struct stat st;
        size_t i = 0;
        while (i < 64 && ((n[i] >= '0' && n[i] <= '9') || (n[i] >= 'a' && n[i] <= 'f')))
            i++;
        if (i != 64 || strcmp(n + 64, ".json") != 0)
            continue;
        if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
            st.st_uid == geteuid())
            (void)unlinkat(dirfd(d), n, 0);
    }
    closedir(d);
}

int osr_session_new(osr_session **out,
                    const osr_cloud *cloud,
                    const osr_session_options *opts,
                    osr_error *err)
{
    osr_session_options defaults = OSR_SESSION_OPTIONS_INIT;
    osr__http_config hc;
    osr_session *s = NULL;
    const char *verify;
    char *dir = NULL;
    int error = 0;

    if (out == NULL || cloud == NULL)
        return osr__error_set(err, OSR_EINVAL, "osr_session_new: NULL argument");
    if (opts == NULL)
        opts = &defaults;
    if (osr__version_check(err, "osr_session_new", "osr_session_options", opts->version, 1,
                           OSR_SESSION_OPTIONS_VERSION) < 0)
        return OSR_EINVAL;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");

    memset(&hc, 0, sizeof(hc));
    hc.connect_timeout_ms = opts->connect_timeout_ms;
    hc.timeout_ms = opts->timeout_ms;
    hc.max_retries = opts->max_retries;
    hc.max_response = opts->max_response_bytes;
    verify = osr_cloud_get(cloud, "verify");
    hc.verify = !(verify && strcmp(verify, "false") == 0);
    hc.cacert = osr_cloud_get(cloud, "cacert");
    hc.cert = osr_cloud_get(cloud, "cert");
    hc.key = osr_cloud_get(cloud, "key");
    hc.log_cb = opts->log_cb;
    hc.log_level = opts->log_level;
    hc.log_payload = opts->log_payload;
    if ((error = osr__http_new(&s->http, &hc, err)) < 0)
        goto done;

    s->auth_url = osr__strdup(osr_cloud_get(cloud, "auth.auth_url"));
    s->interface = osr__strdup(osr_cloud_get(cloud, "interface"));
    s->region = osr__strdup(osr_cloud_get(cloud, "region_name"));
    if (s->auth_url == NULL || s->interface == NULL) {
        error = osr__error_set(err, OSR_ECONFIG, "cloud %s: no auth_url", osr_cloud_name(cloud));
        goto done;
    }
    (void)osr__http_name_service(s->http, s->auth_url, "identity"); /* statistics only */
    if ((error = osr__keystone_auth_body(&s->auth_body, cloud, err)) < 0)
        goto done;
    if (osr_cloud_domain_scoped(cloud) &&
        (s->domain_scoped = osr__strdup(osr_cloud_name(cloud))) == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    if (opts->token_cache) {
        char name_hash[65];
        dir = opts->cache_dir ? osr__strdup(opts->cache_dir) : default_cache_dir();
        if (dir && cache_dir_ok(s, dir) && cache_name(name_hash, cloud) == 0 &&
            secret_digest(s->secret_digest, cloud) == 0) {
            char *name = osr__sprintf(CACHE_PREFIX "%s.json", name_hash);
            s->cache_path = name ? osr__path_join(dir, name) : NULL;
            free(name);
            cache_remove_v1(dir);
        }
    }
    *out = s;
    s = NULL;
done:
    free(dir);
    osr_session_free(s);
    return error;
}

void osr_session_free(osr_session *s)
{
    if (s == NULL)
        return;
    osr__http_free(s->http);
    free(s->auth_url);
    free(s->identity_url);
    free(s->interface);
    free(s->region);
    osr__secret_free(s->auth_body);
    osr__secret_wipe(s->secret_digest, sizeof(s->secret_digest));
    free(s->cache_path);
    free(s->domain_scoped);
    osr__keystone_token_free(s->token);
    osr__session_park(s, NULL, NULL);
    free(s);
}

void osr__session_park(osr_session *s, void *obj, void (*free_fn)(void *))
{
    if (s->parked && s->parked_free)
        s->parked_free(s->parked);
    s->parked = obj;
    s->parked_free = free_fn;
}

void *osr__session_take(osr_session *s, void (*free_fn)(void *))
{
    void *obj = s->parked;

    if (obj == NULL || s->parked_free != free_fn)
        return NULL;
    s->parked = NULL;
    s->parked_free = NULL;
    return obj;
}

const osr_error *osr_session_last_error(const osr_session *s)
{
    return &s->err;
}

osr_error *osr__session_error(osr_session *s)
{
    osr_error_clear(&s->err);
    return &s->err;
}

osr_token_source osr_session_token_source(const osr_session *s)
{
    return s->token ? s->source : OSR_TOKEN_NONE;
}

unsigned int osr_session_auth_count(const osr_session *s)
{
    return s->auth_count;
}

const char *osr_session_project_id(const osr_session *s)
{
    return s->token ? s->token->project_id : NULL;
}

const char *osr_session_project_name(const osr_session *s)
{
    return s->token ? s->token->project_name : NULL;
}

const char *osr_session_user_id(const osr_session *s)
{
    return s->token ? s->token->user_id : NULL;
}

long long osr_session_expires_at(const osr_session *s)
{
    return s->token ? (long long)s->token->expires_at : 0;
}

void osr_session_invalidate(osr_session *s)
{
    osr__keystone_token_free(s->token);
    s->token = NULL;
    s->source = OSR_TOKEN_NONE;
    if (s->cache_path)
        unlink(s->cache_path);
}

static bool token_fresh(const osr__token *t)
{
    return t && t->id && t->expires_at - osr__now_s_wall() > TOKEN_MARGIN_S;
}

int osr__session_identity_url(const char **out, osr_session *s)
{
    osr__http_request req = { .method = "GET", .url = s->auth_url, .idempotent = true };
    osr__http_response resp;
    int error;

    if (s->identity_url == NULL)
        s->identity_url = osr__keystone_v3_from_auth_url(s->auth_url);
    if (s->identity_url) {
        *out = s->identity_url;
        return 0;
    }
    /* An unversioned auth_url: ask it which versions it serves. Keystone
     * answers 300 Multiple Choices with the list. */
    memset(&resp, 0, sizeof(resp));
    error = osr__http_send(s->http, &req, &resp, &s->err);
    if (error == OSR_EREQUEST && resp.status == 300)
        error = 0;
    if (error == 0)
        error = osr__keystone_discover_v3(&s->identity_url, resp.body.data, resp.body.len, &s->err);
    osr__http_response_free(&resp);
    if (error < 0)
        return error;
    *out = s->identity_url;
    return 0;
}

/* Take the token from the cache file if it is ours, private and fresh. */
static void cache_load(osr_session *s)
{
    char *data = NULL;
    json_t *root = NULL;
    osr__token *t = NULL;
    struct stat st;
    const char *id, *body, *salt, *key;
    char want[65];

    if (s->cache_path == NULL)
        return;
    if (lstat(s->cache_path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 077) != 0) {
        return;
    }
    if (osr__fs_read(&data, NULL, s->cache_path, 4u << 20, NULL) < 0)
        return;
    root = json_loads(data, 0, NULL);
    id = json_string_value(json_object_get(root, "token"));
    body = json_string_value(json_object_get(root, "body"));
    salt = json_string_value(json_object_get(root, "salt"));
    key = json_string_value(json_object_get(root, "key"));
    /* The key says whether the token was issued for the current secrets. */
    if (id && body && salt && key && json_integer_value(json_object_get(root, "version")) == 2 &&
        cache_key(want, salt, s) == 0 && strlen(key) == 64 && CRYPTO_memcmp(key, want, 64) == 0 &&
        osr__keystone_token_parse(&t, body, strlen(body), id, NULL) == 0) {
        if (token_fresh(t)) {
            osr__keystone_token_free(s->token);
            s->token = t;
            s->source = OSR_TOKEN_CACHE;
            t = NULL;
            osr__http_log(s->http, OSR_LOG_DEBUG, "token from cache %s", s->cache_path);
        }
    }
    osr__keystone_token_free(t);
    if (root) {
        /* The JSON tree held the token: wipe its strings before freeing. */
        json_t *v = json_object_get(root, "token");
        if (json_is_string(v))
            osr__secret_wipe((char *)json_string_value(v), json_string_length(v));
        json_decref(root);
    }
    osr__secret_free(data);
}

static void cache_store(osr_session *s)
{
    json_t *root = NULL;
    char *data = NULL, salt[33], key[65];
    unsigned char r[16];
    osr_error e;

    if (s->cache_path == NULL || s->token == NULL)
        return;
    if (RAND_bytes(r, sizeof(r)) != 1) {
        osr__http_log(s->http, OSR_LOG_WARN, "token cache not written: no random salt");
        return;
    }
    for (size_t i = 0; i < sizeof(r); i++)
        snprintf(salt + 2 * i, 3, "%02x", r[i]);
    if (cache_key(key, salt, s) == 0)
        root = json_pack("{s:i,s:s,s:s,s:s,s:s}", "version", 2, "salt", salt, "key", key, "token",
                         s->token->id, "body", s->token->body);
    data = root ? json_dumps(root, JSON_COMPACT) : NULL;
    if (data == NULL || osr__fs_write_atomic(s->cache_path, data, strlen(data), 0600, &e) < 0) {
        osr__http_log(s->http, OSR_LOG_WARN, "token cache not written: %s",
                      data ? e.message : "out of memory");
    }
    osr__secret_free(data);
    json_decref(root);
}

static int keystone_issue(osr_session *s)
{
    const char *base;
    char *url = NULL;
    osr__http_request req;
    osr__http_response resp;
    osr__token *t = NULL;
    int error;

    memset(&resp, 0, sizeof(resp));
    if ((error = osr__session_identity_url(&base, s)) < 0)
        return error;
    url = osr__sprintf("%s/auth/tokens", base);
    if (url == NULL)
        return osr__error_set(&s->err, OSR_ENOMEM, "out of memory");
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = url;
    req.body = s->auth_body;
    req.body_len = strlen(s->auth_body);
    req.idempotent = true; /* issuing a token has no side effect worth guarding */
    s->auth_count++;
    error = osr__http_send(s->http, &req, &resp, &s->err);
    if (error == OSR_EAUTH) {
        osr__error_prefix(&s->err, "authentication failed");
        goto done;
    } else if (error < 0) {
        goto done;
    }
    if (resp.subject_token == NULL || *resp.subject_token == '\0') {
        error =
            osr__error_set(&s->err, OSR_EPROTO, "POST %s: no X-Subject-Token in the answer", url);
        goto done;
    }
    if ((error = osr__keystone_token_parse(&t, resp.body.data, resp.body.len, resp.subject_token,
                                           &s->err)) < 0)
        goto done;
    osr__keystone_token_free(s->token);
    s->token = t;
    s->source = OSR_TOKEN_KEYSTONE;
    cache_store(s);
done:
    free(url);
    osr__http_response_free(&resp);
    return error;
}

static int authenticate(osr_session *s)
{
    if (token_fresh(s->token))
        return 0;
    cache_load(s);
    if (token_fresh(s->token))
        return 0;
    return keystone_issue(s);
}

int osr_session_authenticate(osr_session *s)
{
    osr__session_error(s);
    return authenticate(s);
}

int osr_session_endpoint(const char **out, osr_session *s, const char *service_type)
{
    int error;

    osr__session_error(s);
    if ((error = need_project(s, service_type)) < 0 || (error = authenticate(s)) < 0)
        return error;
    if ((error = osr__catalog_endpoint(out, s->token, service_type, s->interface, s->region,
                                       &s->err)) == 0)
        (void)osr__http_name_service(s->http, *out, service_type); /* statistics only */
    return error;
}

size_t osr_session_api_stats_count(const osr_session *s)
{
    return s ? osr__http_stats_count(s->http) : 0;
}

int osr_session_api_stats_at(
    const char **service, int *status, unsigned long long *count, const osr_session *s, size_t i)
{
    const char *svc;
    long st;
    unsigned long long n;

    if (s == NULL || osr__http_stats_at(&svc, &st, &n, s->http, i) < 0)
        return OSR_ENOTFOUND;
    if (service)
        *service = svc;
    if (status)
        *status = (int)st;
    if (count)
        *count = n;
    return 0;
}

int osr__session_request_after(osr_session *s,
                               osr__http_request *req,
                               osr__http_response *resp,
                               long delay_ms)
{
    int error;

    if ((error = authenticate(s)) < 0)
        return error;
    req->token = s->token->id;
    error = osr__http_send_after(s->http, req, delay_ms, resp, &s->err);
    if (error != OSR_EAUTH)
        return error;
    /* The token was revoked or the cache lied: one fresh token, one more try. */
    osr__http_log(s->http, OSR_LOG_INFO, "token rejected; authenticating again");
    osr_session_invalidate(s);
    osr__http_response_free(resp);
    osr_error_clear(&s->err);
    if ((error = keystone_issue(s)) < 0)
        return error;
    req->token = s->token->id;
    return osr__http_send(s->http, req, resp, &s->err);
}

int osr__session_request(osr_session *s, osr__http_request *req, osr__http_response *resp)
{
    return osr__session_request_after(s, req, resp, 0);
}

int osr__session_service_url(char **out, osr_session *s, const char *type, const char *version)
{
    const char *url;
    size_t n, vlen = strlen(version);
    int error;

    if ((error = need_project(s, type)) < 0 || (error = authenticate(s)) < 0)
        return error;
    if ((error = osr__catalog_endpoint(&url, s->token, type, s->interface, s->region, &s->err)) < 0)
        return error;
    (void)osr__http_name_service(s->http, url, type); /* statistics only */
    n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    if (n >= vlen && strncmp(url + n - vlen, version, vlen) == 0)
        *out = osr__strndup(url, n);
    else
        *out = osr__sprintf("%.*s%s", (int)n, url, version);
    if (*out == NULL)
        return osr__error_set(&s->err, OSR_ENOMEM, "out of memory");
    return 0;
}

int osr__session_get_json(json_t **out, osr_session *s, const char *url, const char *const *headers)
{
    osr__http_request req = { .method = "GET", .url = url, .idempotent = true, .headers = headers };
    osr__http_response resp;
    json_error_t jerr;
    int error;

    memset(&resp, 0, sizeof(resp));
    error = osr__session_request(s, &req, &resp);
    if (error == 0) {
        *out = json_loadb(resp.body.data, resp.body.len, 0, &jerr);
        if (*out == NULL)
            error = osr__error_set(&s->err, OSR_EPROTO, "GET %s: the answer is not JSON (%s)", url,
                                   jerr.text);
    }
    osr__http_response_free(&resp);
    return error;
}

osr_error *osr__session_err(osr_session *s)
{
    return &s->err;
}

osr__http *osr__session_http(osr_session *s)
{
    return s->http;
}

const char *osr__session_token(osr_session *s)
{
    return s->token ? s->token->id : NULL;
}
