/* The GitHub runner application: one entry of the runner downloads list, the
 * architecture mapping, and a verified download (libcurl through the http
 * engine, SHA-256 by OpenSSL EVP while the body streams). */
#include "osrunner/image.h"

#include "fs.h"
#include "http.h"
#include "runner_download.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

int osr_runner_arch_map(const char **debian,
                        const char **glance,
                        const char *runner_arch,
                        osr_error *err)
{
    static const struct {
        const char *runner, *debian, *glance;
    } map[] = { { "x64", "amd64", "x86_64" }, { "arm64", "arm64", "aarch64" } };

    for (size_t i = 0; runner_arch && i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(runner_arch, map[i].runner) == 0) {
            if (debian)
                *debian = map[i].debian;
            if (glance)
                *glance = map[i].glance;
            return 0;
        }
    }
    return osr__error_set(err, OSR_EINVAL,
                          "runner architecture '%.40s' is not supported (x64 or arm64)",
                          runner_arch ? runner_arch : "(none)");
}

static bool is_sha256_hex(const char *s)
{
    size_t n = 0;
    for (; s && s[n]; n++) {
        char c = s[n];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return n == 64;
}

static char *lower_dup(const char *s)
{
    char *d = osr__strdup(s);
    for (char *p = d; p && *p; p++) {
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p - 'A' + 'a');
    }
    return d;
}

/* file:///PATH or file://localhost/PATH (RFC 8089) as a local path, with
 * %XX decoded: a new string in *out, or OSR_EINVAL naming what is wrong. */
static int file_url_path(char **out, const char *url, osr_error *err)
{
    const char *p = url + 7;
    char *path, *o;

    if (strncmp(p, "localhost/", 10) == 0)
        p += 9;
    if (*p != '/')
        return osr__error_set(err, OSR_EINVAL,
                              "%.200s: a file URL names a local path: file:///PATH", url);
    if ((path = o = malloc(strlen(p) + 1)) == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    for (; *p; p++) {
        int hi, lo;
        if (*p != '%') {
            *o++ = *p;
            continue;
        }
        hi = p[1] ? osr__hex_digit(p[1]) : -1;
        lo = hi >= 0 && p[2] ? osr__hex_digit(p[2]) : -1;
        if (lo < 0 || (hi == 0 && lo == 0)) {
            free(path);
            return osr__error_set(err, OSR_EINVAL, "%.200s: a bad %%-escape", url);
        }
        *o++ = (char)(hi * 16 + lo);
        p += 2;
    }
    *o = '\0';
    *out = path;
    return 0;
}

static bool is_file_url(const char *url)
{
    return url && strncmp(url, "file://", 7) == 0;
}

static int check_url(const char *url, osr_error *err)
{
    if (url == NULL || *url == '\0')
        return osr__error_set(err, OSR_EINVAL, "runner application: download_url is empty");
    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0 && !is_file_url(url) &&
        strstr(url, "://"))
        return osr__error_set(err, OSR_EINVAL,
                              "runner application: download_url must be http(s), file:// or a "
                              "local path");
    for (const char *p = url; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return osr__error_set(err, OSR_EINVAL,
                                  "runner application: download_url contains a space or a "
                                  "control character");
    }
    return 0;
}

