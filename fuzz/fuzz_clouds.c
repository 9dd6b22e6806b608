/* Fuzz clouds.yaml / clouds.json validation and the YAML wrapper under it:
 * parsing, aliases and merge keys, limits, YAML 1.1 resolution. */
#include "osrunner/clouds.h"
#include "yaml_tree.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Visit every node (aliases expanded; the wrapper bounds the total). */
static void walk(const osr__yaml_node *n, size_t *budget)
{
    bool b;
    int64_t i;

    if (n == NULL || *budget == 0)
        return;
    (*budget)--;
    (void)osr__yaml_kind_of(n);
    (void)osr__yaml_bool(&b, n);
    (void)osr__yaml_int(&i, n);
    (void)osr__yaml_is_null(n);
    for (size_t k = 0; k < n->nitems; k++)
        walk(n->items[k], budget);
    for (size_t k = 0; k < n->npairs; k++) {
        walk(n->pairs[k].key, budget);
        walk(n->pairs[k].value, budget);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    osr__yaml_doc *doc = NULL;
    osr_error err;
    size_t budget = 2 * OSR__YAML_MAX_NODES + 1;

    osr_error_clear(&err);
    (void)osr_clouds_validate(text, size, "clouds.yaml", &err);
    (void)memchr(err.message, '\0', sizeof(err.message));
    osr_error_clear(&err);
    (void)osr_clouds_validate(text, size, "clouds.json", &err);
    if (osr__yaml_parse(&doc, text, size, "fuzz.yaml", &err) == 0) {
        walk(osr__yaml_doc_root(doc), &budget);
        osr__yaml_doc_free(doc);
    }
    return 0;
}
