/* osrunner.yaml: the pool manager's configuration (osrunner.yaml(5)). Every
 * key is known, every value checked, and every message is one line with
 * FILE:LINE:COL and the key's path ("pools[1].timeouts.build"). */
#include "osrunner/pool.h"

#include "fs.h"
#include "util.h"
#include "yaml_tree.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_GITHUB_URL "https://api.github.com"
#define LABEL_MAX          256
#define MAX_RUNNERS_MAX    10000
#define DURATION_MAX       (90LL * 86400) /* 90 days */
#define OWNER_LABEL_PREFIX "osrunner-manager-"

/* Defaults, in seconds; osrunner.yaml(5) documents them. */
static const long long timeout_defaults[4] = { 15 * 60, 20 * 60, 2 * 60, 6 * 3600 };
static const char *const timeout_keys[4] = { "build", "bootstrap", "registration_grace", "job" };

struct osr_pool_spec {
    char *name, *cloud, *github_path, *runner_group, *image, *flavor, *network, *key_name;
    char *availability_zone, *http_proxy, *https_proxy, *no_proxy, *docker_mirror;
    char **labels;
    size_t nlabels;
    char **security_groups;
    size_t nsecurity_groups;
    int config_drive, jit;
    long long min_idle, max_runners;
    long long timeouts[4];
};

struct osr_manager_config {
    char *source, *manager, *github_url, *token_file, *app_key_file;
    char *metrics_listen, *webhook_listen, *webhook_secret_file;
    long long app_id, installation_id;
    osr_pool_spec *pools;
    size_t npools;
};

typedef struct pctx {
    osr_error *err;
    const char *source;
    char *base_dir; /* the file's directory, for relative paths; NULL if none */
} pctx;

/* ---- messages */

static const char *kind_name(const osr__yaml_node *n)
{
    switch (osr__yaml_kind_of(n)) {
    case OSR__YAML_KIND_NULL:
        return "a null";
    case OSR__YAML_KIND_BOOL:
        return "a boolean";
    case OSR__YAML_KIND_INT:
        return "an integer";
    case OSR__YAML_KIND_FLOAT:
        return "a float";
    case OSR__YAML_KIND_SEQ:
        return "a list";
    case OSR__YAML_KIND_MAP:
        return "a mapping";
    case OSR__YAML_KIND_STR:
        break;
    }
    return "a string";
}

/* "FILE:LINE:COL: PATH: message" (PATH left out when empty). */
static int perr(pctx *p, const osr__yaml_node *n, const char *path, const char *fmt, ...)
    OSR__PRINTF(4, 5);
static int perr(pctx *p, const osr__yaml_node *n, const char *path, const char *fmt, ...)
{
    char msg[OSR_ERROR_MESSAGE_MAX];
    size_t line = n ? n->line : 1, col = n ? n->column : 1;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (path && *path)
        return osr__error_set(p->err, OSR_ECONFIG, "%s:%zu:%zu: %s: %s", p->source, line, col, path,
                              msg);
    return osr__error_set(p->err, OSR_ECONFIG, "%s:%zu:%zu: %s", p->source, line, col, msg);
}

static int nomem(pctx *p)
{
    return osr__error_set(p->err, OSR_ENOMEM, "out of memory");
}

/* "pools[0]" + "." + "min_idle" into buf. */
static const char *join(char *buf, size_t size, const char *path, const char *key)
{
    snprintf(buf, size, "%s%s%s", path, *path ? "." : "", key);
    return buf;
}

/* ---- keys: unknown, refused, close spellings */

/* Optimal string alignment distance (a swap of two neighbours counts one),
 * on short keys only. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), d[33][33];

    if (la > 32 || lb > 32)
        return 99;
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1, v = d[i - 1][j - 1] + cost;
            if (d[i - 1][j] + 1 < v)
                v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[la][lb];
}

typedef struct refused_key {
    const char *key, *why;
} refused_key;

static const refused_key github_refused[] = {
    { "token", "inline credentials are refused; put the token in a file (mode 0600) and name "
               "it with token_file" },
    { "app_key", "inline credentials are refused; put the App's private key in a PEM file "
                 "(mode 0600) and name it with app_key_file" },
    { "private_key", "inline credentials are refused; put the App's private key in a PEM file "
                     "(mode 0600) and name it with app_key_file" },
    { NULL, NULL },
};

/* Every key of map must be in known (NULL-terminated); refused keys get their message. */
static int check_keys(pctx *p,
                      const osr__yaml_node *map,
                      const char *path,
                      const char *const *known,
                      const refused_key *refused)
{
    char q[OSR__QUOTE_MAX], kp[160];

    for (size_t i = 0; i < map->npairs; i++) {
        const osr__yaml_node *k = map->pairs[i].key;
        const char *best = NULL;
        size_t best_d = 99;
        bool found = false;

        for (size_t j = 0; known[j] && !found; j++)
            found = k->len == strlen(known[j]) && strcmp(k->value, known[j]) == 0;
        if (found)
            continue;
        for (size_t j = 0; refused && refused[j].key; j++) {
            if (strcmp(k->value, refused[j].key) == 0)
                return perr(p, k, join(kp, sizeof(kp), path, refused[j].key), "%s", refused[j].why);
        }
        for (size_t j = 0; known[j]; j++) {
            size_t d = edit_distance(k->value, known[j]);
            if (d < best_d) {
                best_d = d;
                best = known[j];
            }
        }
        osr__quote(q, sizeof(q), k->value, 64);
        if (best && best_d <= 2 && best_d < strlen(k->value))
            return perr(p, k, path, "unknown key '%s' (did you mean '%s'?)", q, best);
        return perr(p, k, path, "unknown key '%s'", q);
    }
    return 0;
}

