/* Compiled with -std=c99 -pedantic -Werror: every public header on its own,
 * then all of them together. */
#include <osrunner/clouds.h>
#include <osrunner/common.h>
#include <osrunner/error.h>
#include <osrunner/glance.h>
#include <osrunner/osrunner.h>
#include <osrunner/projects.h>
#include <osrunner/session.h>

int osr_headertest_dummy(void);
int osr_headertest_dummy(void)
{
    osr_cloud_options c = OSR_CLOUD_OPTIONS_INIT;
    osr_session_options s = OSR_SESSION_OPTIONS_INIT;
    return (int)(c.version + s.version);
}
