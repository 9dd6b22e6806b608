/* The secret helpers of util.h for jansson values, apart from util.c, which
 * the image modules link without jansson. */
#include "util.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void osr__json_wipe(json_t *j)
{
    const char *key;
    json_t *v;
    size_t i;

    if (json_is_string(j)) {
        osr__secret_wipe((char *)json_string_value(j), json_string_length(j));
    } else if (json_is_object(j)) {
        json_object_foreach(j, key, v)
        {
            osr__json_wipe(v);
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v)
        {
            osr__json_wipe(v);
        }
    }
}

struct secret_sink {
    char *data;
    size_t len, cap;
};

static int secret_sink_put(const char *buf, size_t size, void *payload)
{
    struct secret_sink *s = payload;

    if (size > SIZE_MAX / 4 - s->len - 1)
        return -1;
    if (s->len + size + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 1024;
        char *p;
        while (cap < s->len + size + 1)
            cap *= 2;
        /* Not realloc(): the old block is wiped before it goes back. */
        if ((p = malloc(cap)) == NULL)
            return -1;
        if (s->len)
            memcpy(p, s->data, s->len);
        osr__secret_wipe(s->data, s->cap);
        free(s->data);
        s->data = p;
        s->cap = cap;
    }
    memcpy(s->data + s->len, buf, size);
    s->len += size;
    s->data[s->len] = '\0';
    return 0;
}

char *osr__json_dumps_secret(const json_t *j, size_t flags)
{
    struct secret_sink s = { NULL, 0, 0 };

    if (json_dump_callback(j, secret_sink_put, &s, flags) != 0 || s.data == NULL) {
        osr__secret_wipe(s.data, s.cap);
        free(s.data);
        return NULL;
    }
    return s.data;
}
