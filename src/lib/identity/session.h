/* Internal side of osr_session: authenticated requests for service clients. */
#ifndef OSR_LIB_SESSION_H
#define OSR_LIB_SESSION_H

#include "http.h"
#include "osrunner/session.h"

/* The Keystone v3 base URL (".../v3"), discovered from auth_url if needed. */
int osr__session_identity_url(const char **out, osr_session *s);

/* Send req with the session's token (req->token is set here). On a 401 the
 * token is dropped, the session authenticates once more and the request is
 * sent again once. Errors go to the session's error record. */
int osr__session_request(osr_session *s, osr__http_request *req, osr__http_response *resp);

/* The catalog URL of a service with its API version path: "image" + "/v2"
 * gives ".../v2" whether or not the catalog URL carries it already. Free *out. */
int osr__session_service_url(char **out, osr_session *s, const char *type, const char *version);

/* The session's HTTP engine, for service clients that drive many requests. */
osr__http *osr__session_http(osr_session *s);

/* The current token (authenticate first); borrowed. */
const char *osr__session_token(osr_session *s);

/* GET url (authenticated, with extra headers) and parse the JSON answer into
 * *out (owned). Errors go to the session's record. */
struct json_t;
int osr__session_get_json(struct json_t **out,
                          osr_session *s,
                          const char *url,
                          const char *const *headers);

/* The session's error record as it is (not reset). */
osr_error *osr__session_err(osr_session *s);

/* osr__session_request, with the (first) send delayed by delay_ms: for polls. */
int osr__session_request_after(osr_session *s,
                               osr__http_request *req,
                               osr__http_response *resp,
                               long delay_ms);

/* The session's error record, reset. For service clients to fill. */
osr_error *osr__session_error(osr_session *s);

/* One object that a call leaves on the session for its caller to take, as
 * the batch of a failed launch, so that out-params stay untouched on
 * failure. Parking (obj may be NULL) frees what was parked before, and so
 * does osr_session_free(). free_fn also tells the kinds apart: taking with
 * another free_fn takes nothing (NULL). */
void osr__session_park(osr_session *s, void *obj, void (*free_fn)(void *));
void *osr__session_take(osr_session *s, void (*free_fn)(void *));

#endif
