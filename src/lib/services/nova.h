/* Internal Nova client pieces shared by nova.c and runner launch code. */
#ifndef OSR_LIB_NOVA_H
#define OSR_LIB_NOVA_H

#include "osrunner/nova.h"
#include "session.h"

#include <jansson.h>

/* The highest compute microversion we ask for, and the lowest we accept
 * ("networks": "none" needs 2.37). */
#define OSR_NOVA_MV_MAX_MINOR 79
#define OSR_NOVA_MV_MIN_MINOR 37

typedef struct osr__nova {
    char *base;      /* ".../v2.1" */
    int minor;       /* negotiated 2.<minor> */
    char header[64]; /* "OpenStack-API-Version: compute 2.<minor>" */
    const char *headers[2];
} osr__nova;

/* Resolve the compute endpoint and negotiate the microversion. */
int osr__nova_open(osr__nova *n, osr_session *s);
void osr__nova_close(osr__nova *n);

/* Pick the microversion from a version document (GET .../v2.1). */
int osr__nova_pick_microversion(int *minor_out, const char *body, size_t len, osr_error *err);

/* A server from its JSON object (borrowed reference taken). */
int osr__server_from_json(osr_server **out, json_t *obj, osr_error *err);

/* GET url (with the microversion header) and parse JSON into *out. */
int osr__nova_get_json(json_t **out, osr_session *s, const osr__nova *n, const char *url);

/* A flavor id from a name or id. */
int osr__nova_flavor_resolve(char **id_out,
                             osr_session *s,
                             const osr__nova *n,
                             const char *name_or_id);

/* Check that a keypair exists. */
int osr__nova_keypair_check(osr_session *s, const osr__nova *n, const char *name);

/* Neutron: a network or security group id from a name or id. */
int osr__neutron_resolve(char **id_out,
                         osr_session *s,
                         const char *kind, /* "network" or "security group" */
                         const char *name_or_id);

#endif
