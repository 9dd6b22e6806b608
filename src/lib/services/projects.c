/* Keystone projects: GET /v3/auth/projects or /v3/projects, all pages. */
#include "osrunner/projects.h"

#include "projects_internal.h"
#include "session.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* A server that always says "next" must not keep us forever. */
#define MAX_PAGES 100

typedef struct osr_project project;

struct osr_project {
    char *id, *name, *domain_id, *description, *parent_id;
    int enabled;
};

struct osr_project_list {
    project *items;
    size_t count, cap;
};

void osr_project_list_free(osr_project_list *list)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < list->count; i++) {
        project *p = &list->items[i];
        free(p->id);
        free(p->name);
        free(p->domain_id);
        free(p->description);
        free(p->parent_id);
    }
    free(list->items);
    free(list);
}

static char *field(json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return strdup(v ? v : "");
}

static int add_page(osr_project_list *list, json_t *projects, osr_error *err)
{
    size_t i;
    json_t *o;

    json_array_foreach(projects, i, o)
    {
        project *p;
        if (!json_is_object(o) || !json_is_string(json_object_get(o, "id")))
            return osr__error_set(err, OSR_EPROTO, "projects: entry %zu has no id", i);
        if (list->count == list->cap) {
            size_t cap = list->cap ? list->cap * 2 : 16;
            project *items = realloc(list->items, cap * sizeof(*items));
            if (items == NULL)
                return osr__error_set(err, OSR_ENOMEM, "out of memory");
            list->items = items;
            list->cap = cap;
        }
        p = &list->items[list->count++];
        p->id = field(o, "id");
        p->name = field(o, "name");
        p->domain_id = field(o, "domain_id");
        p->description = field(o, "description");
        p->parent_id = field(o, "parent_id");
        p->enabled = !json_is_false(json_object_get(o, "enabled"));
        if (!p->id || !p->name || !p->domain_id || !p->description || !p->parent_id)
            return osr__error_set(err, OSR_ENOMEM, "out of memory");
    }
    return 0;
}

static int by_name(const void *a, const void *b)
{
    const project *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->id, y->id);
}

int osr__project_list_parse(osr_project_list **out, const char *body, size_t len, osr_error *err)
{
    osr_project_list *list = calloc(1, sizeof(*list));
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *projects = json_object_get(root, "projects");
    int error = 0;

    if (list == NULL)
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
    else if (!json_is_array(projects))
        error = osr__error_set(err, OSR_EPROTO, "projects: no \"projects\" list in the answer");
    else
        error = add_page(list, projects, err);
    json_decref(root);
    if (error < 0) {
        osr_project_list_free(list);
        return error;
    }
    if (list->count > 1)
        qsort(list->items, list->count, sizeof(*list->items), by_name);
    *out = list;
    return 0;
}

int osr_project_list_get(osr_project_list **out, osr_session *s, unsigned int flags)
{
    osr_error *err = osr__session_error(s);
    osr_project_list *list = NULL;
    const char *base;
    char *url = NULL;
    int error, pages = 0;

    if ((error = osr_session_authenticate(s)) < 0)
        return error;
    if ((error = osr__session_identity_url(&base, s)) < 0)
        return error;
    list = calloc(1, sizeof(*list));
    url = osr__sprintf("%s/%s", base, (flags & OSR_PROJECTS_ALL) ? "projects" : "auth/projects");
    if (list == NULL || url == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    while (url != NULL) {
        osr__http_request req = { .method = "GET", .url = url, .idempotent = true };
        osr__http_response resp;
        json_t *root, *projects, *next;

        if (++pages > MAX_PAGES) {
            error = osr__error_set(err, OSR_EPROTO, "projects: more than %d pages", MAX_PAGES);
            goto done;
        }
        memset(&resp, 0, sizeof(resp));
        error = osr__session_request(s, &req, &resp);
        if (error < 0) {
            osr__http_response_free(&resp);
            goto done;
        }
        root = json_loadb(resp.body.data, resp.body.len, 0, NULL);
        osr__http_response_free(&resp);
        projects = json_object_get(root, "projects");
        if (!json_is_array(projects)) {
            json_decref(root);
            error =
                osr__error_set(err, OSR_EPROTO, "GET %s: no \"projects\" list in the answer", url);
            goto done;
        }
        error = add_page(list, projects, err);
        next = json_object_get(json_object_get(root, "links"), "next");
        free(url);
        url = json_is_string(next) ? osr__strdup(json_string_value(next)) : NULL;
        json_decref(root);
        if (error < 0)
            goto done;
    }
    if (list->count > 1)
        qsort(list->items, list->count, sizeof(*list->items), by_name);
    *out = list;
    list = NULL;
done:
    free(url);
    osr_project_list_free(list);
    return error;
}

size_t osr_project_list_count(const osr_project_list *list)
{
    return list ? list->count : 0;
}

const osr_project *osr_project_list_at(const osr_project_list *list, size_t i)
{
    return (list && i < list->count) ? &list->items[i] : NULL;
}

#define ACCESSOR(fn, member)             \
    const char *fn(const osr_project *p) \
    {                                    \
        return p ? p->member : NULL;     \
    }
ACCESSOR(osr_project_id, id)
ACCESSOR(osr_project_name, name)
ACCESSOR(osr_project_domain_id, domain_id)
ACCESSOR(osr_project_description, description)
ACCESSOR(osr_project_parent_id, parent_id)

int osr_project_enabled(const osr_project *p)
{
    return p ? p->enabled : 0;
}
