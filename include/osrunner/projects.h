/* osrunner: Keystone projects. */
#ifndef OSRUNNER_PROJECTS_H
#define OSRUNNER_PROJECTS_H

#include "common.h"
#include "session.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A list of projects. Opaque; free with osr_project_list_free(). */
typedef struct osr_project_list osr_project_list;

/** Flags for osr_project_list_get(). */
#define OSR_PROJECTS_ALL 1u /**< every project (GET /v3/projects, needs admin) */

/**
 * List the projects the user can see (GET /v3/auth/projects), or with
 * OSR_PROJECTS_ALL every project in the cloud (GET /v3/projects). Sorted by
 * name, then id. Errors are in osr_session_last_error().
 * @return 0, OSR_EAUTH, OSR_EFORBIDDEN, OSR_ENET, ...
 */
OSR_EXTERN int
osr_project_list_get(osr_project_list **out, osr_session *session, unsigned int flags);

OSR_EXTERN void osr_project_list_free(osr_project_list *list);
OSR_EXTERN size_t osr_project_list_count(const osr_project_list *list);

/** Fields of the i-th project (borrowed; "" when the cloud left one out). */
OSR_EXTERN const char *osr_project_id(const osr_project_list *list, size_t i);
OSR_EXTERN const char *osr_project_name(const osr_project_list *list, size_t i);
OSR_EXTERN const char *osr_project_domain_id(const osr_project_list *list, size_t i);
OSR_EXTERN const char *osr_project_description(const osr_project_list *list, size_t i);
OSR_EXTERN const char *osr_project_parent_id(const osr_project_list *list, size_t i);
OSR_EXTERN int osr_project_enabled(const osr_project_list *list, size_t i);

#ifdef __cplusplus
}
#endif

#endif
