/* Capacity inputs of the pool engine: Nova's limits, a flavor's size and
 * Neutron's port quota (quota.h). */
#include "quota.h"

#include "util.h"

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

int osr__nova_limits_from_json(osr__nova_limits *out, json_t *root, osr_error *err)
{
    static const char what[] = "nova limits";
    json_t *abs = json_object_get(json_object_get(root, "limits"), "absolute");
    osr__nova_limits l;
    int error;

    if (!json_is_object(abs))
        return osr__error_set(err, OSR_EPROTO, "%s: no \"limits\".\"absolute\" object", what);
    if ((error = int_field(&l.instances.max, abs, "maxTotalInstances", what, err)) < 0 ||
        (error = int_field(&l.instances.used, abs, "totalInstancesUsed", what, err)) < 0 ||
        (error = int_field(&l.cores.max, abs, "maxTotalCores", what, err)) < 0 ||
        (error = int_field(&l.cores.used, abs, "totalCoresUsed", what, err)) < 0 ||
        (error = int_field(&l.ram_mb.max, abs, "maxTotalRAMSize", what, err)) < 0 ||
        (error = int_field(&l.ram_mb.used, abs, "totalRAMUsed", what, err)) < 0)
        return error;
    *out = l;
    return 0;
}

int osr__nova_limits_parse(osr__nova_limits *out, const char *body, size_t len, osr_error *err)
{
    json_t *root = load(body, len, "nova limits", err);
    int error = root ? osr__nova_limits_from_json(out, root, err) : OSR_EPROTO;
    json_decref(root);
    return error;
}

int osr__flavor_size_from_json(osr__flavor_size *out, json_t *f, osr_error *err)
{
    static const char what[] = "nova flavor";
    osr__flavor_size z;
    int error;

    if ((error = int_field(&z.vcpus, f, "vcpus", what, err)) < 0 ||
        (error = int_field(&z.ram_mb, f, "ram", what, err)) < 0 ||
        (error = int_field(&z.disk_gb, f, "disk", what, err)) < 0)
        return error;
    if (z.vcpus < 1 || z.ram_mb < 1)
        return osr__error_set(err, OSR_EPROTO, "%s: %lld vCPUs and %lld MiB of RAM", what,
                              (long long)z.vcpus, (long long)z.ram_mb);
    *out = z;
    return 0;
}

int osr__flavor_size_parse(osr__flavor_size *out, const char *body, size_t len, osr_error *err)
{
    json_t *root = load(body, len, "nova flavor", err);
    int error =
        root ? osr__flavor_size_from_json(out, json_object_get(root, "flavor"), err) : OSR_EPROTO;
    json_decref(root);
    return error;
}

int osr__port_quota_from_json(osr__port_quota *out, json_t *root, osr_error *err)
{
    static const char what[] = "neutron quota details";
    json_t *port = json_object_get(json_object_get(root, "quota"), "port");
    int64_t reserved = 0;
    osr__port_quota q = { true, { 0, 0 } };
    int error;

    if ((error = int_field(&q.ports.max, port, "limit", what, err)) < 0 ||
        (error = int_field(&q.ports.used, port, "used", what, err)) < 0)
        return error;
    if (json_object_get(port, "reserved") &&
        (error = int_field(&reserved, port, "reserved", what, err)) < 0)
        return error;
    q.ports.used += reserved > 0 ? reserved : 0;
    *out = q;
    return 0;
}

int osr__port_quota_parse(osr__port_quota *out, const char *body, size_t len, osr_error *err)
{
    json_t *root = load(body, len, "neutron quota details", err);
    int error = root ? osr__port_quota_from_json(out, root, err) : OSR_EPROTO;
    json_decref(root);
    return error;
}
