/* GitHub REST client for self-hosted runners: PAT or GitHub App auth, the
 * runner endpoints, Link paging with a page cap, rate-limit waits. */
#include "github_internal.h"

#include "fs.h"
#include "osrunner/runner.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define API_VERSION_HEADER "X-GitHub-Api-Version: 2022-11-28"
#define MEDIA_TYPE         "application/vnd.github+json"
/* Installation tokens live an hour; one this close to expiry is renewed. */
#define TOKEN_MARGIN_S 300
#define MAX_TOKEN_FILE 16384
#define MAX_KEY_FILE   65536
/* GitHub's advice for a secondary rate limit that names no time. */
#define DEFAULT_RATE_WAIT_S 60

struct osr_github {
    osr__http *http;
    osr_error err;
    char *api_url; /* no trailing slash */
    char *web_url;
    char *token; /* personal access token; secret */
    char *app_id;
    char *installation_id;
    EVP_PKEY *app_key;
    char *inst_token; /* installation token; secret */
    int64_t inst_expires;
    unsigned int token_fetches;
    long rl_remaining;
    long long rl_reset;
    int rate_limit_wait_s;
    int max_pages;
    int per_page;
};

typedef struct gh_app {
    char *os, *arch, *url, *filename, *sha256, *version, *download_token;
} gh_app;

struct osr_github_apps {
    gh_app *items;
    size_t count;
};

typedef struct gh_runner {
    long long id, group_id;
    char *name, *os, *status, *version;
    int busy, ephemeral;
    char **labels;
    size_t nlabels;
} gh_runner;

struct osr_github_runners {
    gh_runner *items;
    size_t count, cap;
};

/* ------------------------------------------------------------------ helpers */

static void sleep_s(int64_t s)
{
    struct timespec ts = { (time_t)s, 0 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* Overwrite a string jansson holds before it is freed: it held a secret. */
static void wipe_json_string(json_t *s)
{
    if (json_is_string(s))
        osr__secret_wipe((char *)json_string_value(s), json_string_length(s));
}

static char *dup_field(json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return osr__strdup(v ? v : "");
}

void osr_github_secret_free(char *secret)
{
    osr__secret_free(secret);
}

int osr_github_secret_write(const char *path, const char *secret, osr_error *err)
{
    osr__buf b = OSR__BUF_INIT;
    int error;

    if (path == NULL || secret == NULL)
        return osr__error_set(err, OSR_EINVAL, "osr_github_secret_write: NULL argument");
    if (osr__buf_printf(&b, "%s\n", secret) < 0)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    error = osr__fs_write_atomic(path, b.data, b.len, 0600, err);
    osr__buf_free_secret(&b);
    return error;
}

/* ---------------------------------------------------------------- base64url */

char *osr__github_b64url(const unsigned char *data, size_t len)
{
    size_t n = 4 * ((len + 2) / 3);
    char *out;
    int m;

    if (len > (1u << 20) || (out = malloc(n + 1)) == NULL)
        return NULL;
    m = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    if (m < 0) {
        free(out);
        return NULL;
    }
    out[m] = '\0';
    for (int i = 0; i < m; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
    while (m > 0 && out[m - 1] == '=')
        out[--m] = '\0';
    return out;
}

/* ------------------------------------------------------------------ App JWT */

/* Never prompt on a terminal for a passphrase: an encrypted key is an error. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

int osr__github_load_key(
    EVP_PKEY **out, const char *pem, size_t len, const char *source, osr_error *err)
{
    BIO *bio;
    EVP_PKEY *key;

    if (len > MAX_KEY_FILE)
        return osr__error_set(err, OSR_ECONFIG, "%s: larger than %d bytes", source, MAX_KEY_FILE);
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    ERR_clear_error();
    if (key == NULL) {
        return osr__error_set(err, OSR_ECONFIG, "%s: not a PEM private key (or it is encrypted)",
                              source);
    }
    if (EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
        EVP_PKEY_free(key);
        return osr__error_set(err, OSR_ECONFIG, "%s: a GitHub App key must be RSA", source);
    }
    *out = key;
    return 0;
}

static bool all_digits(const char *s)
{
    if (s == NULL || *s == '\0')
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
    }
    return true;
}

int osr__github_jwt(char **out, EVP_PKEY *key, const char *app_id, int64_t now, osr_error *err)
{
    static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
    json_t *claims = NULL;
    char *payload = NULL, *h64 = NULL, *p64 = NULL, *s64 = NULL, *input = NULL;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    EVP_MD_CTX *ctx = NULL;
    int error = OSR_ENOMEM;

    /* iat a minute back and exp nine minutes ahead: GitHub allows ten, and
     * clocks drift. */
    claims = json_object();
    if (claims == NULL ||
        json_object_set_new(claims, "iat", json_integer((json_int_t)(now - 60))) < 0 ||
        json_object_set_new(claims, "exp", json_integer((json_int_t)(now + 540))) < 0 ||
        json_object_set_new(claims, "iss",
                            all_digits(app_id) && strlen(app_id) < 19
                                ? json_integer((json_int_t)strtoll(app_id, NULL, 10))
                                : json_string(app_id)) < 0)
        goto done;
    payload = json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
    h64 = osr__github_b64url((const unsigned char *)header, sizeof(header) - 1);
    p64 = payload ? osr__github_b64url((const unsigned char *)payload, strlen(payload)) : NULL;
    input = h64 && p64 ? osr__sprintf("%s.%s", h64, p64) : NULL;
    if (input == NULL)
        goto done;
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        goto done;
    if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(ctx, NULL, &siglen, (const unsigned char *)input, strlen(input)) != 1 ||
        (sig = malloc(siglen)) == NULL ||
        EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)input, strlen(input)) != 1) {
        ERR_clear_error();
        error = sig ? osr__error_set(err, OSR_ERROR, "GitHub App: cannot sign the JWT") : error;
        goto done;
    }
    s64 = osr__github_b64url(sig, siglen);
    if (s64 == NULL)
        goto done;
    *out = osr__sprintf("%s.%s", input, s64);
    error = *out ? 0 : OSR_ENOMEM;
done:
    if (error == OSR_ENOMEM)
        osr__error_set(err, OSR_ENOMEM, "out of memory");
    json_decref(claims);
    free(payload);
    free(h64);
    free(p64);
    free(s64);
    free(input);
    free(sig);
    EVP_MD_CTX_free(ctx);
    return error;
}

