/* clouds.yaml: search, secure.yaml merge, cloud selection and validation, as
 * openstacksdk and python-openstackclient read it. */
#include "osrunner/clouds.h"

#include "fs.h"
#include "util.h"
#include "yaml_tree.h"

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENV_SOURCE  "environment"
#define ENV_CLOUD   "envvars"
#define SUPPORTED   "password, v3password, v3applicationcredential, token, v3token"
#define SECRET_MASK "****"

#define VENDORS_SOURCE "osrunner's vendor profiles"

/* data/clouds-public.yaml, compiled in (src/lib/CMakeLists.txt). */
extern const unsigned char osr__vendors_yaml[];
extern const size_t osr__vendors_yaml_len;

typedef struct setting {
    char *key;
    char *value;
    char *where; /* "FILE:L:C: cloud 'N': KEY" or "environment: OS_X"; NULL for a default */
    osr_cloud_type type;
    bool secret;
} setting;

struct osr_cloud {
    char *name;
    char *source;
    char *auth_type;
    setting *settings;
    size_t count;
    size_t cap;
    bool domain_scoped;
};

/* The OS_* variables that form the "envvars" cloud, and the setting each one fills. */
static const struct env_var {
    const char *var;
    const char *key;
    bool plain; /* read the value as a YAML plain scalar (booleans) */
    bool auth;  /* its presence alone makes an environment cloud */
} env_vars[] = {
    { "OS_AUTH_URL", "auth.auth_url", false, true },
    { "OS_AUTH_TYPE", "auth_type", false, true },
    { "OS_USERNAME", "auth.username", false, true },
    { "OS_USER_ID", "auth.user_id", false, true },
    { "OS_PASSWORD", "auth.password", false, true },
    { "OS_PROJECT_NAME", "auth.project_name", false, true },
    { "OS_PROJECT_ID", "auth.project_id", false, true },
    { "OS_TENANT_NAME", "auth.tenant_name", false, true },
    { "OS_TENANT_ID", "auth.tenant_id", false, true },
    { "OS_USER_DOMAIN_NAME", "auth.user_domain_name", false, true },
    { "OS_USER_DOMAIN_ID", "auth.user_domain_id", false, true },
    { "OS_PROJECT_DOMAIN_NAME", "auth.project_domain_name", false, true },
    { "OS_PROJECT_DOMAIN_ID", "auth.project_domain_id", false, true },
    { "OS_DOMAIN_NAME", "auth.domain_name", false, true },
    { "OS_DOMAIN_ID", "auth.domain_id", false, true },
    { "OS_DEFAULT_DOMAIN_NAME", "auth.default_domain_name", false, true },
    { "OS_DEFAULT_DOMAIN_ID", "auth.default_domain_id", false, true },
    { "OS_APPLICATION_CREDENTIAL_ID", "auth.application_credential_id", false, true },
    { "OS_APPLICATION_CREDENTIAL_NAME", "auth.application_credential_name", false, true },
    { "OS_APPLICATION_CREDENTIAL_SECRET", "auth.application_credential_secret", false, true },
    { "OS_TOKEN", "auth.token", false, true },
    { "OS_REGION_NAME", "region_name", false, false },
    { "OS_INTERFACE", "interface", false, false },
    { "OS_IDENTITY_API_VERSION", "identity_api_version", false, false },
    { "OS_CACERT", "cacert", false, false },
    { "OS_CERT", "cert", false, false },
    { "OS_KEY", "key", false, false },
    { "OS_INSECURE", "insecure", true, false },
};

/* ---- the cloud object ------------------------------------------------------------------ */

static bool is_secret_key(const char *key)
{
    const char *last = strrchr(key, '.');

    last = last ? last + 1 : key;
    return strcmp(last, "password") == 0 || strcmp(last, "token") == 0 ||
           strstr(last, "secret") != NULL;
}

static void cloud_free(osr_cloud *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->count; i++) {
        free(c->settings[i].key);
        free(c->settings[i].where);
        osr__secret_free(c->settings[i].value);
    }
    free(c->settings);
    free(c->name);
    free(c->source);
    free(c->auth_type);
    free(c);
}

static const setting *cloud_find(const osr_cloud *c, const char *key)
{
    for (size_t i = 0; i < c->count; i++) {
        if (strcmp(c->settings[i].key, key) == 0)
            return &c->settings[i];
    }
    return NULL;
}

static const char *cloud_lookup(const osr_cloud *c, const char *key)
{
    const setting *s = cloud_find(c, key);
    return s ? s->value : NULL;
}

/* Set (or replace) a setting; value is copied, where (may be NULL) is taken. */
static int
cloud_set(osr_cloud *c, const char *key, const char *value, osr_cloud_type type, char *where)
{
    char *v = osr__strdup(value), *k = NULL;

    if (v == NULL) {
        free(where);
        return OSR_ENOMEM;
    }
    for (size_t i = 0; i < c->count; i++) {
        if (strcmp(c->settings[i].key, key) == 0) {
            osr__secret_free(c->settings[i].value);
            free(c->settings[i].where);
            c->settings[i].value = v;
            c->settings[i].where = where;
            c->settings[i].type = type;
            return 0;
        }
    }
    if (c->count == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        setting *s = realloc(c->settings, cap * sizeof(*s));
        if (s == NULL) {
            osr__secret_free(v);
            free(where);
            return OSR_ENOMEM;
        }
        c->settings = s;
        c->cap = cap;
    }
    k = osr__strdup(key);
    if (k == NULL) {
        osr__secret_free(v);
        free(where);
        return OSR_ENOMEM;
    }
    c->settings[c->count].key = k;
    c->settings[c->count].value = v;
    c->settings[c->count].where = where;
    c->settings[c->count].type = type;
    c->settings[c->count].secret = is_secret_key(key);
    c->count++;
    return 0;
}

static void cloud_unset(osr_cloud *c, const char *key)
{
    for (size_t i = 0; i < c->count; i++) {
        if (strcmp(c->settings[i].key, key) == 0) {
            free(c->settings[i].key);
            free(c->settings[i].where);
            osr__secret_free(c->settings[i].value);
            memmove(&c->settings[i], &c->settings[i + 1], (c->count - i - 1) * sizeof(setting));
            c->count--;
            return;
        }
    }
}

static int setting_cmp(const void *a, const void *b)
{
    return strcmp(((const setting *)a)->key, ((const setting *)b)->key);
}

/* ---- finding files --------------------------------------------------------------------- */

static const char *env_get(const osr_cloud_options *opts, const char *name)
{
    const char *v = NULL;

    if (opts != NULL && opts->env != NULL) {
        size_t n = strlen(name);
        for (const char *const *e = opts->env; *e != NULL; e++) {
            if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
                v = *e + n + 1; /* the last one wins, as with putenv */
        }
    } else {
        v = getenv(name);
    }
    return (v != NULL && *v != '\0') ? v : NULL;
}

typedef struct search {
    char *owned[3];
    const char *dirs[4];
    const char *const *list;
} search;

static void search_free(search *s)
{
    for (size_t i = 0; i < 3; i++)
        free(s->owned[i]);
}

static int search_init(search *s, const osr_cloud_options *opts, osr_error *err)
{
    const char *xdg, *home;
    size_t n = 0;

    memset(s, 0, sizeof(*s));
    if (opts != NULL && opts->search_dirs != NULL) {
        s->list = opts->search_dirs;
        return 0;
    }
    s->owned[0] = getcwd(NULL, 0);
    s->dirs[n++] = s->owned[0] ? s->owned[0] : ".";
    xdg = env_get(opts, "XDG_CONFIG_HOME");
    home = env_get(opts, "HOME");
    if (xdg != NULL)
        s->owned[1] = osr__path_join(xdg, "openstack");
    else if (home != NULL)
        s->owned[1] = osr__sprintf("%s/.config/openstack", home);
    if ((xdg != NULL || home != NULL) && s->owned[1] == NULL) {
        search_free(s);
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    }
    if (s->owned[1] != NULL)
        s->dirs[n++] = s->owned[1];
    s->dirs[n++] = "/etc/openstack";
    s->dirs[n] = NULL;
    s->list = s->dirs;
    return 0;
}

