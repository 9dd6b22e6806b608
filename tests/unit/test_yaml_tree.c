/* YAML wrapper: tree, positions, limits, aliases and merge keys, YAML 1.1 resolution. */
#include "yaml_tree.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static osr__yaml_doc *parse_ok(const char *text)
{
    osr__yaml_doc *doc = NULL;
    osr_error err;
    int rc;

    osr_error_clear(&err);
    rc = osr__yaml_parse(&doc, text, strlen(text), "t.yaml", &err);
    if (rc != 0)
        print_error("unexpected error: %s\n", err.message);
    assert_int_equal(rc, 0);
    assert_non_null(doc);
    return doc;
}

static void parse_fails(const char *text, size_t len, const char *message)
{
    osr__yaml_doc *doc = (osr__yaml_doc *)0x1234;
    osr_error err;
    int rc;

    osr_error_clear(&err);
    rc = osr__yaml_parse(&doc, text, len, "t.yaml", &err);
    assert_int_equal(rc, OSR_ECONFIG);
    assert_int_equal(err.code, OSR_ECONFIG);
    assert_ptr_equal(doc, (osr__yaml_doc *)0x1234);
    if (strncmp(err.message, message, strlen(message)) != 0)
        print_error("got: %s\nwant: %s\n", err.message, message);
    assert_true(strncmp(err.message, message, strlen(message)) == 0);
}

static const osr__yaml_node *get(const osr__yaml_node *map, const char *key)
{
    const osr__yaml_node *n = osr__yaml_map_get(map, key);
    assert_non_null(n);
    return n;
}

static void test_tree_and_positions(void **state)
{
    osr__yaml_doc *doc;
    const osr__yaml_node *root, *a, *b, *list;
    (void)state;

    doc = parse_ok("# comment\n"
                   "a: plain\n"
                   "b:\n"
                   "  c: 'quoted'\n"
                   "  d: \"dq\"\n"
                   "list:\n"
                   "  - 1\n"
                   "  - |\n"
                   "    block\n");
    root = osr__yaml_doc_root(doc);
    assert_int_equal(root->type, OSR__YAML_MAPPING);
    assert_int_equal(root->npairs, 3);
    assert_string_equal(root->source, "t.yaml");
    a = get(root, "a");
    assert_int_equal(a->type, OSR__YAML_SCALAR);
    assert_string_equal(a->value, "plain");
    assert_true(a->plain);
    assert_int_equal(a->line, 2);
    assert_int_equal(a->column, 4);
    b = get(root, "b");
    assert_int_equal(b->type, OSR__YAML_MAPPING);
    assert_int_equal(b->line, 4);
    assert_int_equal(b->column, 3);
    assert_false(get(b, "c")->plain);
    assert_string_equal(get(b, "c")->value, "quoted");
    assert_int_equal(get(b, "c")->column, 6);
    assert_false(get(b, "d")->plain);
    list = get(root, "list");
    assert_int_equal(list->type, OSR__YAML_SEQUENCE);
    assert_int_equal(list->nitems, 2);
    assert_int_equal(list->items[0]->line, 7);
    assert_string_equal(list->items[1]->value, "block\n");
    assert_false(list->items[1]->plain);
    assert_null(osr__yaml_map_get(root, "missing"));
    assert_null(osr__yaml_map_get(a, "x"));
    osr__yaml_doc_free(doc);
}

static void test_empty_input(void **state)
{
    osr__yaml_doc *doc;
    (void)state;

    doc = parse_ok("");
    assert_null(osr__yaml_doc_root(doc));
    osr__yaml_doc_free(doc);
    doc = parse_ok("# only a comment\n");
    assert_null(osr__yaml_doc_root(doc));
    osr__yaml_doc_free(doc);
    doc = parse_ok("---\n");
    assert_true(osr__yaml_is_null(osr__yaml_doc_root(doc)));
    osr__yaml_doc_free(doc);
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    parse_fails("a: 1\nb: 2\na: 3\n", 15, "t.yaml:3:1: duplicate key 'a'; first defined at line 1");
    parse_fails("x:\n  k: 1\n  j: 2\n  k: 3\n  j: 4\n", 30,
                "t.yaml:4:3: duplicate key 'k'; first defined at line 2");
    parse_fails("{a: 1, a: 2}", 12, "t.yaml:1:8: duplicate key 'a'; first defined at line 1");
    /* Same text, different quoting: still the same key. */
    parse_fails("a: 1\n'a': 2\n", 12, "t.yaml:2:1: duplicate key 'a'; first defined at line 1");
    parse_fails("<<: {a: 1}\n<<: {b: 1}\n", 22,
                "t.yaml:2:1: duplicate key '<<'; first defined at line 1");
}

