/* osrunner: the whole public API. */
#ifndef OSRUNNER_H
#define OSRUNNER_H

#include "clouds.h"
#include "common.h"
#include "error.h"
#include "file.h"
#include "github.h"
#include "glance.h"
#include "image.h"
#include "metrics.h"
#include "nova.h"
#include "pool.h"
#include "projects.h"
#include "reconcile.h"
#include "runner.h"
#include "session.h"
#include "webhook.h"

#endif
