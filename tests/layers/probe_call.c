/* Linked like one layer (its objects and those below, no undefined symbol
 * allowed) while calling a function of the layer above it:
 * tests/layers/CMakeLists.txt expects the link to fail on that name, and to
 * succeed once the layer above is linked too. Never run. */
void OSR_PROBE_SYMBOL(void);
void osr_probe_call(void);

void osr_probe_call(void)
{
    OSR_PROBE_SYMBOL();
}
