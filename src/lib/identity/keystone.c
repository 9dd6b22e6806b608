/* Keystone v3: auth request bodies, token and catalog parsing, endpoint choice.
 * jansson ownership: json_loadb/json_pack results are owned; json_object_get
 * is borrowed; *_set_new steals. */
#include "keystone.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static char *dup_str(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? osr__strdup(json_string_value(v)) : NULL;
}

void osr__keystone_token_free(osr__token *t)
{
    if (t == NULL)
        return;
    osr__secret_free(t->id);
    free(t->user_id);
    free(t->user_name);
    free(t->project_id);
    free(t->project_name);
    for (size_t i = 0; i < t->n_services; i++) {
        osr__service *s = &t->services[i];
        for (size_t j = 0; j < s->n_endpoints; j++) {
            free(s->endpoints[j].interface);
            free(s->endpoints[j].region);
            free(s->endpoints[j].url);
        }
        free(s->endpoints);
        free(s->type);
        free(s->name);
    }
    free(t->services);
    osr__secret_free(t->body);
    free(t);
}

static int parse_catalog(osr__token *t, json_t *catalog, osr_error *err)
{
    size_t i, j;
    json_t *svc, *ep;

    t->services = calloc(json_array_size(catalog) + 1, sizeof(*t->services));
    if (t->services == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    json_array_foreach(catalog, i, svc)
    {
        osr__service *s = &t->services[t->n_services];
        json_t *eps = json_object_get(svc, "endpoints");
        if (!json_is_object(svc) || !json_is_string(json_object_get(svc, "type")) ||
            !json_is_array(eps)) {
            return osr__error_set(err, OSR_EPROTO,
                                  "token: catalog entry %zu lacks a type or endpoints", i);
        }
        t->n_services++;
        s->type = dup_str(svc, "type");
        s->name = dup_str(svc, "name");
        s->endpoints = calloc(json_array_size(eps) + 1, sizeof(*s->endpoints));
        if (s->type == NULL || s->endpoints == NULL)
            return osr__error_set(err, OSR_ENOMEM, "out of memory");
        json_array_foreach(eps, j, ep)
        {
            osr__endpoint *e = &s->endpoints[s->n_endpoints];
            if (!json_is_object(ep) || !json_is_string(json_object_get(ep, "url")) ||
                !json_is_string(json_object_get(ep, "interface"))) {
                return osr__error_set(err, OSR_EPROTO,
                                      "token: an endpoint of %s lacks a url or interface", s->type);
            }
            s->n_endpoints++;
            e->url = dup_str(ep, "url");
            e->interface = dup_str(ep, "interface");
            /* "region_id" is current; "region" is the deprecated twin. */
            e->region = dup_str(ep, "region_id");
            if (e->region == NULL)
                e->region = dup_str(ep, "region");
            if (e->url == NULL || e->interface == NULL)
                return osr__error_set(err, OSR_ENOMEM, "out of memory");
        }
    }
    return 0;
}

int osr__keystone_token_parse(
    osr__token **out, const char *body, size_t len, const char *subject_token, osr_error *err)
{
    json_error_t jerr;
    json_t *root = NULL, *tok, *catalog, *user, *project;
    osr__token *t = NULL;
    int error = 0;

    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        error =
            osr__error_set(err, OSR_EPROTO, "token: not JSON (line %d: %s)", jerr.line, jerr.text);
        goto done;
    }
    tok = json_object_get(root, "token");
    if (!json_is_object(tok)) {
        error = osr__error_set(err, OSR_EPROTO, "token: the answer has no \"token\" object");
        goto done;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    if (!json_is_string(json_object_get(tok, "expires_at")) ||
        osr__parse_timestamp(&t->expires_at,
                             json_string_value(json_object_get(tok, "expires_at"))) < 0) {
        error = osr__error_set(err, OSR_EPROTO, "token: missing or invalid expires_at");
        goto done;
    }
    user = json_object_get(tok, "user");
    if (!json_is_object(user) || !json_is_string(json_object_get(user, "id"))) {
        error = osr__error_set(err, OSR_EPROTO, "token: missing user");
        goto done;
    }
    t->user_id = dup_str(user, "id");
    t->user_name = dup_str(user, "name");
    project = json_object_get(tok, "project");
    if (json_is_object(project)) {
        t->project_id = dup_str(project, "id");
        t->project_name = dup_str(project, "name");
    }
    catalog = json_object_get(tok, "catalog");
    if (!json_is_array(catalog)) {
        error = osr__error_set(err, OSR_EPROTO,
                               "token: no service catalog (is the token project-scoped?)");
        goto done;
    }
    if ((error = parse_catalog(t, catalog, err)) < 0)
        goto done;
    t->body = osr__strndup(body, len);
    if (subject_token)
        t->id = osr__strdup(subject_token);
    if (t->body == NULL || t->user_id == NULL || (subject_token && t->id == NULL)) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    *out = t;
    t = NULL;
done:
    osr__keystone_token_free(t);
    json_decref(root);
    return error;
}

/* {"id": x} or {"name": x, "domain": {...}} for a user or project. */
static json_t *named(const osr_cloud *c, const char *kind)
{
    char key[64];
    const char *id, *name, *did, *dname;

    snprintf(key, sizeof(key), "auth.%s_id", kind);
    id = osr_cloud_get(c, key);
    if (id)
        return json_pack("{s:s}", "id", id);
    snprintf(key, sizeof(key), "auth.%s_name", kind);
    name = osr_cloud_get(c, key);
    if (name == NULL && strcmp(kind, "user") == 0)
        name = osr_cloud_get(c, "auth.username");
    if (name == NULL)
        return NULL;
    snprintf(key, sizeof(key), "auth.%s_domain_id", kind);
    did = osr_cloud_get(c, key);
    snprintf(key, sizeof(key), "auth.%s_domain_name", kind);
    dname = osr_cloud_get(c, key);
    if (did == NULL && dname == NULL) {
        did = osr_cloud_get(c, "auth.default_domain_id");
        dname = osr_cloud_get(c, "auth.default_domain_name");
    }
    if (did)
        return json_pack("{s:s,s:{s:s}}", "name", name, "domain", "id", did);
    if (dname)
        return json_pack("{s:s,s:{s:s}}", "name", name, "domain", "name", dname);
    /* As python-openstackclient does: the "default" domain when none is named. */
    return json_pack("{s:s,s:{s:s}}", "name", name, "domain", "id", "default");
}

int osr__keystone_auth_body(char **out, const osr_cloud *cloud, osr_error *err)
{
    const char *type = osr_cloud_auth_type(cloud);
    json_t *identity = NULL, *root = NULL, *scope = NULL, *user = NULL, *domain = NULL;
    char *s = NULL;
    int error = 0;

    if (strcmp(type, "v3applicationcredential") == 0) {
        json_t *ac;
        const char *id = osr_cloud_get(cloud, "auth.application_credential_id");
        const char *secret = osr_cloud_get(cloud, "auth.application_credential_secret");
        if (id) {
            ac = json_pack("{s:s,s:s}", "id", id, "secret", secret ? secret : "");
        } else {
            user = named(cloud, "user");
            ac = json_pack("{s:s?,s:s,s:O?}", "name",
                           osr_cloud_get(cloud, "auth.application_credential_name"), "secret",
                           secret ? secret : "", "user", user);
        }
        identity = json_pack("{s:[s],s:o?}", "methods", "application_credential",
                             "application_credential", ac);
        /* An application credential carries its own project scope. */
    } else if (strcmp(type, "token") == 0) {
        const char *tok = osr_cloud_get(cloud, "auth.token");
        identity = json_pack("{s:[s],s:{s:s}}", "methods", "token", "token", "id", tok ? tok : "");
        scope = named(cloud, "project");
    } else {
        const char *pw = osr_cloud_get(cloud, "auth.password");
        user = named(cloud, "user");
        if (user)
            json_object_set_new(user, "password", json_string(pw ? pw : ""));
        identity = json_pack("{s:[s],s:{s:O?}}", "methods", "password", "password", "user", user);
        scope = named(cloud, "project");
    }
    if (identity == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "cannot build the auth request");
        goto done;
    }
    if (scope == NULL && osr_cloud_domain_scoped(cloud)) {
        const char *did = osr_cloud_get(cloud, "auth.domain_id");
        domain = did ? json_pack("{s:s}", "id", did)
                     : json_pack("{s:s}", "name", osr_cloud_get(cloud, "auth.domain_name"));
    }
    root = json_pack("{s:{s:O}}", "auth", "identity", identity);
    if (root && (scope || domain)) {
        json_t *sc = json_pack("{s:O}", scope ? "project" : "domain", scope ? scope : domain);
        if (sc == NULL || json_object_set_new(json_object_get(root, "auth"), "scope", sc) < 0)
            error = OSR_ENOMEM;
    }
    if (root == NULL || error < 0 || (s = json_dumps(root, JSON_COMPACT)) == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "cannot build the auth request");
        goto done;
    }
    *out = s;