/* The first of DIR/BASE.{yaml,yml,json} that exists; *out NULL when none. */
static int search_find(char **out, const search *s, const char *base, osr_error *err)
{
    static const char *const exts[] = { "yaml", "yml", "json" };
    struct stat st;

    *out = NULL;
    for (const char *const *d = s->list; *d != NULL; d++) {
        for (size_t i = 0; i < 3; i++) {
            char *p = osr__sprintf("%s%s%s.%s", *d, (**d && (*d)[strlen(*d) - 1] == '/') ? "" : "/",
                                   base, exts[i]);
            if (p == NULL)
                return osr__error_set(err, OSR_ENOMEM, "out of memory");
            if (stat(p, &st) == 0) {
                *out = p;
                return 0;
            }
            free(p);
        }
    }
    return 0;
}

/* ---- validation ------------------------------------------------------------------------ */

/* What one load or validation shares between its clouds. */
typedef struct loader {
    const osr_cloud_options *opts; /* NULL: defaults, the process environment */
    const search *s;
    osr__yaml_doc *arena;      /* nodes made by normalising, merging, choosing a region */
    osr__yaml_doc *public_doc; /* the user's clouds-public.yaml, read when needed */
    const osr__yaml_node *public_clouds;
    bool public_read;
    osr__yaml_doc *vendor_doc; /* osrunner's vendor profiles, parsed when needed */
    const osr__yaml_node *vendor_clouds;
} loader;

typedef struct vctx {
    const char *cloud;  /* its name */
    bool env;           /* built from OS_* variables */
    bool check_files;   /* the cloud is about to be used: files it names must exist */
    const char *region; /* the chosen region, for {region_name}; NULL for none */
    loader *ld;
    osr_cloud *out; /* settings go here */
    osr_error *err;
} vctx;

static const char *env_name_of(const char *key)
{
    for (size_t i = 0; i < sizeof(env_vars) / sizeof(env_vars[0]); i++) {
        if (strcmp(env_vars[i].key, key) == 0)
            return env_vars[i].var;
    }
    return key;
}

/* "a string", "an integer", ... */
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
        return "a sequence";
    case OSR__YAML_KIND_MAP:
        return "a mapping";
    case OSR__YAML_KIND_STR:
        break;
    }
    return "a string";
}

/* "FILE:LINE:COL: cloud 'NAME': FIELD: message", or "environment: OS_VAR: message". */
static int verr(vctx *v, const osr__yaml_node *n, const char *field, const char *fmt, ...)
    OSR__PRINTF(4, 5);
