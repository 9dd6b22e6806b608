/* Fuzz everything that reads what GitHub says: the runner list (page and
 * single runner), runner applications, JIT config and token answers (with
 * their timestamps), error bodies with rate-limit headers, and the Link
 * header parser. */
#include "github_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    osr_github_runner_list *list = osr__github_runners_new();
    osr_runner_app_list *apps = NULL;
    osr__http_response resp;
    char *s = NULL, *link;
    long long n = 0;
    osr_error err;

    if (list != NULL) {
        (void)osr__github_parse_runners(list, body, size, false, &err);
        (void)osr__github_parse_runners(list, body, size, true, &err);
        for (size_t i = 0; i < osr_github_runner_list_count(list); i++) {
            const osr_github_runner *r = osr_github_runner_list_at(list, i);
            (void)osr_github_runner_label(r, osr_github_runner_label_count(r) - 1);
        }
        osr_github_runner_list_free(list);
    }
    if (osr__github_parse_apps(&apps, body, size, &err) == 0) {
        size_t i;
        (void)osr_runner_app_list_find(&i, apps, "linux", "x64");
        osr_runner_app_list_free(apps);
    }
    if (osr__github_parse_jit(&s, &n, body, size, &err) == 0)
        osr_secret_free(s);
    if (osr__github_parse_token(&s, &n, body, size, &err) == 0)
        osr_secret_free(s);

    memset(&resp, 0, sizeof(resp));
    resp.status = 403;
    resp.retry_after_s = -1;
    resp.ratelimit_remaining = size % 2 ? 0 : 5;
    resp.ratelimit_reset = 1700000000;
    resp.body.data = (char *)body;
    resp.body.len = size;
    (void)osr__http_error_from_reply(&err, "GET", "https://api.github.com/x", &resp);
    (void)osr__github_rate_limit_wait(&resp, 1700000000);

    /* The Link parser takes a C string: the input up to its first NUL. */
    link = malloc(size + 1);
    if (link != NULL) {
        memcpy(link, data, size);
        link[size] = '\0';
        if (osr__github_link_next(&s, link) == 0 && s != NULL) {
            (void)osr__github_same_origin(s, "https://api.github.com");
            free(s);
        }
        free(link);
    }
    return 0;
}
