/* Provisioning runners: the GitHub credentials of a batch, the launch, and
 * the runner records of instances that did not launch deleted again. What
 * `osrunner instance create` does, for any caller (a pool manager too). */
#include "osrunner/github.h"
#include "osrunner/runner.h"
#include "session.h"
#include "util.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct osr_provision {
    osr_launch_batch *batch;
    size_t n;
    char *token;           /* the batch's registration token (secret) */
    char **jits;           /* per instance: the JIT config (secret) */
    long long *runner_ids; /* per instance: the runner record, 0 for none */
    osr_error *forget;     /* per instance: a record that could not be deleted */
    osr_error *undo;       /* per instance: the server deleted after a late cancel */
    bool undone;
};

void osr_provision_free(osr_provision *p)
{
    if (p == NULL)
        return;
    osr_launch_batch_free(p->batch);
    osr__secret_free(p->token);
    for (size_t i = 0; p->jits && i < p->n; i++)
        osr__secret_free(p->jits[i]);
    free(p->jits);
    free(p->runner_ids);
    free(p->forget);
    free(p->undo);
    free(p);
}

const osr_launch_batch *osr_provision_launch_batch(const osr_provision *p)
{
    return p ? p->batch : NULL;
}

size_t osr_provision_count(const osr_provision *p)
{
    return p ? p->n : 0;
}

long long osr_provision_runner_id(const osr_provision *p, size_t i)
{
    return p && i < p->n ? p->runner_ids[i] : 0;
}

static const osr_error no_error;

const osr_error *osr_provision_forget_error(const osr_provision *p, size_t i)
{
    return p && i < p->n ? &p->forget[i] : &no_error;
}

int osr_provision_undone(const osr_provision *p)
{
    return p && p->undone;
}

const osr_error *osr_provision_undo_error(const osr_provision *p, size_t i)
{
    return p && i < p->n ? &p->undo[i] : &no_error;
}

/* One registration token for the batch, or one JIT config per instance; the
 * copies in cfgs point at them. */
static int fetch_credentials(osr_provision *p,
                             osr_session *session,
                             osr_github *gh,
                             osr_instance_config *cfgs,
                             const osr_provision_options *opts)
{
    int error;

    if (!opts->jit) {
        long long expires = 0;
        for (size_t i = 1; i < p->n; i++) {
            if (cfgs[i].github_path == NULL || cfgs[0].github_path == NULL ||
                strcmp(cfgs[i].github_path, cfgs[0].github_path) != 0)
                return osr__error_set(osr__session_error(session), OSR_EINVAL,
                                      "github_path: one registration token needs one "
                                      "repository or organisation for the batch");
        }
        if ((error = osr_github_registration_token(&p->token, &expires, gh, cfgs[0].github_path)) <
            0)
            return osr__error_set(osr__session_error(session), error, "%s",
                                  osr_github_last_error(gh)->message);
        for (size_t i = 0; i < p->n; i++) {
            cfgs[i].registration_token = p->token;
            cfgs[i].jit_config = NULL;
        }
        return 0;
    }
    for (size_t i = 0; i < p->n; i++) {
        osr_github_jit_options jo = OSR_GITHUB_JIT_OPTIONS_INIT;
        jo.name = cfgs[i].name;
        jo.labels = cfgs[i].labels;
        jo.runner_group = opts->runner_group;
        if ((error = osr_github_jitconfig(&p->jits[i], &p->runner_ids[i], gh, cfgs[i].github_path,
                                          &jo)) < 0)
            return osr__error_set(osr__session_error(session), error, "%s: %s", cfgs[i].name,
                                  osr_github_last_error(gh)->message);
        cfgs[i].registration_token = NULL;
        cfgs[i].jit_config = p->jits[i];
        cfgs[i].runner_id = p->runner_ids[i];
    }
    return 0;
}

/* Runner records of instances without a server (all of them when all is
 * set) are deleted at GitHub again. */
static void
forget_runners(osr_provision *p, osr_github *gh, const osr_instance_config *cfgs, bool all)
{
    for (size_t i = 0; gh && i < p->n; i++) {
        if (p->runner_ids[i] <= 0)
            continue;
        if (!all && p->batch && osr_launch_batch_server(p->batch, i) != NULL)
            continue;
        if (osr_github_runner_delete(gh, cfgs[i].github_path, p->runner_ids[i]) < 0)
            osr__error_set(&p->forget[i], OSR_ELEFT, "runner %lld stays registered at GitHub: %s",
                           p->runner_ids[i], osr_github_last_error(gh)->message);
    }
}

