/* Fuzz what osrunner reads from Nova: server objects and lists, version
 * documents. */
#include "nova.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *root = json_loadb((const char *)data, size, 0, NULL);
    json_t *servers = json_object_get(root, "servers"), *sv;
    osr_server *s = NULL;
    osr_error err;
    size_t i;
    int minor;

    if (osr__server_from_json(&s, json_object_get(root, "server"), &err) == 0) {
        (void)osr_server_fault(s);
        for (size_t k = 0; k < osr_server_metadata_count(s); k++)
            (void)osr_server_metadata(s, osr_server_metadata_key(s, k));
        for (size_t k = 0; k < osr_server_tag_count(s); k++)
            (void)osr_server_tag(s, k);
        (void)osr_server_user_data(s);
        osr_server_free(s);
    }
    json_array_foreach(servers, i, sv)
    {
        if (osr__server_from_json(&s, sv, &err) == 0)
            osr_server_free(s);
    }
    json_decref(root);
    (void)osr__nova_pick_microversion(&minor, (const char *)data, size, &err);
    return 0;
}
