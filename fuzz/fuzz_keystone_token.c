/* Fuzz the Keystone token/catalog parser, endpoint choice, version discovery
 * and the trace redactor: everything that reads what an identity server says. */
#include "http.h"
#include "keystone.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    osr__token *t = NULL;
    char *url = NULL, *red;
    osr_error err;

    if (osr__keystone_token_parse(&t, body, size, "fuzz-token", &err) == 0) {
        const char *ep;
        (void)osr__catalog_endpoint(&ep, t, "compute", "public", NULL, &err);
        (void)osr__catalog_endpoint(&ep, t, "identity", "internal", "RegionOne", &err);
        osr__keystone_token_free(t);
    }
    if (osr__keystone_discover_v3(&url, body, size, &err) == 0)
        free(url);
    red = osr__http_redact_json(body, size);
    free(red);
    (void)osr__http_error_from_response(&err, "GET", "http://127.0.0.1/x", 404, body, size,
                                        "req-1");
    return 0;
}