static void test_syntax_errors(void **state)
{
    const char *tab = "a:\n\tb: 1\n";
    const char *unclosed = "a: 'x\n";
    const char *indent = "a: 1\n  b: 2\n";
    const char *bad_utf8 = "a: \xff\n";
    (void)state;
    parse_fails(tab, strlen(tab), "t.yaml:2:1: found character that cannot start any token");
    parse_fails(unclosed, strlen(unclosed), "t.yaml:2:1: found unexpected end of stream");
    parse_fails(indent, strlen(indent), "t.yaml:2:4: mapping values are not allowed");
    parse_fails(bad_utf8, strlen(bad_utf8), "t.yaml:1:4: invalid leading UTF-8 octet");
    parse_fails("a: 1\n---\nb: 2\n", 14,
                "t.yaml:2:1: expected a single document in the stream, but found another");
    parse_fails("a: !foo x\n", 10,
                "t.yaml:1:4: could not determine a constructor for the tag '!foo'");
    parse_fails("? [a]\n: 1\n", 10, "t.yaml:1:3: a mapping key must be a scalar, not a sequence");
}

static void test_limits(void **state)
{
    char *big, *deep;
    osr__buf b = OSR__BUF_INIT;
    osr__yaml_doc *doc;
    (void)state;

    big = malloc(OSR__YAML_MAX_INPUT + 2);
    assert_non_null(big);
    memset(big, '#', OSR__YAML_MAX_INPUT + 1);
    big[OSR__YAML_MAX_INPUT + 1] = '\0';
    parse_fails(big, OSR__YAML_MAX_INPUT + 1, "t.yaml: larger than 1048576 bytes");
    big[OSR__YAML_MAX_INPUT] = '\0';
    doc = parse_ok(big); /* exactly the limit is fine */
    osr__yaml_doc_free(doc);
    free(big);

    deep = malloc(200);
    assert_non_null(deep);
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    deep[128] = '\0';
    doc = parse_ok(deep); /* 64 levels */
    osr__yaml_doc_free(doc);
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    deep[130] = '\0';
    parse_fails(deep, 130, "t.yaml:1:65: nesting deeper than 64 levels");
    free(deep);

    /* An alias may not stack a deep node deeper still. */
    osr__buf_puts(&b, "a: &x ");
    for (int i = 0; i < 60; i++)
        osr__buf_puts(&b, "[");
    osr__buf_puts(&b, "1");
    for (int i = 0; i < 60; i++)
        osr__buf_puts(&b, "]");
    osr__buf_puts(&b, "\nb: [[[[[*x]]]]]\n");
    parse_fails(b.data, b.len, "t.yaml:2:9: nesting deeper than 64 levels (through alias 'x')");
    osr__buf_free(&b);

    /* Billion laughs: aliases count as the nodes they stand for. */
    osr__buf_puts(&b, "a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (char c = 'b'; c <= 'i'; c++) {
        osr__buf_printf(&b, "%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n", c, c,
                        c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1);
    }
    parse_fails(b.data, b.len, "t.yaml:5:");
    {
        osr_error err;
        osr_error_clear(&err);
        doc = (osr__yaml_doc *)0x1;
        assert_int_equal(osr__yaml_parse(&doc, b.data, b.len, "t.yaml", &err), OSR_ECONFIG);
        assert_non_null(strstr(err.message, "more than 100000 nodes"));
    }
    osr__buf_free(&b);

    /* Plain node count. */
    for (int i = 0; i < 100001; i++)
        osr__buf_puts(&b, "- 1\n");
    parse_fails(b.data, b.len, "t.yaml:100000:3: more than 100000 nodes");
    osr__buf_free(&b);
}

static void test_aliases(void **state)
{
    osr__yaml_doc *doc;
    const osr__yaml_node *root;
    (void)state;

    doc = parse_ok("base: &b {x: 1, y: 2}\n"
                   "same: *b\n"
                   "s: &s text\n"
                   "t: *s\n");
    root = osr__yaml_doc_root(doc);
    assert_ptr_equal(get(root, "base"), get(root, "same"));
    assert_string_equal(get(root, "t")->value, "text");
    osr__yaml_doc_free(doc);

    /* An anchor may be redefined; an alias takes the latest. */
    doc = parse_ok("a: &x 1\nb: &x 2\nc: *x\n");
    assert_string_equal(get(osr__yaml_doc_root(doc), "c")->value, "2");
    osr__yaml_doc_free(doc);

    parse_fails("a: *nope\n", 9, "t.yaml:1:4: found undefined alias 'nope'");
    parse_fails("a: &r [1, *r]\n", 14, "t.yaml:1:11: alias 'r' refers to a node that contains it");
}

