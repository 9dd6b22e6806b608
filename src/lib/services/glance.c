/* Glance v2 images: get, find, list, create, delete, tags, a verified
 * streamed upload and safe replacement of a named image. jansson ownership:
 * parse results are owned, *_get is borrowed, *_set_new steals. */
#include "osrunner/glance.h"

#include "fs.h"
#include "glance_internal.h"
#include "session.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A server that always says "next" must not keep us forever. */
#define MAX_PAGES 100

struct osr_image {
    json_t *obj; /* the image as Glance returned it */
};

struct osr_image_list {
    osr_image **items;
    size_t n;
};

void osr_image_free(osr_image *image)
{
    if (image == NULL)
        return;
    json_decref(image->obj);
    free(image);
}

static int image_from_json(osr_image **out, json_t *obj, osr_error *err)
{
    osr_image *img;

    if (!json_is_object(obj) || !json_is_string(json_object_get(obj, "id")))
        return osr__error_set(err, OSR_EPROTO, "glance: an image without an id");
    img = calloc(1, sizeof(*img));
    if (img == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    img->obj = json_incref(obj);
    *out = img;
    return 0;
}

static const char *str_or_empty(const osr_image *image, const char *key)
{
    const char *v = json_string_value(json_object_get(image->obj, key));
    return v ? v : "";
}

const char *osr_image_id(const osr_image *image)
{
    return str_or_empty(image, "id");
}

const char *osr_image_name(const osr_image *image)
{
    return str_or_empty(image, "name");
}

const char *osr_image_status(const osr_image *image)
{
    return str_or_empty(image, "status");
}

const char *osr_image_property(const osr_image *image, const char *key)
{
    return json_string_value(json_object_get(image->obj, key));
}

long long osr_image_size(const osr_image *image)
{
    json_t *v = json_object_get(image->obj, "size");
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

int osr_image_to_json(char **out, const osr_image *image)
{
    char *s = json_dumps(image->obj, JSON_COMPACT | JSON_SORT_KEYS);
    if (s == NULL)
        return OSR_ENOMEM;
    *out = s;
    return 0;
}

size_t osr_image_tag_count(const osr_image *image)
{
    json_t *tags = json_object_get(image->obj, "tags");
    size_t n = 0, i;
    json_t *t;

    json_array_foreach(tags, i, t)
    {
        if (json_is_string(t))
            n++;
    }
    return n;
}

const char *osr_image_tag(const osr_image *image, size_t i)
{
    json_t *tags = json_object_get(image->obj, "tags");
    size_t j;
    json_t *t;

    json_array_foreach(tags, j, t)
    {
        if (!json_is_string(t))
            continue;
        if (i-- == 0)
            return json_string_value(t);
    }
    return NULL;
}

/* GET url and parse the JSON answer. */

/* base + "/images/" + escaped id + suffix. */
static char *image_url(const char *base, const char *id, const char *suffix)
{
    char *esc = curl_easy_escape(NULL, id, 0);
    char *url = esc ? osr__sprintf("%s/images/%s%s", base, esc, suffix ? suffix : "") : NULL;
    curl_free(esc);
    return url;
}

int osr_image_get(osr_image **out, osr_session *s, const char *id)
{
    osr_error *err = osr__session_error(s);
    char *base = NULL, *url = NULL;
    json_t *obj = NULL;
    int error;

    if ((error = osr__session_service_url(&base, s, "image", "/v2")) < 0)
        return error;
    if ((url = image_url(base, id, NULL)) == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    if ((error = osr__session_get_json(&obj, s, url, NULL)) == OSR_ENOTFOUND) {
        error = osr__error_set(err, OSR_ENOTFOUND, "image %s not found", id);
        goto done;
    } else if (error < 0) {
        goto done;
    }
    error = image_from_json(out, obj, err);
done:
    json_decref(obj);
    free(url);
    free(base);
    return error;
}

/* --- choosing the current image of a name ---------------------------------- */

static int64_t created_at(json_t *img)
{
    int64_t t = 0;
    const char *s = json_string_value(json_object_get(img, "created_at"));
    if (s == NULL || osr__parse_timestamp(&t, s) < 0)
        return 0;
    return t;
}

/* The microseconds osr_image_publish() recorded, or 0. */
static long long upload_time(json_t *img)
{
    const char *s = json_string_value(json_object_get(img, OSR__IMAGE_UPLOAD_TIME));
    char *end;
    long long v = s ? strtoll(s, &end, 10) : 0;
    return s && *end == '\0' && v > 0 ? v : 0;
}

/* Newest first: created_at descending (Glance keeps whole seconds), then the
 * upload time publish recorded, then id descending. */
static int newer_first(json_t *a, json_t *b)
{
    int64_t ta = created_at(a), tb = created_at(b);
    long long ua = upload_time(a), ub = upload_time(b);
    const char *ia = json_string_value(json_object_get(a, "id"));
    const char *ib = json_string_value(json_object_get(b, "id"));
    if (ta != tb)
        return ta > tb ? -1 : 1;
    if (ua != ub)
        return ua > ub ? -1 : 1;
    return -strcmp(ia ? ia : "", ib ? ib : "");
}

static bool is_status(json_t *img, const char *status)
{
    const char *st = json_string_value(json_object_get(img, "status"));
    return st != NULL && strcmp(st, status) == 0;
}

int osr__glance_pick_current(json_t *const *imgs, size_t n)
{
    size_t active = 0;
    bool all_ours = true;
    const char *owner = NULL;
    int best = -1;

    if (n == 1)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const char *o;
        if (!is_status(imgs[i], "active"))
            continue;
        o = json_string_value(json_object_get(imgs[i], "owner"));
        if (!json_is_string(json_object_get(imgs[i], OSR_IMAGE_UPLOAD_PROPERTY)))
            all_ours = false;
        /* A rollback set is one project's: images of several owners (as an
         * admin sees them) are ambiguous. */
        if (active == 0)
            owner = o;
        else if ((owner == NULL) != (o == NULL) || (owner && strcmp(owner, o) != 0))
            all_ours = false;
        active++;
        if (best < 0 || newer_first(imgs[i], imgs[best]) < 0)
            best = (int)i;
    }
    if (active == 1 || (active > 1 && all_ours))
        return best;
    return -1;
}

/* --- listing ---------------------------------------------------------------- */

/* "next" is a path like /v2/images?marker=...: join it to the endpoint's origin. */
static char *next_url(const char *base, const char *next)
{
    const char *v2 = strstr(base, "/v2");
    if (next == NULL)
        return NULL;
    if (strncmp(next, "http://", 7) == 0 || strncmp(next, "https://", 8) == 0)
        return osr__strdup(next);
    return osr__sprintf("%.*s%s", v2 ? (int)(v2 - base) : (int)strlen(base), base, next);
}

static int query_add(osr__buf *q, const char *key, const char *value)
{
    char *ek = curl_easy_escape(NULL, key, 0), *ev = curl_easy_escape(NULL, value, 0);
    int error = (ek && ev) ? osr__buf_printf(q, "&%s=%s", ek, ev) : OSR_ENOMEM;
    curl_free(ek);
    curl_free(ev);
    return error;
}

static bool matches_filter(json_t *img, const osr_image_filter *f)
{
    const char *v;

    if (f == NULL)
        return true;
    if (f->name &&
        ((v = json_string_value(json_object_get(img, "name"))) == NULL || strcmp(v, f->name) != 0))
        return false;
    if (f->status && !is_status(img, f->status))
        return false;
    if (f->tag) {
        size_t i;
        json_t *t;
        bool found = false;
        json_array_foreach(json_object_get(img, "tags"), i, t)
        {
            if (json_is_string(t) && strcmp(json_string_value(t), f->tag) == 0)
                found = true;
        }
        if (!found)
            return false;
    }
    for (const char *const *p = f->properties; p && *p; p++) {
        const char *eq = strchr(*p, '=');
        char key[256];
        if (eq == NULL || (size_t)(eq - *p) >= sizeof(key))
            return false;
        memcpy(key, *p, (size_t)(eq - *p));
        key[eq - *p] = '\0';
        v = json_string_value(json_object_get(img, key));
        if (v == NULL || strcmp(v, eq + 1) != 0)
            return false;
    }
    return true;
}

static int list_append(osr_image_list *l, json_t *obj, osr_error *err)
{
    osr_image **items;
    int error;

    if ((l->n & (l->n - 1)) == 0) {
        items = realloc(l->items, (l->n ? l->n * 2 : 16) * sizeof(*items));
        if (items == NULL)
            return osr__error_set(err, OSR_ENOMEM, "out of memory");
        l->items = items;
    }
    if ((error = image_from_json(&l->items[l->n], obj, err)) < 0)
        return error;
    l->n++;
    return 0;
}

static int cmp_images(const void *a, const void *b)
{
    const osr_image *const *x = a, *const *y = b;
    return newer_first((*x)->obj, (*y)->obj);
}

osr_image_list *osr__glance_list_new(void)
{
    return calloc(1, sizeof(osr_image_list));
}

void osr_image_list_free(osr_image_list *list)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < list->n; i++)
        osr_image_free(list->items[i]);
    free(list->items);
    free(list);
}

