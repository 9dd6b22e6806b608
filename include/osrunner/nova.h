/* osrunner: Nova servers. */
#ifndef OSRUNNER_NOVA_H
#define OSRUNNER_NOVA_H

#include "common.h"
#include "session.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One server as Nova describes it. Opaque. */
typedef struct osr_server osr_server;

/** A list of servers. Opaque. */
typedef struct osr_server_list osr_server_list;

/** The metadata key and value every osrunner server carries. */
#define OSR_MANAGED_BY_KEY   "managed-by"
#define OSR_MANAGED_BY_VALUE "osrunner"

/**
 * A server by id, or by exact name (several servers with that name:
 * OSR_EAMBIGUOUS). Errors are in osr_session_last_error().
 */
OSR_EXTERN int osr_server_get(osr_server **out, osr_session *session, const char *id_or_name);

/** Free a server. Accepts NULL. */
OSR_EXTERN void osr_server_free(osr_server *server);

/** Fields (borrowed; "" when absent). */
OSR_EXTERN const char *osr_server_id(const osr_server *server);
OSR_EXTERN const char *osr_server_name(const osr_server *server);
OSR_EXTERN const char *osr_server_status(const osr_server *server);
OSR_EXTERN const char *osr_server_created(const osr_server *server);
/** The fault message of a server in ERROR, or NULL. */
OSR_EXTERN const char *osr_server_fault(const osr_server *server);
/** A metadata value, or NULL. */
OSR_EXTERN const char *osr_server_metadata(const osr_server *server, const char *key);
/** Metadata as a list: count, then key and value of the i-th entry (sorted by key). */
OSR_EXTERN size_t osr_server_metadata_count(const osr_server *server);
OSR_EXTERN const char *osr_server_metadata_key(const osr_server *server, size_t i);
/** Tags. */
OSR_EXTERN size_t osr_server_tag_count(const osr_server *server);
OSR_EXTERN const char *osr_server_tag(const osr_server *server, size_t i);
/** The user data as Nova returns it (base64; admins only), or NULL. */
OSR_EXTERN const char *osr_server_user_data(const osr_server *server);

/** Flags for osr_server_list_get(). */
#define OSR_SERVERS_ALL 1u /**< every server of the project, not only osrunner's */

/**
 * Servers of the project: those osrunner manages under manager (by tag, one
 * request per page), or with OSR_SERVERS_ALL every server. manager NULL:
 * "osrunner". Sorted by name.
 */
OSR_EXTERN int osr_server_list_get(osr_server_list **out,
                                   osr_session *session,
                                   const char *manager,
                                   unsigned int flags);
/**
 * Servers osrunner created in one launch (tags managed-by=osrunner and
 * osrunner-launch=launch_id), in one request per page. Sorted by name.
 */
OSR_EXTERN int
osr_server_list_launch(osr_server_list **out, osr_session *session, const char *launch_id);
OSR_EXTERN void osr_server_list_free(osr_server_list *list);
OSR_EXTERN size_t osr_server_list_count(const osr_server_list *list);
OSR_EXTERN const osr_server *osr_server_list_at(const osr_server_list *list, size_t i);

/**
 * Delete a server by id; with wait, until Nova no longer knows it (at most
 * timeout_s seconds, 0: 300). A server already gone is not an error. Network
 * errors, 5xx, 429 (and 409 of a busy server) are retried until then.
 */
OSR_EXTERN int osr_server_delete(osr_session *session, const char *id, int wait, long timeout_s);

/**
 * Delete several servers at once (all requests in flight together), waiting
 * as osr_server_delete() does. errors, when not NULL, has count entries and
 * gets each server's outcome (code 0: deleted or already gone).
 * @return 0 when every server is gone, else the first error (also in
 *         osr_session_last_error)
 */
OSR_EXTERN int osr_server_delete_many(osr_session *session,
                                      const char *const *ids,
                                      size_t count,
                                      int wait,
                                      long timeout_s,
                                      osr_error *errors);

#ifdef __cplusplus
}
#endif

#endif