static void test_merge_keys(void **state)
{
    osr__yaml_doc *doc;
    const osr__yaml_node *root, *m;
    (void)state;

    /* Explicit keys win over merged ones, wherever they stand. */
    doc = parse_ok("base: &b {x: 1, y: 2, z: 3}\n"
                   "m:\n"
                   "  y: own\n"
                   "  <<: *b\n"
                   "  z: own\n");
    root = osr__yaml_doc_root(doc);
    m = get(root, "m");
    assert_int_equal(m->npairs, 3);
    assert_string_equal(get(m, "x")->value, "1");
    assert_string_equal(get(m, "y")->value, "own");
    assert_string_equal(get(m, "z")->value, "own");
    assert_null(osr__yaml_map_get(m, "<<"));
    osr__yaml_doc_free(doc);

    /* A list: earlier mappings win over later ones (PyYAML). */
    doc = parse_ok("one: &one {a: 1, b: 1}\n"
                   "two: &two {b: 2, c: 2}\n"
                   "m: {<<: [*one, *two], d: 4}\n");
    m = get(osr__yaml_doc_root(doc), "m");
    assert_int_equal(m->npairs, 4);
    assert_string_equal(get(m, "a")->value, "1");
    assert_string_equal(get(m, "b")->value, "1");
    assert_string_equal(get(m, "c")->value, "2");
    assert_string_equal(get(m, "d")->value, "4");
    osr__yaml_doc_free(doc);

    /* Merges nest: a merged mapping brings its own merged keys. */
    doc = parse_ok("a: &a {x: 1}\n"
                   "b: &b {<<: *a, y: 2}\n"
                   "c: {<<: *b}\n"
                   "d: {<<: {inline: yes}}\n"
                   "e: {'<<': quoted}\n");
    root = osr__yaml_doc_root(doc);
    assert_string_equal(get(get(root, "c"), "x")->value, "1");
    assert_string_equal(get(get(root, "c"), "y")->value, "2");
    assert_string_equal(get(get(root, "d"), "inline")->value, "yes");
    assert_string_equal(get(get(root, "e"), "<<")->value, "quoted");
    osr__yaml_doc_free(doc);

    parse_fails("a: {<<: 1}\n", 11,
                "t.yaml:1:9: expected a mapping or list of mappings for merging, but found a "
                "scalar");
    parse_fails("a: {<<: [{x: 1}, [2]]}\n", 23,
                "t.yaml:1:18: expected a mapping for merging, but found a sequence");
    /* Duplicates are about explicit keys only. */
    parse_fails("a: &a {x: 1}\nb: {<<: *a, x: 2, x: 3}\n", 36,
                "t.yaml:2:19: duplicate key 'x'; first defined at line 2");
}

static void test_json(void **state)
{
    osr__yaml_doc *doc;
    const osr__yaml_node *root, *auth;
    const char *json = "{\n"
                       "\t\"clouds\": {\n"
                       "\t\t\"c\": {\n"
                       "\t\t\t\"auth\": {\"auth_url\":\"https:\\/\\/k.example.com\\/v3\","
                       "\"password\": \"p\\u00e9\\\"x\"},\n"
                       "\t\t\t\"verify\": false, \"identity_api_version\": 3, \"x\": null\n"
                       "\t\t}\n"
                       "\t}\n"
                       "}\n";
    bool b = true;
    int64_t i = 0;
    (void)state;

    doc = parse_ok(json);
    root = osr__yaml_doc_root(doc);
    auth = get(get(get(root, "clouds"), "c"), "auth");
    assert_string_equal(get(auth, "auth_url")->value, "https://k.example.com/v3");
    assert_string_equal(get(auth, "password")->value, "p\xc3\xa9\"x");
    assert_int_equal(osr__yaml_bool(&b, get(get(get(root, "clouds"), "c"), "verify")), 0);
    assert_false(b);
    assert_int_equal(osr__yaml_int(&i, get(get(get(root, "clouds"), "c"), "identity_api_version")),
                     0);
    assert_int_equal(i, 3);
    assert_true(osr__yaml_is_null(get(get(get(root, "clouds"), "c"), "x")));
    osr__yaml_doc_free(doc);
}