size_t osr_image_list_count(const osr_image_list *list)
{
    return list ? list->n : 0;
}

const osr_image *osr_image_list_at(const osr_image_list *list, size_t i)
{
    return list && i < list->n ? list->items[i] : NULL;
}

int osr_image_list_is_current(const osr_image_list *list, size_t i)
{
    json_t **same;
    size_t n = 0, me = 0;
    const char *name;
    int pick;

    if (list == NULL || i >= list->n)
        return 0;
    name = osr_image_name(list->items[i]);
    same = calloc(list->n, sizeof(*same));
    if (same == NULL)
        return 0;
    for (size_t j = 0; j < list->n; j++) {
        if (strcmp(osr_image_name(list->items[j]), name) != 0)
            continue;
        if (j == i)
            me = n;
        same[n++] = list->items[j]->obj;
    }
    pick = osr__glance_pick_current(same, n);
    free(same);
    return pick >= 0 && (size_t)pick == me;
}

int osr__glance_list_page(osr_image_list *l,
                          char **next,
                          const char *body,
                          size_t len,
                          const osr_image_filter *filter,
                          osr_error *err)
{
    json_error_t jerr;
    json_t *page = json_loadb(body, len, 0, &jerr), *images, *img;
    const char *nx;
    size_t i;
    int error = 0;

    *next = NULL;
    if (page == NULL)
        return osr__error_set(err, OSR_EPROTO, "glance: the image list is not JSON (%s)",
                              jerr.text);
    images = json_object_get(page, "images");
    if (!json_is_array(images)) {
        json_decref(page);
        return osr__error_set(err, OSR_EPROTO, "glance: the answer has no \"images\" list");
    }
    json_array_foreach(images, i, img)
    {
        if (!json_is_object(img))
            continue;
        if (!matches_filter(img, filter))
            continue;
        if (filter && filter->max && l->n >= filter->max)
            break;
        if ((error = list_append(l, img, err)) < 0)
            break;
    }
    nx = json_string_value(json_object_get(page, "next"));
    if (error == 0 && nx && (*next = osr__strdup(nx)) == NULL)
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
    json_decref(page);
    return error;
}

