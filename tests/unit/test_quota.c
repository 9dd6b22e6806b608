/* The capacity inputs' parsers (services/quota.c), on answers recorded from
 * the local cloud's Nova and Neutron, and on broken ones. */
#include "quota.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* GET /v2.1/limits of the local cloud (microversion 2.1 shape). */
static const char limits_21[] =
    "{\"limits\": {\"rate\": [], \"absolute\": {\"maxTotalInstances\": 1000, \"maxTotalCores\": "
    "100000, \"maxTotalRAMSize\": 102400000, \"maxServerMeta\": 128, \"maxImageMeta\": 128, "
    "\"maxPersonality\": 5, \"maxPersonalitySize\": 10240, \"maxTotalKeypairs\": 100, "
    "\"maxServerGroups\": 10, \"maxServerGroupMembers\": 10, \"maxTotalFloatingIps\": -1, "
    "\"maxSecurityGroups\": -1, \"maxSecurityGroupRules\": -1, \"totalRAMUsed\": 0, "
    "\"totalCoresUsed\": 0, \"totalInstancesUsed\": 0, \"totalFloatingIpsUsed\": 0, "
    "\"totalSecurityGroupsUsed\": 0, \"totalServerGroupsUsed\": 0}}}";

/* The 2.57+ shape, with unlimited cores. */
static const char limits_257[] =
    "{\"limits\": {\"rate\": [], \"absolute\": {\"maxTotalInstances\": 10, \"maxTotalCores\": -1, "
    "\"maxTotalRAMSize\": 51200, \"maxServerMeta\": 128, \"maxTotalKeypairs\": 100, "
    "\"maxServerGroups\": 10, \"maxServerGroupMembers\": 10, \"totalRAMUsed\": 4096, "
    "\"totalCoresUsed\": 20, \"totalInstancesUsed\": 4, \"totalServerGroupsUsed\": 0}}}";

static void test_limits(void **state)
{
    osr__nova_limits l;
    osr_error err;
    (void)state;

    assert_int_equal(osr__nova_limits_parse(&l, limits_21, strlen(limits_21), &err), 0);
    assert_int_equal(l.instances.max, 1000);
    assert_int_equal(l.instances.used, 0);
    assert_int_equal(l.cores.max, 100000);
    assert_int_equal(l.ram_mb.max, 102400000);

    assert_int_equal(osr__nova_limits_parse(&l, limits_257, strlen(limits_257), &err), 0);
    assert_int_equal(l.instances.max, 10);
    assert_int_equal(l.instances.used, 4);
    assert_int_equal(l.cores.max, -1);
    assert_int_equal(l.cores.used, 20);
    assert_int_equal(l.ram_mb.max, 51200);
    assert_int_equal(l.ram_mb.used, 4096);
}

static void test_limits_broken(void **state)
{
    static const struct {
        const char *body, *phrase;
    } bad[] = {
        { "", "not JSON" },
        { "{\"limits\": {}}", "no \"limits\".\"absolute\"" },
        { "{\"limits\": {\"absolute\": {\"maxTotalInstances\": 1}}}", "\"totalInstancesUsed\"" },
        { "{\"limits\": {\"absolute\": {\"maxTotalInstances\": \"10\", \"totalInstancesUsed\": "
          "0}}}",
          "\"maxTotalInstances\" is missing or not an integer" },
        { "{\"limits\": {\"absolute\": {\"maxTotalInstances\": -2, \"totalInstancesUsed\": 0}}}",
          "\"maxTotalInstances\" is -2" },
    };
    osr__nova_limits l, before;
    osr_error err;
    (void)state;

    memset(&l, 0x5a, sizeof(l));
    before = l;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        osr_error_clear(&err);
        assert_int_equal(osr__nova_limits_parse(&l, bad[i].body, strlen(bad[i].body), &err),
                         OSR_EPROTO);
        if (strstr(err.message, bad[i].phrase) == NULL)
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.message, bad[i].phrase);
        assert_memory_equal(&l, &before, sizeof(l)); /* untouched on failure */
    }
}

static void test_flavor(void **state)
{
    static const char good[] =
        "{\"flavor\": {\"id\": \"03e2f84c\", \"name\": \"m1.small\", \"ram\": 2048, \"disk\": 20, "
        "\"swap\": \"\", \"vcpus\": 1}}";
    static const char zero[] = "{\"flavor\": {\"ram\": 2048, \"disk\": 20, \"vcpus\": 0}}";
    static const char noram[] = "{\"flavor\": {\"disk\": 20, \"vcpus\": 2}}";
    osr__flavor_size z;
    osr_error err;
    (void)state;

    assert_int_equal(osr__flavor_size_parse(&z, good, strlen(good), &err), 0);
    assert_int_equal(z.vcpus, 1);
    assert_int_equal(z.ram_mb, 2048);
    assert_int_equal(z.disk_gb, 20);
    assert_int_equal(osr__flavor_size_parse(&z, zero, strlen(zero), &err), OSR_EPROTO);
    assert_non_null(strstr(err.message, "0 vCPUs"));
    assert_int_equal(osr__flavor_size_parse(&z, noram, strlen(noram), &err), OSR_EPROTO);
    assert_non_null(strstr(err.message, "\"ram\""));
}

static void test_ports(void **state)
{
    /* GET /v2.0/quotas/PROJECT/details of the local cloud, with reserved ports added. */
    static const char details[] =
        "{\"quota\": {\"network\": {\"limit\": 100, \"used\": 0, \"reserved\": 0}, \"port\": "
        "{\"limit\": 500, \"used\": 7, \"reserved\": 2}, \"subnetpool\": {\"limit\": -1, \"used\": "
        "0, \"reserved\": 0}}}";
    static const char unlimited[] = "{\"quota\": {\"port\": {\"limit\": -1, \"used\": 3}}}";
    static const char noport[] = "{\"quota\": {\"network\": {\"limit\": 1, \"used\": 0}}}";
    osr__port_quota q;
    osr_error err;
    (void)state;

    assert_int_equal(osr__port_quota_parse(&q, details, strlen(details), &err), 0);
    assert_true(q.known);
    assert_int_equal(q.ports.max, 500);
    assert_int_equal(q.ports.used, 9); /* reserved ports are taken too */
    assert_int_equal(osr__port_quota_parse(&q, unlimited, strlen(unlimited), &err), 0);
    assert_int_equal(q.ports.max, -1);
    assert_int_equal(q.ports.used, 3);
    assert_int_equal(osr__port_quota_parse(&q, noport, strlen(noport), &err), OSR_EPROTO);
    assert_non_null(strstr(err.message, "\"limit\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_limits_broken),
        cmocka_unit_test(test_flavor),
        cmocka_unit_test(test_ports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