static osr__yaml_kind kind_of_text(const char *text)
{
    osr__yaml_doc *doc = parse_ok(text);
    osr__yaml_kind k = osr__yaml_kind_of(osr__yaml_doc_root(doc));
    osr__yaml_doc_free(doc);
    return k;
}

static void test_booleans(void **state)
{
    static const char *const yes[] = {
        "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"
    };
    static const char *const no[] = { "no",    "No",  "NO",  "false", "False",
                                      "FALSE", "off", "Off", "OFF" };
    static const char *const not_bool[] = { "yEs",    "y",          "n",        "Y",  "1",
                                            "0",      "tRUE",       "nO",       "oN", "'yes'",
                                            "\"no\"", "yes please", "!!str yes" };
    char text[64];
    (void)state;

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        osr__yaml_doc *doc = parse_ok(yes[i]);
        bool b = false;
        assert_int_equal(osr__yaml_bool(&b, osr__yaml_doc_root(doc)), 0);
        assert_true(b);
        osr__yaml_doc_free(doc);
        doc = parse_ok(no[i]);
        b = true;
        assert_int_equal(osr__yaml_bool(&b, osr__yaml_doc_root(doc)), 0);
        assert_false(b);
        osr__yaml_doc_free(doc);
    }
    for (size_t i = 0; i < sizeof(not_bool) / sizeof(not_bool[0]); i++) {
        osr__yaml_doc *doc = parse_ok(not_bool[i]);
        bool b = true;
        if (osr__yaml_bool(&b, osr__yaml_doc_root(doc)) != -1)
            print_error("%s read as a boolean\n", not_bool[i]);
        assert_int_equal(osr__yaml_bool(&b, osr__yaml_doc_root(doc)), -1);
        assert_true(b); /* untouched */
        osr__yaml_doc_free(doc);
    }
    /* An explicit !!bool tag is read case-insensitively, as PyYAML does. */
    snprintf(text, sizeof(text), "!!bool \"yEs\"");
    {
        osr__yaml_doc *doc = parse_ok(text);
        bool b = false;
        assert_int_equal(osr__yaml_bool(&b, osr__yaml_doc_root(doc)), 0);
        assert_true(b);
        osr__yaml_doc_free(doc);
    }
    assert_int_equal(kind_of_text("yes"), OSR__YAML_KIND_BOOL);
    assert_int_equal(kind_of_text("'yes'"), OSR__YAML_KIND_STR);
}

static void test_null_int_float(void **state)
{
    static const struct {
        const char *text;
        osr__yaml_kind kind;
    } cases[] = {
        { "~", OSR__YAML_KIND_NULL },         { "null", OSR__YAML_KIND_NULL },
        { "Null", OSR__YAML_KIND_NULL },      { "NULL", OSR__YAML_KIND_NULL },
        { "nULL", OSR__YAML_KIND_STR },       { "'null'", OSR__YAML_KIND_STR },
        { "!!null ''", OSR__YAML_KIND_NULL }, { "3", OSR__YAML_KIND_INT },
        { "-3", OSR__YAML_KIND_INT },         { "0", OSR__YAML_KIND_INT },
        { "010", OSR__YAML_KIND_INT },        { "0x1F", OSR__YAML_KIND_INT },
        { "0b101", OSR__YAML_KIND_INT },      { "1_000", OSR__YAML_KIND_INT },
        { "1:30", OSR__YAML_KIND_INT },       { "3.0", OSR__YAML_KIND_FLOAT },
        { "3.", OSR__YAML_KIND_FLOAT },       { ".5", OSR__YAML_KIND_FLOAT },
        { "1.5e+3", OSR__YAML_KIND_FLOAT },   { ".inf", OSR__YAML_KIND_FLOAT },
        { "-.Inf", OSR__YAML_KIND_FLOAT },    { ".NaN", OSR__YAML_KIND_FLOAT },
        { "1e3", OSR__YAML_KIND_STR },        { "08", OSR__YAML_KIND_STR },
        { "0x", OSR__YAML_KIND_STR },         { "1.5e3", OSR__YAML_KIND_STR },
        { "'3'", OSR__YAML_KIND_STR },        { "abc", OSR__YAML_KIND_STR },
        { "!!str 3", OSR__YAML_KIND_STR },    { "!!int '7'", OSR__YAML_KIND_INT },
    };
    static const struct {
        const char *text;
        int rc;
        int64_t value;
    } ints[] = {
        { "3", 0, 3 },
        { "+3", 0, 3 },
        { "-17", 0, -17 },
        { "010", 0, 8 },
        { "0x1F", 0, 31 },
        { "0b101", 0, 5 },
        { "1_000", 0, 1000 },
        { "1:30", 0, 90 },
        { "9223372036854775807", 0, INT64_MAX },
        { "-9223372036854775808", 0, INT64_MIN },
        { "9223372036854775808", -1, 0 },
        { "'3'", -1, 0 },
        { "3.0", -1, 0 },
        { "!!int '7'", 0, 7 },
    };
    osr__yaml_doc *doc;
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        osr__yaml_kind k = kind_of_text(cases[i].text);
        if (k != cases[i].kind)
            print_error("%s: got %s\n", cases[i].text, osr__yaml_kind_name(k));
        assert_int_equal(k, cases[i].kind);
    }
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        int64_t v = 42;
        doc = parse_ok(ints[i].text);
        if (osr__yaml_int(&v, osr__yaml_doc_root(doc)) != ints[i].rc)
            print_error("%s\n", ints[i].text);
        assert_int_equal(osr__yaml_int(&v, osr__yaml_doc_root(doc)), ints[i].rc);
        assert_true(v == (ints[i].rc == 0 ? ints[i].value : 42));
        osr__yaml_doc_free(doc);
    }
    assert_int_equal(osr__yaml_resolve_plain("", 0), OSR__YAML_KIND_NULL);
    doc = parse_ok("a:\nb: ''\n");
    assert_true(osr__yaml_is_null(get(osr__yaml_doc_root(doc), "a")));
    assert_false(osr__yaml_is_null(get(osr__yaml_doc_root(doc), "b")));
    osr__yaml_doc_free(doc);
}

