/* The floor for bench/projects.sh: a program that links only what
 * libosrunner needs (libcurl, jansson, libyaml, libcrypto) and initialises
 * libcurl, then exits. Its shared-library count and peak RSS are what any
 * client built on those libraries pays before doing anything. */
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <yaml.h>

int main(void)
{
    json_t *j;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    /* One call into each library, so that none is dropped by --as-needed
     * (not curl_version(): it initialises libldap, which loads the SASL
     * plugins, as no osrunner command does). */
    j = json_object();
    printf("floor: jansson %s, libyaml %s, %s\n", JANSSON_VERSION, yaml_get_version_string(),
           OpenSSL_version(OPENSSL_VERSION));
    json_decref(j);
    curl_global_cleanup();
    return 0;
}
