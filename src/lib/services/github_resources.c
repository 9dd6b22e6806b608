/* GitHub client resources: runner downloads, registration and remove
 * tokens, JIT configs and runner groups, runners (list, get, delete). */
#include "github_internal.h"

#include "osrunner/runner.h"
#include "runner_download.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* GitHub's rule for a runner's name (osrunner/runner.h), the one name rule:
 * runner configs (domain) and JIT configs both check it here. */
static bool runner_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

int osr_runner_name_check(const char *name, osr_error *err)
{
    char q[OSR__QUOTE_MAX];
    size_t n;

    if (name == NULL || *name == '\0')
        return osr__error_set(err, OSR_EINVAL, "name: missing");
    n = strlen(name);
    if (n > 64)
        return osr__error_set(err, OSR_EINVAL, "name: %zu characters; GitHub allows at most 64", n);
    for (size_t i = 0; i < n; i++) {
        if (!runner_name_char(name[i])) {
            char bad[8];
            return osr__error_set(err, OSR_EINVAL,
                                  "name: '%s' has '%s'; use only letters, digits, '-', '_' "
                                  "and '.'",
                                  osr__quote(q, sizeof(q), name, 64),
                                  osr__quote(bad, sizeof(bad), (char[]){ name[i], '\0' }, 1));
        }
    }
    return 0;
}

struct osr_runner_app_list {
    osr_runner_app **items; /* the one type of a runner download */
    size_t count;
};

typedef struct osr_github_runner gh_runner;

struct osr_github_runner {
    long long id, group_id;
    char *name, *os, *status, *version;
    int busy, ephemeral;
    char **labels;
    size_t nlabels;
};

struct osr_github_runner_list {
    gh_runner *items;
    size_t count, cap;
};

/* ------------------------------------------------------------------ helpers */

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

/* --------------------------------------------------------- runner apps */

void osr_runner_app_list_free(osr_runner_app_list *apps)
{
    if (apps == NULL)
        return;
    for (size_t i = 0; i < apps->count; i++)
        osr_runner_app_free(apps->items[i]);
    free(apps->items);
    free(apps);
}

int osr__github_parse_apps(osr_runner_app_list **out, const char *body, size_t len, osr_error *err)
{
    json_t *root = json_loadb(body ? body : "", len, 0, NULL), *o;
    osr_runner_app_list *apps = NULL;
    size_t i;
    int error = 0;

    if (!json_is_array(root)) {
        json_decref(root);
        return osr__error_set(err, OSR_EPROTO, "runner applications: expected a JSON array");
    }
    apps = calloc(1, sizeof(*apps));
    if (apps == NULL ||
        (json_array_size(root) &&
         (apps->items = calloc(json_array_size(root), sizeof(*apps->items))) == NULL)) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    json_array_foreach(root, i, o)
    {
        const char *missing = "";
        error = osr__runner_app_from_json(&apps->items[apps->count], o, &missing);
        if (error == OSR_EPROTO) {
            osr__error_set(err, OSR_EPROTO, "runner application %zu: no \"%s\"", i, missing);
            goto done;
        }
        if (error < 0) {
            osr__error_set(err, OSR_ENOMEM, "out of memory");
            goto done;
        }
        apps->count++;
    }
    *out = apps;
    apps = NULL;
done:
    /* Every temp_download_token is wiped, also of entries after an error. */
    json_array_foreach(root, i, o)
    {
        json_t *t = json_object_get(o, "temp_download_token");
        if (json_is_string(t))
            wipe_json_string(t);
    }
    json_decref(root);
    osr_runner_app_list_free(apps);
    return error;
}

int osr_github_runner_apps(osr_runner_app_list **out, osr_github *gh, const char *path)
{
    osr__http_response resp;
    char *url;
    int error;

    osr_error_clear(&gh->err);
    if ((url = osr__github_runners_url(gh, path, "/downloads")) == NULL)
        return gh->err.code ? gh->err.code : osr__error_set(&gh->err, OSR_ENOMEM, "out of memory");
    error = osr__github_send(gh, "GET", url, NULL, OSR__GITHUB_SAFE, &resp);
    if (error == 0)
        error = osr__github_parse_apps(out, resp.body.data, resp.body.len, &gh->err);
    osr__buf_free_secret(&resp.body);
    osr__http_response_free(&resp);
    free(url);
    return error;
}

size_t osr_runner_app_list_count(const osr_runner_app_list *apps)
{
    return apps ? apps->count : 0;
}

int osr_runner_app_list_find(size_t *index,
                             const osr_runner_app_list *apps,
                             const char *os,
                             const char *arch)
{
    for (size_t i = 0; apps && os && arch && i < apps->count; i++) {
        if (strcmp(apps->items[i]->os, os) == 0 && strcmp(apps->items[i]->arch, arch) == 0) {
            *index = i;
            return 0;
        }
    }
    return OSR_ENOTFOUND;
}

