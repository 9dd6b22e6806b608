/* What a pool may still create: Nova's absolute limits (GET /limits), a
 * flavor's size (GET /flavors/ID) and, where Neutron exposes it, the port
 * quota (GET /v2.0/quotas/PROJECT/details). Parsers are pure; the fetches
 * are queued on the session's engine like the other Nova calls (nova.h). */
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

/* GET /limits. */
int osr__nova_limits_fetch(
    osr__nova_call *c, osr_session *s, const osr__nova *n, osr__http_done_cb cb, void *payload);
/* GET /flavors/ID. */
int osr__nova_flavor_fetch(osr__nova_call *c,
                           osr_session *s,
                           const osr__nova *n,
                           const char *flavor_id,
                           osr__http_done_cb cb,
                           void *payload);
/* GET network_base/quotas/PROJECT/details (network_base: ".../v2.0", from
 * osr__session_service_url(..., "network", "/v2.0")). No microversion. */
int osr__neutron_quota_fetch(osr__nova_call *c,
                             osr_session *s,
                             const char *network_base,
                             const char *project_id,
                             osr__http_done_cb cb,
                             void *payload);

#endif
