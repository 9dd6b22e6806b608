/* Internal Keystone v3: request bodies, token and catalog parsing, endpoint choice. */
#ifndef OSR_LIB_KEYSTONE_H
#define OSR_LIB_KEYSTONE_H

#include "osrunner/clouds.h"
#include "util.h"

typedef struct osr__endpoint {
    char *interface;
    char *region;
    char *url;
} osr__endpoint;

typedef struct osr__service {
    char *type;
    char *name;
    osr__endpoint *endpoints;
    size_t n_endpoints;
} osr__service;

typedef struct osr__token {
    char *id; /* the X-Subject-Token; secret */
    int64_t expires_at;
    char *user_id, *user_name;
    char *project_id, *project_name;
    osr__service *services;
    size_t n_services;
    char *body; /* the token response as received, for the cache */
} osr__token;

/* Parse Keystone's token response body ({"token": {...}}). subject_token may
 * be NULL (e.g. for fuzzing); a catalog is required. */
int osr__keystone_token_parse(
    osr__token **out, const char *body, size_t len, const char *subject_token, osr_error *err);
void osr__keystone_token_free(osr__token *t);

/* The POST /v3/auth/tokens body for a cloud's auth settings. Holds secrets:
 * free with osr__secret_free. */
int osr__keystone_auth_body(char **out, const osr_cloud *cloud, osr_error *err);

/* Choose an endpoint: service type, interface (public/internal/admin) and
 * region (NULL: any, but several regions is an error). */
int osr__catalog_endpoint(const char **out,
                          const osr__token *t,
                          const char *type,
                          const char *interface,
                          const char *region,
                          osr_error *err);

/* From a version discovery document (GET on an unversioned auth_url), the
 * URL of the v3 API. */
int osr__keystone_discover_v3(char **out, const char *body, size_t len, osr_error *err);

/* The v3 base URL from auth_url when it names one (".../v3"), else NULL. */
char *osr__keystone_v3_from_auth_url(const char *auth_url);

#endif