static void test_build_and_merge(void **state)
{
    osr__yaml_doc *base, *over, *arena = NULL, *built = NULL;
    osr__yaml_node *merged = NULL, *map = NULL, *s = NULL;
    const osr__yaml_node *c;
    (void)state;

    base = parse_ok("clouds:\n  c:\n    auth: {username: u, password: old}\n    region_name: r\n"
                    "  d: {x: 1}\n");
    over = parse_ok("clouds:\n  c:\n    auth: {password: new}\n    interface: internal\n"
                    "  e: {y: 2}\n");
    assert_int_equal(osr__yaml_doc_new(&arena, "merged"), 0);
    assert_int_equal(
        osr__yaml_merge(&merged, arena, osr__yaml_doc_root(base), osr__yaml_doc_root(over)), 0);
    c = get(get(merged, "clouds"), "c");
    assert_string_equal(get(get(c, "auth"), "username")->value, "u");
    assert_string_equal(get(get(c, "auth"), "password")->value, "new");
    assert_string_equal(get(get(c, "auth"), "password")->source, "t.yaml");
    assert_string_equal(get(c, "region_name")->value, "r");
    assert_string_equal(get(c, "interface")->value, "internal");
    assert_non_null(osr__yaml_map_get(get(merged, "clouds"), "d"));
    assert_non_null(osr__yaml_map_get(get(merged, "clouds"), "e"));
    assert_int_equal(merged->line, 1);
    osr__yaml_doc_free(arena);
    osr__yaml_doc_free(over);
    osr__yaml_doc_free(base);

    assert_int_equal(osr__yaml_doc_new(&built, "environment"), 0);
    assert_int_equal(osr__yaml_new_mapping(&map, built, NULL), 0);
    assert_int_equal(osr__yaml_new_scalar(&s, built, "on", true, "OS_INSECURE"), 0);
    assert_int_equal(osr__yaml_map_set(built, map, "insecure", s), 0);
    assert_int_equal(osr__yaml_new_scalar(&s, built, "off", true, "OS_INSECURE"), 0);
    assert_int_equal(osr__yaml_map_set(built, map, "insecure", s), 0);
    osr__yaml_doc_set_root(built, map);
    assert_int_equal(map->npairs, 1);
    c = get(osr__yaml_doc_root(built), "insecure");
    assert_string_equal(c->origin, "OS_INSECURE");
    assert_string_equal(c->source, "environment");
    assert_int_equal(c->line, 0);
    {
        bool b = true;
        assert_int_equal(osr__yaml_bool(&b, c), 0);
        assert_false(b);
    }
    osr__yaml_doc_free(built);
    osr__yaml_doc_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_and_positions),
        cmocka_unit_test(test_empty_input),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_aliases),
        cmocka_unit_test(test_merge_keys),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_booleans),
        cmocka_unit_test(test_null_int_float),
        cmocka_unit_test(test_build_and_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