static int verr(vctx *v, const osr__yaml_node *n, const char *field, const char *fmt, ...)
{
    char msg[OSR_ERROR_MESSAGE_MAX], q[OSR__QUOTE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (v->env) {
        const char *var = (n && n->origin) ? n->origin : (field ? env_name_of(field) : NULL);
        if (var != NULL)
            return osr__error_set(v->err, OSR_ECONFIG, "%s: %s: %s", ENV_SOURCE, var, msg);
        return osr__error_set(v->err, OSR_ECONFIG, "%s: %s", ENV_SOURCE, msg);
    }
    osr__quote(q, sizeof(q), v->cloud, 64);
    if (n == NULL || n->line == 0)
        return osr__error_set(v->err, OSR_ECONFIG, "cloud '%s': %s%s%s", q, field ? field : "",
                              field ? ": " : "", msg);
    if (field != NULL) {
        return osr__error_set(v->err, OSR_ECONFIG, "%s:%zu:%zu: cloud '%s': %s: %s", n->source,
                              n->line, n->column, q, field, msg);
    }
    return osr__error_set(v->err, OSR_ECONFIG, "%s:%zu:%zu: cloud '%s': %s", n->source, n->line,
                          n->column, q, msg);
}

/* "missing 'a' or 'b'" (file) or "missing OS_A or OS_B" (environment), at map. */
static int
vmissing(vctx *v, const osr__yaml_node *map, const char *a, const char *b, const char *hint)
{
    char names[160];
    const char *section = strncmp(a, "auth.", 5) == 0 ? "auth" : NULL;

    if (v->env) {
        if (b != NULL)
            snprintf(names, sizeof(names), "%s or %s", env_name_of(a), env_name_of(b));
        else
            snprintf(names, sizeof(names), "%s", env_name_of(a));
    } else {
        const char *la = section ? a + 5 : a, *lb = (b && section) ? b + 5 : b;
        if (b != NULL)
            snprintf(names, sizeof(names), "'%s' or '%s'", la, lb);
        else
            snprintf(names, sizeof(names), "'%s'", la);
    }
    return verr(v, map, v->env ? NULL : section, "missing %s%s%s", names, hint ? "; " : "",
                hint ? hint : "");
}

/* A scalar holding a string. *out is NULL when absent, null or (allow_empty) empty. */
static int get_string(const osr__yaml_node **out,
                      vctx *v,
                      const osr__yaml_node *map,
                      const char *key,
                      const char *field,
                      bool allow_empty)
{
    const osr__yaml_node *n = osr__yaml_map_get(map, key);
    osr__yaml_kind kind;

    *out = NULL;
    if (n == NULL)
        return 0;
    kind = osr__yaml_kind_of(n);
    if (n->type != OSR__YAML_SCALAR)
        return verr(v, n, field, "expected a scalar, found %s", kind_name(n));
    if (kind == OSR__YAML_KIND_NULL)
        return 0;
    if (kind == OSR__YAML_KIND_BOOL) {
        return verr(v, n, field, "read as the YAML boolean %s; quote it if you mean the string",
                    is_secret_key(field) ? "value" : n->value);
    }
    if (n->len == 0 || memchr(n->value, '\0', n->len) != NULL) {
        if (n->len == 0 && allow_empty)
            return 0;
        return verr(v, n, field, n->len == 0 ? "must not be empty" : "contains a NUL byte");
    }
    *out = n;
    return 0;
}

/* verify/insecure: a YAML 1.1 boolean. */
static int get_bool(int *out, vctx *v, const osr__yaml_node *map, const char *key)
{
    char q[OSR__QUOTE_MAX];
    const osr__yaml_node *n = osr__yaml_map_get(map, key);
    bool b;

    *out = -1;
    if (n == NULL || osr__yaml_is_null(n))
        return 0;
    if (n->type != OSR__YAML_SCALAR)
        return verr(v, n, key, "expected a boolean, found %s", kind_name(n));
    if (osr__yaml_bool(&b, n) == 0) {
        *out = b;
        return 0;
    }
    if (!n->plain && n->tag == NULL &&
        osr__yaml_resolve_plain(n->value, n->len) == OSR__YAML_KIND_BOOL) {
        return verr(v, n, key, "\"%s\" is a quoted string, not a boolean; write it without quotes",
                    osr__quote(q, sizeof(q), n->value, 64));
    }
    if (v->env)
        return verr(v, n, key, "not a boolean: '%s' (use true or false)",
                    osr__quote(q, sizeof(q), n->value, 64));
    return verr(v, n, key, "not a boolean: '%s' (use true/false, yes/no or on/off)",
                osr__quote(q, sizeof(q), n->value, 64));
}

static bool url_ok(const char *u)
{
    const char *p, *end, *host;

    for (p = u; *p; p++) {
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return false;
    }
    if (strncasecmp(u, "http://", 7) == 0)
        p = u + 7;
    else if (strncasecmp(u, "https://", 8) == 0)
        p = u + 8;
    else
        return false;
    end = p + strcspn(p, "/?#");
    host = p;
    for (const char *q = p; q < end; q++) {
        if (*q == '@')
            host = q + 1;
    }
    if (host < end && *host == '[') {
        const char *close = memchr(host, ']', (size_t)(end - host));
        return close != NULL && close > host + 1;
    }
    return host < end && *host != ':';
}

/* Where a setting came from, for the typed getters' messages. */
static char *where_of(vctx *v, const osr__yaml_node *n, const char *key)
{
    char q[OSR__QUOTE_MAX], kq[OSR__QUOTE_MAX];

    if (n == NULL)
        return NULL;
    if (v->env)
        return n->origin ? osr__sprintf("%s: %s", ENV_SOURCE, n->origin) : NULL;
    if (n->line == 0)
        return NULL;
    return osr__sprintf("%s:%zu:%zu: cloud '%s': %s", n->source, n->line, n->column,
                        osr__quote(q, sizeof(q), v->cloud, 64),
                        osr__quote(kq, sizeof(kq), key, 96));
}

/* Store a typed setting read from n (NULL for a default or a derived value).
 * As openstacksdk does, "{region_name}" in a value that is not a secret reads
 * as the chosen region. */
static int store_typed(
    vctx *v, const char *key, const char *value, osr_cloud_type type, const osr__yaml_node *n)
{
    static const char ph[] = "{region_name}";
    osr__buf b = OSR__BUF_INIT;
    const char *p;
    int error = 0;

    if (!is_secret_key(key) && strstr(value, ph) != NULL) {
        if (v->region == NULL || *v->region == '\0')
            return verr(v, n, key, "uses {region_name}, but the cloud has no region");
        for (p = value; error == 0 && (p = strstr(value, ph)) != NULL; value = p + sizeof(ph) - 1) {
            if ((error = osr__buf_append(&b, value, (size_t)(p - value))) == 0)
                error = osr__buf_puts(&b, v->region);
        }
        if (error == 0)
            error = osr__buf_puts(&b, value);
        if (error < 0) {
            osr__buf_free(&b);
            return osr__error_set(v->err, OSR_ENOMEM, "out of memory");
        }
        value = b.data;
    }
    if (cloud_set(v->out, key, value, type, where_of(v, n, key)) < 0)
        error = osr__error_set(v->err, OSR_ENOMEM, "out of memory");
    osr__buf_free(&b);
    return error;
}

static int store(vctx *v, const char *key, const char *value, const osr__yaml_node *n)
{
    return store_typed(v, key, value, OSR_CLOUD_TYPE_STRING, n);
}

/* Domain for user_ or project_: explicit, then domain_*, then default_domain_*, then "default". */
static int default_domain(vctx *v, const char *who)
{
    char id_key[64], name_key[64];
    const char *val;

    snprintf(id_key, sizeof(id_key), "auth.%s_domain_id", who);
    snprintf(name_key, sizeof(name_key), "auth.%s_domain_name", who);
    if (cloud_lookup(v->out, id_key) || cloud_lookup(v->out, name_key))
        return 0;
    if ((val = cloud_lookup(v->out, "auth.domain_id")) != NULL)
        return store(v, id_key, val, NULL);
    if ((val = cloud_lookup(v->out, "auth.domain_name")) != NULL)
        return store(v, name_key, val, NULL);
    if ((val = cloud_lookup(v->out, "auth.default_domain_id")) != NULL)
        return store(v, id_key, val, NULL);
    if ((val = cloud_lookup(v->out, "auth.default_domain_name")) != NULL)
        return store(v, name_key, val, NULL);
    return store(v, id_key, "default", NULL);
}

/* Read every scalar of auth into "auth.KEY" settings. */
static int read_auth(vctx *v, const osr__yaml_node *auth)
{
    char field[96];
    const osr__yaml_node *n;
    int error;

    for (size_t i = 0; i < auth->npairs; i++) {
        const osr__yaml_node *k = auth->pairs[i].key;
        snprintf(field, sizeof(field), "auth.%.80s", k->value);
        if ((error = get_string(&n, v, auth, k->value, field, false)) < 0)
            return error;
        if (n != NULL && (error = store(v, field, n->value, n)) < 0)
            return error;
    }
    /* Old names for the project. */
    if (!cloud_lookup(v->out, "auth.project_name") && cloud_lookup(v->out, "auth.tenant_name") &&
        (error = store(v, "auth.project_name", cloud_lookup(v->out, "auth.tenant_name"), NULL)) < 0)
        return error;
    if (!cloud_lookup(v->out, "auth.project_id") && cloud_lookup(v->out, "auth.tenant_id") &&
        (error = store(v, "auth.project_id", cloud_lookup(v->out, "auth.tenant_id"), NULL)) < 0)
        return error;
    cloud_unset(v->out, "auth.tenant_name");
    cloud_unset(v->out, "auth.tenant_id");
    return 0;
}

static bool has(vctx *v, const char *key)
{
    return cloud_lookup(v->out, key) != NULL;
}

/* A project scope, or (as keystoneauth allows) a domain scope: domain_id or
 * domain_name and no project. Commands that need a project refuse the latter
 * when they run (osr_cloud_domain_scoped). */
static int check_scope(vctx *v, const osr__yaml_node *auth)
{
    if (has(v, "auth.project_name") || has(v, "auth.project_id"))
        return 0;
    if (has(v, "auth.domain_id") || has(v, "auth.domain_name")) {
        v->out->domain_scoped = true;
        return 0;
    }
    return vmissing(v, auth, "auth.project_name", "auth.project_id", NULL);
}

static int check_auth(vctx *v, const osr__yaml_node *cloud, const osr__yaml_node *auth)
{
    char q[OSR__QUOTE_MAX];
    const char *type = v->out->auth_type;
    const char *auth_url;
    const osr__yaml_node *url;
    int error;

    if (!has(v, "auth.auth_url"))
        return vmissing(v, auth, "auth.auth_url", NULL, NULL);
    url = osr__yaml_map_get(auth, "auth_url");
    auth_url = cloud_lookup(v->out, "auth.auth_url");
    if (auth_url == NULL || !url_ok(auth_url)) {
        return verr(v, url, "auth.auth_url", "not an http(s) URL with a host: '%s'",
                    osr__quote(q, sizeof(q), auth_url, 128));
    }
    if (strcmp(type, "password") == 0) {
        bool appcred = has(v, "auth.application_credential_id") ||
                       has(v, "auth.application_credential_name") ||
                       has(v, "auth.application_credential_secret");
        const char *hint = !appcred || osr__yaml_map_get(cloud, "auth_type") != NULL ? NULL
                           : v->env ? "set OS_AUTH_TYPE=v3applicationcredential"
                                    : "set auth_type: v3applicationcredential";
        if (!has(v, "auth.username") && !has(v, "auth.user_id"))
            return vmissing(v, auth, "auth.username", "auth.user_id", hint);
        if (!has(v, "auth.password"))
            return vmissing(v, auth, "auth.password", NULL, hint);
        if ((error = check_scope(v, auth)) < 0 || (error = default_domain(v, "user")) < 0 ||
            (!v->out->domain_scoped && (error = default_domain(v, "project")) < 0))
            return error;
    } else if (strcmp(type, "v3applicationcredential") == 0) {
        if (!has(v, "auth.application_credential_secret"))
            return vmissing(v, auth, "auth.application_credential_secret", NULL, NULL);
        if (!has(v, "auth.application_credential_id")) {
            if (!has(v, "auth.application_credential_name")) {
                return vmissing(v, auth, "auth.application_credential_id",
                                "auth.application_credential_name", NULL);
            }
            if (!has(v, "auth.user_id") && !has(v, "auth.username")) {
                return vmissing(v, auth, "auth.user_id", "auth.username",
                                "an application credential name needs its user");
            }
            if (!has(v, "auth.user_id") && (error = default_domain(v, "user")) < 0)
                return error;
        }
    } else {
        if (!has(v, "auth.token"))
            return vmissing(v, auth, "auth.token", NULL, NULL);
        if ((error = check_scope(v, auth)) < 0 ||
            (!v->out->domain_scoped && (error = default_domain(v, "project")) < 0))
            return error;
    }
    /* Consumed by the defaults above, unless they are the scope. */
    if (!v->out->domain_scoped) {
        cloud_unset(v->out, "auth.domain_id");
        cloud_unset(v->out, "auth.domain_name");
    }
    cloud_unset(v->out, "auth.default_domain_id");
    cloud_unset(v->out, "auth.default_domain_name");
    return 0;
}

static int check_identity_version(vctx *v, const osr__yaml_node *cloud)
{
    char q[OSR__QUOTE_MAX];
    const osr__yaml_node *n = osr__yaml_map_get(cloud, "identity_api_version");
    osr__yaml_kind kind;
    int64_t i;

    if (n == NULL || osr__yaml_is_null(n))
        return store_typed(v, "identity_api_version", "3", OSR_CLOUD_TYPE_INT, NULL);
    kind = osr__yaml_kind_of(n);
    if (n->type != OSR__YAML_SCALAR) {
        return verr(v, n, "identity_api_version", "expected a scalar, found %s", kind_name(n));
    }
    if ((kind == OSR__YAML_KIND_INT && osr__yaml_int(&i, n) == 0 && i == 3) ||
        strcmp(n->value, "3") == 0 || strcmp(n->value, "3.0") == 0 ||
        (kind == OSR__YAML_KIND_FLOAT && strtod(n->value, NULL) == 3.0))
        return store_typed(v, "identity_api_version", "3", OSR_CLOUD_TYPE_INT, n);
    return verr(v, n, "identity_api_version", "only identity API version 3 is supported, not '%s'",
                osr__quote(q, sizeof(q), n->value, 32));
}

/* "~" and "~/..." (HOME, else the passwd entry) and "~user/..." in a path, as
 * Python's os.path.expanduser does; anything else is copied. */
static int expand_home(char **out, vctx *v, const osr__yaml_node *n, const char *field)
{
    char q[OSR__QUOTE_MAX], buf[4096];
    const char *p = n->value, *slash, *home = NULL;
    struct passwd pw, *res = NULL;
    char *user = NULL;

    if (p[0] != '~') {
        *out = osr__strdup(p);
        return *out ? 0 : osr__error_set(v->err, OSR_ENOMEM, "out of memory");
    }
    slash = strchr(p, '/');
    if (slash == NULL)
        slash = p + strlen(p);
    if (slash == p + 1) {
        home = env_get(v->ld->opts, "HOME");
        if (home == NULL && getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) == 0 && res)
            home = res->pw_dir;
    } else {
        user = osr__strndup(p + 1, (size_t)(slash - p - 1));
        if (user == NULL)
            return osr__error_set(v->err, OSR_ENOMEM, "out of memory");
        if (getpwnam_r(user, &pw, buf, sizeof(buf), &res) == 0 && res)
            home = res->pw_dir;
    }
    free(user);
    if (home == NULL)
        return verr(v, n, field, "cannot expand '%s': no such user, or no HOME",
                    osr__quote(q, sizeof(q), p, 64));
    *out = osr__sprintf("%s%s", home,
                        (home[0] == '/' && home[1] == '\0' && *slash) ? slash + 1 : slash);
    return *out ? 0 : osr__error_set(v->err, OSR_ENOMEM, "out of memory");
}