/* The value of a required key, or "PATH: missing 'KEY'" at the mapping. */
static int required(const osr__yaml_node **out,
                    pctx *p,
                    const osr__yaml_node *map,
                    const char *path,
                    const char *key,
                    const char *hint)
{
    *out = osr__yaml_map_get(map, key);
    if (*out == NULL)
        return perr(p, map, path, "missing '%s'%s%s", key, hint ? " " : "", hint ? hint : "");
    return 0;
}

/* ---- values */

static bool has_control(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return true;
    }
    return false;
}

/* A string value (numbers keep their text: "flavor: 2" is the flavor "2").
 * n NULL or null: *out stays NULL (the caller decides whether it may). */
static int str_value(char **out, pctx *p, const osr__yaml_node *n, const char *path)
{
    char q[OSR__QUOTE_MAX];

    *out = NULL;
    if (n == NULL)
        return 0;
    if (n->type != OSR__YAML_SCALAR)
        return perr(p, n, path, "expected a string, found %s", kind_name(n));
    switch (osr__yaml_kind_of(n)) {
    case OSR__YAML_KIND_NULL:
        return perr(p, n, path, "no value");
    case OSR__YAML_KIND_BOOL:
        return perr(p, n, path, "read as the YAML boolean %s; quote it if you mean the string",
                    osr__quote(q, sizeof(q), n->value, 64));
    default:
        break;
    }
    if (n->len == 0)
        return perr(p, n, path, "must not be empty");
    if (memchr(n->value, '\0', n->len) != NULL || has_control(n->value, n->len))
        return perr(p, n, path, "contains a control character");
    if ((*out = osr__strndup(n->value, n->len)) == NULL)
        return nomem(p);
    return 0;
}

/* An optional string key (absent: NULL; null counts as absent). */
static int
opt_str(char **out, pctx *p, const osr__yaml_node *map, const char *path, const char *key)
{
    char kp[160];
    const osr__yaml_node *n = osr__yaml_map_get(map, key);

    *out = NULL;
    if (n == NULL || (n->type == OSR__YAML_SCALAR && osr__yaml_is_null(n)))
        return 0;
    return str_value(out, p, n, join(kp, sizeof(kp), path, key));
}

static int req_str(char **out,
                   const osr__yaml_node **node,
                   pctx *p,
                   const osr__yaml_node *map,
                   const char *path,
                   const char *key)
{
    char kp[160];
    const osr__yaml_node *n;
    int error;

    *out = NULL;
    if ((error = required(&n, p, map, path, key, NULL)) < 0)
        return error;
    if (node)
        *node = n;
    return str_value(out, p, n, join(kp, sizeof(kp), path, key));
}

static void list_free(char **list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        free(list[i]);
    free(list);
}

/* A list of strings. A scalar where a list is due says how to write one. */
static int str_list(
    char ***out, size_t *nout, pctx *p, const osr__yaml_node *n, const char *path, bool empty_ok)
{
    char ip[192];
    char **list;
    int error = 0;

    *out = NULL;
    *nout = 0;
    if (n->type != OSR__YAML_SEQUENCE) {
        if (n->type == OSR__YAML_SCALAR && osr__yaml_kind_of(n) == OSR__YAML_KIND_STR)
            return perr(p, n, path, "expected a list of strings, found a string (write [%s])",
                        strchr(n->value, ',') ? "a, b" : "a");
        return perr(p, n, path, "expected a list of strings, found %s", kind_name(n));
    }
    if (n->nitems == 0 && !empty_ok)
        return perr(p, n, path, "must not be empty");
    if ((list = calloc(n->nitems + 1, sizeof(*list))) == NULL)
        return nomem(p);
    for (size_t i = 0; i < n->nitems && error == 0; i++) {
        snprintf(ip, sizeof(ip), "%s[%zu]", path, i);
        error = str_value(&list[i], p, n->items[i], ip);
    }
    if (error < 0) {
        list_free(list, n->nitems);
        return error;
    }
    *out = list;
    *nout = n->nitems;
    return 0;
}

