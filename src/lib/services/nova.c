/* Nova servers, flavors and keypairs; Neutron lookups. jansson ownership:
 * parse results are owned, *_get is borrowed, *_set_new steals. */
#include "nova.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PAGES 200

struct osr_server {
    json_t *obj;
    json_t *meta_keys; /* sorted array of metadata keys */
};

struct osr_server_list {
    osr_server **items;
    size_t count;
};

/* ---------------------------------------------------------------- servers */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

int osr__server_from_json(osr_server **out, json_t *obj, osr_error *err)
{
    osr_server *sv;
    json_t *meta, *v;
    const char *k;

    if (!json_is_object(obj) || !json_is_string(json_object_get(obj, "id")))
        return osr__error_set(err, OSR_EPROTO, "nova: a server without an id");
    sv = calloc(1, sizeof(*sv));
    if (sv == NULL || (sv->meta_keys = json_array()) == NULL) {
        free(sv);
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    }
    sv->obj = json_incref(obj);
    meta = json_object_get(obj, "metadata");
    json_object_foreach(meta, k, v)
    {
        if (json_is_string(v))
            json_array_append_new(sv->meta_keys, json_string(k));
    }
    /* Sort for a stable listing. */
    {
        size_t n = json_array_size(sv->meta_keys);
        json_t **tmp = calloc(n + 1, sizeof(*tmp));
        if (tmp) {
            for (size_t i = 0; i < n; i++)
                tmp[i] = json_incref(json_array_get(sv->meta_keys, i));
            qsort(tmp, n, sizeof(*tmp), cmp_str);
            json_array_clear(sv->meta_keys);
            for (size_t i = 0; i < n; i++)
                json_array_append_new(sv->meta_keys, tmp[i]);
            free(tmp);
        }
    }
    *out = sv;
    return 0;
}

void osr_server_free(osr_server *server)
{
    if (server == NULL)
        return;
    json_decref(server->obj);
    json_decref(server->meta_keys);
    free(server);
}

static const char *sfield(const osr_server *s, const char *key)
{
    const char *v = json_string_value(json_object_get(s->obj, key));
    return v ? v : "";
}

const char *osr_server_id(const osr_server *server)
{
    return sfield(server, "id");
}

const char *osr_server_name(const osr_server *server)
{
    return sfield(server, "name");
}

const char *osr_server_status(const osr_server *server)
{
    return sfield(server, "status");
}

const char *osr_server_created(const osr_server *server)
{
    return sfield(server, "created");
}

const char *osr__server_image_id(const osr_server *server)
{
    return json_string_value(json_object_get(json_object_get(server->obj, "image"), "id"));
}

const char *osr_server_fault(const osr_server *server)
{
    return json_string_value(json_object_get(json_object_get(server->obj, "fault"), "message"));
}

const char *osr_server_metadata(const osr_server *server, const char *key)
{
    return json_string_value(json_object_get(json_object_get(server->obj, "metadata"), key));
}

size_t osr_server_metadata_count(const osr_server *server)
{
    return json_array_size(server->meta_keys);
}

const char *osr_server_metadata_key(const osr_server *server, size_t i)
{
    return json_string_value(json_array_get(server->meta_keys, i));
}

size_t osr_server_tag_count(const osr_server *server)
{
    return json_array_size(json_object_get(server->obj, "tags"));
}

const char *osr_server_tag(const osr_server *server, size_t i)
{
    return json_string_value(json_array_get(json_object_get(server->obj, "tags"), i));
}

const char *osr_server_user_data(const osr_server *server)
{
    return json_string_value(json_object_get(server->obj, "OS-EXT-SRV-ATTR:user_data"));
}

/* ---------------------------------------------------------------- the API */

