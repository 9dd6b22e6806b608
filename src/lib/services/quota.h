/* What a pool may still create: Nova's absolute limits (GET /limits), a
 * flavor's size (GET /flavors/ID) and, where Neutron exposes it, the port
 * quota (GET /v2.0/quotas/PROJECT/details): pure parsers of the answers,
 * which the pool engine reads (domain/pool.c). */
#ifndef OSR_LIB_QUOTA_H
#define OSR_LIB_QUOTA_H

#include "nova.h"

#include <stdbool.h>
#include <stdint.h>

/* One limit: max -1 is unlimited. */
typedef struct osr__quota_item {
    int64_t max;
    int64_t used;
} osr__quota_item;

typedef struct osr__nova_limits {
    osr__quota_item instances;
    osr__quota_item cores;
    osr__quota_item ram_mb;
} osr__nova_limits;

typedef struct osr__flavor_size {
    int64_t vcpus;
    int64_t ram_mb;
    int64_t disk_gb;
} osr__flavor_size;

/* Neutron's ports: used counts reserved ones too. known is false when the
 * cloud does not expose quota details (no extension, or a 403/404). */
typedef struct osr__port_quota {
    bool known;
    osr__quota_item ports;
} osr__port_quota;

/* {"limits": {"absolute": {...}}}: every field of the three is required. */
int osr__nova_limits_parse(osr__nova_limits *out, const char *body, size_t len, osr_error *err);
/* {"flavor": {"vcpus", "ram", "disk"}}. */
int osr__flavor_size_parse(osr__flavor_size *out, const char *body, size_t len, osr_error *err);
/* {"quota": {"port": {"limit", "used", "reserved"}}}. */
int osr__port_quota_parse(osr__port_quota *out, const char *body, size_t len, osr_error *err);

/* The same, from a parsed answer (borrowed); for the flavor, the flavor
 * object itself (as a listing holds it). */
int osr__nova_limits_from_json(osr__nova_limits *out, json_t *root, osr_error *err);
int osr__flavor_size_from_json(osr__flavor_size *out, json_t *flavor, osr_error *err);
int osr__port_quota_from_json(osr__port_quota *out, json_t *root, osr_error *err);

#endif