/* A YAML 1.1 boolean; absent: def. */
static int
get_bool(int *out, pctx *p, const osr__yaml_node *map, const char *path, const char *key, int def)
{
    char q[OSR__QUOTE_MAX], kp[160];
    const osr__yaml_node *n = osr__yaml_map_get(map, key);
    bool b;

    *out = def;
    if (n == NULL)
        return 0;
    join(kp, sizeof(kp), path, key);
    if (n->type != OSR__YAML_SCALAR)
        return perr(p, n, kp, "expected a boolean, found %s", kind_name(n));
    if (osr__yaml_bool(&b, n) == 0) {
        *out = b;
        return 0;
    }
    if (!n->plain && n->tag == NULL &&
        osr__yaml_resolve_plain(n->value, n->len) == OSR__YAML_KIND_BOOL)
        return perr(p, n, kp, "\"%s\" is a quoted string, not a boolean; write it without quotes",
                    osr__quote(q, sizeof(q), n->value, 64));
    return perr(p, n, kp, "expected a boolean (true or false), found %s", kind_name(n));
}

/* A non-negative integer of at most max. */
static int
int_value(long long *out, pctx *p, const osr__yaml_node *n, const char *path, long long max)
{
    char q[OSR__QUOTE_MAX];
    int64_t v;

    if (n->type != OSR__YAML_SCALAR || osr__yaml_kind_of(n) != OSR__YAML_KIND_INT) {
        if (n->type == OSR__YAML_SCALAR && !n->plain && n->tag == NULL &&
            osr__yaml_resolve_plain(n->value, n->len) == OSR__YAML_KIND_INT)
            return perr(p, n, path,
                        "\"%s\" is a quoted string, not an integer; write it without quotes",
                        osr__quote(q, sizeof(q), n->value, 64));
        return perr(p, n, path, "expected a non-negative integer, found %s", kind_name(n));
    }
    if (osr__yaml_int(&v, n) < 0 || v > max)
        return perr(p, n, path, "%s is too large (at most %lld)",
                    osr__quote(q, sizeof(q), n->value, 32), max);
    if (v < 0)
        return perr(p, n, path, "must not be negative (found %lld)", (long long)v);
    *out = v;
    return 0;
}

/* 90s, 15m, 6h, 2d or a plain number of seconds; more than 0. */
static int duration_value(long long *out, pctx *p, const osr__yaml_node *n, const char *path)
{
    char q[OSR__QUOTE_MAX];
    long long v = 0, unit = 1;
    size_t i = 0;

    if (n->type == OSR__YAML_SCALAR && osr__yaml_kind_of(n) == OSR__YAML_KIND_INT) {
        int error = int_value(&v, p, n, path, DURATION_MAX);
        if (error < 0)
            return error;
    } else if (n->type == OSR__YAML_SCALAR && osr__yaml_kind_of(n) == OSR__YAML_KIND_STR) {
        /* Past the limit the value stays above it: "too long", not "not a duration". */
        for (; i < n->len && n->value[i] >= '0' && n->value[i] <= '9'; i++) {
            if (v <= DURATION_MAX)
                v = v * 10 + (n->value[i] - '0');
        }
        if (i + 1 == n->len) {
            switch (n->value[i]) {
            case 's':
                unit = 1;
                break;
            case 'm':
                unit = 60;
                break;
            case 'h':
                unit = 3600;
                break;
            case 'd':
                unit = 86400;
                break;
            default:
                i = 0;
            }
        }
        if (i == 0 || i + 1 != n->len)
            return perr(p, n, path,
                        "not a duration: '%s' (write 90s, 15m, 6h, 2d or a number of seconds)",
                        osr__quote(q, sizeof(q), n->value, 64));
        if (v > DURATION_MAX / unit)
            return perr(p, n, path, "%s is too long (at most 90d)",
                        osr__quote(q, sizeof(q), n->value, 64));
        v *= unit;
    } else {
        return perr(p, n, path, "expected a duration (90s, 15m, 6h, 2d or seconds), found %s",
                    kind_name(n));
    }
    if (v == 0)
        return perr(p, n, path, "must be longer than 0");
    *out = v;
    return 0;
}

/* ---- value rules */

static bool name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

static bool alnum(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool manager_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > OSR_MANAGER_ID_MAX || !alnum(s[0]))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!name_char(s[i]) || (s[i] >= 'A' && s[i] <= 'Z'))
            return false;
    }
    return true;
}

static bool pool_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > OSR_POOL_NAME_MAX || !alnum(s[0]))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!name_char(s[i]))
            return false;
    }
    return true;
}

/* "owner/repo" or "org": GitHub's characters, one slash at most. */
static bool github_path_ok(const char *s, bool *is_repo)
{
    const char *slash = strchr(s, '/');
    size_t seg = 0;

    *is_repo = slash != NULL;
    if (slash && strchr(slash + 1, '/'))
        return false;
    for (const char *c = s;; c++) {
        if (*c == '/' || *c == '\0') {
            if (seg == 0 || seg > 100)
                return false;
            if (*c == '\0')
                return true;
            seg = 0;
            continue;
        }
        if (!name_char(*c))
            return false;
        seg++;
    }
}

