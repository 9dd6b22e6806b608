/* Shared by the integration tests of the GitHub stand-in: its env.sh. */
#ifndef OSR_TEST_GITHUB_ENV_H
#define OSR_TEST_GITHUB_ENV_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Read KEY="VALUE" from the stand-in's env.sh. */
static bool env_value(char *out, size_t n, const char *env_sh, const char *key)
{
    FILE *f = fopen(env_sh, "r");
    char line[4096];
    size_t klen = strlen(key);
    bool found = false;

    if (f == NULL)
        return false;
    while (!found && fgets(line, sizeof(line), f)) {
        char *p = line, *end;
        if (strncmp(p, "export ", 7) == 0)
            p += 7;
        if (strncmp(p, key, klen) != 0 || p[klen] != '=')
            continue;
        p += klen + 1;
        if (*p == '"')
            p++;
        end = p + strcspn(p, "\"\n");
        snprintf(out, n, "%.*s", (int)(end - p), p);
        found = true;
    }
    fclose(f);
    return found;
}

#endif