/* The cancel came after the launch was over: its servers go again. */
static int undo_launch(osr_provision *p, osr_session *session)
{
    const char **ids = calloc(p->n ? p->n : 1, sizeof(*ids));
    osr_error *errs = calloc(p->n ? p->n : 1, sizeof(*errs));
    size_t *at = calloc(p->n ? p->n : 1, sizeof(*at));
    size_t k = 0;
    int rc = OSR_EINTERRUPTED;

    if (ids == NULL || errs == NULL || at == NULL) {
        free(ids);
        free(errs);
        free(at);
        return osr__error_set(osr__session_error(session), OSR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < p->n; i++) {
        if (osr_launch_batch_server(p->batch, i)) {
            at[k] = i;
            ids[k++] = osr_server_id(osr_launch_batch_server(p->batch, i));
        }
    }
    osr_server_delete_many(session, ids, k, 1, 180, errs);
    for (size_t j = 0; j < k; j++) {
        p->undo[at[j]] = errs[j];
        if (errs[j].code < 0)
            rc = OSR_ELEFT;
    }
    p->undone = true;
    free(ids);
    free(errs);
    free(at);
    if (rc == OSR_ELEFT)
        return osr__error_set(osr__session_error(session), rc, "cancelled; some servers are LEFT");
    return osr__error_set(osr__session_error(session), rc,
                          "cancelled; the %zu servers of launch %s were deleted", k,
                          osr_launch_batch_id(p->batch));
}

int osr_runner_provision(osr_provision **out,
                         osr_session *session,
                         osr_github *github,
                         const osr_instance_config *const *configs,
                         size_t n,
                         const osr_provision_options *opts)
{
    static const osr_provision_options defaults = OSR_PROVISION_OPTIONS_INIT;
    osr_provision *p = NULL;
    osr_instance_config *cfgs = NULL;
    const osr_instance_config **ptrs = NULL;
    const volatile bool *cancel;
    int error;

    if (out == NULL || session == NULL || (configs == NULL && n > 0))
        return OSR_EINVAL;
    if (opts == NULL)
        opts = &defaults;
    if (opts->version != OSR_PROVISION_OPTIONS_VERSION)
        return osr__error_set(osr__session_error(session), OSR_EINVAL,
                              "osr_provision_options: version %u, expected %u", opts->version,
                              OSR_PROVISION_OPTIONS_VERSION);
    if (opts->jit && github == NULL)
        return osr__error_set(osr__session_error(session), OSR_EINVAL,
                              "jit: JIT configs need a GitHub client");
    cancel = opts->launch.version >= 2 ? opts->launch.cancel : NULL;
    p = calloc(1, sizeof(*p));
    cfgs = calloc(n ? n : 1, sizeof(*cfgs));
    ptrs = calloc(n ? n : 1, sizeof(*ptrs));
    if (p == NULL || cfgs == NULL || ptrs == NULL)
        goto nomem;
    p->n = n;
    p->jits = calloc(n ? n : 1, sizeof(*p->jits));
    p->runner_ids = calloc(n ? n : 1, sizeof(*p->runner_ids));
    p->forget = calloc(n ? n : 1, sizeof(*p->forget));
    p->undo = calloc(n ? n : 1, sizeof(*p->undo));
    if (p->jits == NULL || p->runner_ids == NULL || p->forget == NULL || p->undo == NULL)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        if (configs[i] == NULL) {
            error =
                osr__error_set(osr__session_error(session), OSR_EINVAL, "configs[%zu]: NULL", i);
            goto fail;
        }
        /* A version 1 struct is shorter: copy what it has; the copy is v2. */
        if (configs[i]->version >= 2) {
            cfgs[i] = *configs[i];
        } else {
            memcpy(&cfgs[i], configs[i], offsetof(osr_instance_config, pool));
            cfgs[i].pool = NULL;
            cfgs[i].runner_id = 0;
        }
        cfgs[i].version = cfgs[i].version < 2 ? 2 : cfgs[i].version;
        ptrs[i] = &cfgs[i];
    }
    if (github && n > 0 && (error = fetch_credentials(p, session, github, cfgs, opts)) < 0)
        goto fail;
    if (cancel && *cancel) {
        error = osr__error_set(osr__session_error(session), OSR_EINTERRUPTED,
                               "interrupted before any server was created");
        goto fail;
    }
    error = osr_instance_launch_many(&p->batch, session, ptrs, n, &opts->launch);
    if (error < 0 && p->batch == NULL)
        osr_launch_batch_take_failed(&p->batch, session); /* what was attempted */
    if (p->batch == NULL)
        goto fail;
    if (cancel && *cancel && error != OSR_EINTERRUPTED && error != OSR_ELEFT) {
        error = undo_launch(p, session);
        forget_runners(p, github, cfgs, true);
    } else {
        forget_runners(p, github, cfgs, false);
    }
    free(ptrs);
    free(cfgs);
    *out = p;
    return error;
nomem:
    error = osr__error_set(osr__session_error(session), OSR_ENOMEM, "out of memory");
fail:
    if (p && p->runner_ids) {
        /* The records fetched before the failure go again; one that stays is
         * named in the error (the result is not handed out). */
        forget_runners(p, github, cfgs, true);
        for (size_t i = 0; i < p->n; i++) {
            osr_error *e = osr__session_err(session);
            char prev[OSR_ERROR_MESSAGE_MAX];
            if (p->forget[i].code == 0)
                continue;
            memcpy(prev, e->message, sizeof(prev));
            osr__error_set(e, error, "%.300s; %.200s", prev, p->forget[i].message);
        }
    }
    free(ptrs);
    free(cfgs);
    osr_provision_free(p);
    return error;
}
