/* What the domain layer's files share about runners. */
#ifndef OSR_RUNNER_INTERNAL_H
#define OSR_RUNNER_INTERNAL_H

#include "osrunner/runner.h"
#include "util.h"

/* labels joined with commas into out (empty for none), as config.sh's
 * --labels and the osrunner-labels metadata take them; the inverse of
 * osr_runner_labels_split. 0 or OSR_ENOMEM. */
int osr__runner_labels_join(osr__buf *out, const char *const *labels);

/* The version 2 fields of an instance config (NULL and 0 for version 1). */
const char *osr__instance_pool(const osr_instance_config *cfg);
long long osr__instance_runner_id(const osr_instance_config *cfg);

#endif