int osr_image_list_get(osr_image_list **out, osr_session *s, const osr_image_filter *filter)
{
    osr_error *err = osr__session_error(s);
    osr_image_list *l = NULL;
    osr__buf q = OSR__BUF_INIT;
    char *base = NULL, *url = NULL;
    int error = 0, pages = 0;

    if (filter && osr__version_check(err, "osr_image_list_get", "osr_image_filter", filter->version,
                                     1, OSR_IMAGE_FILTER_VERSION) < 0)
        return OSR_EINVAL;
    for (const char *const *p = filter ? filter->properties : NULL; p && *p; p++) {
        const char *eq = strchr(*p, '=');
        if (eq == NULL || eq == *p || (size_t)(eq - *p) >= 256)
            return osr__error_set(err, OSR_EINVAL, "property filter '%s' is not key=value", *p);
    }
    if ((l = calloc(1, sizeof(*l))) == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    if ((error = osr__session_service_url(&base, s, "image", "/v2")) < 0)
        goto done;
    error = osr__buf_puts(&q, "limit=100&sort_key=created_at&sort_dir=desc");
    if (error == 0 && filter && filter->name)
        error = query_add(&q, "name", filter->name);
    if (error == 0 && filter && filter->tag)
        error = query_add(&q, "tag", filter->tag);
    if (error == 0 && filter && filter->status)
        error = query_add(&q, "status", filter->status);
    if (error == 0 && filter && filter->visibility)
        error = query_add(&q, "visibility", filter->visibility);
    for (const char *const *p = filter ? filter->properties : NULL; error == 0 && p && *p; p++) {
        const char *eq = strchr(*p, '=');
        char key[256];
        memcpy(key, *p, (size_t)(eq - *p));
        key[eq - *p] = '\0';
        error = query_add(&q, key, eq + 1);
    }
    if (error < 0 || (url = osr__sprintf("%s/images?%s", base, q.data)) == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    while (url != NULL) {
        osr__http_request req = { .method = "GET", .url = url, .idempotent = true };
        osr__http_response resp;
        char *next = NULL;

        if (++pages > MAX_PAGES) {
            error =
                osr__error_set(err, OSR_EPROTO, "glance: more than %d pages of images", MAX_PAGES);
            goto done;
        }
        memset(&resp, 0, sizeof(resp));
        error = osr__session_request(s, &req, &resp);
        if (error == 0)
            error = osr__glance_list_page(l, &next, resp.body.data, resp.body.len, filter, err);
        osr__http_response_free(&resp);
        free(url);
        url = NULL;
        if (error < 0) {
            free(next);
            goto done;
        }
        if (next && !(filter && filter->max && l->n >= filter->max)) {
            if ((url = next_url(base, next)) == NULL)
                error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        }
        free(next);
        if (error < 0)
            goto done;
    }
    if (l->n > 1)
        qsort(l->items, l->n, sizeof(*l->items), cmp_images);
    *out = l;
    l = NULL;
done:
    osr_image_list_free(l);
    osr__buf_free(&q);
    free(url);
    free(base);
    return error;
}

int osr_image_find(osr_image **out, osr_session *s, const char *name_or_id)
{
    osr_image_filter f = OSR_IMAGE_FILTER_INIT;
    osr_image_list *list = NULL;
    osr__buf ids = OSR__BUF_INIT;
    json_t **objs = NULL;
    osr_error *err;
    int error, pick;

    if (osr__looks_like_uuid(name_or_id)) {
        error = osr_image_get(out, s, name_or_id);
        if (error != OSR_ENOTFOUND)
            return error;
        /* An image may also be *named* like a UUID: fall through to names. */
    }
    f.name = name_or_id;
    if ((error = osr_image_list_get(&list, s, &f)) < 0)
        return error;
    err = osr__session_err(s);
    if (list->n == 0) {
        error = osr__error_set(err, OSR_ENOTFOUND, "image '%s' not found", name_or_id);
        goto done;
    }
    if ((objs = calloc(list->n, sizeof(*objs))) == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < list->n; i++)
        objs[i] = list->items[i]->obj;
    pick = osr__glance_pick_current(objs, list->n);
    if (pick < 0) {
        for (size_t i = 0; i < list->n; i++)
            osr__buf_printf(&ids, "%s%s", i ? ", " : "", osr_image_id(list->items[i]));
        error = osr__error_set(err, OSR_EAMBIGUOUS,
                               "%zu images are named '%s' (%s); give an id instead", list->n,
                               name_or_id, ids.data ? ids.data : "");
        goto done;
    }
    error = image_from_json(out, objs[pick], err);
done:
    free(objs);
    osr__buf_free(&ids);
    osr_image_list_free(list);
    return error;
}

/* --- create, delete, tags ------------------------------------------------------ */

static const char *const reserved_keys[] = { "id",
                                             "name",
                                             "status",
                                             "tags",
                                             "disk_format",
                                             "container_format",
                                             "visibility",
                                             "checksum",
                                             "size",
                                             "virtual_size",
                                             "created_at",
                                             "updated_at",
                                             "owner",
                                             "os_hash_algo",
                                             "os_hash_value",
                                             "file",
                                             "schema",
                                             "self",
                                             "locations",
                                             "direct_url",
                                             "protected",
                                             "min_disk",
                                             "min_ram",
                                             "stores",
                                             NULL };

int osr__glance_create_body(char **out, const osr_image_create_options *o, osr_error *err)
{
    json_t *body = NULL, *tags = NULL;
    int error = 0;

    if (o == NULL || o->name == NULL || *o->name == '\0')
        return osr__error_set(err, OSR_EINVAL, "an image needs a name");
    body = json_object();
    tags = json_array();
    if (body == NULL || tags == NULL)
        goto oom;
    if (json_object_set_new(body, "name", json_string(o->name)) < 0 ||
        json_object_set_new(body, "disk_format",
                            json_string(o->disk_format ? o->disk_format : "qcow2")) < 0 ||
        json_object_set_new(body, "container_format",
                            json_string(o->container_format ? o->container_format : "bare")) < 0)
        goto oom;
    if (o->visibility && json_object_set_new(body, "visibility", json_string(o->visibility)) < 0)
        goto oom;
    for (const char *const *p = o->properties; p && *p; p++) {
        const char *eq = strchr(*p, '=');
        char key[256];
        if (eq == NULL || eq == *p || (size_t)(eq - *p) >= sizeof(key)) {
            error = osr__error_set(err, OSR_EINVAL, "property '%s' is not key=value", *p);
            goto done;
        }
        memcpy(key, *p, (size_t)(eq - *p));
        key[eq - *p] = '\0';
        for (const char *const *r = reserved_keys; *r; r++) {
            if (strcmp(key, *r) == 0) {
                error = osr__error_set(err, OSR_EINVAL, "property '%s' is reserved by Glance", key);
                goto done;
            }
        }
        if (json_object_set_new(body, key, json_string(eq + 1)) < 0) {
            error = osr__error_set(err, OSR_EINVAL, "property '%s' is not valid UTF-8", key);
            goto done;
        }
    }
    for (const char *const *t = o->tags; t && *t; t++) {
        if (json_array_append_new(tags, json_string(*t)) < 0) {
            error = osr__error_set(err, OSR_EINVAL, "tag '%s' is not valid UTF-8", *t);
            goto done;
        }
    }
    if (json_object_set(body, "tags", tags) < 0 ||
        (*out = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
        goto oom;
    goto done;
oom:
    error = osr__error_set(err, OSR_ENOMEM, "out of memory");
done:
    json_decref(tags);
    json_decref(body);
    return error;
}

int osr_image_create(osr_image **out, osr_session *s, const osr_image_create_options *o)
{
    osr_error *err = osr__session_error(s);
    osr__http_response resp;
    char *base = NULL, *url = NULL, *body = NULL;
    json_t *obj = NULL;
    json_error_t jerr;
    int error;

    memset(&resp, 0, sizeof(resp));
    if (o && osr__version_check(err, "osr_image_create", "osr_image_create_options", o->version, 1,
                                OSR_IMAGE_CREATE_OPTIONS_VERSION) < 0)
        return OSR_EINVAL;
    if ((error = osr__glance_create_body(&body, o, err)) < 0)
        return error;
    if ((error = osr__session_service_url(&base, s, "image", "/v2")) < 0)
        goto done;
    if ((url = osr__sprintf("%s/images", base)) == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    {
        /* Not idempotent: a retried POST could register two images. */
        osr__http_request req = {
            .method = "POST", .url = url, .body = body, .body_len = strlen(body)
        };
        if ((error = osr__session_request(s, &req, &resp)) < 0)
            goto done;
    }
    if ((obj = json_loadb(resp.body.data, resp.body.len, 0, &jerr)) == NULL) {
        error =
            osr__error_set(err, OSR_EPROTO, "POST %s: the answer is not JSON (%s)", url, jerr.text);
        goto done;
    }
    error = image_from_json(out, obj, err);
done:
    json_decref(obj);
    osr__http_response_free(&resp);
    free(body);
    free(url);
    free(base);
    return error;
}

/* A request without a body to base/images/{id}{suffix}; timeout_ms 0: the
 * engine's default. */
static int simple_request(
    osr_session *s, const char *method, const char *id, const char *suffix, long timeout_ms)
{
    osr_error *err = osr__session_error(s);
    osr__http_response resp;
    char *base = NULL, *url = NULL;
    int error;

    memset(&resp, 0, sizeof(resp));
    if ((error = osr__session_service_url(&base, s, "image", "/v2")) < 0)
        return error;
    if ((url = image_url(base, id, suffix)) == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    {
        osr__http_request req = {
            .method = method, .url = url, .idempotent = true, .timeout_ms = timeout_ms
        };
        error = osr__session_request(s, &req, &resp);
    }
    if (error == OSR_ENOTFOUND)
        osr__error_set(err, OSR_ENOTFOUND, "image %s not found", id);
done:
    osr__http_response_free(&resp);
    free(url);
    free(base);
    return error;
}

int osr_image_delete(osr_session *s, const char *id)
{
    return simple_request(s, "DELETE", id, NULL, 0);
}

/* A DELETE within an operation's time: its --timeout, not the 60 s default. */
static int delete_within(osr_session *s, const char *id, long timeout_ms)
{
    return simple_request(s, "DELETE", id, NULL, timeout_ms > 0 ? timeout_ms : 0);
}

static int tag_request(osr_session *s, const char *method, const char *id, const char *tag)
{
    char *esc = curl_easy_escape(NULL, tag, 0);
    char *suffix = esc ? osr__sprintf("/tags/%s", esc) : NULL;
    int error;

    curl_free(esc);
    if (suffix == NULL)
        return osr__error_set(osr__session_error(s), OSR_ENOMEM, "out of memory");
    error = simple_request(s, method, id, suffix, 0);
    free(suffix);
    return error;
}

int osr_image_tag_add(osr_session *s, const char *id, const char *tag)
{
    return tag_request(s, "PUT", id, tag);
}

int osr_image_tag_remove(osr_session *s, const char *id, const char *tag)
{
    return tag_request(s, "DELETE", id, tag);
}

/* --- upload ------------------------------------------------------------------ */

struct upload {
    int fd;
    long long size, sent;
    EVP_MD_CTX *sha512, *md5;
    const volatile int *cancel;
    bool cancelled, read_failed, hash_failed;
    int read_errno;
    osr_progress_cb progress_cb;
    void *progress_payload;
};

static size_t upload_read(char *buf, size_t len, void *payload)
{
    struct upload *u = payload;
    ssize_t n;

    if (u->cancel && *u->cancel) {
        u->cancelled = true;
        return (size_t)-1;
    }
    do {
        n = read(u->fd, buf, len);
    } while (n < 0 && errno == EINTR && !(u->cancel && *u->cancel));
    if (n < 0) {
        if (u->cancel && *u->cancel)
            u->cancelled = true;
        else {
            u->read_failed = true;
            u->read_errno = errno;
        }
        return (size_t)-1;
    }
    if (EVP_DigestUpdate(u->sha512, buf, (size_t)n) != 1 ||
        EVP_DigestUpdate(u->md5, buf, (size_t)n) != 1) {
        u->hash_failed = true;
        return (size_t)-1;
    }
    u->sent += n;
    return (size_t)n;
}

static void upload_progress(long long now, long long total, void *payload)
{
    struct upload *u = payload;
    (void)total;
    if (u->progress_cb)
        u->progress_cb(now, u->size, u->progress_payload);
}

void osr__glance_hex(char *out, const unsigned char *md, unsigned int len)
{
    static const char hex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < len; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * len] = '\0';
}

/* Waiting for Glance to finish an image after the PUT returned (some stores
 * return before the status turns active): a GET, then again after a delay
 * that is a timer on the session's engine, so the loop that drives it (a
 * daemon's, or osr__http_run below) serves everything else meanwhile. */
static void wait_get(osr__glance_wait *w, long delay_ms);

static void wait_finish(osr__glance_wait *w, int error)
{
    w->error = error;
    w->done = true;
    if (w->cb)
        w->cb(error, w->payload);
}

static void on_wait_get(int error, void *payload)
{
    osr__glance_wait *w = payload;
    json_error_t jerr;
    json_t *obj;

    if (error < 0) {
        *osr__session_err(w->s) = w->req_err;
        wait_finish(w, error);
        return;
    }
    obj = json_loadb(w->resp.body.data, w->resp.body.len, 0, &jerr);
    osr__http_response_free(&w->resp);
    if (obj == NULL) {
        wait_finish(w, osr__error_set(osr__session_err(w->s), OSR_EPROTO,
                                      "GET %s: the answer is not JSON (%s)", w->url, jerr.text));
        return;
    }
    if (!is_status(obj, "saving") && !is_status(obj, "uploading") && !is_status(obj, "importing")) {
        w->obj = obj;
        wait_finish(w, 0);
        return;
    }
    json_decref(obj);
    if (osr__now_ms_monotonic() > w->deadline) {
        wait_finish(w, osr__error_set(osr__session_err(w->s), OSR_ETIMEOUT,
                                      "glance: the image is still saving after %ld s",
                                      (w->timeout_ms + 999) / 1000));
        return;
    }
    wait_get(w, w->delay_ms);
    if (w->delay_ms < 2000)
        w->delay_ms *= 2;
}

static void wait_get(osr__glance_wait *w, long delay_ms)
{
    osr__http_request req = {
        .method = "GET", .url = w->url, .idempotent = true, .token = osr__session_token(w->s)
    };

    osr__http_response_free(&w->resp);
    osr_error_clear(&w->req_err);
    w->polls++;
    if (osr__http_submit(osr__session_http(w->s), &req, delay_ms, &w->resp, &w->req_err,
                         on_wait_get, w) < 0)
        wait_finish(w, osr__error_set(osr__session_err(w->s), OSR_ENOMEM, "out of memory"));
}

int osr__glance_wait_start(osr__glance_wait *w,
                           osr_session *s,
                           const char *url,
                           long timeout_ms,
                           osr__http_done_cb cb,
                           void *payload)
{
    memset(w, 0, sizeof(*w));
    w->s = s;
    w->cb = cb;
    w->payload = payload;
    w->delay_ms = 100;
    w->timeout_ms = timeout_ms > 0 ? timeout_ms : 120000;
    w->deadline = osr__now_ms_monotonic() + w->timeout_ms;
    if ((w->url = osr__strdup(url)) == NULL)
        return osr__error_set(osr__session_err(s), OSR_ENOMEM, "out of memory");
    wait_get(w, 0);
    return 0;
}

void osr__glance_wait_clear(osr__glance_wait *w)
{
    json_decref(w->obj);
    w->obj = NULL;
    osr__http_response_free(&w->resp);
    free(w->url);
    w->url = NULL;
}

/* The wait, for a caller without a loop of its own: the engine runs until it
 * is over. A token rejected meanwhile (401) is renewed once, and the wait
 * starts again, as osr__session_request does. */
static int wait_active(json_t **out, osr_session *s, const char *url)
{
    osr__glance_wait w;
    int error;

    for (int attempt = 0;; attempt++) {
        if ((error = osr_session_authenticate(s)) < 0 ||
            (error = osr__glance_wait_start(&w, s, url, 0, NULL, NULL)) < 0)
            return error;
        if ((error = osr__http_run(osr__session_http(s), &w.done)) < 0)
            error = osr__error_set(osr__session_err(s), error, "%s: the HTTP engine failed", url);
        else if (!w.done)
            error = osr__error_set(osr__session_err(s), OSR_ERROR, "%s: the wait did not end", url);
        else if ((error = w.error) == 0) {
            *out = w.obj;
            w.obj = NULL;
        }
        osr__glance_wait_clear(&w);
        if (error != OSR_EAUTH || attempt > 0)
            return error;
        osr__http_log(osr__session_http(s), OSR_LOG_INFO, "token rejected; authenticating again");
        osr_session_invalidate(s);
    }
}

/* Delete image id after a failure (code cause), keeping the failure's
 * message. The code stays, unless the image is left behind: OSR_ELEFT, with
 * its id (the next clean-up of stale records removes it). */
static int delete_after_failure(osr_session *s, const char *id, long timeout_ms, int cause)
{
    osr_error saved = *osr__session_err(s);
    int error = delete_within(s, id, timeout_ms);
    osr_error *err = osr__session_err(s);
    osr__buf msg = OSR__BUF_INIT;

    if (error < 0 && error != OSR_ENOTFOUND) {
        osr__buf_printf(&msg,
                        "%s; image %s is left behind (deleting it failed: %s); the next upload "
                        "of the name or a clean-up of stale records removes it",
                        saved.message, id, err->message);
        *err = saved;
        err->code = OSR_ELEFT;
        if (msg.data)
            snprintf(err->message, sizeof(err->message), "%s", msg.data);
        osr__buf_free(&msg);
        return OSR_ELEFT;
    }
    *err = saved;
    return cause;
}

/* Open the file to upload: the one place where it is opened. */
static int open_upload_file(int *out, long long *size, const char *path, osr_error *err)
{
    struct stat st;
    int fd, error;

    if ((error = osr__fs_open_regular(&fd, &st, path, err)) < 0)
        return error;
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    *out = fd;
    *size = (long long)st.st_size;
    return 0;
}

/* --- what the file holds ----------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t be64(const unsigned char *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* What the first bytes say the content is: a format Glance knows by its
 * magic, "empty", or "raw" (anything else: data, text). */
static const char *content_kind(const unsigned char *head, size_t len, long long size)
{
    if (size == 0)
        return "empty";
    if (len >= 4 && memcmp(head, "QFI\xfb", 4) == 0)
        return "qcow2";
    if (len >= 4 && memcmp(head, "KDMV", 4) == 0)
        return "vmdk";
    if (len >= 8 && memcmp(head, "vhdxfile", 8) == 0)
        return "vhdx";
    if (len >= 0x44 && memcmp(head + 0x40, "\x7f\x10\xda\xbe", 4) == 0)
        return "vdi";
    return "raw";
}

/* off..off+n lies inside a file of size bytes. */
static bool inside(uint64_t off, uint64_t n, long long size)
{
    uint64_t sz = size > 0 ? (uint64_t)size : 0;
    return off <= sz && n <= sz - off;
}

#define QCOW2_V2_HEADER 72
#define QCOW2_V3_HEADER 104

/* A qcow2 header that qemu would open: version, cluster size, virtual size,
 * and the tables it points to inside the file. */
static int
qcow2_sane(const unsigned char *h, size_t len, long long size, const char *path, osr_error *err)
{
    const char *pre = "--disk-format qcow2, but the file's qcow2 header is bad";
    uint32_t version, cluster_bits, l1_size, rc_clusters, nb_snapshots;
    uint64_t vsize, l1_off, rc_off, snap_off, cluster, l1_need;
    unsigned shift;

    if (len < QCOW2_V2_HEADER)
        return osr__error_set(err, OSR_EINTEGRITY, "%s: %s: truncated (%lld bytes)", path, pre,
                              size);
    version = be32(h + 4);
    if (version != 2 && version != 3)
        return osr__error_set(err, OSR_EINTEGRITY, "%s: %s: version %u (2 or 3 expected)", path,
                              pre, (unsigned)version);
    cluster_bits = be32(h + 20);
    if (cluster_bits < 9 || cluster_bits > 21)
        return osr__error_set(err, OSR_EINTEGRITY, "%s: %s: cluster_bits %u (9 to 21 expected)",
                              path, pre, (unsigned)cluster_bits);
    cluster = (uint64_t)1 << cluster_bits;
    vsize = be64(h + 24);
    if (vsize == 0)
        return osr__error_set(err, OSR_EINTEGRITY, "%s: %s: the virtual size is 0", path, pre);
    if (be64(h + 8) != 0)
        return osr__error_set(err, OSR_EINTEGRITY,
                              "%s: --disk-format qcow2, but the file has a backing file (an image "
                              "must stand alone)",
                              path);
    if (version == 3) {
        uint64_t incompatible;
        uint32_t hlen;
        if (len < QCOW2_V3_HEADER)
            return osr__error_set(err, OSR_EINTEGRITY, "%s: %s: truncated (%lld bytes)", path, pre,
                                  size);
        incompatible = be64(h + 72);
        hlen = be32(h + 100);
        if (hlen < QCOW2_V3_HEADER || hlen > cluster || !inside(0, hlen, size))
            return osr__error_set(err, OSR_EINTEGRITY, "%s: %s: header_length %u", path, pre,
                                  (unsigned)hlen);
        if (be32(h + 96) > 6)
            return osr__error_set(err, OSR_EINTEGRITY, "%s: %s: refcount_order %u (0 to 6)", path,
                                  pre, (unsigned)be32(h + 96));
        if (incompatible & 2)
            return osr__error_set(err, OSR_EINTEGRITY, "%s: %s: it is marked corrupt", path, pre);
        if (incompatible & 4)
            return osr__error_set(err, OSR_EINTEGRITY, "%s: %s: its data is in an external file",
                                  path, pre);
        if (incompatible >> 5)
            return osr__error_set(err, OSR_EINTEGRITY,
                                  "%s: %s: unknown incompatible features 0x%llx", path, pre,
                                  (unsigned long long)incompatible);
    }
    l1_size = be32(h + 36);
    l1_off = be64(h + 40);
    rc_off = be64(h + 48);
    rc_clusters = be32(h + 56);
    nb_snapshots = be32(h + 60);
    snap_off = be64(h + 64);
    /* One L1 entry maps cluster/8 clusters. */
    shift = 2 * cluster_bits - 3;
    l1_need = (vsize >> shift) + ((vsize & (((uint64_t)1 << shift) - 1)) != 0);
    if (l1_size < l1_need)
        return osr__error_set(err, OSR_EINTEGRITY,
                              "%s: %s: the L1 table (%u entries) is too small for the virtual "
                              "size %llu",
                              path, pre, (unsigned)l1_size, (unsigned long long)vsize);
    if (l1_off == 0 || l1_off % cluster != 0 || !inside(l1_off, (uint64_t)l1_size * 8, size))
        return osr__error_set(err, OSR_EINTEGRITY,
                              "%s: %s: the L1 table (offset %llu) is not inside the file (%lld "
                              "bytes; truncated?)",
                              path, pre, (unsigned long long)l1_off, size);
    if (rc_off == 0 || rc_off % cluster != 0 || rc_clusters == 0 ||
        !inside(rc_off, (uint64_t)rc_clusters << cluster_bits, size))
        return osr__error_set(err, OSR_EINTEGRITY,
                              "%s: %s: the refcount table (offset %llu) is not inside the file "
                              "(%lld bytes; truncated?)",
                              path, pre, (unsigned long long)rc_off, size);
    if (nb_snapshots != 0 && (snap_off % 8 != 0 || !inside(snap_off, 40, size)))
        return osr__error_set(err, OSR_EINTEGRITY,
                              "%s: %s: the snapshot table (offset %llu) is not inside the file",
                              path, pre, (unsigned long long)snap_off);
    return 0;
}

int osr__glance_check_content(const unsigned char *head,
                              size_t len,
                              long long size,
                              const char *disk_format,
                              const char *path,
                              osr_error *err)
{
    const char *want = disk_format ? disk_format : "qcow2";
    const char *is = content_kind(head, len, size);

    if (strcmp(want, is) == 0)
        return strcmp(is, "qcow2") == 0 ? qcow2_sane(head, len, size, path, err) : 0;
    /* Formats osrunner cannot tell by their first bytes (iso, ami, ...) pass
     * when the data is not something else it knows. */
    if (strcmp(want, "qcow2") == 0 || strcmp(want, "raw") == 0 || strcmp(is, "raw") != 0)
        return osr__error_set(err, OSR_EINTEGRITY, "%s: --disk-format %s, but the file is %s", path,
                              want, is);
    return 0;
}

/* Read the file's header and check it against disk_format (pread: the file
 * offset stays at 0 for the upload). */
static int
check_upload_file(int fd, long long size, const char *disk_format, const char *path, osr_error *err)
{
    unsigned char head[512];
    size_t got = 0;

    while (got < sizeof(head)) {
        ssize_t n = pread(fd, head + got, sizeof(head) - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return osr__error_set(err, OSR_EIO, "%s: %s", path, strerror(errno));
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return osr__glance_check_content(head, got, size, disk_format, path, err);
}

/* Send the open file fd (size bytes) as image id's data; see osr_image_upload(). */
static int upload_fd(osr_image **out,
                     osr_session *s,
                     const char *id,
                     const char *path,
                     int fd,
                     long long size,
                     const osr_image_upload_options *opts)
{
    osr_error *err = osr__session_error(s);
    struct upload u;
    osr__http_response resp;
    char *base = NULL, *url = NULL, *file_url = NULL;
    char sha512[129], md5[33];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen;
    json_t *obj = NULL;
    int error = 0;
    bool delete_on_failure = true;

    memset(&u, 0, sizeof(u));
    memset(&resp, 0, sizeof(resp));
    u.fd = fd;
    if ((error = osr__session_service_url(&base, s, "image", "/v2")) < 0)
        goto done;
    if ((url = image_url(base, id, NULL)) == NULL ||
        (file_url = image_url(base, id, "/file")) == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    u.size = size;
    u.cancel = opts->cancel;
    u.progress_cb = opts->progress_cb;
    u.progress_payload = opts->progress_payload;
    u.sha512 = EVP_MD_CTX_new();
    u.md5 = EVP_MD_CTX_new();
    if (u.sha512 == NULL || u.md5 == NULL || EVP_DigestInit_ex(u.sha512, EVP_sha512(), NULL) != 1 ||
        EVP_DigestInit_ex(u.md5, EVP_md5(), NULL) != 1) {
        error = osr__error_set(err, OSR_ERROR, "cannot set up SHA-512 and MD5 (OpenSSL)");
        goto done;
    }
    /* A fresh token first: the stream cannot be sent twice, so a 401 halfway
     * must not happen because of an old token. */
    if ((error = osr_session_authenticate(s)) < 0)
        goto done;
    {
        static const char *const hdrs[] = { "Content-Type: application/octet-stream", NULL };
        osr__http_request req = {
            .method = "PUT",
            .url = file_url,
            .token = osr__session_token(s),
            .headers = hdrs,
            .read_cb = upload_read,
            .read_payload = &u,
            .upload_size = u.size,
            .progress_cb = upload_progress,
            .progress_payload = &u,
            .timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms
                                               : 600000L + (long)(u.size / (4 << 20)) * 1000L,
        };
        err = osr__session_error(s);
        error = osr__http_send(osr__session_http(s), &req, &resp, err);
    }
    if (u.cancelled || (opts->cancel && *opts->cancel)) {
        error = osr__error_set(err, OSR_ERROR, "upload of %s interrupted after %lld of %lld bytes",
                               path, u.sent, u.size);
        goto done;
    }
    if (u.read_failed) {
        error = osr__error_set(err, OSR_EIO, "%s: %s", path, strerror(u.read_errno));
        goto done;
    }
    if (u.hash_failed) {
        error = osr__error_set(err, OSR_ERROR, "%s: hashing failed (OpenSSL)", path);
        goto done;
    }
    if (error < 0)
        goto done;
    if (u.sent != u.size) {
        error = osr__error_set(err, OSR_EIO, "%s: sent %lld bytes, but the file has %lld", path,
                               u.sent, u.size);
        goto done;
    }
    if (EVP_DigestFinal_ex(u.sha512, md, &mdlen) != 1 || mdlen != 64) {
        error = osr__error_set(err, OSR_ERROR, "SHA-512 failed (OpenSSL)");
        goto done;
    }
    osr__glance_hex(sha512, md, mdlen);
    if (EVP_DigestFinal_ex(u.md5, md, &mdlen) != 1 || mdlen != 16) {
        error = osr__error_set(err, OSR_ERROR, "MD5 failed (OpenSSL)");
        goto done;
    }
    osr__glance_hex(md5, md, mdlen);
    if ((error = wait_active(&obj, s, url)) < 0)
        goto done;
    error = osr__glance_verify(obj, sha512, md5, err);
    if (error == 0 && out != NULL)
        error = image_from_json(out, obj, err);
    if (error == 0)
        delete_on_failure = false;
done:
    if (error < 0 && delete_on_failure && url != NULL && error != OSR_ENOMEM)
        error = delete_after_failure(s, id, opts->timeout_ms, error);
    json_decref(obj);
    EVP_MD_CTX_free(u.sha512);
    EVP_MD_CTX_free(u.md5);
    osr__http_response_free(&resp);
    free(file_url);
    free(url);
    free(base);
    return error;
}

int osr_image_upload(osr_image **out,
                     osr_session *s,
                     const char *id,
                     const char *path,
                     const osr_image_upload_options *opts)
{
    osr_image_upload_options defaults = OSR_IMAGE_UPLOAD_OPTIONS_INIT;
    long long size = 0;
    int fd = -1, error;

    if (opts == NULL)
        opts = &defaults;
    if (osr__version_check(osr__session_error(s), "osr_image_upload", "osr_image_upload_options",
                           opts->version, 1, OSR_IMAGE_UPLOAD_OPTIONS_VERSION) < 0)
        return OSR_EINVAL;
    if ((error = open_upload_file(&fd, &size, path, osr__session_error(s))) < 0)
        return delete_after_failure(s, id, opts->timeout_ms, error);
    error = upload_fd(out, s, id, path, fd, size, opts);
    close(fd);
    return error;
}

int osr__glance_verify(json_t *obj, const char *sha512, const char *md5, osr_error *err)
{
    const char *algo = json_string_value(json_object_get(obj, "os_hash_algo"));
    const char *value = json_string_value(json_object_get(obj, "os_hash_value"));
    const char *checksum = json_string_value(json_object_get(obj, "checksum"));
    const char *id = json_string_value(json_object_get(obj, "id"));

    if (!is_status(obj, "active"))
        return osr__error_set(err, OSR_ESERVER,
                              "glance: image %s is %s after the upload, not active", id ? id : "?",
                              json_string_value(json_object_get(obj, "status"))
                                  ? json_string_value(json_object_get(obj, "status"))
                                  : "without a status");
    if (algo && strcmp(algo, "sha512") == 0) {
        if (value == NULL || strcmp(value, sha512) != 0)
            return osr__error_set(err, OSR_EPROTO,
                                  "glance: image %s has os_hash_value %.16s..., but osrunner sent "
                                  "%.16s... (SHA-512): the data changed on the way",
                                  id ? id : "?", value ? value : "(none)", sha512);
    } else if (checksum == NULL) {
        return osr__error_set(err, OSR_EPROTO,
                              "glance: image %s has neither a SHA-512 os_hash_value nor a checksum",
                              id ? id : "?");
    }
    if (checksum && strcmp(checksum, md5) != 0)
        return osr__error_set(err, OSR_EPROTO,
                              "glance: image %s has checksum %s, but osrunner sent %s (MD5): the "
                              "data changed on the way",
                              id ? id : "?", checksum, md5);
    return 0;
}

/* --- for the publishing domain code (image_publish.c) ------------------------- */

json_t *osr__glance_image_json(const osr_image *image)
{
    return image ? image->obj : NULL;
}

int osr__glance_delete_within(osr_session *s, const char *id, long timeout_ms)
{
    return delete_within(s, id, timeout_ms);
}

int osr__glance_open_checked(
    int *fd, long long *size, const char *path, const char *disk_format, osr_error *err)
{
    int error;
    if ((error = open_upload_file(fd, size, path, err)) < 0)
        return error;
    if ((error = check_upload_file(*fd, *size, disk_format, path, err)) < 0) {
        close(*fd);
        *fd = -1;
    }
    return error;
}

int osr__glance_upload_fd(osr_image **out,
                          osr_session *s,
                          const char *id,
                          const char *path,
                          int fd,
                          long long size,
                          const osr_image_upload_options *opts)
{
    return upload_fd(out, s, id, path, fd, size, opts);
}
