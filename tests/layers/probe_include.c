/* Built as a member of one layer (its include directories) to include a
 * header of the layer above it: tests/layers/CMakeLists.txt expects the
 * compiler to not find it, and to find it from the layer above. */
#include OSR_PROBE_HEADER

int osr_probe_include(void);

int osr_probe_include(void)
{
    return 0;
}