static int check_cloud(vctx *v, const osr__yaml_node *cloud)
{
    char q[OSR__QUOTE_MAX];
    static const char *const paths[] = { "cacert", "cert", "key" };
    const osr__yaml_node *n, *auth;
    const osr__yaml_node *vnode;
    const char *ikey;
    int verify = -1, insecure = -1, error;

    if (cloud->type != OSR__YAML_MAPPING)
        return verr(v, cloud, NULL, "expected a mapping, found %s", kind_name(cloud));

    if ((error = get_string(&n, v, cloud, "auth_type", "auth_type", false)) < 0)
        return error;
    if (n == NULL || strcmp(n->value, "password") == 0 || strcmp(n->value, "v3password") == 0) {
        v->out->auth_type = osr__strdup("password");
    } else if (strcmp(n->value, "v3applicationcredential") == 0) {
        v->out->auth_type = osr__strdup("v3applicationcredential");
    } else if (strcmp(n->value, "token") == 0 || strcmp(n->value, "v3token") == 0) {
        v->out->auth_type = osr__strdup("token");
    } else {
        return verr(v, n, "auth_type", "unknown auth type '%s' (supported: " SUPPORTED ")",
                    osr__quote(q, sizeof(q), n->value, 64));
    }
    if (v->out->auth_type == NULL || (error = store(v, "auth_type", v->out->auth_type, n)) < 0)
        return osr__error_set(v->err, OSR_ENOMEM, "out of memory");

    auth = osr__yaml_map_get(cloud, "auth");
    if (auth == NULL || osr__yaml_is_null(auth))
        return vmissing(v, cloud, "auth", NULL, NULL);
    if (auth->type != OSR__YAML_MAPPING)
        return verr(v, auth, "auth", "expected a mapping, found %s", kind_name(auth));
    if ((error = read_auth(v, auth)) < 0 || (error = check_auth(v, cloud, auth)) < 0)
        return error;

    n = osr__yaml_map_get(cloud, "region_name");
    if (n != NULL && !osr__yaml_is_null(n)) {
        if (osr__yaml_kind_of(n) != OSR__YAML_KIND_STR)
            return verr(v, n, "region_name", "expected a string, found %s", kind_name(n));
        if (n->len > 0 && (error = store(v, "region_name", n->value, n)) < 0)
            return error;
    }

    /* endpoint_type is the old name of interface; interface wins. */
    ikey = osr__yaml_map_get(cloud, "interface") &&
                   !osr__yaml_is_null(osr__yaml_map_get(cloud, "interface"))
               ? "interface"
               : "endpoint_type";
    if ((error = get_string(&n, v, cloud, ikey, ikey, true)) < 0)
        return error;
    if (n != NULL && strcmp(n->value, "public") != 0 && strcmp(n->value, "internal") != 0 &&
        strcmp(n->value, "admin") != 0) {
        return verr(v, n, ikey, "must be public, internal or admin, not '%s'",
                    osr__quote(q, sizeof(q), n->value, 64));
    }
    if ((error = store(v, "interface", n ? n->value : "public", n)) < 0)
        return error;

    if ((error = check_identity_version(v, cloud)) < 0)
        return error;

    if ((error = get_bool(&verify, v, cloud, "verify")) < 0 ||
        (error = get_bool(&insecure, v, cloud, "insecure")) < 0)
        return error;
    vnode = osr__yaml_map_get(cloud, "verify");
    if (insecure == 1) {
        verify = 0;
        vnode = osr__yaml_map_get(cloud, "insecure");
    } else if (verify == -1) {
        vnode = insecure == 0 ? osr__yaml_map_get(cloud, "insecure") : NULL;
    }
    if ((error = store_typed(v, "verify", verify == 0 ? "false" : "true", OSR_CLOUD_TYPE_BOOL,
                             vnode)) < 0)
        return error;

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct stat st;
        char *path = NULL;
        if ((error = get_string(&n, v, cloud, paths[i], paths[i], true)) < 0)
            return error;
        if (n == NULL)
            continue;
        if ((error = expand_home(&path, v, n, paths[i])) < 0)
            return error;
        /* A missing CA bundle is a configuration error here, not a TLS failure later. */
        if (v->check_files && strcmp(paths[i], "cacert") == 0) {
            if (stat(path, &st) < 0)
                error = verr(v, n, paths[i], "%.300s: %s", path, strerror(errno));
            else if (!S_ISREG(st.st_mode))
                error = verr(v, n, paths[i], "%.300s: %s", path,
                             S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
        }
        if (error == 0)
            error = store(v, paths[i], path, n);
        free(path);
        if (error < 0)
            return error;
    }
    return 0;
}

/* ---- vendor profiles and regions ------------------------------------------------------- */

static int read_doc(osr__yaml_doc **out,
                    const char *path,
                    const char *why,
                    const osr_cloud_options *opts,
                    osr_error *err);

static int nomem(vctx *v)
{
    return osr__error_set(v->err, OSR_ENOMEM, "out of memory");
}

/* root[section] with every entry's keys normalised ('-' reads as '_'); the
 * names of the entries (cloud names) are kept as written. */
static int normalize_section(const osr__yaml_node **out,
                             osr__yaml_doc *arena,
                             const osr__yaml_node *root,
                             const char *section,
                             osr_error *err)
{
    const osr__yaml_node *sec = osr__yaml_map_get(root, section);
    osr__yaml_node *m = NULL, *v;
    int error;

    *out = sec;
    if (sec == NULL || sec->type != OSR__YAML_MAPPING)
        return 0;
    if (osr__yaml_new_mapping(&m, arena, NULL) < 0)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    m->source = sec->source;
    m->line = sec->line;
    m->column = sec->column;
    for (size_t i = 0; i < sec->npairs; i++) {
        if ((error = osr__yaml_normalize_keys(&v, arena, sec->pairs[i].value, err)) < 0)
            return error;
        if (osr__yaml_map_put(m, sec->pairs[i].key, v) < 0)
            return osr__error_set(err, OSR_ENOMEM, "out of memory");
    }
    *out = m;
    return 0;
}