static int app_finish(osr_runner_app *app, osr_error *err)
{
    char *os = NULL, *arch = NULL, *version = NULL;
    const char *slash;

    for (char *p = app->sha256; p && *p; p++) {
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p - 'A' + 'a');
    }

    if (app->filename == NULL) {
        slash = strrchr(app->url, '/');
        app->filename = osr__strdup(slash ? slash + 1 : app->url);
        if (app->filename == NULL)
            return osr__error_set(err, OSR_ENOMEM, "out of memory");
    }
    if (strchr(app->filename, '/') || strcmp(app->filename, "..") == 0 || !*app->filename)
        return osr__error_set(err, OSR_EINVAL,
                              "runner application: filename '%.100s' is not "
                              "a plain file name",
                              app->filename);
    osr__runner_filename_parse(app->filename, &os, &arch, &version);
    if (app->os == NULL) {
        app->os = os ? os : osr__strdup("linux");
        os = NULL;
    }
    if (app->arch == NULL && arch) {
        app->arch = arch;
        arch = NULL;
    }
    free(version);
    free(app->version); /* the one rule, also for URLs given by hand */
    app->version = osr__runner_version_of(app->filename);
    free(os);
    free(arch);
    if (app->os == NULL || app->version == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    return app->arch ? osr_runner_arch_map(NULL, NULL, app->arch, err) : 0;
}

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int app_from_entry(osr_runner_app **out, json_t *e, osr_error *err)
{
    static const char *const required[] = { "os",       "architecture",    "download_url",
                                            "filename", "sha256_checksum", NULL };
    osr_runner_app *app;
    int error;

    for (const char *const *k = required; *k; k++) {
        if (!json_is_string(json_object_get(e, *k)))
            return osr__error_set(
                err, OSR_EINVAL, "runner application: field \"%s\" is missing or not a string", *k);
    }
    if (!is_sha256_hex(jstr(e, "sha256_checksum")))
        return osr__error_set(err, OSR_EINVAL,
                              "runner application: sha256_checksum is not 64 hex digits");
    if ((error = check_url(jstr(e, "download_url"), err)) < 0)
        return error;
    if (json_object_get(e, "temp_download_token") &&
        !json_is_string(json_object_get(e, "temp_download_token")))
        return osr__error_set(err, OSR_EINVAL,
                              "runner application: temp_download_token is not a string");
    if ((error = osr__runner_app_from_json(&app, e, NULL)) < 0)
        return osr__error_set(
            err, error, error == OSR_ENOMEM ? "out of memory" : "runner application: bad entry");
    if ((error = app_finish(app, err)) < 0) {
        osr_runner_app_free(app);
        return error;
    }
    *out = app;
    return 0;
}

/* An entry taken from a parsed downloads list: the checks of
 * osr_runner_app_parse on the one type. */
static int app_check(osr_runner_app *app, osr_error *err)
{
    int error;
    if (!is_sha256_hex(app->sha256))
        return osr__error_set(err, OSR_EINVAL,
                              "runner application: sha256_checksum is not 64 hex digits");
    if ((error = check_url(app->url, err)) < 0)
        return error;
    return app_finish(app, err);
}

int osr_runner_app_from_github(osr_runner_app **out,
                               osr_github *gh,
                               const char *path,
                               const char *os,
                               const char *arch,
                               const char *version,
                               osr_error *err)
{
    osr_runner_app_list *apps = NULL;
    osr_runner_app *app = NULL;
    size_t i = 0;
    int error;

    if (out == NULL || gh == NULL || path == NULL)
        return osr__error_set(err, OSR_EINVAL, "runner application: no GitHub client or path");
    os = os ? os : "linux";
    arch = arch ? arch : "x64";
    if ((error = osr_github_runner_apps(&apps, gh, path)) < 0)
        return osr__error_set(err, error, "%s", osr_github_last_error(gh)->message);
    if (osr_runner_app_list_find(&i, apps, os, arch) < 0) {
        error = osr__error_set(err, OSR_ENOTFOUND,
                               "GitHub's runner downloads: no entry for os %.40s, "
                               "architecture %.40s",
                               os, arch);
    } else if (version && strcmp(version, "latest") != 0 &&
               strcmp(version, osr_runner_app_version(osr_runner_app_list_at(apps, i))) != 0) {
        error = osr__error_set(err, OSR_ENOTFOUND, "GitHub offers runner %.40s, not %.40s",
                               osr_runner_app_version(osr_runner_app_list_at(apps, i)), version);
    } else if ((app = osr__runner_app_dup(osr_runner_app_list_at(apps, i))) == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
    } else if ((error = app_check(app, err)) < 0) {
        osr__error_prefix(err, "GitHub's runner downloads: ");
    }
    osr_runner_app_list_free(apps);
    if (error < 0) {
        osr_runner_app_free(app);
        return error;
    }
    *out = app;
    return 0;
}