static bool url_ok(const char *u)
{
    const char *host;
    size_t hl;

    if (strncasecmp(u, "https://", 8) == 0)
        host = u + 8;
    else if (strncasecmp(u, "http://", 7) == 0)
        host = u + 7;
    else
        return false;
    for (const char *c = u; *c; c++) {
        if ((unsigned char)*c <= 0x20)
            return false;
    }
    hl = strcspn(host, "/?#");
    return hl > 0 && host[0] != ':' && host[0] != '@';
}

static int url_field(pctx *p, const osr__yaml_node *map, const char *path, const char *key)
{
    char kp[160], q[OSR__QUOTE_MAX];
    const osr__yaml_node *n = osr__yaml_map_get(map, key);

    if (n && n->type == OSR__YAML_SCALAR && !osr__yaml_is_null(n) && !url_ok(n->value))
        return perr(p, n, join(kp, sizeof(kp), path, key), "'%s' is not an http:// or https:// URL",
                    osr__quote(q, sizeof(q), n->value, 64));
    return 0;
}

/* A path as written, or joined to the file's directory when relative. */
static int
file_path(char **out, pctx *p, const osr__yaml_node *map, const char *path, const char *key)
{
    char *s;
    int error = opt_str(&s, p, map, path, key);

    *out = NULL;
    if (error < 0 || s == NULL)
        return error;
    if (s[0] != '/' && p->base_dir) {
        size_t bl = strlen(p->base_dir);
        char *full = osr__sprintf("%s%s%s", p->base_dir, p->base_dir[bl - 1] == '/' ? "" : "/", s);
        free(s);
        if (full == NULL)
            return nomem(p);
        s = full;
    }
    *out = s;
    return 0;
}

/* ---- sections */

static int read_github(osr_manager_config *c, pctx *p, const osr__yaml_node *gh)
{
    static const char *const keys[] = { "url",          "token_file", "app_id", "installation_id",
                                        "app_key_file", NULL };
    static const char hint[] = "(or app_id, installation_id and app_key_file)";
    const osr__yaml_node *app_id, *inst, *key;
    int error;

    if (gh->type != OSR__YAML_MAPPING)
        return perr(p, gh, "github", "expected a mapping, found %s", kind_name(gh));
    if ((error = check_keys(p, gh, "github", keys, github_refused)) < 0)
        return error;
    if ((error = opt_str(&c->github_url, p, gh, "github", "url")) < 0 ||
        (error = url_field(p, gh, "github", "url")) < 0)
        return error;
    if (c->github_url == NULL && (c->github_url = osr__strdup(DEFAULT_GITHUB_URL)) == NULL)
        return nomem(p);
    if ((error = file_path(&c->token_file, p, gh, "github", "token_file")) < 0 ||
        (error = file_path(&c->app_key_file, p, gh, "github", "app_key_file")) < 0)
        return error;
    app_id = osr__yaml_map_get(gh, "app_id");
    inst = osr__yaml_map_get(gh, "installation_id");
    key = osr__yaml_map_get(gh, "app_key_file");
    if (c->token_file && (app_id || inst || key)) {
        const osr__yaml_node *second = app_id ? app_id : inst ? inst : key;
        return perr(p, second, "github",
                    "both token_file and a GitHub App given; use one: token_file, or app_id, "
                    "installation_id and app_key_file");
    }
    if (c->token_file)
        return 0;
    if (!app_id && !inst && !key)
        return perr(p, gh, "github", "missing 'token_file' %s", hint);
    {
        static const char app_hint[] = "(a GitHub App needs app_id, installation_id and "
                                       "app_key_file)";
        const osr__yaml_node *n;
        if ((error = required(&n, p, gh, "github", "app_id", app_hint)) < 0 ||
            (error = int_value(&c->app_id, p, n, "github.app_id", 1LL << 53)) < 0 ||
            (error = required(&n, p, gh, "github", "installation_id", app_hint)) < 0 ||
            (error = int_value(&c->installation_id, p, n, "github.installation_id", 1LL << 53)) <
                0 ||
            (error = required(&n, p, gh, "github", "app_key_file", app_hint)) < 0)
            return error;
        if (c->app_id == 0)
            return perr(p, app_id, "github.app_id", "must be more than 0");
        if (c->installation_id == 0)
            return perr(p, inst, "github.installation_id", "must be more than 0");
    }
    return 0;
}

static int read_timeouts(osr_pool_spec *s, pctx *p, const osr__yaml_node *pool, const char *path)
{
    static const char *const keys[] = { "build", "bootstrap", "registration_grace", "job", NULL };
    const osr__yaml_node *t = osr__yaml_map_get(pool, "timeouts");
    char tp[160], kp[192];
    int error;

    for (size_t i = 0; i < 4; i++)
        s->timeouts[i] = timeout_defaults[i];
    if (t == NULL || (t->type == OSR__YAML_SCALAR && osr__yaml_is_null(t)))
        return 0;
    join(tp, sizeof(tp), path, "timeouts");
    if (t->type != OSR__YAML_MAPPING)
        return perr(p, t, tp, "expected a mapping, found %s", kind_name(t));
    if ((error = check_keys(p, t, tp, keys, NULL)) < 0)
        return error;
    for (size_t i = 0; i < 4; i++) {
        const osr__yaml_node *n = osr__yaml_map_get(t, timeout_keys[i]);
        if (n && (error = duration_value(&s->timeouts[i], p, n,
                                         join(kp, sizeof(kp), tp, timeout_keys[i]))) < 0)
            return error;
    }
    return 0;
}