/* A copy of root whose "clouds" (or "public-clouds") is normalised. */
static int normalize_root(osr__yaml_node **out,
                          osr__yaml_doc *arena,
                          const osr__yaml_node *root,
                          const char *section,
                          osr_error *err)
{
    const osr__yaml_node *sec;
    osr__yaml_node *m = NULL;
    int error;

    *out = (osr__yaml_node *)root;
    if (root == NULL || root->type != OSR__YAML_MAPPING || osr__yaml_map_get(root, section) == NULL)
        return 0;
    if ((error = normalize_section(&sec, arena, root, section, err)) < 0)
        return error;
    if (osr__yaml_new_mapping(&m, arena, NULL) < 0)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    m->source = root->source;
    m->line = root->line;
    m->column = root->column;
    for (size_t i = 0; i < root->npairs; i++) {
        osr__yaml_node *k = root->pairs[i].key;
        bool is_sec = k->len == strlen(section) && strcmp(k->value, section) == 0;
        if (osr__yaml_map_put(m, k, is_sec ? (osr__yaml_node *)sec : root->pairs[i].value) < 0)
            return osr__error_set(err, OSR_ENOMEM, "out of memory");
    }
    *out = m;
    return 0;
}

/* The user's clouds-public.yaml (first in the search path), read once. */
static int public_clouds(const osr__yaml_node **out, loader *ld, osr_error *err)
{
    char *path = NULL;
    osr__yaml_node *root;
    int error = 0;

    if (!ld->public_read) {
        ld->public_read = true;
        if ((error = search_find(&path, ld->s, "clouds-public", err)) < 0)
            return error;
        if (path != NULL && (error = read_doc(&ld->public_doc, path, NULL, ld->opts, err)) == 0 &&
            (error = normalize_root(&root, ld->arena, osr__yaml_doc_root(ld->public_doc),
                                    "public-clouds", err)) == 0)
            ld->public_clouds = osr__yaml_map_get(root, "public-clouds");
        free(path);
        if (error < 0)
            return error;
    }
    *out = ld->public_clouds;
    return 0;
}

static int vendor_clouds(const osr__yaml_node **out, loader *ld, osr_error *err)
{
    int error;

    if (ld->vendor_doc == NULL) {
        if ((error = osr__yaml_parse(&ld->vendor_doc, (const char *)osr__vendors_yaml,
                                     osr__vendors_yaml_len, VENDORS_SOURCE, err)) < 0)
            return error;
        ld->vendor_clouds = osr__yaml_map_get(osr__yaml_doc_root(ld->vendor_doc), "public-clouds");
    }
    *out = ld->vendor_clouds;
    return 0;
}

/* profile: NAME (or the old key cloud: NAME): the vendor's settings under the cloud's. */
static int apply_profile(const osr__yaml_node **cloud, vctx *v)
{
    char q[OSR__QUOTE_MAX];
    const char *key = osr__yaml_map_get(*cloud, "profile") ? "profile" : "cloud";
    const osr__yaml_node *n, *from = NULL, *prof = NULL;
    osr__yaml_node *merged;
    int error;

    if ((error = get_string(&n, v, *cloud, key, key, false)) < 0 || n == NULL)
        return error;
    if ((error = public_clouds(&from, v->ld, v->err)) < 0)
        return error;
    prof = osr__yaml_map_get(from, n->value);
    if (prof == NULL) {
        if ((error = vendor_clouds(&from, v->ld, v->err)) < 0)
            return error;
        prof = osr__yaml_map_get(from, n->value);
    }
    if (prof == NULL)
        return verr(v, n, key,
                    "no vendor profile '%s' in clouds-public.yaml or among openstacksdk's "
                    "vendor profiles",
                    osr__quote(q, sizeof(q), n->value, 64));
    if (prof->type != OSR__YAML_MAPPING)
        return verr(v, prof, NULL, "vendor profile '%s': expected a mapping, found %s",
                    osr__quote(q, sizeof(q), n->value, 64), kind_name(prof));
    if (osr__yaml_merge(&merged, v->ld->arena, prof, *cloud) < 0)
        return nomem(v);
    *cloud = merged;
    return 0;
}

/* A copy of map without key. */
static int map_without(osr__yaml_node **out, vctx *v, const osr__yaml_node *map, const char *key)
{
    osr__yaml_node *m = NULL;

    if (osr__yaml_new_mapping(&m, v->ld->arena, NULL) < 0)
        return nomem(v);
    m->source = map->source;
    m->line = map->line;
    m->column = map->column;
    for (size_t i = 0; i < map->npairs; i++) {
        if (strcmp(map->pairs[i].key->value, key) != 0 &&
            osr__yaml_map_put(m, map->pairs[i].key, map->pairs[i].value) < 0)
            return nomem(v);
    }
    *out = m;
    return 0;
}

/* One entry of a region list: a name, or {name, values}. */
static int region_entry(const char **name,
                        const osr__yaml_node **values,
                        vctx *v,
                        const osr__yaml_node *e,
                        const char *field)
{
    const osr__yaml_node *n;
    int error;

    *values = NULL;
    if (e->type == OSR__YAML_SCALAR) {
        if (osr__yaml_kind_of(e) != OSR__YAML_KIND_STR || e->len == 0)
            return verr(v, e, field, "a region is a name or {name, values}, found %s",
                        e->len == 0 ? "an empty string" : kind_name(e));
        *name = e->value;
        return 0;
    }
    if (e->type != OSR__YAML_MAPPING)
        return verr(v, e, field, "a region is a name or {name, values}, found %s", kind_name(e));
    for (size_t i = 0; i < e->npairs; i++) {
        char q[OSR__QUOTE_MAX];
        const char *k = e->pairs[i].key->value;
        if (strcmp(k, "name") != 0 && strcmp(k, "values") != 0)
            return verr(v, e->pairs[i].key, field,
                        "a region entry has only 'name' and 'values', not '%s'",
                        osr__quote(q, sizeof(q), k, 64));
    }
    if ((error = get_string(&n, v, e, "name", field, false)) < 0)
        return error;
    if (n == NULL)
        return verr(v, e, field, "a region entry needs a 'name'");
    *name = n->value;
    n = osr__yaml_map_get(e, "values");
    if (n != NULL && !osr__yaml_is_null(n) && n->type != OSR__YAML_MAPPING)
        return verr(v, n, field, "a region's 'values' must be a mapping, found %s", kind_name(n));
    *values = (n && n->type == OSR__YAML_MAPPING) ? n : NULL;
    return 0;
}

/* regions: [...], or a list in region_name: the first region, unless the
 * cloud's region_name (beside regions) or OS_REGION_NAME names one; its
 * values apply over the cloud. */
