/* Fuzz what a webhook sender controls: the body of a workflow_job or ping
 * delivery, and the X-Hub-Signature-256 header (the first line of the input). */
#include "osrunner/webhook.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const events[] = { "workflow_job", "ping", "push" };
    const char *body = (const char *)data;
    const uint8_t *nl = memchr(data, '\n', size);
    osr_webhook_event *ev;
    osr_error err;

    for (size_t e = 0; e < 3; e++) {
        ev = NULL;
        if (osr_webhook_event_parse(&ev, events[e], body, size, &err) == 0) {
            for (size_t i = 0; i <= osr_webhook_job_label_count(ev); i++)
                (void)osr_webhook_job_label(ev, i);
            (void)osr_webhook_job_runner_name(ev);
            (void)osr_webhook_event_repository(ev);
            osr_webhook_event_free(ev);
        }
    }
    if (nl != NULL) {
        size_t hlen = (size_t)(nl - data);
        char *header = malloc(hlen + 1);
        if (header != NULL) {
            memcpy(header, data, hlen);
            header[hlen] = '\0';
            (void)osr_webhook_verify(header, nl + 1, size - hlen - 1, "s3cret", 6, &err);
            free(header);
        }
    }
    return 0;
}