static int check_labels(pctx *p, const osr_pool_spec *s, const osr__yaml_node *n, const char *path)
{
    char q[OSR__QUOTE_MAX], ip[192];

    for (size_t i = 0; i < s->nlabels; i++) {
        const char *l = s->labels[i];
        snprintf(ip, sizeof(ip), "%s[%zu]", path, i);
        if (strchr(l, ','))
            return perr(p, n->items[i], ip, "a label holds no comma (one label per item)");
        if (strlen(l) > LABEL_MAX)
            return perr(p, n->items[i], ip, "longer than %d characters", LABEL_MAX);
        if (osr__startswith_ci(l, OWNER_LABEL_PREFIX))
            return perr(p, n->items[i], ip,
                        "'%s' is reserved: osrunner adds its ownership label " OWNER_LABEL_PREFIX
                        "MANAGER itself",
                        osr__quote(q, sizeof(q), l, 64));
        for (size_t j = 0; j < i; j++) {
            if (strcasecmp(l, s->labels[j]) == 0)
                return perr(p, n->items[i], ip, "'%s' is given twice (labels ignore case)",
                            osr__quote(q, sizeof(q), l, 64));
        }
    }
    return 0;
}

static int read_pool(osr_pool_spec *s, pctx *p, const osr__yaml_node *pool, const char *path)
{
    static const char *const keys[] = {
        "name",         "cloud",       "github_path", "runner_group",    "labels",
        "image",        "flavor",      "network",     "security_groups", "key_name",
        "config_drive", "http_proxy",  "https_proxy", "no_proxy",        "docker_mirror",
        "min_idle",     "max_runners", "jit",         "timeouts",        "availability_zone",
        NULL,
    };
    char q[OSR__QUOTE_MAX], kp[160];
    const osr__yaml_node *name_n, *path_n, *n, *min_n, *max_n;
    bool is_repo;
    int error;

    if (pool->type != OSR__YAML_MAPPING)
        return perr(p, pool, path, "expected a mapping, found %s", kind_name(pool));
    if ((error = check_keys(p, pool, path, keys, NULL)) < 0)
        return error;
    if ((error = req_str(&s->name, &name_n, p, pool, path, "name")) < 0)
        return error;
    if (!pool_name_ok(s->name))
        return perr(p, name_n, join(kp, sizeof(kp), path, "name"),
                    "'%s' cannot prefix a runner name: use 1 to %d of A-Z a-z 0-9 - _ . "
                    "starting with a letter or digit (runners are named NAME-SUFFIX, at most 64)",
                    osr__quote(q, sizeof(q), s->name, 64), OSR_POOL_NAME_MAX);
    if ((error = req_str(&s->cloud, NULL, p, pool, path, "cloud")) < 0 ||
        (error = req_str(&s->github_path, &path_n, p, pool, path, "github_path")) < 0)
        return error;
    if (!github_path_ok(s->github_path, &is_repo))
        return perr(p, path_n, join(kp, sizeof(kp), path, "github_path"),
                    "'%s' is neither OWNER/REPO nor ORG",
                    osr__quote(q, sizeof(q), s->github_path, 64));
    if ((error = opt_str(&s->runner_group, p, pool, path, "runner_group")) < 0)
        return error;
    if (s->runner_group && is_repo)
        return perr(p, osr__yaml_map_get(pool, "runner_group"),
                    join(kp, sizeof(kp), path, "runner_group"),
                    "runner groups belong to organisations; github_path '%s' is a repository",
                    osr__quote(q, sizeof(q), s->github_path, 64));
    if ((error = required(&n, p, pool, path, "labels", NULL)) < 0 ||
        (error = str_list(&s->labels, &s->nlabels, p, n, join(kp, sizeof(kp), path, "labels"),
                          false)) < 0 ||
        (error = check_labels(p, s, n, kp)) < 0)
        return error;
    if ((error = req_str(&s->image, NULL, p, pool, path, "image")) < 0 ||
        (error = req_str(&s->flavor, NULL, p, pool, path, "flavor")) < 0 ||
        (error = opt_str(&s->network, p, pool, path, "network")) < 0 ||
        (error = opt_str(&s->key_name, p, pool, path, "key_name")) < 0 ||
        (error = opt_str(&s->availability_zone, p, pool, path, "availability_zone")) < 0 ||
        (error = opt_str(&s->http_proxy, p, pool, path, "http_proxy")) < 0 ||
        (error = url_field(p, pool, path, "http_proxy")) < 0 ||
        (error = opt_str(&s->https_proxy, p, pool, path, "https_proxy")) < 0 ||
        (error = url_field(p, pool, path, "https_proxy")) < 0 ||
        (error = opt_str(&s->no_proxy, p, pool, path, "no_proxy")) < 0 ||
        (error = opt_str(&s->docker_mirror, p, pool, path, "docker_mirror")) < 0 ||
        (error = url_field(p, pool, path, "docker_mirror")) < 0 ||
        (error = get_bool(&s->config_drive, p, pool, path, "config_drive", 0)) < 0 ||
        (error = get_bool(&s->jit, p, pool, path, "jit", 1)) < 0)
        return error;
    n = osr__yaml_map_get(pool, "security_groups");
    if (n && !(n->type == OSR__YAML_SCALAR && osr__yaml_is_null(n)) &&
        (error = str_list(&s->security_groups, &s->nsecurity_groups, p, n,
                          join(kp, sizeof(kp), path, "security_groups"), true)) < 0)
        return error;
    s->min_idle = 0;
    s->max_runners = 10;
    min_n = osr__yaml_map_get(pool, "min_idle");
    max_n = osr__yaml_map_get(pool, "max_runners");
    if ((min_n && (error = int_value(&s->min_idle, p, min_n, join(kp, sizeof(kp), path, "min_idle"),
                                     MAX_RUNNERS_MAX)) < 0) ||
        (max_n &&
         (error = int_value(&s->max_runners, p, max_n, join(kp, sizeof(kp), path, "max_runners"),
                            MAX_RUNNERS_MAX)) < 0))
        return error;
    if (s->min_idle > s->max_runners) {
        if (max_n)
            return perr(p, min_n, join(kp, sizeof(kp), path, "min_idle"),
                        "%lld is more than max_runners (%lld, line %zu)", s->min_idle,
                        s->max_runners, max_n->line);
        return perr(p, min_n, join(kp, sizeof(kp), path, "min_idle"),
                    "%lld is more than max_runners (the default %lld)", s->min_idle,
                    s->max_runners);
    }
    return read_timeouts(s, p, pool, path);
}

