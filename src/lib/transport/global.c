/* Process-wide set-up and the few functions that belong to no handle. */
#include "osrunner/common.h"
#include "util.h"

#include <curl/curl.h>
#include <jansson.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool own_json_free;

/* Every block jansson frees is wiped first: its parser and json_dumps()
 * keep copies of what they handle (tokens, JIT configs, user data) in
 * buffers that no caller can reach. The blocks come from malloc(), so a
 * block allocated before this was installed is freed the same way. */
static void json_wiping_free(void *p)
{
    if (p != NULL) {
        explicit_bzero(p, malloc_usable_size(p));
        free(p);
    }
}

int osr_global_init(void)
{
    json_malloc_t m = NULL;
    json_free_t f = NULL;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    /* Only over jansson's defaults: a program's own allocator stays. */
    json_get_alloc_funcs(&m, &f);
    if (m == malloc && f == free) {
        json_set_alloc_funcs(malloc, json_wiping_free);
        own_json_free = true;
    }
    return 0;
}

void osr_global_shutdown(void)
{
    if (own_json_free) {
        json_set_alloc_funcs(malloc, free);
        own_json_free = false;
    }
    curl_global_cleanup();
}

const char *osr_version(void)
{
    return OSR_VERSION_STRING;
}

void osr_free(void *ptr)
{
    free(ptr);
}

void osr_secret_free(char *secret)
{
    osr__secret_free(secret);
}
