/* One runner download (an entry of GitHub's runner downloads list, or a URL
 * and SHA-256): the one type and the one parser behind osr_runner_app_list and
 * osr_runner_app. */
#ifndef OSR_LIB_RUNNER_DOWNLOAD_H
#define OSR_LIB_RUNNER_DOWNLOAD_H

#include "osrunner/image.h"

#include <jansson.h>

struct osr_runner_app {
    char *os, *arch, *url, *filename, *sha256, *version;
    char *token; /* temp_download_token (secret); NULL when none */
};

/* The runner version in a file name: "actions-runner-linux-x64-2.311.0.tar.gz"
 * and "...-x64-2.311.0-noexternals.tar.gz" both give "2.311.0"; "" when it
 * has none. NULL only when out of memory. */
char *osr__runner_version_of(const char *filename);

/* "actions-runner-linux-x64-2.311.0.tar.gz" -> os, arch, version (each NULL
 * when the name does not say). */
void osr__runner_filename_parse(const char *name, char **os, char **arch, char **version);

/* One entry of the downloads list. os, architecture, download_url and
 * filename must be strings (else OSR_EPROTO with *missing set to the key);
 * sha256_checksum may be left out (""). The token's jansson copy is wiped.
 * @return 0, OSR_EPROTO, OSR_ENOMEM */
int osr__runner_app_from_json(osr_runner_app **out, json_t *entry, const char **missing);

/* A deep copy (the token too), or NULL when out of memory. */
osr_runner_app *osr__runner_app_dup(const osr_runner_app *app);

#endif