int osr_runner_app_parse(osr_runner_app **out,
                         const char *json,
                         size_t len,
                         const char *os,
                         const char *arch,
                         osr_error *err)
{
    json_error_t jerr;
    json_t *root;
    int error;

    if (json == NULL)
        return osr__error_set(err, OSR_EINVAL, "runner application: no JSON");
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return osr__error_set(err, OSR_EINVAL, "runner application: line %d: %s", jerr.line,
                              jerr.text);
    if (!os)
        os = "linux";
    if (!arch)
        arch = "x64";
    if (json_is_object(root)) {
        error = app_from_entry(out, root, err);
    } else if (json_is_array(root)) {
        size_t i;
        json_t *e, *hit = NULL;
        json_array_foreach(root, i, e)
        {
            if (json_is_object(e) && jstr(e, "os") && jstr(e, "architecture") &&
                strcmp(jstr(e, "os"), os) == 0 && strcmp(jstr(e, "architecture"), arch) == 0) {
                hit = e;
                break;
            }
        }
        if (hit)
            error = app_from_entry(out, hit, err);
        else
            error = osr__error_set(err, OSR_ENOTFOUND,
                                   "runner application: no entry for os %.40s, architecture "
                                   "%.40s in the list",
                                   os, arch);
    } else {
        error = osr__error_set(err, OSR_EINVAL,
                               "runner application: expected an object or a list of them");
    }
    osr__json_wipe(root); /* temp_download_token */
    json_decref(root);
    return error;
}

int osr_runner_app_new(
    osr_runner_app **out, const char *url, const char *sha256, const char *arch, osr_error *err)
{
    osr_runner_app *app;
    int error;

    if ((error = check_url(url, err)) < 0)
        return error;
    if (!is_sha256_hex(sha256))
        return osr__error_set(err, OSR_EINVAL, "the runner's SHA-256 is not 64 hex digits");
    if ((app = calloc(1, sizeof(*app))) == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    if (is_file_url(url)) {
        if ((error = file_url_path(&app->url, url, err)) < 0) {
            free(app);
            return error;
        }
    } else {
        app->url = osr__strdup(url);
    }
    app->sha256 = lower_dup(sha256);
    if (app->url == NULL || app->sha256 == NULL) {
        osr_runner_app_free(app);
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    }
    if ((error = app_finish(app, err)) == 0 && app->arch == NULL &&
        (app->arch = osr__strdup(arch ? arch : "x64")) == NULL)
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
    if (error == 0)
        error = osr_runner_arch_map(NULL, NULL, app->arch, err);
    if (error < 0) {
        osr_runner_app_free(app);
        return error;
    }
    *out = app;
    return 0;
}

/* --- verified download ------------------------------------------------------ */

struct sink {
    int fd;
    EVP_MD_CTX *md;
    long long written;
    const volatile int *cancel;
    bool cancelled;
    int write_errno;
};

static int sink_write(const char *data, size_t len, void *payload)
{
    struct sink *s = payload;

    if (s->cancel && *s->cancel) {
        s->cancelled = true;
        return -1;
    }
    if (EVP_DigestUpdate(s->md, data, len) != 1)
        return -1;
    while (len > 0) {
        ssize_t n = write(s->fd, data, len);
        if (n < 0) {
            if (errno == EINTR && !(s->cancel && *s->cancel))
                continue;
            s->write_errno = errno;
            return -1;
        }
        data += n;
        len -= (size_t)n;
        s->written += n;
    }
    return 0;
}

static int digest_hex(char out[65], EVP_MD_CTX *md)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (EVP_DigestFinal_ex(md, d, &n) != 1 || n != 32)
        return -1;
    for (unsigned int i = 0; i < n; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[64] = '\0';
    return 0;
}

/* Hash a local file. */
static int
hash_local(const char *path, const char *want, const osr_fetch_options *o, osr_error *err)
{
    char buf[1 << 16], got[65];
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int fd = open(path, O_RDONLY | O_CLOEXEC), error = 0;
    struct stat st;
    long long done = 0;

    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        error = osr__error_set(err, OSR_ERROR, "cannot set up SHA-256 (OpenSSL)");
        goto done;
    }
    if (fd < 0 || fstat(fd, &st) != 0) {
        error = osr__error_set(err, errno == ENOENT ? OSR_ENOTFOUND : OSR_EIO, "%s: %s", path,
                               strerror(errno));
        goto done;
    }
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR && !(o->cancel && *o->cancel))
            continue;
        if (o->cancel && *o->cancel) {
            error = osr__error_set(err, OSR_EINTERRUPTED, "%s: interrupted", path);
            goto done;
        }
        if (n < 0) {
            error = osr__error_set(err, OSR_EIO, "%s: %s", path, strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        EVP_DigestUpdate(md, buf, (size_t)n);
        done += n;
        if (o->progress_cb)
            o->progress_cb(done, (long long)st.st_size, o->progress_payload);
    }
    if (digest_hex(got, md) < 0) {
        error = osr__error_set(err, OSR_ERROR, "SHA-256 failed (OpenSSL)");
        goto done;
    }
    if (strcasecmp(got, want) != 0)
        error = osr__error_set(err, OSR_EINTEGRITY, "%s: SHA-256 mismatch: expected %s, got %s",
                               path, want, got);
done:
    if (fd >= 0)
        close(fd);
    EVP_MD_CTX_free(md);
    return error;
}