done:
    json_decref(identity);
    json_decref(root);
    json_decref(scope);
    json_decref(domain);
    json_decref(user);
    return error;
}

int osr__catalog_endpoint(const char **out,
                          const osr__token *t,
                          const char *type,
                          const char *interface,
                          const char *region,
                          osr_error *err)
{
    const osr__endpoint *found = NULL;
    char seen[256] = "";
    size_t used = 0;

    for (size_t i = 0; i < t->n_services; i++) {
        const osr__service *s = &t->services[i];
        if (strcmp(s->type, type) != 0)
            continue;
        for (size_t j = 0; j < s->n_endpoints; j++) {
            const osr__endpoint *e = &s->endpoints[j];
            if (used < sizeof(seen)) {
                int n = snprintf(seen + used, sizeof(seen) - used, "%s%s/%s", used ? ", " : "",
                                 e->interface, e->region ? e->region : "-");
                used += n > 0 ? (size_t)n : 0;
            }
            if (strcmp(e->interface, interface) != 0)
                continue;
            if (region && (e->region == NULL || strcmp(e->region, region) != 0))
                continue;
            if (found && region == NULL &&
                !(found->region && e->region && strcmp(found->region, e->region) == 0)) {
                return osr__error_set(err, OSR_ECONFIG,
                                      "the catalog has %s endpoints in several regions (%s, %s); "
                                      "set region_name",
                                      type, found->region ? found->region : "-",
                                      e->region ? e->region : "-");
            }
            if (found == NULL)
                found = e;
        }
    }
    if (found == NULL) {
        if (used == 0)
            return osr__error_set(err, OSR_ENOTFOUND, "the catalog has no %s service", type);
        return osr__error_set(err, OSR_ENOTFOUND,
                              "the catalog has no %s endpoint for interface %s%s%s "
                              "(it has: %s)",
                              type, interface, region ? " in region " : "", region ? region : "",
                              seen);
    }
    *out = found->url;
    return 0;
}

