/* One runner download: the type, its accessors and the one parser of GitHub's
 * runner downloads entries and file names (see runner_download.h). */
#include "runner_download.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>

void osr_runner_app_free(osr_runner_app *app)
{
    if (app == NULL)
        return;
    free(app->os);
    free(app->arch);
    free(app->url);
    free(app->filename);
    free(app->sha256);
    free(app->version);
    osr__secret_free(app->token);
    free(app);
}

const char *osr_runner_app_os(const osr_runner_app *app)
{
    return app ? app->os : NULL;
}
const char *osr_runner_app_architecture(const osr_runner_app *app)
{
    return app ? app->arch : NULL;
}
const char *osr_runner_app_download_url(const osr_runner_app *app)
{
    return app ? app->url : NULL;
}
const char *osr_runner_app_filename(const osr_runner_app *app)
{
    return app ? app->filename : NULL;
}
const char *osr_runner_app_sha256(const osr_runner_app *app)
{
    return app ? app->sha256 : NULL;
}
const char *osr_runner_app_version(const osr_runner_app *app)
{
    return app ? app->version : NULL;
}
const char *osr_runner_app_temp_download_token(const osr_runner_app *app)
{
    if (app == NULL)
        return NULL;
    return app->token ? app->token : "";
}

/* X.Y[.Z...] at p, ended by '-', ".tar.gz", ".zip" or the end: its length. */
static size_t version_at(const char *p)
{
    size_t n = 0;
    bool dot = false;

    while ((p[n] >= '0' && p[n] <= '9') || p[n] == '.') {
        dot = dot || p[n] == '.';
        n++;
    }
    if (n > 0 && p[n - 1] == '.' &&
        (strcmp(p + n - 1, ".tar.gz") == 0 || strcmp(p + n - 1, ".zip") == 0))
        n--;
    if (n == 0 || !dot || p[0] == '.' || p[n - 1] == '.')
        return 0;
    if (p[n] != '\0' && p[n] != '-' && strcmp(p + n, ".tar.gz") != 0 && strcmp(p + n, ".zip") != 0)
        return 0;
    return n;
}

char *osr__runner_version_of(const char *filename)
{
    for (const char *d = filename ? strchr(filename, '-') : NULL; d; d = strchr(d + 1, '-')) {
        size_t n = version_at(d + 1);
        if (n > 0)
            return osr__strndup(d + 1, n);
    }
    return osr__strdup("");
}

void osr__runner_filename_parse(const char *name, char **os, char **arch, char **version)
{
    const char *p = name, *a, *v;
    static const char prefix[] = "actions-runner-";

    *os = *arch = *version = NULL;
    if (strncmp(p, prefix, sizeof(prefix) - 1) != 0)
        return;
    p += sizeof(prefix) - 1;
    if ((a = strchr(p, '-')) == NULL || (v = strchr(a + 1, '-')) == NULL || version_at(v + 1) == 0)
        return;
    *os = osr__strndup(p, (size_t)(a - p));
    *arch = osr__strndup(a + 1, (size_t)(v - a - 1));
    *version = osr__strndup(v + 1, version_at(v + 1));
}

static char *field(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return osr__strdup(v ? v : "");
}

int osr__runner_app_from_json(osr_runner_app **out, json_t *e, const char **missing)
{
    static const char *const required[] = { "os", "architecture", "download_url", "filename",
                                            NULL };
    json_t *tok = json_object_get(e, "temp_download_token");
    osr_runner_app *app;

    for (const char *const *k = required; *k; k++) {
        if (!json_is_string(json_object_get(e, *k))) {
            if (missing)
                *missing = *k;
            return OSR_EPROTO;
        }
    }
    if ((app = calloc(1, sizeof(*app))) == NULL)
        return OSR_ENOMEM;
    app->os = field(e, "os");
    app->arch = field(e, "architecture");
    app->url = field(e, "download_url");
    app->filename = field(e, "filename");
    app->sha256 = field(e, "sha256_checksum");
    app->version = app->filename ? osr__runner_version_of(app->filename) : NULL;
    if (json_is_string(tok) && json_string_length(tok) > 0)
        app->token = osr__strdup(json_string_value(tok));
    if (json_is_string(tok))
        osr__secret_wipe((char *)json_string_value(tok), json_string_length(tok));
    if (!app->os || !app->arch || !app->url || !app->filename || !app->sha256 || !app->version ||
        (json_is_string(tok) && json_string_length(tok) > 0 && !app->token)) {
        osr_runner_app_free(app);
        return OSR_ENOMEM;
    }
    *out = app;
    return 0;
}

osr_runner_app *osr__runner_app_dup(const osr_runner_app *a)
{
    osr_runner_app *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
#define DUP(m)                                            \
    do {                                                  \
        if (a->m && (c->m = osr__strdup(a->m)) == NULL) { \
            osr_runner_app_free(c);                       \
            return NULL;                                  \
        }                                                 \
    } while (0)
    DUP(os);
    DUP(arch);
    DUP(url);
    DUP(filename);
    DUP(sha256);
    DUP(version);
    DUP(token);
#undef DUP
    return c;
}
