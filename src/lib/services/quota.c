/* Capacity inputs of the pool engine: Nova's limits, a flavor's size and
 * Neutron's port quota (quota.h). */
#include "quota.h"

#include "util.h"

#include <curl/curl.h>
#include <jansson.h>
#include <string.h>

static json_t *load(const char *body, size_t len, const char *what, osr_error *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(body ? body : "", len, 0, &jerr);
    if (root == NULL)
        osr__error_set(err, OSR_EPROTO, "%s: the answer is not JSON (%s)", what, jerr.text);
    return root;
}

/* An integer field, or OSR_EPROTO naming it. */
static int int_field(int64_t *out, json_t *obj, const char *key, const char *what, osr_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        return osr__error_set(err, OSR_EPROTO, "%s: \"%s\" is missing or not an integer", what,
                              key);
    *out = json_integer_value(v);
    if (*out < -1)
        return osr__error_set(err, OSR_EPROTO, "%s: \"%s\" is %lld", what, key, (long long)*out);
    return 0;
}

int osr__nova_limits_parse(osr__nova_limits *out, const char *body, size_t len, osr_error *err)
{
    static const char what[] = "nova limits";
    json_t *root = load(body, len, what, err);
    json_t *abs = json_object_get(json_object_get(root, "limits"), "absolute");
    osr__nova_limits l;
    int error;

    if (root == NULL)
        return OSR_EPROTO;
    if (!json_is_object(abs)) {
        json_decref(root);
        return osr__error_set(err, OSR_EPROTO, "%s: no \"limits\".\"absolute\" object", what);
    }
    if ((error = int_field(&l.instances.max, abs, "maxTotalInstances", what, err)) < 0 ||
        (error = int_field(&l.instances.used, abs, "totalInstancesUsed", what, err)) < 0 ||
        (error = int_field(&l.cores.max, abs, "maxTotalCores", what, err)) < 0 ||
        (error = int_field(&l.cores.used, abs, "totalCoresUsed", what, err)) < 0 ||
        (error = int_field(&l.ram_mb.max, abs, "maxTotalRAMSize", what, err)) < 0 ||
        (error = int_field(&l.ram_mb.used, abs, "totalRAMUsed", what, err)) < 0) {
        json_decref(root);
        return error;
    }
    json_decref(root);
    *out = l;
    return 0;
}

int osr__flavor_size_parse(osr__flavor_size *out, const char *body, size_t len, osr_error *err)
{
    static const char what[] = "nova flavor";
    json_t *root = load(body, len, what, err);
    json_t *f = json_object_get(root, "flavor");
    osr__flavor_size z;
    int error;

    if (root == NULL)
        return OSR_EPROTO;
    if ((error = int_field(&z.vcpus, f, "vcpus", what, err)) < 0 ||
        (error = int_field(&z.ram_mb, f, "ram", what, err)) < 0 ||
        (error = int_field(&z.disk_gb, f, "disk", what, err)) < 0) {
        json_decref(root);
        return error;
    }
    json_decref(root);
    if (z.vcpus < 1 || z.ram_mb < 1)
        return osr__error_set(err, OSR_EPROTO, "%s: %lld vCPUs and %lld MiB of RAM", what,
                              (long long)z.vcpus, (long long)z.ram_mb);
    *out = z;
    return 0;
}

int osr__port_quota_parse(osr__port_quota *out, const char *body, size_t len, osr_error *err)
{
    static const char what[] = "neutron quota details";
    json_t *root = load(body, len, what, err);
    json_t *port = json_object_get(json_object_get(root, "quota"), "port");
    int64_t reserved = 0;
    osr__port_quota q = { true, { 0, 0 } };
    int error;

    if (root == NULL)
        return OSR_EPROTO;
    if ((error = int_field(&q.ports.max, port, "limit", what, err)) < 0 ||
        (error = int_field(&q.ports.used, port, "used", what, err)) < 0) {
        json_decref(root);
        return error;
    }
    if (json_object_get(port, "reserved") &&
        (error = int_field(&reserved, port, "reserved", what, err)) < 0) {
        json_decref(root);
        return error;
    }
    json_decref(root);
    q.ports.used += reserved > 0 ? reserved : 0;
    *out = q;
    return 0;
}

int osr__nova_limits_fetch(
    osr__nova_call *c, osr_session *s, const osr__nova *n, osr__http_done_cb cb, void *payload)
{
    return osr__nova_call_submit(c, s, n, "GET", osr__sprintf("%s/limits", n->base), NULL, true, 0,
                                 cb, payload);
}

int osr__nova_flavor_fetch(osr__nova_call *c,
                           osr_session *s,
                           const osr__nova *n,
                           const char *flavor_id,
                           osr__http_done_cb cb,
                           void *payload)
{
    char *esc = curl_easy_escape(NULL, flavor_id, 0);
    char *url = esc ? osr__sprintf("%s/flavors/%s", n->base, esc) : NULL;
    curl_free(esc);
    return osr__nova_call_submit(c, s, n, "GET", url, NULL, true, 0, cb, payload);
}

int osr__neutron_quota_fetch(osr__nova_call *c,
                             osr_session *s,
                             const char *network_base,
                             const char *project_id,
                             osr__http_done_cb cb,
                             void *payload)
{
    char *esc = curl_easy_escape(NULL, project_id, 0);
    char *url = esc ? osr__sprintf("%s/quotas/%s/details", network_base, esc) : NULL;
    curl_free(esc);
    return osr__nova_call_submit(c, s, NULL, "GET", url, NULL, true, 0, cb, payload);
}
