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

/* Every server with all of tags ("a,b"; NULL: every server), every page. */
int osr__nova_list_tagged(osr_server_list **out, osr_session *s, const char *tags);
/* The same with a Nova handle already open. */
int osr__nova_list_tagged_on(osr_server_list **out,
                             osr_session *s,
                             const osr__nova *n,
                             const char *tags);

/* The id of the image a server booted from, or NULL (booted from a volume). */
const char *osr__server_image_id(const osr_server *server);

/* A server from its JSON object (borrowed reference taken). */
int osr__server_from_json(osr_server **out, json_t *obj, osr_error *err);

/* GET url (with the microversion header) and parse JSON into *out. */
int osr__nova_get_json(json_t **out, osr_session *s, const osr__nova *n, const char *url);

/* A flavor from a name or id: its id and, when flavor_out is not NULL, its
 * object (a new reference): one GET for an id, two for a name. */
int osr__nova_flavor_find(
    json_t **flavor_out, char **id_out, osr_session *s, const osr__nova *n, const char *name_or_id);

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

/* ------------------------------------------------------------ on the engine
 * Requests for callers with a state machine of their own (launch): each is
 * queued on the session's engine with the session's token and the
 * microversion header, and cb(error, payload) runs once when it is done
 * (error 0 or its code, c->err filled). They return 0, or OSR_ENOMEM with
 * nothing queued. n and c must live until cb has run. */

/* One Nova request: its URL, the answer, the error. */
typedef struct osr__nova_call {
    char *url;
    osr__http_response resp;
    osr_error err;
} osr__nova_call;

void osr__nova_call_clear(osr__nova_call *c);

/* POST /servers with body (never sent twice: see osr__http_request). */
int osr__nova_server_create(osr__nova_call *c,
                            osr_session *s,
                            const osr__nova *n,
                            const char *body,
                            osr__http_done_cb cb,
                            void *payload);
/* GET /servers/ID after delay_ms. */
int osr__nova_server_fetch(osr__nova_call *c,
                           osr_session *s,
                           const osr__nova *n,
                           const char *id,
                           long delay_ms,
                           osr__http_done_cb cb,
                           void *payload);
/* GET /servers/detail of the servers named exactly name (an anchored,
 * escaped regular expression: Nova's name filter), after delay_ms. */
int osr__nova_servers_named(osr__nova_call *c,
                            osr_session *s,
                            const osr__nova *n,
                            const char *name,
                            long delay_ms,
                            osr__http_done_cb cb,
                            void *payload);
/* GET /servers/detail of the servers with every tag of tags ("a,b"). */
int osr__nova_servers_tagged(osr__nova_call *c,
                             osr_session *s,
                             const osr__nova *n,
                             const char *tags,
                             long delay_ms,
                             osr__http_done_cb cb,
                             void *payload);
/* PUT /servers/ID/tags with body (osr__nova_tags_body). */
int osr__nova_server_set_tags(osr__nova_call *c,
                              osr_session *s,
                              const osr__nova *n,
                              const char *id,
                              const char *body,
                              long delay_ms,
                              osr__http_done_cb cb,
                              void *payload);

/* The answer of a call: one server ({"server": {...}}), or the servers of a
 * listing ({"servers": [...]}, sorted by name). */
int osr__nova_call_server(osr_server **out, const osr__nova_call *c, osr_error *err);
int osr__nova_call_servers(osr_server_list **out, const osr__nova_call *c, osr_error *err);

/* What a server is created with; every name already resolved to an id. */
typedef struct osr__nova_server_spec {
    const char *name;
    const char *image_id;
    const char *flavor_id;
    const char *user_data;              /* base64, or NULL */
    json_t *metadata;                   /* string values; borrowed */
    const char *network;                /* NULL or "none": none; "auto"; else a network id */
    const char *key_name;               /* or NULL */
    const char *const *security_groups; /* NULL-terminated ids, or NULL */
    const char *availability_zone;      /* or NULL */
    bool config_drive;
    json_t *tags; /* array of strings sent with the create (2.52), or NULL; borrowed */
} osr__nova_server_spec;

/* The POST /servers body of spec. It holds the user data: free it with
 * osr__secret_free. */
int osr__nova_create_body(char **out, const osr__nova_server_spec *spec, osr_error *err);
/* The PUT /servers/ID/tags body of tags (an array of strings). */
int osr__nova_tags_body(char **out, json_t *tags, osr_error *err);

/* A server on its way out (deleted, soft-deleted, or its task "deleting"). */
bool osr__server_going(const osr_server *sv);
/* A copy of a server. */
int osr__server_dup(osr_server **out, const osr_server *sv, osr_error *err);
/* A server known only by what its create gave (id, name, a status). */
int osr__server_new(
    osr_server **out, const char *id, const char *name, const char *status, osr_error *err);

/* Deleting one server and, with wait, polling until Nova answers 404: the
 * one delete-then-poll loop (osr_server_delete_many and launch's clean-up).
 * A DELETE that fails for a network error, a 5xx, a 429 or a 409 (busy) is
 * sent again, a poll that fails for such a reason too, until timeout_s
 * seconds have passed. cb(code, payload) runs once at the end: 0 when the
 * server is gone (or was), else d->result tells why. */
typedef struct osr__nova_delete {
    osr_session *s;
    const osr__nova *n;
    char *url;
    int wait;
    long timeout_s;
    int64_t deadline;
    long delay_ms;
    osr__http_response resp;
    osr_error req_err;
    osr_error result; /* the outcome (code 0: gone) */
    bool done;
    osr__http_done_cb cb;
    void *payload;
} osr__nova_delete;

int osr__nova_delete_start(osr__nova_delete *d,
                           osr_session *s,
                           const osr__nova *n,
                           const char *id,
                           int wait,
                           long timeout_s,
                           osr__http_done_cb cb,
                           void *payload);
void osr__nova_delete_clear(osr__nova_delete *d);

#endif