int osr__nova_pick_microversion(int *minor_out, const char *body, size_t len, osr_error *err)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *ver = json_object_get(root, "version");
    const char *max = json_string_value(json_object_get(ver, "version"));
    const char *min = json_string_value(json_object_get(ver, "min_version"));
    int maj = 0, minor = 0, min_minor = 0, error = 0;

    if (!json_is_object(ver)) {
        error = osr__error_set(err, OSR_EPROTO, "nova: no version document at the endpoint");
    } else if (max == NULL || *max == '\0' || sscanf(max, "%d.%d", &maj, &minor) != 2 || maj != 2) {
        error = osr__error_set(err, OSR_EPROTO,
                               "nova: the compute API offers no microversions (need 2.%d)",
                               OSR_NOVA_MV_MIN_MINOR);
    } else if (minor < OSR_NOVA_MV_MIN_MINOR) {
        error = osr__error_set(err, OSR_EPROTO,
                               "nova: the compute API offers up to %s; osrunner needs 2.%d", max,
                               OSR_NOVA_MV_MIN_MINOR);
    } else {
        if (min && sscanf(min, "2.%d", &min_minor) == 1 && min_minor > OSR_NOVA_MV_MAX_MINOR) {
            error = osr__error_set(err, OSR_EPROTO,
                                   "nova: the compute API needs at least %s; osrunner speaks "
                                   "up to 2.%d",
                                   min, OSR_NOVA_MV_MAX_MINOR);
        } else {
            *minor_out = minor < OSR_NOVA_MV_MAX_MINOR ? minor : OSR_NOVA_MV_MAX_MINOR;
        }
    }
    json_decref(root);
    return error;
}

int osr__nova_get_json(json_t **out, osr_session *s, const osr__nova *n, const char *url)
{
    return osr__session_get_json(out, s, url, n ? n->headers : NULL);
}

int osr__nova_open(osr__nova *n, osr_session *s)
{
    json_t *doc = NULL;
    char *dump = NULL;
    int error;

    memset(n, 0, sizeof(*n));
    if ((error = osr__session_service_url(&n->base, s, "compute", "/v2.1")) < 0)
        return error;
    if ((error = osr__nova_get_json(&doc, s, NULL, n->base)) < 0)
        goto done;
    dump = json_dumps(doc, JSON_COMPACT);
    if (dump == NULL) {
        error = osr__error_set(osr__session_err(s), OSR_ENOMEM, "out of memory");
        goto done;
    }
    if ((error = osr__nova_pick_microversion(&n->minor, dump, strlen(dump), osr__session_err(s))) <
        0)
        goto done;
    snprintf(n->header, sizeof(n->header), "OpenStack-API-Version: compute 2.%d", n->minor);
    n->headers[0] = n->header;
    n->headers[1] = NULL;
done:
    free(dump);
    json_decref(doc);
    if (error < 0)
        osr__nova_close(n);
    return error;
}

void osr__nova_close(osr__nova *n)
{
    free(n->base);
    n->base = NULL;
}

/* Every server of a listing URL, following servers_links "next". */
static int list_servers(json_t **out, osr_session *s, const osr__nova *n, char *url)
{
    json_t *all = json_array();
    int error = 0, pages = 0;

    if (all == NULL) {
        free(url);
        return osr__error_set(osr__session_err(s), OSR_ENOMEM, "out of memory");
    }
    while (url != NULL) {
        json_t *page = NULL, *links, *l;
        const char *next = NULL;
        size_t i;

        if (++pages > MAX_PAGES) {
            error = osr__error_set(osr__session_err(s), OSR_EPROTO,
                                   "nova: more than %d pages of servers", MAX_PAGES);
            break;
        }
        if ((error = osr__nova_get_json(&page, s, n, url)) < 0)
            break;
        json_array_extend(all, json_object_get(page, "servers"));
        links = json_object_get(page, "servers_links");
        json_array_foreach(links, i, l)
        {
            const char *rel = json_string_value(json_object_get(l, "rel"));
            if (rel && strcmp(rel, "next") == 0)
                next = json_string_value(json_object_get(l, "href"));
        }
        free(url);
        url = next ? osr__strdup(next) : NULL;
        json_decref(page);
    }
    free(url);
    if (error < 0) {
        json_decref(all);
        return error;
    }
    *out = all;
    return 0;
}

static int by_server_name(const void *a, const void *b)
{
    const osr_server *x = *(osr_server *const *)a, *y = *(osr_server *const *)b;
    int c = strcmp(osr_server_name(x), osr_server_name(y));
    return c ? c : strcmp(osr_server_id(x), osr_server_id(y));
}