static int apply_region(const osr__yaml_node **cloud, vctx *v)
{
    char q[OSR__QUOTE_MAX];
    const osr__yaml_node *regions = osr__yaml_map_get(*cloud, "regions");
    const osr__yaml_node *rn = osr__yaml_map_get(*cloud, "region_name");
    const osr__yaml_node *list = NULL, *values = NULL, *chosen_node = NULL;
    const char *field, *want = NULL, *want_from = NULL, *chosen = NULL;
    char *split = NULL;
    osr__yaml_node *c = NULL, *name_node = NULL, *merged;
    osr__buf names = OSR__BUF_INIT;
    int error = 0;

    if (regions != NULL && !osr__yaml_is_null(regions)) {
        if (regions->type != OSR__YAML_SEQUENCE)
            return verr(v, regions, "regions", "expected a sequence, found %s", kind_name(regions));
        list = regions;
        field = "regions";
        if (rn != NULL && rn->type == OSR__YAML_SCALAR && !osr__yaml_is_null(rn) && rn->len > 0) {
            want = rn->value;
            want_from = "region_name";
        }
    } else if (rn != NULL && rn->type == OSR__YAML_SEQUENCE) {
        list = rn;
        field = "region_name";
    } else if (rn != NULL && osr__yaml_kind_of(rn) == OSR__YAML_KIND_STR && !v->env &&
               memchr(rn->value, ',', rn->len) != NULL) {
        /* Old style, still read by openstacksdk: "a,b" is a list. */
        field = "region_name";
        if ((split = osr__strdup(rn->value)) == NULL)
            return nomem(v);
        for (char *p = split, *e; p != NULL; p = e) {
            if ((e = strchr(p, ',')) != NULL)
                *e++ = '\0';
            if (*p != '\0' && chosen == NULL) {
                chosen = p;
                chosen_node = rn;
            }
        }
        if (chosen == NULL) {
            free(split);
            return verr(v, rn, "region_name", "no region in '%s'",
                        osr__quote(q, sizeof(q), rn->value, 64));
        }
    } else {
        if (rn != NULL && osr__yaml_kind_of(rn) == OSR__YAML_KIND_STR && rn->len > 0)
            v->region = rn->value;
        return 0;
    }
    if (list != NULL) {
        if (want == NULL && !v->env && (want = env_get(v->ld->opts, "OS_REGION_NAME")) != NULL)
            want_from = "OS_REGION_NAME";
        if (list->nitems == 0)
            return verr(v, list, field, "an empty list of regions");
        for (size_t i = 0; i < list->nitems; i++) {
            const char *name = NULL; /* region_entry sets both on success */
            const osr__yaml_node *vals = NULL;
            if ((error = region_entry(&name, &vals, v, list->items[i], field)) < 0) {
                osr__buf_free(&names);
                return error;
            }
            if (chosen == NULL && (want == NULL || strcmp(want, name) == 0)) {
                chosen = name;
                chosen_node = list->items[i];
                values = vals;
            }
            if (osr__buf_printf(&names, "%s%s", i ? ", " : "", osr__quote(q, sizeof(q), name, 64)) <
                0) {
                osr__buf_free(&names);
                return nomem(v);
            }
        }
        if (chosen == NULL) {
            error =
                verr(v, list, field, "no region '%s' (chosen by %s); the cloud's regions: %.300s",
                     osr__quote(q, sizeof(q), want, 64), want_from, names.data);
            osr__buf_free(&names);
            return error;
        }
        osr__buf_free(&names);
    }
    /* The cloud without its list, with region_name the chosen one and the region's values over it.
     */
    if ((error = map_without(&c, v, *cloud, "regions")) < 0 ||
        osr__yaml_new_scalar(&name_node, v->ld->arena, chosen, false, NULL) < 0) {
        free(split);
        return error < 0 ? error : nomem(v);
    }
    free(split);
    name_node->source = chosen_node->source;
    name_node->line = chosen_node->line;
    name_node->column = chosen_node->column;
    if (osr__yaml_map_set(v->ld->arena, c, "region_name", name_node) < 0 ||
        osr__yaml_merge(&merged, v->ld->arena, c, values) < 0)
        return nomem(v);
    /* values may not choose another region. */
    if (osr__yaml_map_get(merged, "region_name") != name_node &&
        osr__yaml_map_set(v->ld->arena, merged, "region_name", name_node) < 0)
        return nomem(v);
    v->region = name_node->value;
    *cloud = merged;
    return 0;
}