const osr_runner_app *osr_runner_app_list_at(const osr_runner_app_list *apps, size_t i)
{
    return (apps && i < apps->count) ? apps->items[i] : NULL;
}

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
    url = tail ? osr__github_runners_url(gh, path, tail) : NULL;
    free(tail);
    if (url == NULL)
        return gh->err.code ? gh->err.code : osr__error_set(&gh->err, OSR_ENOMEM, "out of memory");
    /* No body: GitHub's schema declares none, and an empty JSON object is refused.
     * A registration or remove token has no side effect (asking again only
     * gives a new one), so it is retried like a GET on 502/503/504. */
    error = osr__github_send(gh, "POST", url, NULL, OSR__GITHUB_SAFE, &resp);
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
    if (osr__github_all_digits(group) && strlen(group) < 19) {
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
    error = osr__github_get_pages(gh, url, group_page, &g);
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
    if (osr__version_check(&gh->err, "osr_github_jitconfig", "osr_github_jit_options",
                           opts->version, 1, OSR_GITHUB_JIT_OPTIONS_VERSION) < 0)
        return OSR_EINVAL;
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
    url = text ? osr__github_runners_url(gh, path, "/generate-jitconfig") : NULL;
    if (url == NULL) {
        error = gh->err.code ? gh->err.code : osr__error_set(&gh->err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    error =
        osr__github_send(gh, "POST", url, text, OSR__GITHUB_ONCE, &resp); /* registers a runner */
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

osr_github_runner_list *osr__github_runners_new(void)
{
    return calloc(1, sizeof(osr_github_runner_list));
}

void osr_github_runner_list_free(osr_github_runner_list *list)
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

static int add_runner(osr_github_runner_list *list, json_t *o, size_t i, osr_error *err)
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
    osr_github_runner_list *list, const char *body, size_t len, bool single, osr_error *err)
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
    osr_github_runner_list *list = ctx;
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

int osr_github_runners_list(osr_github_runner_list **out,
                            osr_github *gh,
                            const char *path,
                            const char *name)
{
    osr_github_runner_list *list = NULL;
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
    if ((url = osr__github_runners_url(gh, path, tail.data)) == NULL) {
        error = gh->err.code ? gh->err.code : osr__error_set(&gh->err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    if ((error = osr__github_get_pages(gh, url, runner_page, list)) < 0)
        goto done;
    if (list->count > 1)
        qsort(list->items, list->count, sizeof(*list->items), by_id);
    *out = list;
    list = NULL;
done:
    osr__buf_free(&tail);
    free(url);
    osr_github_runner_list_free(list);
    return error;
}

int osr_github_runner_get(osr_github_runner_list **out,
                          osr_github *gh,
                          const char *path,
                          long long id)
{
    osr_github_runner_list *list = NULL;
    osr__http_response resp;
    char tail[32];
    char *url;
    int error;

    osr_error_clear(&gh->err);
    if (out == NULL || id <= 0)
        return osr__error_set(&gh->err, OSR_EINVAL, "osr_github_runner_get: bad argument");
    snprintf(tail, sizeof(tail), "/%lld", id);
    if ((url = osr__github_runners_url(gh, path, tail)) == NULL)
        return gh->err.code ? gh->err.code : osr__error_set(&gh->err, OSR_ENOMEM, "out of memory");
    error = osr__github_send(gh, "GET", url, NULL, OSR__GITHUB_SAFE, &resp);
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
    osr_github_runner_list_free(list);
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
    if ((url = osr__github_runners_url(gh, path, tail)) == NULL)
        return gh->err.code ? gh->err.code : osr__error_set(&gh->err, OSR_ENOMEM, "out of memory");
    error = osr__github_send(gh, "DELETE", url, NULL, OSR__GITHUB_SAFE, &resp);
    if (error < 0 && gh->err.http_status == 422)
        osr__error_prefix(&gh->err, "runner %lld is busy", id);
    else if (error == OSR_ENOTFOUND)
        osr__error_prefix(&gh->err, "no runner %lld in %s", id, path);
    osr__http_response_free(&resp);
    free(url);
    return error;
}

size_t osr_github_runner_list_count(const osr_github_runner_list *list)
{
    return list ? list->count : 0;
}

const osr_github_runner *osr_github_runner_list_at(const osr_github_runner_list *list, size_t i)
{
    return (list && i < list->count) ? &list->items[i] : NULL;
}

#define RUNNER_ACCESSOR(type, fn, member, none) \
    type fn(const osr_github_runner *runner)    \
    {                                           \
        return runner ? runner->member : none;  \
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

const char *osr_github_runner_label(const osr_github_runner *runner, size_t label)
{
    if (runner == NULL || label >= runner->nlabels)
        return NULL;
    return runner->labels[label];
}