static void pool_free(osr_pool_spec *s)
{
    free(s->name);
    free(s->cloud);
    free(s->github_path);
    free(s->runner_group);
    free(s->image);
    free(s->flavor);
    free(s->network);
    free(s->key_name);
    free(s->availability_zone);
    free(s->http_proxy);
    free(s->https_proxy);
    free(s->no_proxy);
    free(s->docker_mirror);
    list_free(s->labels, s->nlabels);
    list_free(s->security_groups, s->nsecurity_groups);
}

void osr_manager_config_free(osr_manager_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->npools; i++)
        pool_free(&cfg->pools[i]);
    free(cfg->pools);
    free(cfg->source);
    free(cfg->manager);
    free(cfg->github_url);
    free(cfg->token_file);
    free(cfg->app_key_file);
    free(cfg->metrics_listen);
    free(cfg->webhook_listen);
    free(cfg->webhook_secret_file);
    free(cfg);
}

static int read_pools(osr_manager_config *c, pctx *p, const osr__yaml_node *pools)
{
    char path[48], q[OSR__QUOTE_MAX];
    int error;

    if (pools->type != OSR__YAML_SEQUENCE)
        return perr(p, pools, "pools", "expected a list of pools, found %s", kind_name(pools));
    if (pools->nitems == 0)
        return perr(p, pools, "pools", "defines no pool");
    if ((c->pools = calloc(pools->nitems, sizeof(*c->pools))) == NULL)
        return nomem(p);
    for (size_t i = 0; i < pools->nitems; i++) {
        const osr__yaml_node *item = pools->items[i];
        snprintf(path, sizeof(path), "pools[%zu]", i);
        c->npools = i + 1;
        if ((error = read_pool(&c->pools[i], p, item, path)) < 0)
            return error;
        /* GitHub's runner names ignore case: so do pool names. */
        for (size_t j = 0; j < i; j++) {
            if (strcasecmp(c->pools[j].name, c->pools[i].name) == 0) {
                const osr__yaml_node *a = osr__yaml_map_get(pools->items[j], "name");
                const osr__yaml_node *b = osr__yaml_map_get(item, "name");
                snprintf(path, sizeof(path), "pools[%zu].name", i);
                return perr(p, b, path, "duplicate pool name '%s' (also at line %zu, column %zu)",
                            osr__quote(q, sizeof(q), c->pools[i].name, 64), a->line, a->column);
            }
        }
    }
    return 0;
}

/* "ADDR:PORT": an IPv4 address, a bracketed IPv6 one or nothing (every
 * address), and a port 0 to 65535. Checked for shape here; the daemon binds. */
