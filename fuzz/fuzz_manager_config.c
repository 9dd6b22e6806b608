/* Fuzz osrunner.yaml validation (osr_manager_config_parse) and its accessors. */
#include "osrunner/pool.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    osr_manager_config *cfg = NULL;
    osr_error err;

    osr_error_clear(&err);
    if (osr_manager_config_parse(&cfg, (const char *)data, size, "/etc/osrunner/osrunner.yaml",
                                 &err) == 0) {
        (void)osr_manager_config_manager(cfg);
        for (size_t i = 0; i < osr_pool_config_count(cfg); i++) {
            const osr_pool_spec *p = osr_pool_config_at(cfg, i);
            if (osr_pool_config_find(cfg, osr_pool_spec_name(p)) == NULL)
                __builtin_trap(); /* names are unique */
            for (size_t l = 0; l < osr_pool_spec_label_count(p); l++)
                (void)strlen(osr_pool_spec_label(p, l));
            if (osr_pool_spec_min_idle(p) > osr_pool_spec_max_runners(p))
                __builtin_trap();
        }
        osr_manager_config_free(cfg);
    } else if (memchr(err.message, '\n', sizeof(err.message)) != NULL) {
        __builtin_trap(); /* one line */
    }
    return 0;
}