/* ------------------------------------------------------------- Link header */

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Does the rel value (quoted or token, space-separated relations) hold "next"? */
static bool rel_has_next(const char *v, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t j;
        while (i < n && v[i] == ' ')
            i++;
        j = i;
        while (j < n && v[j] != ' ')
            j++;
        if (j - i == 4 && strncasecmp(v + i, "next", 4) == 0)
            return true;
        i = j;
    }
    return false;
}

int osr__github_link_next(char **out, const char *link)
{
    const char *p = link;

    *out = NULL;
    if (link == NULL)
        return 0;
    for (;;) {
        const char *url, *url_end;
        bool next = false;

        p = skip_ws(p);
        if (*p == '\0')
            return 0;
        if (*p != '<')
            return OSR_EPROTO;
        url = p + 1;
        url_end = strchr(url, '>');
        if (url_end == NULL)
            return OSR_EPROTO;
        p = skip_ws(url_end + 1);
        /* Parameters: ; name=value or ; name="value", until a comma. */
        while (*p == ';') {
            const char *name, *val;
            size_t nlen, vlen;
            p = skip_ws(p + 1);
            name = p;
            while (*p && *p != '=' && *p != ';' && *p != ',' && *p != ' ' && *p != '\t')
                p++;
            nlen = (size_t)(p - name);
            p = skip_ws(p);
            val = p;
            vlen = 0;
            if (*p == '=') {
                p = skip_ws(p + 1);
                if (*p == '"') {
                    val = ++p;
                    while (*p && *p != '"')
                        p++;
                    if (*p != '"')
                        return OSR_EPROTO;
                    vlen = (size_t)(p - val);
                    p++;
                } else {
                    val = p;
                    while (*p && *p != ';' && *p != ',' && *p != ' ' && *p != '\t')
                        p++;
                    vlen = (size_t)(p - val);
                }
                p = skip_ws(p);
            }
            if (nlen == 3 && strncasecmp(name, "rel", 3) == 0 && rel_has_next(val, vlen))
                next = true;
        }
        if (*p != ',' && *p != '\0')
            return OSR_EPROTO;
        if (next) {
            if (url_end == url)
                return OSR_EPROTO;
            *out = osr__strndup(url, (size_t)(url_end - url));
            return *out ? 0 : OSR_ENOMEM;
        }
        if (*p == ',')
            p++;
    }
}

/* Length of "scheme://authority" at the start of url, 0 if it has none. */
static size_t origin_len(const char *url)
{
    const char *p = strstr(url, "://");
    if (p == NULL || p == url)
        return 0;
    p += 3;
    p += strcspn(p, "/?#");
    return (size_t)(p - url);
}

bool osr__github_same_origin(const char *url, const char *base)
{
    size_t a = origin_len(url), b = origin_len(base);
    return a > 0 && a == b && strncasecmp(url, base, a) == 0;
}

/* --------------------------------------------------------------- rate limit */

int64_t osr__github_rate_limit_wait(const osr__http_response *resp, int64_t now)
{
    if (resp->retry_after_s >= 0)
        return resp->retry_after_s;
    if (resp->ratelimit_remaining == 0 && resp->ratelimit_reset > 0) {
        int64_t w = (int64_t)resp->ratelimit_reset - now;
        return w < 1 ? 1 : w;
    }
    return DEFAULT_RATE_WAIT_S;
}

/* ---------------------------------------------------------------- web URL */

int osr_github_web_url(char **out, const char *api_url, osr_error *err)
{
    int error = osr__github_web_url(out, api_url ? api_url : OSR_GITHUB_API_URL);
    if (error == OSR_ENOMEM)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    if (error < 0)
        return osr__error_set(err, OSR_EINVAL, "github url: not an http(s) URL: '%.140s'", api_url);
    return 0;
}

int osr__github_web_url(char **out, const char *api_url)
{
    size_t olen = origin_len(api_url);
    const char *host, *path;
    size_t hlen, plen;

    if (olen == 0)
        return OSR_EINVAL;
    host = strstr(api_url, "://") + 3;
    hlen = (size_t)(api_url + olen - host);
    path = api_url + olen;
    plen = strlen(path);
    while (plen > 0 && path[plen - 1] == '/')
        plen--;
    if (hlen == 14 && strncasecmp(host, "api.github.com", 14) == 0 && plen == 0) {
        *out = osr__strdup("https://github.com");
    } else if (hlen > 12 && strncasecmp(host, "api.", 4) == 0 &&
               strncasecmp(host + hlen - 8, ".ghe.com", 8) == 0 && plen == 0) {
        /* GitHub Enterprise Cloud with data residency: api.SUB.ghe.com */
        *out = osr__sprintf("%.*s%.*s", (int)(host - api_url), api_url, (int)(hlen - 4), host + 4);
    } else {
        /* GitHub Enterprise Server: https://HOST/api/v3 -> https://HOST */
        if (plen >= 7 && strncmp(path + plen - 7, "/api/v3", 7) == 0)
            plen -= 7;
        *out = osr__sprintf("%.*s%.*s", (int)olen, api_url, (int)plen, path);
    }
    return *out ? 0 : OSR_ENOMEM;
}

/* ------------------------------------------------------------------- paths */