static bool listen_ok(const char *s)
{
    const char *colon = strrchr(s, ':');
    size_t hl;
    long port = 0;

    if (colon == NULL || colon[1] == '\0' || strlen(colon + 1) > 5)
        return false;
    for (const char *d = colon + 1; *d; d++) {
        if (*d < '0' || *d > '9')
            return false;
        port = port * 10 + (*d - '0');
    }
    if (port > 65535)
        return false;
    hl = (size_t)(colon - s);
    if (hl >= 2 && s[0] == '[')
        return s[hl - 1] == ']';
    for (size_t i = 0; i < hl; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
            return false;
    return true;
}

static int listen_field(char **out, pctx *p, const osr__yaml_node *map, const char *path)
{
    char kp[160], q[OSR__QUOTE_MAX];
    int error = opt_str(out, p, map, path, "listen");

    if (error < 0 || *out == NULL || listen_ok(*out))
        return error;
    error = perr(p, osr__yaml_map_get(map, "listen"), join(kp, sizeof(kp), path, "listen"),
                 "'%s' is not ADDR:PORT (127.0.0.1:9464, [::1]:9464, :9464)",
                 osr__quote(q, sizeof(q), *out, 64));
    free(*out);
    *out = NULL;
    return error;
}

/* metrics: {listen} and webhook: {listen, secret_file}, osrunnerd's. */
static int read_daemon_sections(osr_manager_config *c, pctx *p, const osr__yaml_node *root)
{
    static const char *const mkeys[] = { "listen", NULL };
    static const char *const wkeys[] = { "listen", "secret_file", NULL };
    static const refused_key wrefused[] = {
        { "secret", "inline credentials are refused; put the webhook secret in a file (mode "
                    "0600) and name it with secret_file" },
        { NULL, NULL },
    };
    const osr__yaml_node *m = osr__yaml_map_get(root, "metrics");
    const osr__yaml_node *w = osr__yaml_map_get(root, "webhook");
    int error;

    if (m && !(m->type == OSR__YAML_SCALAR && osr__yaml_is_null(m))) {
        if (m->type != OSR__YAML_MAPPING)
            return perr(p, m, "metrics", "expected a mapping, found %s", kind_name(m));
        if ((error = check_keys(p, m, "metrics", mkeys, NULL)) < 0 ||
            (error = listen_field(&c->metrics_listen, p, m, "metrics")) < 0)
            return error;
    }
    if (w && !(w->type == OSR__YAML_SCALAR && osr__yaml_is_null(w))) {
        if (w->type != OSR__YAML_MAPPING)
            return perr(p, w, "webhook", "expected a mapping, found %s", kind_name(w));
        if ((error = check_keys(p, w, "webhook", wkeys, wrefused)) < 0 ||
            (error = listen_field(&c->webhook_listen, p, w, "webhook")) < 0 ||
            (error = file_path(&c->webhook_secret_file, p, w, "webhook", "secret_file")) < 0)
            return error;
        if (c->webhook_secret_file == NULL)
            return perr(p, w, "webhook",
                        "missing 'secret_file': a webhook is only taken with its secret");
    }
    return 0;
}

static int read_root(osr_manager_config *c, pctx *p, const osr__yaml_node *root)
{
    static const char *const keys[] = { "manager", "github", "pools", "metrics", "webhook", NULL };
    const osr__yaml_node *n, *mgr;
    char q[OSR__QUOTE_MAX];
    int error;

    if (root == NULL)
        return perr(p, NULL, NULL, "empty file; expected manager, github and pools");
    if (root->type != OSR__YAML_MAPPING)
        return perr(p, root, NULL, "expected a mapping with manager, github and pools, found %s",
                    kind_name(root));
    if ((error = check_keys(p, root, "", keys, NULL)) < 0)
        return error;
    if ((error = req_str(&c->manager, &mgr, p, root, "", "manager")) < 0)
        return error;
    if (!manager_id_ok(c->manager))
        return perr(p, mgr, "manager",
                    "'%s' is not a manager id: use 1 to %d of a-z 0-9 - _ . starting with a "
                    "letter or digit",
                    osr__quote(q, sizeof(q), c->manager, 64), OSR_MANAGER_ID_MAX);
    if ((error = required(&n, p, root, "", "github", NULL)) < 0 ||
        (error = read_github(c, p, n)) < 0 ||
        (error = required(&n, p, root, "", "pools", NULL)) < 0 || (error = read_pools(c, p, n)) < 0)
        return error;
    return read_daemon_sections(c, p, root);
}

int osr_manager_config_parse(
    osr_manager_config **out, const char *data, size_t len, const char *source_name, osr_error *err)
{
    osr__yaml_doc *doc = NULL;
    osr_manager_config *c = NULL;
    pctx p = { err, source_name, NULL };
    const char *slash;
    int error;

    if (out == NULL || data == NULL || source_name == NULL)
        return osr__error_set(err, OSR_EINVAL, "osr_manager_config_parse: no %s",
                              out == NULL    ? "out"
                              : data == NULL ? "data"
                                             : "source name");
    if ((error = osr__yaml_parse(&doc, data, len, source_name, err)) < 0)
        return error;
    slash = strrchr(source_name, '/');
    if (slash &&
        (p.base_dir = osr__strndup(
             source_name, slash == source_name ? 1 : (size_t)(slash - source_name))) == NULL) {
        error = nomem(&p);
        goto done;
    }
    if ((c = calloc(1, sizeof(*c))) == NULL || (c->source = osr__strdup(source_name)) == NULL) {
        error = nomem(&p);
        goto done;
    }
    c->app_id = -1;
    c->installation_id = -1;
    if ((error = read_root(c, &p, osr__yaml_doc_root(doc))) < 0)
        goto done;
    *out = c;
    c = NULL;
done:
    osr_manager_config_free(c);
    osr__yaml_doc_free(doc);
    free(p.base_dir);
    return error;
}

int osr_manager_config_load(osr_manager_config **out, const char *path, osr_error *err)
{
    char *data = NULL;
    size_t len = 0;
    int error;

    if (out == NULL)
        return osr__error_set(err, OSR_EINVAL, "osr_manager_config_load: out is NULL");
    if (path == NULL)
        path = OSR_MANAGER_CONFIG_DEFAULT_PATH;
    if ((error = osr__fs_read_st(&data, &len, NULL, path, OSR__YAML_MAX_INPUT, OSR_ECONFIG, err)) <
        0)
        return error;
    error = osr_manager_config_parse(out, data, len, path, err);
    free(data);
    return error;
}

/* ---- accessors */

const char *osr_manager_config_source(const osr_manager_config *cfg)
{
    return cfg ? cfg->source : NULL;
}

const char *osr_manager_config_manager(const osr_manager_config *cfg)
{
    return cfg ? cfg->manager : NULL;
}

const char *osr_manager_config_github_url(const osr_manager_config *cfg)
{
    return cfg ? cfg->github_url : NULL;
}

const char *osr_manager_config_metrics_listen(const osr_manager_config *cfg)
{
    return cfg ? cfg->metrics_listen : NULL;
}

const char *osr_manager_config_webhook_listen(const osr_manager_config *cfg)
{
    return cfg ? cfg->webhook_listen : NULL;
}

const char *osr_manager_config_webhook_secret_file(const osr_manager_config *cfg)
{
    return cfg ? cfg->webhook_secret_file : NULL;
}

const char *osr_manager_config_github_token_file(const osr_manager_config *cfg)
{
    return cfg ? cfg->token_file : NULL;
}

long long osr_manager_config_github_app_id(const osr_manager_config *cfg)
{
    return cfg ? cfg->app_id : -1;
}

long long osr_manager_config_github_installation_id(const osr_manager_config *cfg)
{
    return cfg ? cfg->installation_id : -1;
}

const char *osr_manager_config_github_app_key_file(const osr_manager_config *cfg)
{
    return cfg ? cfg->app_key_file : NULL;
}

size_t osr_pool_config_count(const osr_manager_config *cfg)
{
    return cfg ? cfg->npools : 0;
}

const osr_pool_spec *osr_pool_config_at(const osr_manager_config *cfg, size_t i)
{
    return cfg && i < cfg->npools ? &cfg->pools[i] : NULL;
}

const osr_pool_spec *osr_pool_config_find(const osr_manager_config *cfg, const char *name)
{
    for (size_t i = 0; cfg && name && i < cfg->npools; i++) {
        if (strcmp(cfg->pools[i].name, name) == 0)
            return &cfg->pools[i];
    }
    return NULL;
}

#define STR_GETTER(field)                                        \
    const char *osr_pool_spec_##field(const osr_pool_spec *pool) \
    {                                                            \
        return pool ? pool->field : NULL;                        \
    }
STR_GETTER(name)
STR_GETTER(cloud)
STR_GETTER(github_path)
STR_GETTER(runner_group)
STR_GETTER(image)
STR_GETTER(flavor)
STR_GETTER(network)
STR_GETTER(key_name)
STR_GETTER(availability_zone)
STR_GETTER(http_proxy)
STR_GETTER(https_proxy)
STR_GETTER(no_proxy)
STR_GETTER(docker_mirror)
#undef STR_GETTER

size_t osr_pool_spec_label_count(const osr_pool_spec *pool)
{
    return pool ? pool->nlabels : 0;
}

const char *osr_pool_spec_label(const osr_pool_spec *pool, size_t i)
{
    return pool && i < pool->nlabels ? pool->labels[i] : NULL;
}

size_t osr_pool_spec_security_group_count(const osr_pool_spec *pool)
{
    return pool ? pool->nsecurity_groups : 0;
}

const char *osr_pool_spec_security_group(const osr_pool_spec *pool, size_t i)
{
    return pool && i < pool->nsecurity_groups ? pool->security_groups[i] : NULL;
}

int osr_pool_spec_config_drive(const osr_pool_spec *pool)
{
    return pool ? pool->config_drive : 0;
}

long long osr_pool_spec_min_idle(const osr_pool_spec *pool)
{
    return pool ? pool->min_idle : -1;
}

long long osr_pool_spec_max_runners(const osr_pool_spec *pool)
{
    return pool ? pool->max_runners : -1;
}

int osr_pool_spec_jit(const osr_pool_spec *pool)
{
    return pool ? pool->jit : 0;
}

long long osr_pool_spec_timeout(const osr_pool_spec *pool, osr_pool_timeout which)
{
    if (pool == NULL || which < OSR_POOL_TIMEOUT_BUILD || which > OSR_POOL_TIMEOUT_JOB)
        return -1;
    return pool->timeouts[which - 1];
}
