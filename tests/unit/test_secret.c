/* Secrets in jansson: no block that jansson frees still holds a token or a
 * JIT config (a counting allocator looks at every block as it goes back),
 * and osr_global_init() puts a wiping free() under jansson's defaults only. */
#include "osrunner/osrunner.h"
#include "util.h"

#include <jansson.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MARK "S3CRET-MARK-7f3a"

static size_t leaked;             /* blocks freed with needle in them */
static const char *needle = MARK; /* what counting_free() looks for */

static void counting_free(void *p)
{
    if (p != NULL) {
        size_t n = malloc_usable_size(p);
        if (memmem(p, n, needle, strlen(needle)) != NULL)
            leaked++;
        free(p);
    }
}

static int install(void **state)
{
    (void)state;
    json_set_alloc_funcs(malloc, counting_free);
    return 0;
}

static int restore(void **state)
{
    (void)state;
    json_set_alloc_funcs(malloc, free);
    return 0;
}

static osr_instance_config instance(void)
{
    static const char *const labels[] = { "self-hosted", NULL };
    osr_instance_config c = OSR_INSTANCE_CONFIG_INIT;
    c.name = "secret-runner-1";
    c.labels = labels;
    c.github_path = "octo/repo";
    c.http_proxy = "http://proxy:3128";
    return c;
}

/* The user data holds the token or JIT config: its JSON tree and the text
 * jansson prints are wiped before they go back. */
static void test_user_data_leaves_no_copy(void **state)
{
    /* A JIT config must be base64 of a JSON object. */
    static const char jit[] = "eyJrIjoiUzNDUkVULU1BUkstN2YzYSJ9"; /* {"k":"S3CRET-MARK-7f3a"} */
    osr_instance_config c = instance();
    osr_error err;
    char *ud = NULL;
    (void)state;

    c.registration_token = MARK "-registration";
    leaked = 0;
    assert_int_equal(osr_instance_user_data(&ud, &c, 1, &err), 0);
    assert_non_null(strstr(ud, MARK "-registration"));
    osr_secret_free(ud);
    assert_int_equal(leaked, 0);

    /* The JIT config is base64: look for that text. */
    needle = jit;
    c.registration_token = NULL;
    c.jit_config = jit;
    assert_int_equal(osr_instance_user_data(&ud, &c, 1, &err), 0);
    assert_non_null(strstr(ud, jit));
    osr_secret_free(ud);
    needle = MARK;
    assert_int_equal(leaked, 0);
}

/* The helpers themselves: the same text as json_dumps(), and every string
 * of a tree overwritten. */
static void test_json_helpers(void **state)
{
    json_t *j =
        json_pack("{s:s,s:[s,{s:s}],s:i}", "token", MARK, "list", "a-" MARK, "deep", MARK, "n", 7);
    char *mine, *theirs;
    (void)state;

    assert_non_null(j);
    /* Large enough to grow the buffer a few times. */
    for (int i = 0; i < 200; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        json_object_set_new(j, key, json_string(MARK MARK MARK));
    }
    mine = osr__json_dumps_secret(j, JSON_COMPACT | JSON_SORT_KEYS);
    leaked = 0;
    theirs = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(mine);
    assert_non_null(theirs);
    assert_string_equal(mine, theirs);
    assert_true(strlen(mine) > 4096);
    /* json_dumps() leaves copies behind as its buffer grows ... */
    assert_true(leaked > 0);
    osr__secret_free(mine);
    free(theirs);
    /* ... osr__json_dumps_secret() does not, and the tree is wiped. */
    leaked = 0;
    osr__json_wipe(j);
    assert_int_equal(json_string_length(json_object_get(j, "token")), strlen(MARK));
    assert_int_equal(json_string_value(json_object_get(j, "token"))[0], '\0');
    assert_int_equal(json_integer_value(json_object_get(j, "n")), 7);
    json_decref(j);
    assert_int_equal(leaked, 0);
    assert_null(osr__json_dumps_secret(NULL, 0));
}

static void test_global_init_wipes_under_defaults_only(void **state)
{
    json_malloc_t m = NULL;
    json_free_t f = NULL;
    (void)state;

    /* A program's own allocator stays. */
    assert_int_equal(osr_global_init(), 0);
    json_get_alloc_funcs(&m, &f);
    assert_ptr_equal(f, counting_free);
    osr_global_shutdown();

    json_set_alloc_funcs(malloc, free);
    assert_int_equal(osr_global_init(), 0);
    json_get_alloc_funcs(&m, &f);
    assert_ptr_equal(m, malloc);
    assert_ptr_not_equal(f, free);
    {
        /* jansson works on it, blocks from before and after alike. */
        json_t *j = json_loads("{\"token\":\"" MARK "\"}", 0, NULL);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "token")), MARK);
        json_decref(j);
    }
    osr_global_shutdown();
    json_get_alloc_funcs(&m, &f);
    assert_ptr_equal(f, free);
    json_set_alloc_funcs(malloc, counting_free);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_user_data_leaves_no_copy, install, restore),
        cmocka_unit_test_setup_teardown(test_json_helpers, install, restore),
        cmocka_unit_test_setup_teardown(test_global_init_wipes_under_defaults_only, install,
                                        restore),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