static int list_from_array(osr_server_list **out, json_t *arr, osr_error *err)
{
    osr_server_list *list = calloc(1, sizeof(*list));
    size_t i;
    json_t *o;
    int error = 0;

    if (list == NULL ||
        (list->items = calloc(json_array_size(arr) + 1, sizeof(osr_server *))) == NULL) {
        free(list);
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    }
    json_array_foreach(arr, i, o)
    {
        if ((error = osr__server_from_json(&list->items[list->count], o, err)) < 0) {
            osr_server_list_free(list);
            return error;
        }
        list->count++;
    }
    qsort(list->items, list->count, sizeof(*list->items), by_server_name);
    *out = list;
    return 0;
}

static char *tagged_url(const osr__nova *n, const char *tags);

/* Servers with every tag of tags ("a,b"), or every server for NULL. */
int osr__nova_list_tagged_on(osr_server_list **out,
                             osr_session *s,
                             const osr__nova *n,
                             const char *tags)
{
    osr_error *err = osr__session_error(s);
    json_t *all = NULL;
    char *url = tags ? tagged_url(n, tags) : osr__sprintf("%s/servers/detail?limit=1000", n->base);
    int error;

    if (url == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    if ((error = list_servers(&all, s, n, url)) < 0)
        return error;
    error = list_from_array(out, all, err);
    json_decref(all);
    return error;
}

int osr__nova_list_tagged(osr_server_list **out, osr_session *s, const char *tags)
{
    osr__nova n;
    int error;

    if ((error = osr__nova_open(&n, s)) < 0)
        return error;
    error = osr__nova_list_tagged_on(out, s, &n, tags);
    osr__nova_close(&n);
    return error;
}

int osr_server_list_get(osr_server_list **out,
                        osr_session *s,
                        const char *manager,
                        unsigned int flags)
{
    char *tags = NULL;
    int error;

    if (!(flags & OSR_SERVERS_ALL)) {
        tags = osr__sprintf("%s=%s,osrunner-manager=%s", OSR_MANAGED_BY_KEY, OSR_MANAGED_BY_VALUE,
                            manager ? manager : "osrunner");
        if (tags == NULL)
            return osr__error_set(osr__session_error(s), OSR_ENOMEM, "out of memory");
    }
    error = osr__nova_list_tagged(out, s, tags);
    free(tags);
    return error;
}

int osr_server_list_launch(osr_server_list **out, osr_session *s, const char *launch_id)
{
    osr_error *err = osr__session_error(s);
    char *tags;
    int error;

    if (launch_id == NULL || launch_id[0] == '\0' || strlen(launch_id) > 64 ||
        strspn(launch_id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") !=
            strlen(launch_id))
        return osr__error_set(err, OSR_EINVAL, "launch id: 1 to 64 of a-z A-Z 0-9 - _ expected");
    tags = osr__sprintf("%s=%s,osrunner-launch=%s", OSR_MANAGED_BY_KEY, OSR_MANAGED_BY_VALUE,
                        launch_id);
    if (tags == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    error = osr__nova_list_tagged(out, s, tags);
    free(tags);
    return error;
}

void osr_server_list_free(osr_server_list *list)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < list->count; i++)
        osr_server_free(list->items[i]);
    free(list->items);
    free(list);
}

size_t osr_server_list_count(const osr_server_list *list)
{
    return list ? list->count : 0;
}

const osr_server *osr_server_list_at(const osr_server_list *list, size_t i)
{
    return (list && i < list->count) ? list->items[i] : NULL;
}

static char *named_url(const osr__nova *n, const char *name);

int osr_server_get(osr_server **out, osr_session *s, const char *id_or_name)
{
    osr_error *err = osr__session_error(s);
    osr__nova n;
    json_t *obj = NULL, *all = NULL;
    char *url = NULL, *esc = NULL;
    int error;

    if ((error = osr__nova_open(&n, s)) < 0)
        return error;
    esc = curl_easy_escape(NULL, id_or_name, 0);
    if (esc == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    if (osr__looks_like_uuid(id_or_name)) {
        url = osr__sprintf("%s/servers/%s", n.base, esc);
        error = url ? osr__nova_get_json(&obj, s, &n, url)
                    : osr__error_set(err, OSR_ENOMEM, "out of memory");
        if (error == 0) {
            error = osr__server_from_json(out, json_object_get(obj, "server"), err);
            goto done;
        }
        if (error != OSR_ENOTFOUND)
            goto done;
        free(url);
    }
    /* By name (an anchored regular expression), keeping only exact matches. */
    {
        size_t i, found = 0;
        json_t *o, *match = NULL;

        url = named_url(&n, id_or_name);
        if (url == NULL) {
            error = osr__error_set(err, OSR_ENOMEM, "out of memory");
            goto done;
        }
        error = list_servers(&all, s, &n, url);
        url = NULL; /* list_servers took it */
        if (error < 0)
            goto done;
        json_array_foreach(all, i, o)
        {
            const char *name = json_string_value(json_object_get(o, "name"));
            if (name && strcmp(name, id_or_name) == 0) {
                found++;
                match = o;
            }
        }
        if (found == 0)
            error = osr__error_set(err, OSR_ENOTFOUND, "server '%s' not found", id_or_name);
        else if (found > 1)
            error =
                osr__error_set(err, OSR_EAMBIGUOUS,
                               "%zu servers are named '%s'; give an id instead", found, id_or_name);
        else
            error = osr__server_from_json(out, match, err);
    }
done:
    json_decref(obj);
    json_decref(all);
    curl_free(esc);
    free(url);
    osr__nova_close(&n);
    return error;
}

/* ------------------------------------------------------------ on the engine */

static int call_submit(osr__nova_call *c,
                       osr_session *s,
                       const osr__nova *n,
                       const char *method,
                       char *url, /* taken */
                       const char *body,
                       bool idempotent,
                       long delay_ms,
                       osr__http_done_cb cb,
                       void *payload)
{
    osr__http_request req = { .method = method,
                              .url = url,
                              .body = body,
                              .body_len = body ? strlen(body) : 0,
                              .idempotent = idempotent,
                              .headers = n->headers,
                              .token = osr__session_token(s) };

    free(c->url);
    c->url = url;
    osr__http_response_free(&c->resp);
    osr_error_clear(&c->err);
    if (url == NULL ||
        osr__http_submit(osr__session_http(s), &req, delay_ms, &c->resp, &c->err, cb, payload) < 0)
        return osr__error_set(&c->err, OSR_ENOMEM, "out of memory");
    return 0;
}

void osr__nova_call_clear(osr__nova_call *c)
{
    free(c->url);
    c->url = NULL;
    osr__http_response_free(&c->resp);
}

int osr__nova_server_create(osr__nova_call *c,
                            osr_session *s,
                            const osr__nova *n,
                            const char *body,
                            osr__http_done_cb cb,
                            void *payload)
{
    return call_submit(c, s, n, "POST", osr__sprintf("%s/servers", n->base), body, false, 0, cb,
                       payload);
}

int osr__nova_server_fetch(osr__nova_call *c,
                           osr_session *s,
                           const osr__nova *n,
                           const char *id,
                           long delay_ms,
                           osr__http_done_cb cb,
                           void *payload)
{
    return call_submit(c, s, n, "GET", osr__sprintf("%s/servers/%s", n->base, id), NULL, true,
                       delay_ms, cb, payload);
}

/* Nova's name filter is a regular expression: anchor and escape it. */
static char *name_filter(const char *name)
{
    osr__buf re = OSR__BUF_INIT;
    char *esc, *out;

    osr__buf_puts(&re, "^");
    for (const char *p = name; *p; p++) {
        if (strchr(".^$*+?()[]{}|\\", *p))
            osr__buf_append(&re, "\\", 1);
        osr__buf_append(&re, p, 1);
    }
    osr__buf_puts(&re, "$");
    esc = re.data ? curl_easy_escape(NULL, re.data, 0) : NULL;
    osr__buf_free(&re);
    out = esc ? osr__strdup(esc) : NULL;
    curl_free(esc);
    return out;
}

static char *named_url(const osr__nova *n, const char *name)
{
    char *filter = name_filter(name);
    char *url = filter ? osr__sprintf("%s/servers/detail?name=%s", n->base, filter) : NULL;
    free(filter);
    return url;
}

int osr__nova_servers_named(osr__nova_call *c,
                            osr_session *s,
                            const osr__nova *n,
                            const char *name,
                            long delay_ms,
                            osr__http_done_cb cb,
                            void *payload)
{
    return call_submit(c, s, n, "GET", named_url(n, name), NULL, true, delay_ms, cb, payload);
}

static char *tagged_url(const osr__nova *n, const char *tags)
{
    char *esc = curl_easy_escape(NULL, tags, 0);
    char *url = esc ? osr__sprintf("%s/servers/detail?tags=%s&limit=1000", n->base, esc) : NULL;
    curl_free(esc);
    return url;
}

int osr__nova_servers_tagged(osr__nova_call *c,
                             osr_session *s,
                             const osr__nova *n,
                             const char *tags,
                             long delay_ms,
                             osr__http_done_cb cb,
                             void *payload)
{
    return call_submit(c, s, n, "GET", tagged_url(n, tags), NULL, true, delay_ms, cb, payload);
}

int osr__nova_server_set_tags(osr__nova_call *c,
                              osr_session *s,
                              const osr__nova *n,
                              const char *id,
                              const char *body,
                              long delay_ms,
                              osr__http_done_cb cb,
                              void *payload)
{
    return call_submit(c, s, n, "PUT", osr__sprintf("%s/servers/%s/tags", n->base, id), body, true,
                       delay_ms, cb, payload);
}

static json_t *call_json(const osr__nova_call *c, osr_error *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(c->resp.body.data, c->resp.body.len, 0, &jerr);
    if (root == NULL)
        osr__error_set(err, OSR_EPROTO, "nova: the answer to %s is not JSON (%s)",
                       c->url ? c->url : "a request", jerr.text);
    return root;
}

int osr__nova_call_server(osr_server **out, const osr__nova_call *c, osr_error *err)
{
    json_t *root = call_json(c, err);
    int error;

    if (root == NULL)
        return err->code;
    error = osr__server_from_json(out, json_object_get(root, "server"), err);
    json_decref(root);
    return error;
}

int osr__nova_call_servers(osr_server_list **out, const osr__nova_call *c, osr_error *err)
{
    json_t *root = call_json(c, err);
    json_t *servers = json_object_get(root, "servers");
    int error;

    if (root == NULL)
        return err->code;
    if (!json_is_array(servers)) {
        json_decref(root);
        return osr__error_set(err, OSR_EPROTO, "nova: a server list without \"servers\"");
    }
    error = list_from_array(out, servers, err);
    json_decref(root);
    return error;
}

int osr__nova_create_body(char **out, const osr__nova_server_spec *spec, osr_error *err)
{
    json_t *server, *root;
    const char *net = spec->network ? spec->network : "none";
    char *body;

    server = json_pack("{s:s,s:s,s:s,s:s?,s:O?}", "name", spec->name, "imageRef", spec->image_id,
                       "flavorRef", spec->flavor_id, "user_data", spec->user_data, "metadata",
                       spec->metadata);
    if (server == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    if (strcmp(net, "none") == 0 || strcmp(net, "auto") == 0)
        json_object_set_new(server, "networks", json_string(net));
    else
        json_object_set_new(server, "networks", json_pack("[{s:s}]", "uuid", net));
    if (spec->key_name)
        json_object_set_new(server, "key_name", json_string(spec->key_name));
    if (spec->security_groups && spec->security_groups[0]) {
        json_t *sgs = json_array();
        for (size_t i = 0; spec->security_groups[i]; i++)
            json_array_append_new(sgs, json_pack("{s:s}", "name", spec->security_groups[i]));
        json_object_set_new(server, "security_groups", sgs);
    }
    if (spec->availability_zone)
        json_object_set_new(server, "availability_zone", json_string(spec->availability_zone));
    if (spec->config_drive)
        json_object_set_new(server, "config_drive", json_true());
    if (spec->tags)
        json_object_set(server, "tags", spec->tags);
    root = json_pack("{s:o}", "server", server); /* steals server */
    /* The user data is a secret: the printed body is built in a buffer that
     * is wiped as it grows, and jansson's copy is wiped before it is freed. */
    body = root ? osr__json_dumps_secret(root, JSON_COMPACT) : NULL;
    {
        /* Only the user data: the metadata and tags are the caller's too. */
        json_t *ud = json_object_get(json_object_get(root, "server"), "user_data");
        const char *v = json_string_value(ud);
        if (v)
            OPENSSL_cleanse((char *)v, strlen(v));
    }
    json_decref(root);
    if (body == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    *out = body;
    return 0;
}

int osr__nova_tags_body(char **out, json_t *tags, osr_error *err)
{
    json_t *root = json_pack("{s:O}", "tags", tags);
    char *body = root ? json_dumps(root, JSON_COMPACT) : NULL;

    json_decref(root);
    if (body == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    *out = body;
    return 0;
}

bool osr__server_going(const osr_server *sv)
{
    const char *st = osr_server_status(sv);
    const char *task = json_string_value(json_object_get(sv->obj, "OS-EXT-STS:task_state"));
    return strcmp(st, "DELETED") == 0 || strcmp(st, "SOFT_DELETED") == 0 ||
           (task && strcmp(task, "deleting") == 0);
}

int osr__server_dup(osr_server **out, const osr_server *sv, osr_error *err)
{
    return osr__server_from_json(out, sv->obj, err);
}

int osr__server_new(
    osr_server **out, const char *id, const char *name, const char *status, osr_error *err)
{
    json_t *obj = json_pack("{s:s,s:s,s:s}", "id", id, "name", name, "status", status);
    int error;

    if (obj == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    error = osr__server_from_json(out, obj, err);
    json_decref(obj);
    return error;
}

/* ------------------------------------------------------------ deleting */

/* A DELETE, then (with wait) a GET until Nova answers 404, as callbacks of
 * the session's engine: the delays are the engine's timers. */
static void delete_submit(osr__nova_delete *d, const char *method, osr__http_done_cb cb)
{
    osr__http_request req = { .method = method,
                              .url = d->url,
                              .idempotent = true,
                              .headers = d->n->headers,
                              .token = osr__session_token(d->s) };
    osr__http_response_free(&d->resp);
    osr_error_clear(&d->req_err);
    if (osr__http_submit(osr__session_http(d->s), &req, d->delay_ms, &d->resp, &d->req_err, cb, d) <
        0) {
        osr__error_set(&d->result, OSR_ENOMEM, "out of memory");
        d->done = true;
        if (d->cb)
            d->cb(OSR_ENOMEM, d->payload);
    }
}

static void delete_finish(osr__nova_delete *d, const osr_error *e)
{
    if (e)
        d->result = *e;
    else
        osr_error_clear(&d->result);
    d->done = true;
    if (d->cb)
        d->cb(d->result.code, d->payload);
}

/* nova-api restarting, a 5xx or 429 (and for a DELETE, a 409 of a busy
 * server): worth another try until the deadline. */
static bool delete_again(const osr__nova_delete *d, int error, bool is_delete)
{
    return (error == OSR_ENET || error == OSR_ETIMEOUT || error == OSR_ESERVER ||
            error == OSR_ERATELIMIT || (is_delete && error == OSR_ECONFLICT)) &&
           osr__now_ms_monotonic() < d->deadline;
}

static void on_gone_poll(int error, void *payload)
{
    osr__nova_delete *d = payload;
    osr_error e;

    if (error == OSR_ENOTFOUND) {
        delete_finish(d, NULL); /* gone: success */
        return;
    }
    if (error < 0 && !delete_again(d, error, false)) {
        delete_finish(d, &d->req_err);
        return;
    }
    if (osr__now_ms_monotonic() > d->deadline) {
        osr__error_set(&e, OSR_ETIMEOUT, "still there after %ld s", d->timeout_s);
        delete_finish(d, &e);
        return;
    }
    d->delay_ms = d->delay_ms * 3 / 2 > 3000 ? 3000 : d->delay_ms * 3 / 2;
    delete_submit(d, "GET", on_gone_poll);
}

static void on_deleted(int error, void *payload)
{
    osr__nova_delete *d = payload;

    if (error == OSR_ENOTFOUND) {
        delete_finish(d, NULL); /* already gone */
        return;
    }
    if (error < 0 && delete_again(d, error, true)) {
        osr__http_log(osr__session_http(d->s), OSR_LOG_INFO,
                      "delete of %s failed (%s); trying again", d->url, d->req_err.message);
        d->delay_ms = d->delay_ms < 500 ? 500 : (d->delay_ms * 2 > 4000 ? 4000 : d->delay_ms * 2);
        delete_submit(d, "DELETE", on_deleted);
        return;
    }
    if (error < 0) {
        delete_finish(d, &d->req_err);
        return;
    }
    if (!d->wait) {
        delete_finish(d, NULL);
        return;
    }
    d->delay_ms = 250;
    delete_submit(d, "GET", on_gone_poll);
}

int osr__nova_delete_start(osr__nova_delete *d,
                           osr_session *s,
                           const osr__nova *n,
                           const char *id,
                           int wait,
                           long timeout_s,
                           osr__http_done_cb cb,
                           void *payload)
{
    memset(d, 0, sizeof(*d));
    d->s = s;
    d->n = n;
    d->wait = wait;
    d->timeout_s = timeout_s > 0 ? timeout_s : 300;
    d->deadline = osr__now_ms_monotonic() + d->timeout_s * 1000;
    if ((d->url = osr__sprintf("%s/servers/%s", n->base, id)) == NULL) {
        osr__error_set(&d->result, OSR_ENOMEM, "out of memory");
        return OSR_ENOMEM;
    }
    delete_submit(d, "DELETE", on_deleted);
    if (d->done)
        return d->result.code; /* nothing queued, and cb not called */
    d->cb = cb;
    d->payload = payload;
    return 0;
}

void osr__nova_delete_clear(osr__nova_delete *d)
{
    free(d->url);
    d->url = NULL;
    osr__http_response_free(&d->resp);
}

int osr_server_delete_many(osr_session *s,
                           const char *const *ids,
                           size_t count,
                           int wait,
                           long timeout_s,
                           osr_error *errors)
{
    osr_error *err = osr__session_error(s);
    osr__nova n;
    osr__nova_delete *items = NULL;
    int error, failed = 0;

    if (count == 0)
        return 0;
    if ((error = osr_session_authenticate(s)) < 0 || (error = osr__nova_open(&n, s)) < 0)
        return error;
    for (size_t i = 0; errors && i < count; i++)
        osr_error_clear(&errors[i]);
    items = calloc(count, sizeof(*items));
    if (items == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < count; i++)
        osr__nova_delete_start(&items[i], s, &n, ids[i], wait, timeout_s, NULL, NULL);
    if ((error = osr__http_run(osr__session_http(s), NULL)) < 0) {
        error = osr__error_set(err, error, "delete: the HTTP engine failed");
        goto done;
    }
    for (size_t i = 0; i < count; i++) {
        const osr_error *e = &items[i].result;
        if (errors)
            errors[i] = *e;
        if (e->code < 0 && failed++ == 0) {
            *err = *e;
            osr__error_prefix(err, "server %s", ids[i]);
        }
    }
    if (failed)
        error = err->code;
done:
    for (size_t i = 0; items && i < count; i++)
        osr__nova_delete_clear(&items[i]);
    free(items);
    osr__nova_close(&n);
    return error;
}

int osr_server_delete(osr_session *s, const char *id, int wait, long timeout_s)
{
    return osr_server_delete_many(s, &id, 1, wait, timeout_s, NULL);
}

/* ---------------------------------------------------------------- lookups */

/* The outcome of a lookup by name: none, one (its id into *id_out), or
 * several (listed, so the user can pick an id). */
static int lookup_outcome(char **id_out,
                          osr_error *err,
                          const char *kind,
                          const char *name,
                          size_t count,
                          const char *found,
                          const char *ids)
{
    if (count == 0)
        return osr__error_set(err, OSR_ENOTFOUND, "%s '%s' not found", kind, name);
    if (count > 1)
        return osr__error_set(err, OSR_EAMBIGUOUS,
                              "%zu %ss are named '%s' (%s); give an id instead", count, kind, name,
                              ids ? ids : "");
    if ((*id_out = osr__strdup(found)) == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    return 0;
}

int osr__nova_flavor_find(
    json_t **flavor_out, char **id_out, osr_session *s, const osr__nova *n, const char *name_or_id)
{
    osr_error *err = osr__session_err(s);
    json_t *obj = NULL, *flavors, *match = NULL;
    char *esc = curl_easy_escape(NULL, name_or_id, 0), *url = NULL;
    osr__buf ids = OSR__BUF_INIT;
    const char *found = NULL;
    size_t i, count = 0;
    json_t *f;
    int error;

    if (esc == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    /* By id first (ids may look like anything, "1" included), then by name. */
    url = osr__sprintf("%s/flavors/%s", n->base, esc);
    error = url ? osr__nova_get_json(&obj, s, n, url) : OSR_ENOMEM;
    if (error == 0) {
        const char *id;
        match = json_object_get(obj, "flavor");
        id = json_string_value(json_object_get(match, "id"));
        if ((*id_out = osr__strdup(id ? id : name_or_id)) == NULL)
            error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        else if (flavor_out)
            *flavor_out = json_incref(match);
        goto done;
    }
    if (error != OSR_ENOTFOUND && error != OSR_EREQUEST)
        goto done;
    osr_error_clear(err);
    free(url);
    url = osr__sprintf("%s/flavors/detail?is_public=None", n->base);
    if (url == NULL || (error = osr__nova_get_json(&obj, s, n, url)) < 0) {
        if (url == NULL)
            error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    flavors = json_object_get(obj, "flavors");
    json_array_foreach(flavors, i, f)
    {
        const char *name = json_string_value(json_object_get(f, "name"));
        const char *id = json_string_value(json_object_get(f, "id"));
        if (name && id && strcmp(name, name_or_id) == 0) {
            osr__buf_printf(&ids, "%s%s", count ? ", " : "", id);
            found = id;
            match = f;
            count++;
        }
    }
    error = lookup_outcome(id_out, err, "flavor", name_or_id, count, found, ids.data);
    if (error == 0 && flavor_out)
        *flavor_out = json_incref(match);
done:
    osr__buf_free(&ids);
    json_decref(obj);
    curl_free(esc);
    free(url);
    return error;
}

int osr__nova_flavor_resolve(char **id_out,
                             osr_session *s,
                             const osr__nova *n,
                             const char *name_or_id)
{
    return osr__nova_flavor_find(NULL, id_out, s, n, name_or_id);
}

int osr__nova_keypair_check(osr_session *s, const osr__nova *n, const char *name)
{
    char *esc = curl_easy_escape(NULL, name, 0);
    char *url = esc ? osr__sprintf("%s/os-keypairs/%s", n->base, esc) : NULL;
    json_t *obj = NULL;
    int error;

    if (url == NULL)
        error = osr__error_set(osr__session_err(s), OSR_ENOMEM, "out of memory");
    else if ((error = osr__nova_get_json(&obj, s, n, url)) == OSR_ENOTFOUND)
        error = osr__error_set(osr__session_err(s), OSR_ENOTFOUND, "keypair '%s' not found", name);
    json_decref(obj);
    curl_free(esc);
    free(url);
    return error;
}

int osr__neutron_resolve(char **id_out, osr_session *s, const char *kind, const char *name_or_id)
{
    osr_error *err = osr__session_err(s);
    bool net = strcmp(kind, "network") == 0;
    const char *coll = net ? "networks" : "security-groups";
    const char *key = net ? "networks" : "security_groups";
    char *base = NULL, *url = NULL, *esc = NULL;
    json_t *obj = NULL, *items, *it;
    osr__buf ids = OSR__BUF_INIT;
    const char *found = NULL;
    size_t i, count = 0;
    int error;

    if ((error = osr__session_service_url(&base, s, "network", "/v2.0")) < 0)
        return error;
    esc = curl_easy_escape(NULL, name_or_id, 0);
    if (esc && osr__looks_like_uuid(name_or_id))
        url = osr__sprintf("%s/%s?id=%s", base, coll, esc);
    else if (esc)
        url = osr__sprintf("%s/%s?name=%s", base, coll, esc);
    if (url == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    if ((error = osr__nova_get_json(&obj, s, NULL, url)) < 0)
        goto done;
    items = json_object_get(obj, key);
    if (json_array_size(items) == 0 && osr__looks_like_uuid(name_or_id)) {
        /* A name that looks like an id. */
        json_decref(obj);
        obj = NULL;
        free(url);
        url = osr__sprintf("%s/%s?name=%s", base, coll, esc);
        if (url == NULL || (error = osr__nova_get_json(&obj, s, NULL, url)) < 0) {
            if (url == NULL)
                error = osr__error_set(err, OSR_ENOMEM, "out of memory");
            goto done;
        }
        items = json_object_get(obj, key);
    }
    json_array_foreach(items, i, it)
    {
        const char *id = json_string_value(json_object_get(it, "id"));
        if (id) {
            osr__buf_printf(&ids, "%s%s", count ? ", " : "", id);
            found = id;
            count++;
        }
    }
    error = lookup_outcome(id_out, err, kind, name_or_id, count, found, ids.data);
done:
    osr__buf_free(&ids);
    json_decref(obj);
    curl_free(esc);
    free(url);
    free(base);
    return error;
}