static bool owner_ok(const char *s, size_t n)
{
    if (n == 0 || n > 39 || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

static bool repo_ok(const char *s, size_t n)
{
    if (n == 0 || n > 100 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

int osr_github_path_check(int *is_org, const char *path, osr_error *err)
{
    const char *slash;
    bool ok;

    if (path == NULL)
        return osr__error_set(err, OSR_EINVAL, "no GitHub path: give OWNER/REPO or ORG");
    slash = strchr(path, '/');
    if (slash == NULL)
        ok = owner_ok(path, strlen(path));
    else
        ok = owner_ok(path, (size_t)(slash - path)) && repo_ok(slash + 1, strlen(slash + 1));
    if (!ok) {
        return osr__error_set(err, OSR_EINVAL,
                              "GitHub path '%.120s': expected OWNER/REPO or ORG (letters, digits, "
                              "'-', '_'; a repository may also hold '.')",
                              path);
    }
    if (is_org)
        *is_org = slash == NULL;
    return 0;
}

/* {api}/repos/OWNER/REPO/actions/runners{tail} or {api}/orgs/ORG/actions/runners{tail} */
static char *runners_url(osr_github *gh, const char *path, const char *tail)
{
    int is_org = 0;

    if (osr_github_path_check(&is_org, path, &gh->err) < 0)
        return NULL;
    return osr__sprintf("%s/%s/%s/actions/runners%s", gh->api_url, is_org ? "orgs" : "repos", path,
                        tail);
}

int osr_github_runner_url(char **out, osr_github *gh, const char *path)
{
    osr_error *err = &gh->err;
    char *u;

    osr_error_clear(err);
    if (osr_github_path_check(NULL, path, err) < 0)
        return err->code;
    u = osr__sprintf("%s/%s", gh->web_url, path);
    if (u == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    *out = u;
    return 0;
}

/* ------------------------------------------------------------ credentials */

/* A token must be one printable line: it goes into a header. */
static int token_from(char **out, const char *data, size_t len, const char *what, osr_error *err)
{
    size_t a = 0, b = len;

    while (a < b && (data[a] == ' ' || data[a] == '\t' || data[a] == '\r' || data[a] == '\n'))
        a++;
    while (b > a && (data[b - 1] == ' ' || data[b - 1] == '\t' || data[b - 1] == '\r' ||
                     data[b - 1] == '\n'))
        b--;
    if (a == b)
        return osr__error_set(err, OSR_ECONFIG, "%s: empty GitHub token", what);
    for (size_t i = a; i < b; i++) {
        unsigned char c = (unsigned char)data[i];
        if (c <= 0x20 || c >= 0x7f)
            return osr__error_set(err, OSR_ECONFIG, "%s: a GitHub token is one word", what);
    }
    *out = osr__strndup(data + a, b - a);
    return *out ? 0 : osr__error_set(err, OSR_ENOMEM, "out of memory");
}

static int read_token_file(char **out, const char *path, osr_error *err)
{
    char *data = NULL;
    size_t len = 0;
    int error = osr__fs_read(&data, &len, path, MAX_TOKEN_FILE, err);

    if (error < 0) {
        /* A credential file named in the configuration but missing is a configuration error. */
        if (error == OSR_ENOTFOUND && err)
            err->code = OSR_ECONFIG;
        return error == OSR_ENOTFOUND ? OSR_ECONFIG : error;
    }
    error = token_from(out, data, len, path, err);
    osr__secret_wipe(data, len);
    free(data);
    return error;
}

static int read_key_file(EVP_PKEY **out, const char *path, osr_error *err)
{
    char *data = NULL;
    size_t len = 0;
    int error = osr__fs_read(&data, &len, path, MAX_KEY_FILE, err);

    if (error < 0) {
        /* A credential file named in the configuration but missing is a configuration error. */
        if (error == OSR_ENOTFOUND && err)
            err->code = OSR_ECONFIG;
        return error == OSR_ENOTFOUND ? OSR_ECONFIG : error;
    }
    error = osr__github_load_key(out, data, len, path, err);
    osr__secret_wipe(data, len);
    free(data);
    return error;
}

/* ------------------------------------------------------------ the handle */

int osr_github_new(osr_github **out, const osr_github_options *opts, osr_error *err)
{
    osr_github_options defaults = OSR_GITHUB_OPTIONS_INIT;
    osr__http_config hc;
    osr_github *gh = NULL;
    const char *api;
    size_t n;
    int error = 0;
    bool app;

    if (out == NULL)
        return osr__error_set(err, OSR_EINVAL, "osr_github_new: NULL argument");
    if (opts == NULL)
        opts = &defaults;
    if (opts->version != OSR_GITHUB_OPTIONS_VERSION)
        return osr__error_set(err, OSR_EINVAL, "osr_github_new: unknown options version %u",
                              opts->version);
    api = opts->api_url ? opts->api_url : OSR_GITHUB_API_URL;
    n = strncmp(api, "https://", 8) == 0 ? 8 : strncmp(api, "http://", 7) == 0 ? 7 : 0;
    if (n == 0 || origin_len(api) <= n || strpbrk(api, "?# \t\r\n")) {
        return osr__error_set(err, OSR_EINVAL,
                              "GitHub API URL '%.200s': expected http(s)://HOST[/PREFIX]", api);
    }
    app = opts->app_id || opts->installation_id || opts->app_key_file;
    if (app && !(opts->app_id && *opts->app_id && all_digits(opts->installation_id) &&
                 opts->app_key_file)) {
        return osr__error_set(err, OSR_EINVAL,
                              "GitHub App: give the App ID, a numeric installation ID and the "
                              "private key file together");
    }
    if (app && (opts->token_file || opts->token_env))
        return osr__error_set(err, OSR_EINVAL, "GitHub: give a token or an App, not both");
    if (opts->token_file && opts->token_env)
        return osr__error_set(err, OSR_EINVAL, "GitHub: give a token file or a variable, not both");
    if (opts->per_page < 0 || opts->per_page > 100 || opts->max_pages < 0)
        return osr__error_set(err, OSR_EINVAL, "GitHub: per_page is 1..100, max_pages >= 1");
    if (opts->app_id && strlen(opts->app_id) > 100)
        return osr__error_set(err, OSR_EINVAL, "GitHub App: the App ID is too long");

    gh = calloc(1, sizeof(*gh));
    if (gh == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    gh->rl_remaining = -1;
    gh->rl_reset = -1;
    gh->rate_limit_wait_s = opts->rate_limit_wait_s < 0 ? 60 : opts->rate_limit_wait_s;
    gh->max_pages = opts->max_pages ? opts->max_pages : 50;
    gh->per_page = opts->per_page ? opts->per_page : 100;

    memset(&hc, 0, sizeof(hc));
    hc.connect_timeout_ms = opts->connect_timeout_ms;
    hc.timeout_ms = opts->timeout_ms;
    hc.max_retries = opts->max_retries;
    hc.max_response = opts->max_response_bytes;
    hc.verify = true;
    hc.cacert = opts->cacert;
    hc.log_cb = opts->log_cb;
    hc.log_level = opts->log_level;
    hc.log_payload = opts->log_payload;
    if ((error = osr__http_new(&gh->http, &hc, err)) < 0)
        goto done;

    n = strlen(api);
    while (n > 0 && api[n - 1] == '/')
        n--;
    gh->api_url = osr__strndup(api, n);
    if (gh->api_url == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    if (opts->web_url) {
        n = strlen(opts->web_url);
        while (n > 0 && opts->web_url[n - 1] == '/')
            n--;
        gh->web_url = osr__strndup(opts->web_url, n);
    } else if (osr__github_web_url(&gh->web_url, gh->api_url) < 0) {
        gh->web_url = NULL;
    }
    if (gh->web_url == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }

    if (opts->token_file) {
        if ((error = read_token_file(&gh->token, opts->token_file, err)) < 0)
            goto done;
    } else if (opts->token_env) {
        const char *v = getenv(opts->token_env);
        if (v == NULL || *v == '\0') {
            error = osr__error_set(err, OSR_ECONFIG, "GitHub token: the variable %.100s is not set",
                                   opts->token_env);
            goto done;
        }
        if ((error = token_from(&gh->token, v, strlen(v), opts->token_env, err)) < 0)
            goto done;
    } else if (app) {
        gh->app_id = osr__strdup(opts->app_id);
        gh->installation_id = osr__strdup(opts->installation_id);
        if (gh->app_id == NULL || gh->installation_id == NULL) {
            error = osr__error_set(err, OSR_ENOMEM, "out of memory");
            goto done;
        }
        if ((error = read_key_file(&gh->app_key, opts->app_key_file, err)) < 0)
            goto done;
    }
    *out = gh;
    gh = NULL;
done:
    osr_github_free(gh);
    return error;
}

void osr_github_free(osr_github *gh)
{
    if (gh == NULL)
        return;
    osr__http_free(gh->http);
    free(gh->api_url);
    free(gh->web_url);
    osr__secret_free(gh->token);
    free(gh->app_id);
    free(gh->installation_id);
    EVP_PKEY_free(gh->app_key);
    osr__secret_free(gh->inst_token);
    free(gh);
}

const osr_error *osr_github_last_error(const osr_github *gh)
{
    return &gh->err;
}

const char *osr_github_api_url(const osr_github *gh)
{
    return gh->api_url;
}

void osr_github_rate_limit(long *remaining, long long *reset_at, const osr_github *gh)
{
    if (remaining)
        *remaining = gh->rl_remaining;
    if (reset_at)
        *reset_at = gh->rl_reset;
}

unsigned int osr_github_token_fetches(const osr_github *gh)
{
    return gh->token_fetches;
}

/* ------------------------------------------------------------- requests */

static void note_rate_limit(osr_github *gh, const osr__http_response *resp)
{
    if (resp->ratelimit_remaining >= 0)
        gh->rl_remaining = resp->ratelimit_remaining;
    if (resp->ratelimit_reset >= 0)
        gh->rl_reset = resp->ratelimit_reset;
}

/* Append " ..." to the message in err, keeping it one bounded line. */
static void error_append(osr_error *err, const char *fmt, ...) OSR__PRINTF(2, 3);
static void error_append(osr_error *err, const char *fmt, ...)
{
    size_t n = strlen(err->message);
    va_list ap;

    if (n + 1 >= sizeof(err->message))
        return;
    va_start(ap, fmt);
    vsnprintf(err->message + n, sizeof(err->message) - n, fmt, ap);
    va_end(ap);
}

/* Whether a request may be sent again after a 502/503/504 or a broken
 * connection. */
enum resend { ONCE, SAFE };

/* One request with the given bearer credential; waits out rate limits within
 * the budget. resp is reset here; free it after. */
static int send_with(osr_github *gh,
                     const char *method,
                     const char *url,
                     const char *body,
                     enum resend resend,
                     const char *bearer,
                     osr__http_response *resp)
{
    osr_error *err = &gh->err;
    char *auth = osr__sprintf("Authorization: Bearer %s", bearer);
    const char *headers[3] = { API_VERSION_HEADER, auth, NULL };
    osr__http_request req = {
        .method = method,
        .url = url,
        .headers = headers,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        /* GETs and DELETEs may be repeated; a POST only when the caller
         * says it has no side effect (a token request). */
        .idempotent = resend == SAFE,
        .accept = MEDIA_TYPE,
    };
    int64_t waited = 0;
    int error;

    memset(resp, 0, sizeof(*resp));
    if (auth == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    for (;;) {
        int64_t wait;
        memset(resp, 0, sizeof(*resp));
        osr_error_clear(err);
        error = osr__http_send(gh->http, &req, resp, err);
        note_rate_limit(gh, resp);
        if (error != OSR_ERATELIMIT)
            break;
        wait = osr__github_rate_limit_wait(resp, osr__now_s_wall());
        if (waited + wait > gh->rate_limit_wait_s) {
            if (waited) {
                error_append(err,
                             "; still rate-limited after waiting %lld s (resets in %lld s, "
                             "at most %d s of waiting allowed)",
                             (long long)waited, (long long)wait, gh->rate_limit_wait_s);
            } else {
                error_append(err,
                             "; rate limit resets in %lld s, more than the %d s of waiting "
                             "allowed",
                             (long long)wait, gh->rate_limit_wait_s);
            }
            break;
        }
        osr__http_log(gh->http, OSR_LOG_WARN,
                      "GitHub rate limit (HTTP %ld): waiting %lld s before sending %s again",
                      resp->status, (long long)wait, method);
        osr__http_response_free(resp);
        sleep_s(wait);
        waited += wait;
    }
    osr__secret_free(auth);
    return error;
}

static int fetch_installation_token(osr_github *gh)
{
    osr_error *err = &gh->err;
    osr__http_response resp;
    char *jwt = NULL, *url = NULL, *token = NULL;
    long long expires = 0;
    int error;

    if ((error = osr__github_jwt(&jwt, gh->app_key, gh->app_id, osr__now_s_wall(), err)) < 0)
        return error;
    url = osr__sprintf("%s/app/installations/%s/access_tokens", gh->api_url, gh->installation_id);
    if (url == NULL) {
        osr__secret_free(jwt);
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    }
    /* No body: the schema declares none, and an empty JSON object is refused.
     * A new installation token is all it makes: safe to ask again. */
    error = send_with(gh, "POST", url, NULL, SAFE, jwt, &resp);
    if (error == 0)
        error = osr__github_parse_token(&token, &expires, resp.body.data, resp.body.len, err);
    if (error < 0) {
        osr__error_prefix(err, "GitHub App installation %s", gh->installation_id);
    } else {
        osr__secret_free(gh->inst_token);
        gh->inst_token = token;
        gh->inst_expires = expires;
        gh->token_fetches++;
        osr__http_log(gh->http, OSR_LOG_INFO,
                      "GitHub App installation token obtained, valid for %lld s",
                      (long long)(expires - osr__now_s_wall()));
    }
    osr__buf_free_secret(&resp.body);
    osr__http_response_free(&resp);
    osr__secret_free(jwt);
    free(url);
    return error;
}

/* Send with the client's credentials: the token, or an installation token
 * (fetched when missing or about to expire; fetched again once on a 401). */
static int gh_send(osr_github *gh,
                   const char *method,
                   const char *url,
                   const char *body,
                   enum resend resend,
                   osr__http_response *resp)
{
    bool fresh = false;
    int error;

    if (gh->token)
        return send_with(gh, method, url, body, resend, gh->token, resp);
    if (gh->app_key == NULL) {
        memset(resp, 0, sizeof(*resp));
        return osr__error_set(&gh->err, OSR_EAUTH,
                              "no GitHub credentials: give a token (file or variable) or a "
                              "GitHub App");
    }
    if (gh->inst_token == NULL || gh->inst_expires - osr__now_s_wall() < TOKEN_MARGIN_S) {
        if ((error = fetch_installation_token(gh)) < 0) {
            memset(resp, 0, sizeof(*resp));
            return error;
        }
        fresh = true;
    }
    error = send_with(gh, method, url, body, resend, gh->inst_token, resp);
    if (error == OSR_EAUTH && !fresh) {
        /* Revoked early (or the App was reinstalled): one new token. */
        osr__http_log(gh->http, OSR_LOG_INFO, "installation token rejected; fetching a new one");
        osr__http_response_free(resp);
        osr__secret_free(gh->inst_token);
        gh->inst_token = NULL;
        if ((error = fetch_installation_token(gh)) < 0) {
            memset(resp, 0, sizeof(*resp));
            return error;
        }
        error = send_with(gh, method, url, body, resend, gh->inst_token, resp);
    }
    return error;
}

static json_t *load_json(osr_github *gh, const char *method, const char *url, osr__buf *body)
{
    json_t *root = json_loadb(body->data ? body->data : "", body->len, 0, NULL);
    if (root == NULL) {
        char where[320];
        snprintf(where, sizeof(where), "%.*s", (int)strcspn(url, "?#"), url);
        osr__error_set(&gh->err, OSR_EPROTO, "%s %.300s: the answer is not JSON", method, where);
    }
    return root;
}

/* GET every page of a list; on_page takes each page's JSON. */
static int get_pages(osr_github *gh,
                     const char *first_url,
                     int (*on_page)(void *ctx, json_t *root, osr_error *err),
                     void *ctx)
{
    osr_error *err = &gh->err;
    char *url = osr__strdup(first_url);
    int pages = 0, error = 0;

    if (url == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    while (url != NULL) {
        osr__http_response resp;
        json_t *root;
        char *next = NULL;

        if (++pages > gh->max_pages) {
            error = osr__error_set(err, OSR_EPROTO,
                                   "GET %.300s: more than %d pages (Link rel=\"next\" never ends)",
                                   first_url, gh->max_pages);
            break;
        }
        error = gh_send(gh, "GET", url, NULL, SAFE, &resp);
        if (error == 0 && (root = load_json(gh, "GET", url, &resp.body)) != NULL) {
            error = on_page(ctx, root, err);
            json_decref(root);
        } else if (error == 0) {
            error = OSR_EPROTO;
        }
        if (error == 0) {
            error = osr__github_link_next(&next, resp.link);
            if (error == OSR_EPROTO)
                osr__error_set(err, error, "GET %.300s: malformed Link header", first_url);
            else if (error < 0)
                osr__error_set(err, error, "out of memory");
        }
        osr__http_response_free(&resp);
        free(url);
        url = NULL;
        if (error < 0)
            break;
        if (next && !osr__github_same_origin(next, gh->api_url)) {
            /* Never send our token to another host. */
            error = osr__error_set(err, OSR_EPROTO, "GET %.300s: the next page is on another host",
                                   first_url);
            free(next);
            break;
        }
        url = next;
    }
    free(url);
    return error;
}

/* --------------------------------------------------------- runner apps */

static void apps_clear(gh_app *a)
{
    free(a->os);
    free(a->arch);
    free(a->url);
    free(a->filename);
    free(a->sha256);
    free(a->version);
    osr__secret_free(a->download_token);
}

void osr_github_apps_free(osr_github_apps *apps)
{
    if (apps == NULL)
        return;
    for (size_t i = 0; i < apps->count; i++)
        apps_clear(&apps->items[i]);
    free(apps->items);
    free(apps);
}

/* "actions-runner-linux-x64-2.323.0.tar.gz" -> "2.323.0" */
static char *version_of(const char *filename)
{
    const char *dash = strrchr(filename, '-'), *end;
    size_t n;

    if (dash == NULL)
        return osr__strdup("");
    dash++;
    end = dash;
    while ((*end >= '0' && *end <= '9') || *end == '.')
        end++;
    n = (size_t)(end - dash);
    if (strcmp(end, "tar.gz") == 0 || strcmp(end, "zip") == 0)
        n--; /* the dot before the extension */
    else if (*end != '\0')
        n = 0;
    if (n == 0 || dash[0] == '.' || dash[n - 1] == '.')
        return osr__strdup("");
    return osr__strndup(dash, n);
}

int osr__github_parse_apps(osr_github_apps **out, const char *body, size_t len, osr_error *err)
{
    json_t *root = json_loadb(body ? body : "", len, 0, NULL), *o;
    osr_github_apps *apps = NULL;
    size_t i;
    int error = 0;

    if (!json_is_array(root)) {
        json_decref(root);
        return osr__error_set(err, OSR_EPROTO, "runner applications: expected a JSON array");
    }
    apps = calloc(1, sizeof(*apps));
    if (apps == NULL || (json_array_size(root) &&
                         (apps->items = calloc(json_array_size(root), sizeof(gh_app))) == NULL)) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    json_array_foreach(root, i, o)
    {
        gh_app *a = &apps->items[apps->count];
        const char *req[] = { "os", "architecture", "download_url", "filename" };
        for (size_t k = 0; k < 4; k++) {
            if (!json_is_string(json_object_get(o, req[k]))) {
                error =
                    osr__error_set(err, OSR_EPROTO, "runner application %zu: no \"%s\"", i, req[k]);
                goto done;
            }
        }
        apps->count++;
        a->os = dup_field(o, "os");
        a->arch = dup_field(o, "architecture");
        a->url = dup_field(o, "download_url");
        a->filename = dup_field(o, "filename");
        a->sha256 = dup_field(o, "sha256_checksum");
        a->download_token = dup_field(o, "temp_download_token");
        wipe_json_string(json_object_get(o, "temp_download_token"));
        a->version = a->filename ? version_of(a->filename) : NULL;
        if (!a->os || !a->arch || !a->url || !a->filename || !a->sha256 || !a->download_token ||
            !a->version) {
            error = osr__error_set(err, OSR_ENOMEM, "out of memory");
            goto done;
        }
    }
    *out = apps;
    apps = NULL;
done:
    json_decref(root);
    osr_github_apps_free(apps);
    return error;
}

int osr_github_runner_apps(osr_github_apps **out, osr_github *gh, const char *path)
{
    osr__http_response resp;
    char *url;
    int error;

    osr_error_clear(&gh->err);
    if ((url = runners_url(gh, path, "/downloads")) == NULL)
        return gh->err.code ? gh->err.code : osr__error_set(&gh->err, OSR_ENOMEM, "out of memory");
    error = gh_send(gh, "GET", url, NULL, SAFE, &resp);
    if (error == 0)
        error = osr__github_parse_apps(out, resp.body.data, resp.body.len, &gh->err);
    osr__buf_free_secret(&resp.body);
    osr__http_response_free(&resp);
    free(url);
    return error;
}

size_t osr_github_apps_count(const osr_github_apps *apps)
{
    return apps ? apps->count : 0;
}

int osr_github_apps_find(size_t *index,
                         const osr_github_apps *apps,
                         const char *os,
                         const char *arch)
{
    for (size_t i = 0; apps && os && arch && i < apps->count; i++) {
        if (strcmp(apps->items[i].os, os) == 0 && strcmp(apps->items[i].arch, arch) == 0) {
            *index = i;
            return 0;
        }
    }
    return OSR_ENOTFOUND;
}

#define APP_ACCESSOR(fn, member)                                         \
    const char *fn(const osr_github_apps *apps, size_t i)                \
    {                                                                    \
        return (apps && i < apps->count) ? apps->items[i].member : NULL; \
    }
APP_ACCESSOR(osr_github_app_os, os)
APP_ACCESSOR(osr_github_app_architecture, arch)
APP_ACCESSOR(osr_github_app_download_url, url)
APP_ACCESSOR(osr_github_app_filename, filename)
APP_ACCESSOR(osr_github_app_sha256_checksum, sha256)
APP_ACCESSOR(osr_github_app_version, version)
APP_ACCESSOR(osr_github_app_temp_download_token, download_token)

/* ------------------------------------------------------------ tokens */

int osr__github_parse_token(
    char **token, long long *expires_at, const char *body, size_t len, osr_error *err)
{
    json_t *root = json_loadb(body ? body : "", len, 0, NULL);
    json_t *t = json_object_get(root, "token");
    const char *exp = json_string_value(json_object_get(root, "expires_at"));
    int64_t when = 0;
    int error = 0;

    if (!json_is_string(t) || json_string_length(t) == 0) {
        error = osr__error_set(err, OSR_EPROTO, "no \"token\" in the answer");
    } else if (exp == NULL || osr__parse_timestamp(&when, exp) < 0) {
        error = osr__error_set(err, OSR_EPROTO, "token: \"expires_at\" is not a timestamp");
    } else if ((*token = osr__strdup(json_string_value(t))) == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
    } else {
        *expires_at = (long long)when;
    }
    wipe_json_string(t);
    json_decref(root);
    return error;
}

static int runner_token(
    char **token, long long *expires_at, osr_github *gh, const char *path, const char *kind)
{
    osr__http_response resp;
    char *url, *tail = osr__sprintf("/%s", kind);
    long long exp = 0;
    char *t = NULL;
    int error;

    osr_error_clear(&gh->err);
    if (token == NULL || expires_at == NULL) {
        free(tail);
        return osr__error_set(&gh->err, OSR_EINVAL, "%s: NULL argument", kind);
    }
    url = tail ? runners_url(gh, path, tail) : NULL;
    free(tail);
    if (url == NULL)
        return gh->err.code ? gh->err.code : osr__error_set(&gh->err, OSR_ENOMEM, "out of memory");
    /* No body: GitHub's schema declares none, and an empty JSON object is refused.
     * A registration or remove token has no side effect (asking again only
     * gives a new one), so it is retried like a GET on 502/503/504. */
    error = gh_send(gh, "POST", url, NULL, SAFE, &resp);
    if (error == 0) {
        error = osr__github_parse_token(&t, &exp, resp.body.data, resp.body.len, &gh->err);
        if (error < 0)
            osr__error_prefix(&gh->err, "POST %s", url);
    }
    osr__buf_free_secret(&resp.body);
    osr__http_response_free(&resp);
    free(url);
    if (error == 0) {
        *token = t;
        *expires_at = exp;
    }
    return error;
}

int osr_github_registration_token(char **token,
                                  long long *expires_at,
                                  osr_github *gh,
                                  const char *path)
{
    return runner_token(token, expires_at, gh, path, "registration-token");
}

int osr_github_remove_token(char **token, long long *expires_at, osr_github *gh, const char *path)
{
    return runner_token(token, expires_at, gh, path, "remove-token");
}

/* ---------------------------------------------------------- JIT config */

int osr__github_parse_jit(
    char **jitconfig, long long *runner_id, const char *body, size_t len, osr_error *err)
{
    json_t *root = json_loadb(body ? body : "", len, 0, NULL);
    json_t *jit = json_object_get(root, "encoded_jit_config");
    json_t *id = json_object_get(json_object_get(root, "runner"), "id");
    int error = 0;

    if (!json_is_string(jit) || json_string_length(jit) == 0) {
        error = osr__error_set(err, OSR_EPROTO, "no \"encoded_jit_config\" in the answer");
    } else if (!json_is_integer(id)) {
        error = osr__error_set(err, OSR_EPROTO, "no \"runner\".\"id\" in the answer");
    } else if ((*jitconfig = osr__strdup(json_string_value(jit))) == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
    } else if (runner_id) {
        *runner_id = (long long)json_integer_value(id);
    }
    wipe_json_string(jit);
    json_decref(root);
    return error;
}

struct group_find {
    const char *name;
    long long id;
    osr__buf seen;
};

static int group_page(void *ctx, json_t *root, osr_error *err)
{
    struct group_find *g = ctx;
    json_t *groups = json_object_get(root, "runner_groups"), *o;
    size_t i;

    if (!json_is_array(groups))
        return osr__error_set(err, OSR_EPROTO, "runner groups: no \"runner_groups\" list");
    json_array_foreach(groups, i, o)
    {
        const char *n = json_string_value(json_object_get(o, "name"));
        json_t *id = json_object_get(o, "id");
        if (n == NULL || !json_is_number(id))
            continue;
        if (g->id < 0 && strcasecmp(n, g->name) == 0)
            g->id = (long long)json_number_value(id);
        if (g->seen.len < 300)
            osr__buf_printf(&g->seen, "%s%s", g->seen.len ? ", " : "", n);
    }
    return 0;
}

/* The runner group's ID: NULL -> 1 (Default), digits, or a name in the org. */
static int resolve_group(long long *id, osr_github *gh, const char *path, const char *group)
{
    struct group_find g = { group, -1, OSR__BUF_INIT };
    int is_org = 0, error;
    char *url;

    if (osr_github_path_check(&is_org, path, &gh->err) < 0)
        return gh->err.code;
    if (group == NULL || *group == '\0') {
        *id = 1;
        return 0;
    }
    if (all_digits(group) && strlen(group) < 19) {
        *id = strtoll(group, NULL, 10);
        if (!is_org && *id != 1) {
            return osr__error_set(&gh->err, OSR_EINVAL,
                                  "runner group %s: a repository has only the default group (1)",
                                  group);
        }
        return 0;
    }
    if (!is_org) {
        return osr__error_set(&gh->err, OSR_EINVAL,
                              "runner group '%.100s': runner groups belong to organisations",
                              group);
    }
    url = osr__sprintf("%s/orgs/%s/actions/runner-groups?per_page=%d", gh->api_url, path,
                       gh->per_page);
    if (url == NULL)
        return osr__error_set(&gh->err, OSR_ENOMEM, "out of memory");
    error = get_pages(gh, url, group_page, &g);
    free(url);
    if (error == 0 && g.id < 0) {
        error = osr__error_set(&gh->err, OSR_ENOTFOUND,
                               "runner group '%.100s' not found in %s (groups: %s)", group, path,
                               g.seen.data ? g.seen.data : "none");
    }
    if (error == 0)
        *id = g.id;
    osr__buf_free(&g.seen);
    return error;
}

int osr_github_jitconfig(char **jitconfig,
                         long long *runner_id,
                         osr_github *gh,
                         const char *path,
                         const osr_github_jit_options *opts)
{
    static const char *const default_labels[] = { "self-hosted", NULL };
    const char *const *labels;
    osr__http_response resp;
    json_t *body = NULL, *arr = NULL;
    char *url = NULL, *text = NULL, *jit = NULL;
    long long group = 1, id = 0;
    size_t nlabels = 0;
    int error;

    osr_error_clear(&gh->err);
    memset(&resp, 0, sizeof(resp));
    if (jitconfig == NULL || opts == NULL)
        return osr__error_set(&gh->err, OSR_EINVAL, "osr_github_jitconfig: NULL argument");
    if (opts->version != OSR_GITHUB_JIT_OPTIONS_VERSION)
        return osr__error_set(&gh->err, OSR_EINVAL, "JIT options: unknown version %u",
                              opts->version);
    if ((error = osr_runner_name_check(opts->name, &gh->err)) < 0) /* the one name rule */
        return error;
    labels = opts->labels ? opts->labels : default_labels;
    for (; labels[nlabels]; nlabels++) {
        if (*labels[nlabels] == '\0')
            return osr__error_set(&gh->err, OSR_EINVAL, "JIT config: empty label");
    }
    if (nlabels < 1 || nlabels > 100)
        return osr__error_set(&gh->err, OSR_EINVAL, "JIT config: 1 to 100 labels (got %zu)",
                              nlabels);
    if ((error = resolve_group(&group, gh, path, opts->runner_group)) < 0)
        return error;
    osr_error_clear(&gh->err);
    arr = json_array();
    for (size_t i = 0; arr && i < nlabels; i++) {
        if (json_array_append_new(arr, json_string(labels[i])) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    body = arr ? json_pack("{s:s,s:I,s:o,s:s}", "name", opts->name, "runner_group_id",
                           (json_int_t)group, "labels", arr, "work_folder",
                           opts->work_folder ? opts->work_folder : "_work")
               : NULL;
    text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    url = text ? runners_url(gh, path, "/generate-jitconfig") : NULL;
    if (url == NULL) {
        error = gh->err.code ? gh->err.code : osr__error_set(&gh->err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    error = gh_send(gh, "POST", url, text, ONCE, &resp); /* registers a runner */
    if (error == OSR_ECONFLICT)
        osr__error_prefix(&gh->err, "a runner named '%.64s' already exists", opts->name);
    if (error == 0) {
        error = osr__github_parse_jit(&jit, &id, resp.body.data, resp.body.len, &gh->err);
        if (error < 0)
            osr__error_prefix(&gh->err, "POST %s", url);
    }
    if (error == 0) {
        *jitconfig = jit;
        if (runner_id)
            *runner_id = id;
    }
done:
    osr__buf_free_secret(&resp.body);
    osr__http_response_free(&resp);
    json_decref(body);
    free(text);
    free(url);
    return error;
}

/* ------------------------------------------------------------- runners */

osr_github_runners *osr__github_runners_new(void)
{
    return calloc(1, sizeof(osr_github_runners));
}

void osr_github_runners_free(osr_github_runners *list)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < list->count; i++) {
        gh_runner *r = &list->items[i];
        free(r->name);
        free(r->os);
        free(r->status);
        free(r->version);
        for (size_t j = 0; j < r->nlabels; j++)
            free(r->labels[j]);
        free(r->labels);
    }
    free(list->items);
    free(list);
}

static int add_runner(osr_github_runners *list, json_t *o, size_t i, osr_error *err)
{
    json_t *id = json_object_get(o, "id"), *labels = json_object_get(o, "labels"), *l;
    json_t *group = json_object_get(o, "runner_group_id");
    gh_runner *r;
    size_t j;

    if (!json_is_object(o) || !json_is_integer(id) || !json_is_string(json_object_get(o, "name")))
        return osr__error_set(err, OSR_EPROTO, "runner %zu: no \"id\" or \"name\"", i);
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 16;
        gh_runner *items = realloc(list->items, cap * sizeof(*items));
        if (items == NULL)
            return osr__error_set(err, OSR_ENOMEM, "out of memory");
        list->items = items;
        list->cap = cap;
    }
    r = &list->items[list->count++];
    memset(r, 0, sizeof(*r));
    r->id = (long long)json_integer_value(id);
    r->group_id = json_is_integer(group) ? (long long)json_integer_value(group) : -1;
    r->name = dup_field(o, "name");
    r->os = dup_field(o, "os");
    r->status = dup_field(o, "status");
    r->version = dup_field(o, "version");
    r->busy = json_is_true(json_object_get(o, "busy"));
    r->ephemeral = json_is_true(json_object_get(o, "ephemeral"));
    if (!r->name || !r->os || !r->status || !r->version)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    if (json_array_size(labels) > 0) {
        r->labels = calloc(json_array_size(labels), sizeof(char *));
        if (r->labels == NULL)
            return osr__error_set(err, OSR_ENOMEM, "out of memory");
    }
    json_array_foreach(labels, j, l)
    {
        const char *n = json_string_value(json_object_get(l, "name"));
        if (n == NULL)
            continue;
        if ((r->labels[r->nlabels] = osr__strdup(n)) == NULL)
            return osr__error_set(err, OSR_ENOMEM, "out of memory");
        r->nlabels++;
    }
    return 0;
}

int osr__github_parse_runners(
    osr_github_runners *list, const char *body, size_t len, bool single, osr_error *err)
{
    json_t *root = json_loadb(body ? body : "", len, 0, NULL), *runners, *o;
    size_t i;
    int error = 0;

    if (single) {
        error = json_is_object(root) ? add_runner(list, root, 0, err)
                                     : osr__error_set(err, OSR_EPROTO, "runner: not an object");
    } else if (!json_is_array(runners = json_object_get(root, "runners"))) {
        error = osr__error_set(err, OSR_EPROTO, "runners: no \"runners\" list in the answer");
    } else {
        json_array_foreach(runners, i, o)
        {
            if ((error = add_runner(list, o, i, err)) < 0)
                break;
        }
    }
    json_decref(root);
    return error;
}

static int runner_page(void *ctx, json_t *root, osr_error *err)
{
    osr_github_runners *list = ctx;
    json_t *runners = json_object_get(root, "runners"), *o;
    size_t i;
    int error;

    if (!json_is_array(runners))
        return osr__error_set(err, OSR_EPROTO, "runners: no \"runners\" list in the answer");
    json_array_foreach(runners, i, o)
    {
        if ((error = add_runner(list, o, list->count, err)) < 0)
            return error;
    }
    return 0;
}

static int by_id(const void *a, const void *b)
{
    const gh_runner *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

/* Percent-encode a query value (RFC 3986 unreserved characters stay). */
static int query_escape(osr__buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int e;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~')
            e = osr__buf_append(b, s, 1);
        else
            e = osr__buf_printf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
        if (e < 0)
            return e;
    }
    return 0;
}

int osr_github_runners_list(osr_github_runners **out,
                            osr_github *gh,
                            const char *path,
                            const char *name)
{
    osr_github_runners *list = NULL;
    osr__buf tail = OSR__BUF_INIT;
    char *url = NULL;
    int error;

    osr_error_clear(&gh->err);
    if (out == NULL)
        return osr__error_set(&gh->err, OSR_EINVAL, "osr_github_runners_list: NULL argument");
    list = osr__github_runners_new();
    if (list == NULL || osr__buf_printf(&tail, "?per_page=%d", gh->per_page) < 0 ||
        (name && (osr__buf_puts(&tail, "&name=") < 0 || query_escape(&tail, name) < 0))) {
        error = osr__error_set(&gh->err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    if ((url = runners_url(gh, path, tail.data)) == NULL) {
        error = gh->err.code ? gh->err.code : osr__error_set(&gh->err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    if ((error = get_pages(gh, url, runner_page, list)) < 0)
        goto done;
    if (list->count > 1)
        qsort(list->items, list->count, sizeof(*list->items), by_id);
    *out = list;
    list = NULL;
done:
    osr__buf_free(&tail);
    free(url);
    osr_github_runners_free(list);
    return error;
}

int osr_github_runner_get(osr_github_runners **out, osr_github *gh, const char *path, long long id)
{
    osr_github_runners *list = NULL;
    osr__http_response resp;
    char tail[32];
    char *url;
    int error;

    osr_error_clear(&gh->err);
    if (out == NULL || id <= 0)
        return osr__error_set(&gh->err, OSR_EINVAL, "osr_github_runner_get: bad argument");
    snprintf(tail, sizeof(tail), "/%lld", id);
    if ((url = runners_url(gh, path, tail)) == NULL)
        return gh->err.code ? gh->err.code : osr__error_set(&gh->err, OSR_ENOMEM, "out of memory");
    error = gh_send(gh, "GET", url, NULL, SAFE, &resp);
    if (error == 0) {
        list = osr__github_runners_new();
        error = list
                    ? osr__github_parse_runners(list, resp.body.data, resp.body.len, true, &gh->err)
                    : osr__error_set(&gh->err, OSR_ENOMEM, "out of memory");
    }
    if (error == 0) {
        *out = list;
        list = NULL;
    }
    osr_github_runners_free(list);
    osr__http_response_free(&resp);
    free(url);
    return error;
}

int osr_github_runner_delete(osr_github *gh, const char *path, long long id)
{
    osr__http_response resp;
    char tail[32];
    char *url;
    int error;

    osr_error_clear(&gh->err);
    if (id <= 0)
        return osr__error_set(&gh->err, OSR_EINVAL, "runner ID %lld: must be positive", id);
    snprintf(tail, sizeof(tail), "/%lld", id);
    if ((url = runners_url(gh, path, tail)) == NULL)
        return gh->err.code ? gh->err.code : osr__error_set(&gh->err, OSR_ENOMEM, "out of memory");
    error = gh_send(gh, "DELETE", url, NULL, SAFE, &resp);
    if (error < 0 && gh->err.http_status == 422)
        osr__error_prefix(&gh->err, "runner %lld is busy", id);
    else if (error == OSR_ENOTFOUND)
        osr__error_prefix(&gh->err, "no runner %lld in %s", id, path);
    osr__http_response_free(&resp);
    free(url);
    return error;
}

size_t osr_github_runners_count(const osr_github_runners *list)
{
    return list ? list->count : 0;
}

#define RUNNER_ACCESSOR(type, fn, expr, none)                          \
    type fn(const osr_github_runners *list, size_t i)                  \
    {                                                                  \
        return (list && i < list->count) ? list->items[i].expr : none; \
    }
RUNNER_ACCESSOR(long long, osr_github_runner_id, id, -1)
RUNNER_ACCESSOR(const char *, osr_github_runner_name, name, NULL)
RUNNER_ACCESSOR(const char *, osr_github_runner_os, os, NULL)
RUNNER_ACCESSOR(const char *, osr_github_runner_status, status, NULL)
RUNNER_ACCESSOR(int, osr_github_runner_busy, busy, 0)
RUNNER_ACCESSOR(int, osr_github_runner_ephemeral, ephemeral, 0)
RUNNER_ACCESSOR(long long, osr_github_runner_group_id, group_id, -1)
RUNNER_ACCESSOR(const char *, osr_github_runner_version, version, NULL)
RUNNER_ACCESSOR(size_t, osr_github_runner_label_count, nlabels, 0)

const char *osr_github_runner_label(const osr_github_runners *list, size_t i, size_t label)
{
    if (list == NULL || i >= list->count || label >= list->items[i].nlabels)
        return NULL;
    return list->items[i].labels[label];
}
