/* Process-wide set-up and the few functions that belong to no handle. */
#include "osrunner/common.h"

#include <curl/curl.h>
#include <stdlib.h>

int osr_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void osr_global_shutdown(void)
{
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
