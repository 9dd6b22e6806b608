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

/** One project of a list; borrowed from the list, valid until it is freed. */
typedef struct osr_project osr_project;

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

/** The i-th project (borrowed from the list), or NULL when i is out of range. */
OSR_EXTERN const osr_project *osr_project_list_at(const osr_project_list *list, size_t i);

/** Fields of a project (borrowed; "" when the cloud left one out; NULL for a NULL project). */
OSR_EXTERN const char *osr_project_id(const osr_project *project);
OSR_EXTERN const char *osr_project_name(const osr_project *project);
OSR_EXTERN const char *osr_project_domain_id(const osr_project *project);
OSR_EXTERN const char *osr_project_description(const osr_project *project);
OSR_EXTERN const char *osr_project_parent_id(const osr_project *project);
/** 1 unless the cloud said "enabled": false; 0 for a NULL project. */
OSR_EXTERN int osr_project_enabled(const osr_project *project);

#ifdef __cplusplus
}
#endif

#endif