/* A URL for messages: without its query, which may carry a signature. */
static void url_for_message(char *dst, size_t n, const char *url)
{
    size_t len = strcspn(url, "?#");
    snprintf(dst, n, "%.*s", (int)(len > 200 ? 200 : len), url);
}

/* Location resolved against the current URL; http(s) only. */
static char *resolve_redirect(const char *base, const char *location)
{
    CURLU *u = curl_url();
    char *full = NULL, *out = NULL;

    if (u && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_URL, location, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &full, 0) == CURLUE_OK &&
        (strncmp(full, "https://", 8) == 0 || strncmp(full, "http://", 7) == 0))
        out = osr__strdup(full);
    curl_free(full);
    curl_url_cleanup(u);
    return out;
}

/* Same scheme, host and port. */
static bool same_origin(const char *a, const char *b)
{
    CURLU *ua = curl_url(), *ub = curl_url();
    bool same = false;

    if (ua && ub && curl_url_set(ua, CURLUPART_URL, a, 0) == CURLUE_OK &&
        curl_url_set(ub, CURLUPART_URL, b, 0) == CURLUE_OK) {
        static const CURLUPart parts[] = { CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT };
        same = true;
        for (size_t i = 0; i < 3 && same; i++) {
            char *x = NULL, *y = NULL;
            curl_url_get(ua, parts[i], &x, CURLU_DEFAULT_PORT);
            curl_url_get(ub, parts[i], &y, CURLU_DEFAULT_PORT);
            same = x && y && strcasecmp(x, y) == 0;
            curl_free(x);
            curl_free(y);
        }
    }
    curl_url_cleanup(ua);
    curl_url_cleanup(ub);
    return same;
}