char *osr__keystone_v3_from_auth_url(const char *auth_url)
{
    size_t n = strlen(auth_url);

    while (n > 0 && auth_url[n - 1] == '/')
        n--;
    if (n >= 3 && strncmp(auth_url + n - 3, "/v3", 3) == 0)
        return osr__strndup(auth_url, n);
    return NULL;
}

/* Version documents: {"versions": {"values": [...]}} from the root, or
 * {"version": {...}} from a versioned URL. */
int osr__keystone_discover_v3(char **out, const char *body, size_t len, osr_error *err)
{
    json_t *root = json_loadb(body, len, 0, NULL), *values, *v;
    size_t i;
    int error = OSR_ENOTFOUND;

    if (root == NULL)
        return osr__error_set(err, OSR_EPROTO, "identity version discovery: not JSON");
    values = json_object_get(json_object_get(root, "versions"), "values");
    if (!json_is_array(values)) {
        values = json_array();
        if (values && json_is_object(json_object_get(root, "version")))
            json_array_append(values, json_object_get(root, "version"));
    } else {
        json_incref(values);
    }
    json_array_foreach(values, i, v)
    {
        json_t *links = json_object_get(v, "links"), *l;
        const char *id = json_string_value(json_object_get(v, "id"));
        size_t j;
        if (id == NULL || strncmp(id, "v3", 2) != 0)
            continue;
        json_array_foreach(links, j, l)
        {
            const char *rel = json_string_value(json_object_get(l, "rel"));
            const char *href = json_string_value(json_object_get(l, "href"));
            if (rel && href && strcmp(rel, "self") == 0) {
                size_t n = strlen(href);
                while (n > 0 && href[n - 1] == '/')
                    n--;
                *out = osr__strndup(href, n);
                error = *out ? 0 : OSR_ENOMEM;
                goto done;
            }
        }
    }
done:
    json_decref(values);
    json_decref(root);
    if (error == OSR_ENOTFOUND)
        return osr__error_set(err, OSR_ENOTFOUND, "the identity service offers no v3 API");
    if (error == OSR_ENOMEM)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    return 0;
}
