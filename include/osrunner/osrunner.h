/* osrunner: the whole public API. */
#ifndef OSRUNNER_H
#define OSRUNNER_H

#include "clouds.h"
#include "common.h"
#include "error.h"
#include "glance.h"
#include "projects.h"
#include "session.h"

#endif
