/* GitHub REST client for self-hosted runners: the handle, its options, the
 * web URL and runner paths. Auth is in github_auth.c, requests, paging and
 * rate limits in github_request.c, the runner resources in
 * github_resources.c. */
#include "github_internal.h"

#include "fs.h"
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void osr_github_secret_free(char *secret)
{
    osr_secret_free(secret);
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
    size_t olen = osr__github_origin_len(api_url);
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
char *osr__github_runners_url(osr_github *gh, const char *path, const char *tail)
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
    /* Version 1 has no session field: it is never read from such a struct. */
    if (osr__version_check(err, "osr_github_new", "osr_github_options", opts->version, 1,
                           OSR_GITHUB_OPTIONS_VERSION) < 0)
        return OSR_EINVAL;
    api = opts->api_url ? opts->api_url : OSR_GITHUB_API_URL;
    n = strncmp(api, "https://", 8) == 0 ? 8 : strncmp(api, "http://", 7) == 0 ? 7 : 0;
    if (n == 0 || osr__github_origin_len(api) <= n || strpbrk(api, "?# \t\r\n")) {
        return osr__error_set(err, OSR_EINVAL,
                              "GitHub API URL '%.200s': expected http(s)://HOST[/PREFIX]", api);
    }
    app = opts->app_id || opts->installation_id || opts->app_key_file;
    if (app && !(opts->app_id && *opts->app_id && osr__github_all_digits(opts->installation_id) &&
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
    gh->rl_limit = -1;
    gh->rate_limit_wait_s = opts->rate_limit_wait_s < 0 ? 60 : opts->rate_limit_wait_s;
    gh->max_pages = opts->max_pages ? opts->max_pages : 50;
    gh->per_page = opts->per_page ? opts->per_page : 100;

    gh->timeout_ms = opts->timeout_ms;
    gh->log_cb = opts->log_cb;
    gh->log_level = opts->log_level;
    gh->log_payload = opts->log_payload;
    gh->cacert = osr__strdup(opts->cacert);
    gh->tls.verify = true;
    gh->tls.cacert = gh->cacert;
    if (opts->cacert && gh->cacert == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    if (opts->version >= 2 && opts->session != NULL) {
        /* One engine for GitHub and the cloud: its loop drives both. */
        gh->http = osr__session_http(opts->session);
    } else {
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
        if ((error = osr__http_new(&gh->own_http, &hc, err)) < 0)
            goto done;
        gh->http = gh->own_http;
    }

    n = strlen(api);
    while (n > 0 && api[n - 1] == '/')
        n--;
    gh->api_url = osr__strndup(api, n);
    if (gh->api_url == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    (void)osr__http_name_service(gh->http, gh->api_url, "github"); /* statistics only */
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
        if ((error = osr__github_read_token_file(&gh->token, opts->token_file, err)) < 0)
            goto done;
    } else if (opts->token_env) {
        const char *v = getenv(opts->token_env);
        if (v == NULL || *v == '\0') {
            error = osr__error_set(err, OSR_ECONFIG, "GitHub token: the variable %.100s is not set",
                                   opts->token_env);
            goto done;
        }
        if ((error = osr__github_token_from(&gh->token, v, strlen(v), opts->token_env, err)) < 0)
            goto done;
    } else if (app) {
        gh->app_id = osr__strdup(opts->app_id);
        gh->installation_id = osr__strdup(opts->installation_id);
        if (gh->app_id == NULL || gh->installation_id == NULL) {
            error = osr__error_set(err, OSR_ENOMEM, "out of memory");
            goto done;
        }
        if ((error = osr__github_read_key_file(&gh->app_key, opts->app_key_file, err)) < 0)
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
    osr__http_free(gh->own_http);
    free(gh->cacert);
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

const char *osr_github_web_base(const osr_github *gh)
{
    return gh->web_url;
}

void osr_github_rate_limit(long *remaining, long long *reset_at, const osr_github *gh)
{
    if (remaining)
        *remaining = gh->rl_remaining;
    if (reset_at)
        *reset_at = gh->rl_reset;
}

long osr_github_rate_limit_limit(const osr_github *gh)
{
    return gh ? gh->rl_limit : -1;
}

unsigned int osr_github_token_fetches(const osr_github *gh)
{
    return gh->token_fetches;
}
