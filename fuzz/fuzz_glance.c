/* Fuzz what osrunner reads from Glance: image list pages, single images
 * (the current-image choice, checksum verification, stale-record test) and
 * runner application entries; and the header check of a file to upload
 * (the input as the file's first bytes, at its own size and at 1 GiB). */
#include "glance_internal.h"
#include "osrunner/image.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    osr_image_filter f = OSR_IMAGE_FILTER_INIT;
    osr_image_list *l = osr__glance_list_new();
    osr_runner_app *app = NULL;
    char *next = NULL;
    osr_error err;
    json_t *obj;

    if (l == NULL)
        return 0;
    f.name = "github-runner-jammy";
    if (osr__glance_list_page(l, &next, body, size, NULL, &err) == 0) {
        for (size_t i = 0; i < osr_image_list_count(l); i++) {
            const osr_image *img = osr_image_list_at(l, i);
            char *s = NULL;
            (void)osr_image_list_is_current(l, i);
            (void)osr_image_tag(img, osr_image_tag_count(img) ? 0 : 5);
            (void)osr_image_size(img);
            if (osr_image_to_json(&s, img) == 0)
                free(s);
        }
    }
    free(next);
    osr_image_list_free(l);
    l = osr__glance_list_new();
    if (l && osr__glance_list_page(l, &next, body, size, &f, &err) == 0)
        free(next);
    osr_image_list_free(l);
    obj = json_loadb(body, size, 0, NULL);
    if (obj) {
        (void)osr__glance_verify(obj, "00", "00", &err);
        (void)osr__glance_is_stale(obj, "boot", 1767225600);
        (void)osr__glance_pick_current(&obj, 1);
        json_decref(obj);
    }
    (void)osr__glance_check_content(data, size < 512 ? size : 512, (long long)size, "qcow2", "f",
                                    &err);
    (void)osr__glance_check_content(data, size < 512 ? size : 512, 1LL << 30, NULL, "f", &err);
    (void)osr__glance_check_content(data, size < 512 ? size : 512, (long long)size, "raw", "f",
                                    &err);
    if (osr_runner_app_parse(&app, body, size, NULL, NULL, &err) == 0)
        osr_runner_app_free(app);
    return 0;
}