/* Validate one cloud; on success *out holds it (name and source set). */
static int build_cloud(osr_cloud **out,
                       const osr__yaml_node *node,
                       const char *name,
                       const char *source,
                       bool env,
                       bool check_files,
                       loader *ld,
                       osr_error *err)
{
    osr_cloud *c = calloc(1, sizeof(*c));
    vctx v;
    int error;

    if (c == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    v.cloud = name;
    v.env = env;
    v.check_files = check_files;
    v.region = NULL;
    v.ld = ld;
    v.out = c;
    v.err = err;
    c->name = osr__strdup(name);
    c->source = osr__strdup(source);
    if (c->name == NULL || c->source == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    if (node->type == OSR__YAML_MAPPING &&
        ((!env && (error = apply_profile(&node, &v)) < 0) || (error = apply_region(&node, &v)) < 0))
        goto done;
    if ((error = check_cloud(&v, node)) < 0)
        goto done;
    if (c->count > 1)
        qsort(c->settings, c->count, sizeof(*c->settings), setting_cmp);
    *out = c;
    c = NULL;
done:
    cloud_free(c);
    return error;
}

/* The top of a clouds file: a mapping with a non-empty mapping "clouds". */
static int
check_top(const osr__yaml_node **out, const osr__yaml_node *root, const char *name, osr_error *err)
{
    const osr__yaml_node *clouds;

    if (root == NULL || osr__yaml_is_null(root)) {
        return osr__error_set(err, OSR_ECONFIG,
                              "%s:1:1: the file is empty; expected a mapping with 'clouds'", name);
    }
    if (root->type != OSR__YAML_MAPPING) {
        return osr__error_set(err, OSR_ECONFIG,
                              "%s:%zu:%zu: expected a mapping with 'clouds' at the top, found %s",
                              root->source, root->line, root->column, kind_name(root));
    }
    clouds = osr__yaml_map_get(root, "clouds");
    if (clouds == NULL) {
        return osr__error_set(err, OSR_ECONFIG, "%s:%zu:%zu: missing 'clouds'", root->source,
                              root->line, root->column);
    }
    if (osr__yaml_is_null(clouds) || (clouds->type == OSR__YAML_MAPPING && clouds->npairs == 0)) {
        return osr__error_set(err, OSR_ECONFIG, "%s:%zu:%zu: 'clouds' defines no cloud",
                              clouds->source, clouds->line, clouds->column);
    }
    if (clouds->type != OSR__YAML_MAPPING) {
        return osr__error_set(err, OSR_ECONFIG,
                              "%s:%zu:%zu: 'clouds' must be a mapping of cloud names, found %s",
                              clouds->source, clouds->line, clouds->column, kind_name(clouds));
    }
    *out = clouds;
    return 0;
}

static void loader_free(loader *ld)
{
    osr__yaml_doc_free(ld->public_doc);
    osr__yaml_doc_free(ld->vendor_doc);
    osr__yaml_doc_free(ld->arena);
}

int osr_clouds_validate(const char *data, size_t len, const char *source_name, osr_error *err)
{
    osr__yaml_doc *doc = NULL;
    osr__yaml_node *root = NULL;
    const osr__yaml_node *clouds = NULL;
    const char *name = source_name ? source_name : "clouds.yaml";
    loader ld;
    search s;
    int error;

    if (data == NULL && len > 0)
        return osr__error_set(err, OSR_EINVAL, "osr_clouds_validate: no data");
    memset(&ld, 0, sizeof(ld));
    if ((error = search_init(&s, NULL, err)) < 0)
        return error;
    ld.s = &s;
    if (osr__yaml_doc_new(&ld.arena, "normalised") < 0) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    if ((error = osr__yaml_parse(&doc, data ? data : "", len, name, err)) < 0)
        goto done;
    if ((error = normalize_root(&root, ld.arena, osr__yaml_doc_root(doc), "clouds", err)) < 0)
        goto done;
    if ((error = check_top(&clouds, root, name, err)) < 0)
        goto done;
    for (size_t i = 0; i < clouds->npairs; i++) {
        osr_cloud *c = NULL;
        error = build_cloud(&c, clouds->pairs[i].value, clouds->pairs[i].key->value, name, false,
                            false, &ld, err);
        cloud_free(c);
        if (error < 0)
            goto done;
    }
done:
    loader_free(&ld);
    osr__yaml_doc_free(doc);
    search_free(&s);
    return error;
}

/* Does any mapping below n hold a secret (password, token, *secret*)? */
static bool holds_secret(const osr__yaml_node *n)
{
    if (n == NULL)
        return false;
    for (size_t i = 0; n->type == OSR__YAML_MAPPING && i < n->npairs; i++) {
        const osr__yaml_node *val = n->pairs[i].value;
        if (is_secret_key(n->pairs[i].key->value) && val && val->type == OSR__YAML_SCALAR &&
            val->len > 0)
            return true;
        if (holds_secret(val))
            return true;
    }
    for (size_t i = 0; n->type == OSR__YAML_SEQUENCE && i < n->nitems; i++) {
        if (holds_secret(n->items[i]))
            return true;
    }
    return false;
}

static int read_doc(osr__yaml_doc **out,
                    const char *path,
                    const char *why,
                    const osr_cloud_options *opts,
                    osr_error *err)
{
    char *data = NULL;
    size_t len = 0;
    struct stat st;
    int error;

    /* Too large is a configuration error, as it is for osr_clouds_validate(). */
    error = osr__fs_read_st(&data, &len, &st, path, OSR__YAML_MAX_INPUT, OSR_ECONFIG, err);
    if (error == OSR_ENOTFOUND && why != NULL) {
        return osr__error_set(err, OSR_ENOTFOUND, "%s: no such file (named by %s)", path, why);
    }
    if (error < 0)
        return error;
    error = osr__yaml_parse(out, data, len, path, err);
    osr__secret_wipe(data, len);
    free(data);
    /* As ssh does for keys: a secret others may read is worth a warning. */
    if (error == 0 && opts && opts->version >= 2 && opts->log_cb &&
        opts->log_level >= OSR_LOG_WARN && osr__fs_mode_loose(&st) &&
        holds_secret(osr__yaml_doc_root(*out)))
        osr__fs_warn_loose(&st, path, NULL, opts->log_cb, opts->log_payload);
    return error;
}

static int list_names(osr__buf *b, const osr__yaml_node *clouds)
{
    int error = 0;

    for (size_t i = 0; i < clouds->npairs && error == 0; i++) {
        if (b->len > 300) {
            error = osr__buf_puts(b, ", ...");
            break;
        }
        error = osr__buf_printf(b, "%s%.64s", i ? ", " : "", clouds->pairs[i].key->value);
    }
    return error;
}

/* Is any OS_* auth variable set? Then the cloud "envvars" exists. */
static bool env_any(const osr_cloud_options *opts)
{
    for (size_t i = 0; i < sizeof(env_vars) / sizeof(env_vars[0]); i++) {
        if (env_vars[i].auth && env_get(opts, env_vars[i].var) != NULL)
            return true;
    }
    return false;
}

static int env_cloud(osr_cloud **out,
                     const osr_cloud_options *opts,
                     const search *s,
                     const char *wanted,
                     loader *ld,
                     osr_error *err)
{
    char q[OSR__QUOTE_MAX];
    osr__yaml_doc *doc = NULL;
    osr__yaml_node *cloud = NULL, *auth = NULL, *n = NULL;
    bool any = env_any(opts);
    int error = 0;

    if (!any || (wanted != NULL && strcmp(wanted, ENV_CLOUD) != 0)) {
        osr__buf b = OSR__BUF_INIT;
        for (const char *const *d = s->list; *d != NULL && error == 0; d++)
            error = osr__buf_printf(&b, "%s%s", d == s->list ? "" : ", ", *d);
        if (error == 0) {
            if (wanted != NULL && any)
                error = osr__error_set(err, OSR_ENOTFOUND,
                                       "cloud '%s' not found: no clouds.yaml, clouds.yml or "
                                       "clouds.json in %.300s",
                                       osr__quote(q, sizeof(q), wanted, 64), b.data ? b.data : "");
            else
                error = osr__error_set(err, OSR_ENOTFOUND,
                                       "no clouds.yaml, clouds.yml or clouds.json in %.300s, and "
                                       "no OS_AUTH_URL in the environment",
                                       b.data ? b.data : "");
        } else {
            error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        }
        osr__buf_free(&b);
        return error;
    }

    if (osr__yaml_doc_new(&doc, ENV_SOURCE) < 0 || osr__yaml_new_mapping(&cloud, doc, NULL) < 0 ||
        osr__yaml_new_mapping(&auth, doc, NULL) < 0 ||
        osr__yaml_map_set(doc, cloud, "auth", auth) < 0) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < sizeof(env_vars) / sizeof(env_vars[0]); i++) {
        const struct env_var *e = &env_vars[i];
        const char *val = env_get(opts, e->var);
        bool in_auth = strncmp(e->key, "auth.", 5) == 0;
        if (val == NULL)
            continue;
        if (osr__yaml_new_scalar(&n, doc, val, e->plain, e->var) < 0 ||
            osr__yaml_map_set(doc, in_auth ? auth : cloud, in_auth ? e->key + 5 : e->key, n) < 0) {
            error = osr__error_set(err, OSR_ENOMEM, "out of memory");
            goto done;
        }
    }
    error = build_cloud(out, cloud, ENV_CLOUD, ENV_SOURCE, true, true, ld, err);
done:
    osr__yaml_doc_free(doc);
    return error;
}

int osr_cloud_load(osr_cloud **out, const osr_cloud_options *opts, osr_error *err)
{
    char q[OSR__QUOTE_MAX];
    search s;
    char *path = NULL, *secure_path = NULL;
    const char *why = NULL, *secure_why = NULL, *wanted;
    osr__yaml_doc *doc = NULL, *secure = NULL, *arena = NULL;
    osr__yaml_node *root = NULL;
    const osr__yaml_node *clouds = NULL, *chosen = NULL;
    const char *chosen_name = NULL;
    osr__buf names = OSR__BUF_INIT;
    loader ld;
    int error;

    if (out == NULL)
        return osr__error_set(err, OSR_EINVAL, "osr_cloud_load: out is NULL");
    if (opts != NULL && osr__version_check(err, "osr_cloud_load", "osr_cloud_options",
                                           opts->version, 1, OSR_CLOUD_OPTIONS_VERSION) < 0) {
        return OSR_EINVAL;
    }
    if ((error = search_init(&s, opts, err)) < 0)
        return error;
    memset(&ld, 0, sizeof(ld));
    ld.opts = opts;
    ld.s = &s;
    if (osr__yaml_doc_new(&ld.arena, "normalised") < 0) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    wanted = (opts && opts->cloud_name && *opts->cloud_name) ? opts->cloud_name
                                                             : env_get(opts, "OS_CLOUD");

    if (opts != NULL && opts->config_file != NULL) {
        path = osr__strdup(opts->config_file);
        why = "the config file option";
    } else if (env_get(opts, "OS_CLIENT_CONFIG_FILE") != NULL) {
        path = osr__strdup(env_get(opts, "OS_CLIENT_CONFIG_FILE"));
        why = "OS_CLIENT_CONFIG_FILE";
    } else if ((error = search_find(&path, &s, "clouds", err)) < 0) {
        goto done;
    }
    if (why != NULL && path == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    if (path == NULL) {
        error = env_cloud(out, opts, &s, wanted, &ld, err);
        goto done;
    }

    if (env_get(opts, "OS_CLIENT_SECURE_FILE") != NULL) {
        secure_path = osr__strdup(env_get(opts, "OS_CLIENT_SECURE_FILE"));
        secure_why = "OS_CLIENT_SECURE_FILE";
        if (secure_path == NULL) {
            error = osr__error_set(err, OSR_ENOMEM, "out of memory");
            goto done;
        }
    } else if ((error = search_find(&secure_path, &s, "secure", err)) < 0) {
        goto done;
    }

    /* Keys are normalised in each file, so that auth-url in clouds.yaml and
     * auth_url in secure.yaml are one setting, the secure one winning. */
    if ((error = read_doc(&doc, path, why, opts, err)) < 0 ||
        (error = normalize_root(&root, ld.arena, osr__yaml_doc_root(doc), "clouds", err)) < 0)
        goto done;
    if (secure_path != NULL) {
        osr__yaml_node *sroot;
        if ((error = read_doc(&secure, secure_path, secure_why, opts, err)) < 0 ||
            (error = normalize_root(&sroot, ld.arena, osr__yaml_doc_root(secure), "clouds", err)) <
                0)
            goto done;
        if (sroot != NULL && !osr__yaml_is_null(sroot) && sroot->type != OSR__YAML_MAPPING) {
            error = osr__error_set(err, OSR_ECONFIG, "%s:%zu:%zu: expected a mapping, found %s",
                                   secure_path, sroot->line, sroot->column, kind_name(sroot));
            goto done;
        }
        if (sroot != NULL && sroot->type == OSR__YAML_MAPPING && root != NULL &&
            root->type == OSR__YAML_MAPPING) {
            if (osr__yaml_doc_new(&arena, "merged") < 0 ||
                osr__yaml_merge(&root, arena, root, sroot) < 0) {
                error = osr__error_set(err, OSR_ENOMEM, "out of memory");
                goto done;
            }
        }
    }
    if ((error = check_top(&clouds, root, path, err)) < 0)
        goto done;

    /* As openstacksdk does: OS_* auth variables make the cloud "envvars" beside
     * the file's, and the default when no cloud is named. */
    if (env_any(opts) && (wanted == NULL || strcmp(wanted, ENV_CLOUD) == 0)) {
        if (osr__yaml_map_get(clouds, ENV_CLOUD) != NULL) {
            error = osr__error_set(err, OSR_ECONFIG,
                                   "%s defines a cloud named '" ENV_CLOUD
                                   "', and OS_* variables define one too; rename the file's "
                                   "cloud, or unset the OS_* variables",
                                   path);
            goto done;
        }
        error = env_cloud(out, opts, &s, NULL, &ld, err);
        goto done;
    }

    if (wanted != NULL) {
        for (size_t i = 0; i < clouds->npairs && chosen == NULL; i++) {
            if (strcmp(clouds->pairs[i].key->value, wanted) == 0) {
                chosen = clouds->pairs[i].value;
                chosen_name = clouds->pairs[i].key->value;
            }
        }
        if (chosen == NULL) {
            if (list_names(&names, clouds) < 0) {
                error = osr__error_set(err, OSR_ENOMEM, "out of memory");
                goto done;
            }
            error = osr__error_set(err, OSR_ENOTFOUND, "%s: no cloud named '%s' (available: %s)",
                                   path, osr__quote(q, sizeof(q), wanted, 64), names.data);
            goto done;
        }
    } else if (clouds->npairs == 1) {
        chosen = clouds->pairs[0].value;
        chosen_name = clouds->pairs[0].key->value;
    } else {
        if (list_names(&names, clouds) < 0) {
            error = osr__error_set(err, OSR_ENOMEM, "out of memory");
            goto done;
        }
        error = osr__error_set(err, OSR_ECONFIG,
                               "several clouds in %s (%s); choose one with --os-cloud or OS_CLOUD",
                               path, names.data);
        goto done;
    }
    error = build_cloud(out, chosen, chosen_name, path, false, true, &ld, err);
done:
    loader_free(&ld);
    osr__buf_free(&names);
    osr__yaml_doc_free(arena);
    osr__yaml_doc_free(secure);
    osr__yaml_doc_free(doc);
    free(secure_path);
    free(path);
    search_free(&s);
    return error;
}

void osr_cloud_free(osr_cloud *cloud)
{
    cloud_free(cloud);
}

const char *osr_cloud_name(const osr_cloud *cloud)
{
    return cloud ? cloud->name : NULL;
}

const char *osr_cloud_source(const osr_cloud *cloud)
{
    return cloud ? cloud->source : NULL;
}

const char *osr_cloud_auth_type(const osr_cloud *cloud)
{
    return cloud ? cloud->auth_type : NULL;
}

const char *osr_cloud_get(const osr_cloud *cloud, const char *key)
{
    if (cloud == NULL || key == NULL)
        return NULL;
    return cloud_lookup(cloud, key);
}

static const char *type_name(osr_cloud_type t)
{
    return t == OSR_CLOUD_TYPE_BOOL  ? "a boolean"
           : t == OSR_CLOUD_TYPE_INT ? "an integer"
                                     : "a string";
}

static int get_typed(const setting **out,
                     const osr_cloud *cloud,
                     const char *key,
                     osr_cloud_type want,
                     osr_error *err)
{
    char q[OSR__QUOTE_MAX], kq[OSR__QUOTE_MAX];
    const setting *s;

    if (cloud == NULL || key == NULL)
        return osr__error_set(err, OSR_EINVAL, "osr_cloud_get: no cloud or key");
    osr__quote(q, sizeof(q), cloud->name, 64);
    osr__quote(kq, sizeof(kq), key, 64);
    if ((s = cloud_find(cloud, key)) == NULL)
        return osr__error_set(err, OSR_ENOTFOUND, "cloud '%s': %s is not set", q, kq);
    if (s->type != want) {
        if (s->where != NULL)
            return osr__error_set(err, OSR_ECONFIG, "%s: %s, not %s", s->where, type_name(s->type),
                                  type_name(want));
        return osr__error_set(err, OSR_ECONFIG, "cloud '%s': %s: %s, not %s", q, kq,
                              type_name(s->type), type_name(want));
    }
    *out = s;
    return 0;
}

int osr_cloud_get_string(const char **out, const osr_cloud *cloud, const char *key, osr_error *err)
{
    const setting *s;
    int error;

    if (out == NULL)
        return osr__error_set(err, OSR_EINVAL, "osr_cloud_get_string: out is NULL");
    if ((error = get_typed(&s, cloud, key, OSR_CLOUD_TYPE_STRING, err)) < 0)
        return error;
    *out = s->value;
    return 0;
}

int osr_cloud_get_bool(int *out, const osr_cloud *cloud, const char *key, osr_error *err)
{
    const setting *s;
    int error;

    if (out == NULL)
        return osr__error_set(err, OSR_EINVAL, "osr_cloud_get_bool: out is NULL");
    if ((error = get_typed(&s, cloud, key, OSR_CLOUD_TYPE_BOOL, err)) < 0)
        return error;
    *out = strcmp(s->value, "true") == 0;
    return 0;
}

int osr_cloud_get_int(long long *out, const osr_cloud *cloud, const char *key, osr_error *err)
{
    const setting *s;
    int error;

    if (out == NULL)
        return osr__error_set(err, OSR_EINVAL, "osr_cloud_get_int: out is NULL");
    if ((error = get_typed(&s, cloud, key, OSR_CLOUD_TYPE_INT, err)) < 0)
        return error;
    *out = strtoll(s->value, NULL, 10);
    return 0;
}

int osr_cloud_domain_scoped(const osr_cloud *cloud)
{
    return cloud != NULL && cloud->domain_scoped;
}

osr_cloud_type osr_cloud_setting_type(const osr_cloud *cloud, size_t i)
{
    if (cloud == NULL || i >= cloud->count)
        return 0;
    return cloud->settings[i].type;
}

size_t osr_cloud_setting_count(const osr_cloud *cloud)
{
    return cloud ? cloud->count : 0;
}

int osr_cloud_setting(const char **key,
                      const char **value,
                      int *is_secret,
                      const osr_cloud *cloud,
                      size_t i,
                      int reveal)
{
    const setting *s;

    if (cloud == NULL || i >= cloud->count)
        return OSR_EINVAL;
    s = &cloud->settings[i];
    if (key != NULL)
        *key = s->key;
    if (value != NULL)
        *value = (s->secret && !reveal) ? SECRET_MASK : s->value;
    if (is_secret != NULL)
        *is_secret = s->secret;
    return 0;
}

int osr_clouds_write(
    const char *path, const char *data, size_t len, const char *source_name, osr_error *err)
{
    int error;

    if (path == NULL || *path == '\0')
        return osr__error_set(err, OSR_EINVAL, "osr_clouds_write: no path");
    if ((error = osr_clouds_validate(data, len, source_name ? source_name : path, err)) < 0)
        return error;
    return osr__fs_write_atomic(path, data ? data : "", len, 0600, err);
}

int osr_clouds_default_path(char **out, osr_error *err)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    char *p;

    if (out == NULL)
        return osr__error_set(err, OSR_EINVAL, "osr_clouds_default_path: out is NULL");
    if (xdg != NULL && *xdg != '\0')
        p = osr__sprintf("%s%sopenstack/clouds.yaml", xdg, xdg[strlen(xdg) - 1] == '/' ? "" : "/");
    else if (home != NULL && *home != '\0')
        p = osr__sprintf("%s%s.config/openstack/clouds.yaml", home,
                         home[strlen(home) - 1] == '/' ? "" : "/");
    else
        return osr__error_set(err, OSR_ENOTFOUND,
                              "neither XDG_CONFIG_HOME nor HOME is set; cannot place clouds.yaml");
    if (p == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    *out = p;
    return 0;
}
