/* Keystone projects: the parser, reachable from unit tests without a network. */
#ifndef OSR_PROJECTS_INTERNAL_H
#define OSR_PROJECTS_INTERNAL_H

#include "osrunner/projects.h"

#include "util.h"

/* One page of {"projects": [...]} into a sorted list; *out untouched on failure. */
int osr__project_list_parse(osr_project_list **out, const char *body, size_t len, osr_error *err);

#endif