int osr_fetch_verified(const char *dest,
                       const char *url,
                       const char *sha256,
                       const char *bearer_token,
                       const osr_fetch_options *opts,
                       osr_error *err)
{
    osr_fetch_options defaults = OSR_FETCH_OPTIONS_INIT;
    osr__http_config hc;
    osr__http *h = NULL;
    osr__http_response resp;
    struct sink sk;
    char *tmp = NULL, *auth = NULL, *cur = NULL, got[65], shown[256];
    const char *hdrs[2] = { NULL, NULL };
    int error = 0;

    memset(&resp, 0, sizeof(resp));
    memset(&sk, 0, sizeof(sk));
    sk.fd = -1;
    if (opts == NULL)
        opts = &defaults;
    if (osr__version_check(err, "osr_fetch_verified", "osr_fetch_options", opts->version, 1,
                           OSR_FETCH_OPTIONS_VERSION) < 0)
        return OSR_EINVAL;
    if (!is_sha256_hex(sha256))
        return osr__error_set(err, OSR_EINVAL, "the SHA-256 of %s is not 64 hex digits",
                              url ? url : "(none)");
    if (url == NULL || *url == '\0')
        return osr__error_set(err, OSR_EINVAL, "no URL to download");
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        if (is_file_url(url)) {
            char *path = NULL;
            if ((error = file_url_path(&path, url, err)) == 0)
                error = hash_local(path, sha256, opts, err);
            free(path);
            return error;
        }
        if (strstr(url, "://"))
            return osr__error_set(err, OSR_EINVAL,
                                  "%.200s: only http, https, file:// or a local path", url);
        return hash_local(url, sha256, opts, err);
    }
    if (dest == NULL)
        return osr__error_set(err, OSR_EINVAL, "no destination for %.200s", url);
    if ((tmp = osr__sprintf("%s.part-XXXXXX", dest)) == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    if ((sk.fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
        error = osr__error_set(err, OSR_EIO, "%s: %s", tmp, strerror(errno));
        free(tmp);
        return error;
    }
    sk.md = EVP_MD_CTX_new();
    sk.cancel = opts->cancel;
    if (sk.md == NULL || EVP_DigestInit_ex(sk.md, EVP_sha256(), NULL) != 1) {
        error = osr__error_set(err, OSR_ERROR, "cannot set up SHA-256 (OpenSSL)");
        goto done;
    }
    memset(&hc, 0, sizeof(hc));
    hc.verify = true;
    hc.max_retries = 0;
    hc.timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 30L * 60 * 1000;
    if ((error = osr__http_new(&h, &hc, err)) < 0)
        goto done;
    if (bearer_token && *bearer_token) {
        if ((auth = osr__sprintf("Authorization: Bearer %s", bearer_token)) == NULL) {
            error = osr__error_set(err, OSR_ENOMEM, "out of memory");
            goto done;
        }
        hdrs[0] = auth;
    }
    url_for_message(shown, sizeof(shown), url);
    if ((cur = osr__strdup(url)) == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    /* GitHub's release URLs redirect to a CDN: follow a few redirects, and
     * send the token only to the host it was issued for. */
    for (int hops = 0;; hops++) {
        osr__http_request req = {
            .method = "GET",
            .url = cur,
            .headers = hdrs,
            .accept = "*/*",
            .write_cb = sink_write,
            .write_payload = &sk,
            .progress_cb = opts->progress_cb,
            .progress_payload = opts->progress_payload,
            .timeout_ms = hc.timeout_ms,
        };
        if (opts->version >= 2) {
            /* The proxy of this hop's scheme: a redirect may change it. */
            req.proxy = strncmp(cur, "https://", 8) == 0 ? opts->https_proxy : opts->http_proxy;
            req.no_proxy = opts->no_proxy;
        }
        char *next = NULL;
        error = osr__http_send(h, &req, &resp, err);
        if (error < 0 || resp.status < 300 || resp.status >= 400)
            break;
        if (hops >= 5 || resp.location == NULL ||
            (next = resolve_redirect(cur, resp.location)) == NULL) {
            error = osr__error_set(err, OSR_EPROTO, "GET %s: HTTP %ld, %s", shown, resp.status,
                                   hops >= 5 ? "too many redirects"
                                             : "a redirect osrunner cannot follow");
            break;
        }
        if (!same_origin(url, next))
            hdrs[0] = NULL;
        free(cur);
        cur = next;
        osr__http_response_free(&resp);
    }
    if (sk.cancelled || (opts->cancel && *opts->cancel)) {
        error = osr__error_set(err, OSR_EINTERRUPTED, "download of %s interrupted", shown);
        goto done;
    }
    if (sk.write_errno) {
        error = osr__error_set(err, OSR_EIO, "%s: %s", tmp, strerror(sk.write_errno));
        goto done;
    }
    if (error < 0)
        goto done;
    if (resp.status != 200) {
        error =
            osr__error_set(err, OSR_EPROTO, "GET %s: HTTP %ld, expected 200", shown, resp.status);
        goto done;
    }
    if (digest_hex(got, sk.md) < 0) {
        error = osr__error_set(err, OSR_ERROR, "SHA-256 failed (OpenSSL)");
        goto done;
    }
    if (strcasecmp(got, sha256) != 0) {
        error = osr__error_set(err, OSR_EINTEGRITY,
                               "%s: SHA-256 mismatch: expected %s, got %s (%lld bytes)", shown,
                               sha256, got, sk.written);
        goto done;
    }
    if (fsync(sk.fd) != 0 || close(sk.fd) != 0) {
        sk.fd = -1;
        error = osr__error_set(err, OSR_EIO, "%s: %s", tmp, strerror(errno));
        goto done;
    }
    sk.fd = -1;
    if (rename(tmp, dest) != 0) {
        error = osr__error_set(err, OSR_EIO, "%s: %s", dest, strerror(errno));
        goto done;
    }
done:
    if (sk.fd >= 0)
        close(sk.fd);
    if (error < 0)
        unlink(tmp);
    osr__secret_free(auth);
    osr__http_response_free(&resp);
    osr__http_free(h);
    EVP_MD_CTX_free(sk.md);
    free(cur);
    free(tmp);
    return error;
}

int osr_runner_app_fetch(const char **path_out,
                         const osr_runner_app *app,
                         const char *dest,
                         const osr_fetch_options *opts,
                         osr_error *err)
{
    bool remote = strncmp(app->url, "http://", 7) == 0 || strncmp(app->url, "https://", 8) == 0;
    int error = osr_fetch_verified(dest, app->url, app->sha256, app->token, opts, err);

    if (error < 0)
        return error;
    *path_out = remote ? dest : app->url;
    return 0;
}
