/* The session's engine driven from outside: one step of the HTTP engine with
 * the caller's file descriptors, for a program that owns its event loop. */
#include "session.h"

#include <poll.h>

int osr_session_run_once(osr_session *session, struct pollfd *fds, size_t nfds, long timeout_ms)
{
    osr_error *err;
    int n;

    if (session == NULL)
        return OSR_EINVAL;
    err = osr__session_error(session);
    if (nfds > 0 && fds == NULL)
        return osr__error_set(err, OSR_EINVAL, "osr_session_run_once: fds is NULL");
    if (nfds > OSR__HTTP_STEP_MAX_FDS) {
        return osr__error_set(err, OSR_EINVAL, "osr_session_run_once: %zu fds, at most %d", nfds,
                              OSR__HTTP_STEP_MAX_FDS);
    }
    n = osr__http_step(osr__session_http(session), fds, nfds, timeout_ms);
    if (n < 0)
        return osr__error_set(err, n, "osr_session_run_once: the HTTP engine failed");
    return n;
}

size_t osr_session_pending(osr_session *session)
{
    return session ? osr__http_pending(osr__session_http(session)) : 0;
}

int osr_session_set_wait_hook(
    osr_session *session, struct pollfd *fds, size_t nfds, osr_session_wait_cb cb, void *payload)
{
    osr_error *err;

    if (session == NULL)
        return OSR_EINVAL;
    err = osr__session_error(session);
    if (osr__http_set_wait_hook(osr__session_http(session), fds, nfds, cb, payload) < 0)
        return osr__error_set(err, OSR_EINVAL,
                              "osr_session_set_wait_hook: %zu fds (at most %d), fds %s", nfds,
                              OSR__HTTP_STEP_MAX_FDS, fds ? "given" : "NULL");
    return 0;
}
