/* Compiled with -std=c99 -pedantic -Werror: all public headers together.
 * Each header on its own is compiled in a translation unit of its own that
 * tests/CMakeLists.txt generates (build/.../tests/headertest/). */
#include <osrunner/clouds.h>
#include <osrunner/common.h>
#include <osrunner/error.h>
#include <osrunner/file.h>
#include <osrunner/github.h>
#include <osrunner/glance.h>
#include <osrunner/image.h>
#include <osrunner/metrics.h>
#include <osrunner/nova.h>
#include <osrunner/osrunner.h>
#include <osrunner/pool.h>
#include <osrunner/projects.h>
#include <osrunner/runner.h>
#include <osrunner/session.h>
#include <osrunner/webhook.h>

int osr_headertest_dummy(void);
int osr_headertest_dummy(void)
{
    osr_cloud_options c = OSR_CLOUD_OPTIONS_INIT;
    osr_session_options s = OSR_SESSION_OPTIONS_INIT;
    osr_github_options g = OSR_GITHUB_OPTIONS_INIT;
    osr_github_jit_options j = OSR_GITHUB_JIT_OPTIONS_INIT;
    osr_build_options b = OSR_BUILD_OPTIONS_INIT;
    osr_image_publish_options p = OSR_IMAGE_PUBLISH_OPTIONS_INIT;
    osr_image_filter f = OSR_IMAGE_FILTER_INIT;
    osr_fetch_options fo = OSR_FETCH_OPTIONS_INIT;
    return (int)(c.version + s.version + g.version + j.version + b.version + p.version + f.version +
                 fo.version);
}
