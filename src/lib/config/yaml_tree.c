/* YAML 1.1 documents as PyYAML's safe_load reads them, over libyaml's event API. */
#include "yaml_tree.h"

#include <yaml.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct osr__yaml_doc {
    char *name;
    osr__yaml_node *root;
    osr__yaml_node **nodes; /* every node this document owns */
    size_t nnodes;
    size_t capnodes;
};

typedef struct anchor {
    char *name;
    osr__yaml_node *node;
} anchor;

typedef struct frame {
    osr__yaml_node *node;
    osr__yaml_node *key;       /* mapping: a key waiting for its value */
    bool key_is_merge;         /* that key is the merge key "<<" */
    osr__yaml_node *merge_key; /* the first "<<" of this mapping */
    osr__yaml_node **merges;   /* mappings to merge in, highest priority first */
    size_t nmerges;
    size_t capmerges;
} frame;

typedef struct composer {
    osr__yaml_doc *doc;
    frame stack[OSR__YAML_MAX_DEPTH];
    size_t depth;
    anchor *anchors;
    size_t nanchors;
    size_t capanchors;
    size_t count; /* nodes so far, aliases expanded */
    osr_error *err;
} composer;

#define TAG_PREFIX "tag:yaml.org,2002:"

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    size_t n;
    void *q;

    if (need <= *cap)
        return 0;
    n = *cap ? *cap : 4;
    while (n < need)
        n *= 2;
    q = realloc(*p, n * size);
    if (q == NULL)
        return OSR_ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

static int failv(const char *name,
                 size_t line,
                 size_t col,
                 osr_error *err,
                 int code,
                 const char *fmt,
                 va_list ap) OSR__PRINTF(6, 0);
static int failv(const char *name,
                 size_t line,
                 size_t col,
                 osr_error *err,
                 int code,
                 const char *fmt,
                 va_list ap)
{
    char msg[OSR_ERROR_MESSAGE_MAX];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    return osr__error_set(err, code, "%s:%zu:%zu: %s", name, line, col, msg);
}

static int fail_at(composer *c, size_t line, size_t col, const char *fmt, ...) OSR__PRINTF(4, 5);
static int fail_at(composer *c, size_t line, size_t col, const char *fmt, ...)
{
    va_list ap;
    int error;

    va_start(ap, fmt);
    error = failv(c->doc->name, line, col, c->err, OSR_ECONFIG, fmt, ap);
    va_end(ap);
    return error;
}

static int nomem(osr_error *err)
{
    return osr__error_set(err, OSR_ENOMEM, "out of memory");
}

static const char *type_name(const osr__yaml_node *n)
{
    return n->type == OSR__YAML_MAPPING    ? "mapping"
           : n->type == OSR__YAML_SEQUENCE ? "sequence"
                                           : "scalar";
}

static osr__yaml_node *node_alloc(osr__yaml_doc *doc, osr__yaml_type type)
{
    osr__yaml_node *n;

    if (grow((void **)&doc->nodes, &doc->capnodes, doc->nnodes + 1, sizeof(*doc->nodes)) < 0)
        return NULL;
    n = calloc(1, sizeof(*n));
    if (n == NULL)
        return NULL;
    n->type = type;
    n->source = doc->name;
    doc->nodes[doc->nnodes++] = n;
    return n;
}

static void node_free(osr__yaml_node *n)
{
    if (n->value != NULL) {
        osr__secret_wipe(n->value, n->len);
        free(n->value);
    }
    free(n->tag);
    free((char *)n->origin);
    free(n->items);
    free(n->pairs);
    free(n);
}

int osr__yaml_doc_new(osr__yaml_doc **out, const char *name)
{
    osr__yaml_doc *doc = calloc(1, sizeof(*doc));

    if (doc == NULL)
        return OSR_ENOMEM;
    doc->name = osr__strdup(name ? name : "<input>");
    if (doc->name == NULL) {
        free(doc);
        return OSR_ENOMEM;
    }
    *out = doc;
    return 0;
}

void osr__yaml_doc_free(osr__yaml_doc *doc)
{
    if (doc == NULL)
        return;
    for (size_t i = 0; i < doc->nnodes; i++)
        node_free(doc->nodes[i]);
    free(doc->nodes);
    free(doc->name);
    free(doc);
}

const osr__yaml_node *osr__yaml_doc_root(const osr__yaml_doc *doc)
{
    return doc ? doc->root : NULL;
}

const char *osr__yaml_doc_name(const osr__yaml_doc *doc)
{
    return doc ? doc->name : NULL;
}

void osr__yaml_doc_set_root(osr__yaml_doc *doc, osr__yaml_node *root)
{
    doc->root = root;
}

/* Scalar keys compare by their bytes. */
static bool key_equal(const osr__yaml_node *a, const osr__yaml_node *b)
{
    return a->len == b->len && memcmp(a->value, b->value, a->len) == 0;
}

static bool key_is(const osr__yaml_node *k, const char *s)
{
    size_t n = strlen(s);
    return k->type == OSR__YAML_SCALAR && k->len == n && memcmp(k->value, s, n) == 0;
}

const osr__yaml_node *osr__yaml_map_get(const osr__yaml_node *map, const char *key)
{
    if (map == NULL || map->type != OSR__YAML_MAPPING || key == NULL)
        return NULL;
    for (size_t i = 0; i < map->npairs; i++) {
        if (key_is(map->pairs[i].key, key))
            return map->pairs[i].value;
    }
    return NULL;
}

/* ---- resolution ------------------------------------------------------------------------ */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool all_of(const char *s, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\0' || strchr(set, s[i]) == NULL)
            return false;
    }
    return true;
}

static bool text_is(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(s, word, n) == 0;
}

static int plain_bool(const char *s, size_t n)
{
    static const char *const yes[] = {
        "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"
    };
    static const char *const no[] = { "no",    "No",  "NO",  "false", "False",
                                      "FALSE", "off", "Off", "OFF" };

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (text_is(s, n, yes[i]))
            return 1;
        if (text_is(s, n, no[i]))
            return 0;
    }
    return -1;
}

static bool plain_null(const char *s, size_t n)
{
    return n == 0 || text_is(s, n, "~") || text_is(s, n, "null") || text_is(s, n, "Null") ||
           text_is(s, n, "NULL");
}

/* [-+]?0b[0-1_]+ | [-+]?0[0-7_]+ | [-+]?(0|[1-9][0-9_]*) | [-+]?0x[0-9a-fA-F_]+
 * | [-+]?[1-9][0-9_]*(:[0-5]?[0-9])+ */
static bool plain_int(const char *s, size_t n)
{
    size_t i = 0;

    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    if (i >= n)
        return false;
    if (s[i] == '0') {
        if (i + 1 == n)
            return true;
        if (s[i + 1] == 'b')
            return i + 2 < n && all_of(s + i + 2, n - i - 2, "01_");
        if (s[i + 1] == 'x')
            return i + 2 < n && all_of(s + i + 2, n - i - 2, "0123456789abcdefABCDEF_");
        return all_of(s + i + 1, n - i - 1, "01234567_");
    }
    if (s[i] < '1' || s[i] > '9')
        return false;
    for (i++; i < n && (is_digit(s[i]) || s[i] == '_'); i++)
        ;
    while (i < n) {
        if (s[i] != ':')
            return false;
        i++;
        if (i + 1 < n && s[i] >= '0' && s[i] <= '5' && is_digit(s[i + 1]))
            i += 2;
        else if (i < n && is_digit(s[i]))
            i++;
        else
            return false;
    }
    return true;
}

static size_t skip_exponent(const char *s, size_t n, size_t i)
{
    size_t j;

    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        j = i + 1;
        if (j < n && (s[j] == '+' || s[j] == '-')) {
            j++;
            if (j < n && is_digit(s[j])) {
                while (j < n && is_digit(s[j]))
                    j++;
                return j;
            }
        }
        return (size_t)-1;
    }
    return i;
}

/* [-+]?[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)? | \.[0-9][0-9_]*([eE][-+][0-9]+)?
 * | [-+]?\.(inf|Inf|INF) | \.(nan|NaN|NAN) */
static bool plain_float(const char *s, size_t n)
{
    size_t i = 0;

    if (text_is(s, n, ".nan") || text_is(s, n, ".NaN") || text_is(s, n, ".NAN"))
        return true;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    if (text_is(s + i, n - i, ".inf") || text_is(s + i, n - i, ".Inf") ||
        text_is(s + i, n - i, ".INF"))
        return true;
    if (n > 0 && s[0] == '.') {
        if (n < 2 || !is_digit(s[1]))
            return false;
        for (i = 2; i < n && (is_digit(s[i]) || s[i] == '_'); i++)
            ;
        return skip_exponent(s, n, i) == n;
    }
    if (i >= n || !is_digit(s[i]))
        return false;
    while (i < n && (is_digit(s[i]) || s[i] == '_'))
        i++;
    if (i >= n || s[i] != '.')
        return false;
    for (i++; i < n && (is_digit(s[i]) || s[i] == '_'); i++)
        ;
    return skip_exponent(s, n, i) == n;
}

osr__yaml_kind osr__yaml_resolve_plain(const char *text, size_t len)
{
    if (plain_null(text, len))
        return OSR__YAML_KIND_NULL;
    if (plain_bool(text, len) >= 0)
        return OSR__YAML_KIND_BOOL;
    if (plain_int(text, len))
        return OSR__YAML_KIND_INT;
    if (plain_float(text, len))
        return OSR__YAML_KIND_FLOAT;
    return OSR__YAML_KIND_STR;
}

static bool tag_is(const osr__yaml_node *n, const char *short_name)
{
    size_t p = strlen(TAG_PREFIX);
    return n->tag != NULL && strncmp(n->tag, TAG_PREFIX, p) == 0 &&
           strcmp(n->tag + p, short_name) == 0;
}

osr__yaml_kind osr__yaml_kind_of(const osr__yaml_node *node)
{
    if (node == NULL)
        return OSR__YAML_KIND_NULL;
    if (node->type == OSR__YAML_MAPPING)
        return OSR__YAML_KIND_MAP;
    if (node->type == OSR__YAML_SEQUENCE)
        return OSR__YAML_KIND_SEQ;
    if (node->tag != NULL) {
        if (tag_is(node, "bool"))
            return OSR__YAML_KIND_BOOL;
        if (tag_is(node, "int"))
            return OSR__YAML_KIND_INT;
        if (tag_is(node, "float"))
            return OSR__YAML_KIND_FLOAT;
        if (tag_is(node, "null"))
            return OSR__YAML_KIND_NULL;
        return OSR__YAML_KIND_STR;
    }
    if (!node->plain)
        return OSR__YAML_KIND_STR;
    return osr__yaml_resolve_plain(node->value, node->len);
}

const char *osr__yaml_kind_name(osr__yaml_kind kind)
{
    switch (kind) {
    case OSR__YAML_KIND_NULL:
        return "null";
    case OSR__YAML_KIND_BOOL:
        return "boolean";
    case OSR__YAML_KIND_INT:
        return "integer";
    case OSR__YAML_KIND_FLOAT:
        return "float";
    case OSR__YAML_KIND_STR:
        return "string";
    case OSR__YAML_KIND_SEQ:
        return "sequence";
    case OSR__YAML_KIND_MAP:
        return "mapping";
    }
    return "value";
}

bool osr__yaml_is_null(const osr__yaml_node *node)
{
    return node == NULL || osr__yaml_kind_of(node) == OSR__YAML_KIND_NULL;
}

int osr__yaml_bool(bool *out, const osr__yaml_node *node)
{
    int v = -1;

    if (node == NULL || node->type != OSR__YAML_SCALAR)
        return -1;
    if (node->tag == NULL && node->plain) {
        v = plain_bool(node->value, node->len);
    } else if (tag_is(node, "bool")) {
        /* PyYAML's constructor lower-cases the text. */
        char low[8];
        if (node->len < sizeof(low)) {
            for (size_t i = 0; i < node->len; i++) {
                char ch = node->value[i];
                low[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
            }
            v = plain_bool(low, node->len);
        }
    }
    if (v < 0)
        return -1;
    *out = v == 1;
    return 0;
}

/* Accumulate digits of base into *acc (a magnitude); false on overflow. */
static bool accumulate(uint64_t *acc, const char *s, size_t n, unsigned base)
{
    for (size_t i = 0; i < n; i++) {
        int d;
        if (s[i] == '_')
            continue;
        d = osr__hex_digit(s[i]);
        if (d < 0 || (unsigned)d >= base)
            return false;
        if (*acc > (UINT64_MAX - (uint64_t)d) / base)
            return false;
        *acc = *acc * base + (uint64_t)d;
    }
    return true;
}

int osr__yaml_int(int64_t *out, const osr__yaml_node *node)
{
    const char *s;
    size_t n, i = 0;
    bool neg = false;
    uint64_t acc = 0;

    if (node == NULL || node->type != OSR__YAML_SCALAR)
        return -1;
    if (!(node->tag == NULL && node->plain) && !tag_is(node, "int"))
        return -1;
    s = node->value;
    n = node->len;
    if (!plain_int(s, n))
        return -1;
    if (s[0] == '+' || s[0] == '-') {
        neg = s[0] == '-';
        i = 1;
    }
    if (s[i] == '0' && i + 1 < n && s[i + 1] == 'b') {
        if (!accumulate(&acc, s + i + 2, n - i - 2, 2))
            return -1;
    } else if (s[i] == '0' && i + 1 < n && s[i + 1] == 'x') {
        if (!accumulate(&acc, s + i + 2, n - i - 2, 16))
            return -1;
    } else if (s[i] == '0') {
        if (!accumulate(&acc, s + i, n - i, 8))
            return -1;
    } else {
        /* Decimal, or base 60 parts separated by ':'. */
        size_t start = i;
        for (size_t j = i; j <= n; j++) {
            if (j == n || s[j] == ':') {
                uint64_t part = 0;
                if (!accumulate(&part, s + start, j - start, 10))
                    return -1;
                if (start != i) {
                    if (acc > (UINT64_MAX - part) / 60)
                        return -1;
                    acc = acc * 60 + part;
                } else {
                    acc = part;
                }
                start = j + 1;
            }
        }
    }
    if (neg) {
        if (acc > (uint64_t)INT64_MAX + 1)
            return -1;
        *out = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
    } else {
        if (acc > (uint64_t)INT64_MAX)
            return -1;
        *out = (int64_t)acc;
    }
    return 0;
}

/* ---- composing ------------------------------------------------------------------------- */

static int check_tag(composer *c, const yaml_mark_t *m, const unsigned char *tag)
{
    static const char *const known[] = { "str", "int", "bool", "null", "float", "map", "seq" };
    const char *t = (const char *)tag;
    size_t p = strlen(TAG_PREFIX);

    if (t == NULL || strcmp(t, "!") == 0)
        return 0;
    if (strncmp(t, TAG_PREFIX, p) == 0) {
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
            if (strcmp(t + p, known[i]) == 0)
                return 0;
        }
    }
    return fail_at(c, m->line + 1, m->column + 1,
                   "could not determine a constructor for the tag '%.64s'", t);
}

static int count_nodes(composer *c, const yaml_mark_t *m, size_t n)
{
    if (n > OSR__YAML_MAX_NODES || c->count + n > OSR__YAML_MAX_NODES) {
        return fail_at(c, m->line + 1, m->column + 1,
                       "more than %d nodes (aliases expanded); refusing to read on",
                       OSR__YAML_MAX_NODES);
    }
    c->count += n;
    return 0;
}

static int new_node(osr__yaml_node **out,
                    composer *c,
                    osr__yaml_type type,
                    const yaml_mark_t *m,
                    const unsigned char *tag)
{
    osr__yaml_node *n;
    int error;

    if ((error = check_tag(c, m, tag)) < 0 || (error = count_nodes(c, m, 1)) < 0)
        return error;
    n = node_alloc(c->doc, type);
    if (n == NULL)
        return nomem(c->err);
    n->line = m->line + 1;
    n->column = m->column + 1;
    n->weight = 1;
    if (tag != NULL) {
        n->tag = osr__strdup((const char *)tag);
        if (n->tag == NULL)
            return nomem(c->err);
    }
    *out = n;
    return 0;
}

static int register_anchor(composer *c, const unsigned char *name, osr__yaml_node *n)
{
    char *copy;

    if (name == NULL)
        return 0;
    if (grow((void **)&c->anchors, &c->capanchors, c->nanchors + 1, sizeof(*c->anchors)) < 0)
        return nomem(c->err);
    copy = osr__strdup((const char *)name);
    if (copy == NULL)
        return nomem(c->err);
    c->anchors[c->nanchors].name = copy;
    c->anchors[c->nanchors].node = n;
    c->nanchors++;
    return 0;
}

/* Attach a finished node to the collection being composed, or make it the root. */
static int add_child(composer *c, osr__yaml_node *n)
{
    frame *f;
    osr__yaml_node *p;

    if (c->depth == 0) {
        c->doc->root = n;
        return 0;
    }
    f = &c->stack[c->depth - 1];
    p = f->node;
    if (p->type == OSR__YAML_SEQUENCE) {
        if (grow((void **)&p->items, &p->cap, p->nitems + 1, sizeof(*p->items)) < 0)
            return nomem(c->err);
        p->items[p->nitems++] = n;
        return 0;
    }
    if (f->key == NULL) {
        if (n->type != OSR__YAML_SCALAR) {
            return fail_at(c, n->line, n->column, "a mapping key must be a scalar, not a %s",
                           type_name(n));
        }
        f->key = n;
        f->key_is_merge = n->plain && n->tag == NULL && key_is(n, "<<");
        if (f->key_is_merge) {
            if (f->merge_key != NULL) {
                return fail_at(c, n->line, n->column,
                               "duplicate key '<<'; first defined at line %zu", f->merge_key->line);
            }
            f->merge_key = n;
        }
        return 0;
    }
    if (f->key_is_merge) {
        size_t k = n->type == OSR__YAML_SEQUENCE ? n->nitems : 1;
        if (n->type == OSR__YAML_SCALAR) {
            return fail_at(c, n->line, n->column,
                           "expected a mapping or list of mappings for merging, but found a "
                           "scalar");
        }
        if (grow((void **)&f->merges, &f->capmerges, f->nmerges + k, sizeof(*f->merges)) < 0)
            return nomem(c->err);
        if (n->type == OSR__YAML_MAPPING) {
            f->merges[f->nmerges++] = n;
        } else {
            for (size_t i = 0; i < n->nitems; i++) {
                osr__yaml_node *m = n->items[i];
                if (m->type != OSR__YAML_MAPPING) {
                    return fail_at(c, m->line, m->column,
                                   "expected a mapping for merging, but found a %s", type_name(m));
                }
                f->merges[f->nmerges++] = m;
            }
        }
    } else {
        if (grow((void **)&p->pairs, &p->cap, p->npairs + 1, sizeof(*p->pairs)) < 0)
            return nomem(c->err);
        p->pairs[p->npairs].key = f->key;
        p->pairs[p->npairs].value = n;
        p->npairs++;
    }
    f->key = NULL;
    f->key_is_merge = false;
    return 0;
}

typedef struct entry {
    osr__yaml_pair pair;
    size_t ord; /* explicit keys first in document order, then merged ones by priority */
} entry;

static int entry_cmp_key(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    size_t n = x->pair.key->len < y->pair.key->len ? x->pair.key->len : y->pair.key->len;
    int r = memcmp(x->pair.key->value, y->pair.key->value, n);

    if (r != 0)
        return r;
    if (x->pair.key->len != y->pair.key->len)
        return x->pair.key->len < y->pair.key->len ? -1 : 1;
    return x->ord < y->ord ? -1 : (x->ord > y->ord ? 1 : 0);
}

static int entry_cmp_ord(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    return x->ord < y->ord ? -1 : (x->ord > y->ord ? 1 : 0);
}

/* Reject duplicate explicit keys, then fold in the merge sources. */
static int finish_mapping(composer *c, frame *f)
{
    osr__yaml_node *m = f->node;
    size_t total = m->npairs, n = 0;
    entry *e = NULL;
    const entry *dup = NULL, *first = NULL;
    int error = 0;

    for (size_t i = 0; i < f->nmerges; i++)
        total += f->merges[i]->npairs;
    if (total < 2 && f->nmerges == 0)
        goto done;
    e = calloc(total ? total : 1, sizeof(*e));
    if (e == NULL) {
        error = nomem(c->err);
        goto done;
    }
    for (size_t i = 0; i < m->npairs; i++, n++) {
        e[n].pair = m->pairs[i];
        e[n].ord = n;
    }
    qsort(e, n, sizeof(*e), entry_cmp_key);
    for (size_t i = 1; i < n; i++) {
        if (key_equal(e[i].pair.key, e[i - 1].pair.key) && (dup == NULL || e[i].ord < dup->ord)) {
            dup = &e[i];
            first = &e[i - 1];
            while (first > e && key_equal(first[-1].pair.key, dup->pair.key))
                first--;
        }
    }
    if (dup != NULL) {
        error = fail_at(c, dup->pair.key->line, dup->pair.key->column,
                        "duplicate key '%.64s'; first defined at line %zu", dup->pair.key->value,
                        first->pair.key->line);
        goto done;
    }
    if (f->nmerges == 0)
        goto done;

    for (size_t i = 0; i < f->nmerges; i++) {
        const osr__yaml_node *src = f->merges[i];
        for (size_t j = 0; j < src->npairs; j++, n++) {
            e[n].pair = src->pairs[j];
            e[n].ord = n;
        }
    }
    qsort(e, n, sizeof(*e), entry_cmp_key);
    {
        size_t kept = 0;
        for (size_t i = 0; i < n; i++) {
            if (i > 0 && key_equal(e[i].pair.key, e[i - 1].pair.key))
                continue; /* a lower-priority value for a key already set */
            e[kept++] = e[i];
        }
        n = kept;
    }
    qsort(e, n, sizeof(*e), entry_cmp_ord);
    if (n > m->cap) {
        osr__yaml_pair *p = realloc(m->pairs, n * sizeof(*p));
        if (p == NULL) {
            error = nomem(c->err);
            goto done;
        }
        m->pairs = p;
        m->cap = n;
    }
    for (size_t i = 0; i < n; i++)
        m->pairs[i] = e[i].pair;
    m->npairs = n;
done:
    free(e);
    return error;
}

static void finish_weight(osr__yaml_node *n)
{
    size_t w = 1, h = 0;

    if (n->type == OSR__YAML_SEQUENCE) {
        for (size_t i = 0; i < n->nitems; i++) {
            w += n->items[i]->weight;
            if (n->items[i]->height > h)
                h = n->items[i]->height;
        }
    } else if (n->type == OSR__YAML_MAPPING) {
        for (size_t i = 0; i < n->npairs; i++) {
            w += n->pairs[i].key->weight + n->pairs[i].value->weight;
            if (n->pairs[i].value->height > h)
                h = n->pairs[i].value->height;
        }
    }
    n->weight = w;
    n->height = h + 1;
}

static int open_collection(composer *c, osr__yaml_type type, const yaml_event_t *ev)
{
    const unsigned char *tag, *anchor_name;
    osr__yaml_node *n = NULL;
    int error;

    if (type == OSR__YAML_SEQUENCE) {
        tag = ev->data.sequence_start.tag;
        anchor_name = ev->data.sequence_start.anchor;
    } else {
        tag = ev->data.mapping_start.tag;
        anchor_name = ev->data.mapping_start.anchor;
    }
    if (c->depth >= OSR__YAML_MAX_DEPTH) {
        return fail_at(c, ev->start_mark.line + 1, ev->start_mark.column + 1,
                       "nesting deeper than %d levels", OSR__YAML_MAX_DEPTH);
    }
    if ((error = new_node(&n, c, type, &ev->start_mark, tag)) < 0 ||
        (error = register_anchor(c, anchor_name, n)) < 0)
        return error;
    n->open = true;
    memset(&c->stack[c->depth], 0, sizeof(c->stack[c->depth]));
    c->stack[c->depth].node = n;
    c->depth++;
    return 0;
}

static int close_collection(composer *c)
{
    frame *f = &c->stack[c->depth - 1];
    osr__yaml_node *n = f->node;
    int error = 0;

    if (n->type == OSR__YAML_MAPPING)
        error = finish_mapping(c, f);
    free(f->merges);
    f->merges = NULL;
    c->depth--;
    if (error < 0)
        return error;
    finish_weight(n);
    n->open = false;
    return add_child(c, n);
}

static int on_scalar(composer *c, const yaml_event_t *ev)
{
    osr__yaml_node *n = NULL;
    int error;

    if ((error = new_node(&n, c, OSR__YAML_SCALAR, &ev->start_mark, ev->data.scalar.tag)) < 0)
        return error;
    n->value = malloc(ev->data.scalar.length + 1);
    if (n->value == NULL)
        return nomem(c->err);
    memcpy(n->value, ev->data.scalar.value, ev->data.scalar.length);
    n->value[ev->data.scalar.length] = '\0';
    n->len = ev->data.scalar.length;
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    n->height = 0;
    if ((error = register_anchor(c, ev->data.scalar.anchor, n)) < 0)
        return error;
    return add_child(c, n);
}

static int on_alias(composer *c, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    osr__yaml_node *n = NULL;
    int error;

    for (size_t i = c->nanchors; i > 0; i--) {
        if (strcmp(c->anchors[i - 1].name, name) == 0) {
            n = c->anchors[i - 1].node;
            break;
        }
    }
    if (n == NULL) {
        return fail_at(c, ev->start_mark.line + 1, ev->start_mark.column + 1,
                       "found undefined alias '%.64s'", name);
    }
    if (n->open) {
        return fail_at(c, ev->start_mark.line + 1, ev->start_mark.column + 1,
                       "alias '%.64s' refers to a node that contains it", name);
    }
    if (c->depth + n->height > OSR__YAML_MAX_DEPTH) {
        return fail_at(c, ev->start_mark.line + 1, ev->start_mark.column + 1,
                       "nesting deeper than %d levels (through alias '%.64s')", OSR__YAML_MAX_DEPTH,
                       name);
    }
    if ((error = count_nodes(c, &ev->start_mark, n->weight)) < 0)
        return error;
    return add_child(c, n);
}

static void line_col_of(const char *data, size_t len, size_t offset, size_t *line, size_t *col)
{
    size_t l = 1, cl = 1;

    for (size_t i = 0; i < offset && i < len; i++) {
        if (data[i] == '\n') {
            l++;
            cl = 1;
        } else if (((unsigned char)data[i] & 0xc0) != 0x80) {
            cl++;
        }
    }
    *line = l;
    *col = cl;
}

static int parser_error(composer *c, const yaml_parser_t *p, const char *data, size_t len)
{
    size_t line, col;

    if (p->error == YAML_MEMORY_ERROR)
        return nomem(c->err);
    if (p->error == YAML_READER_ERROR) {
        line_col_of(data, len, p->problem_offset, &line, &col);
        return fail_at(c, line, col, "%s", p->problem ? p->problem : "cannot read input");
    }
    line = p->problem_mark.line + 1;
    col = p->problem_mark.column + 1;
    if (p->context != NULL) {
        return fail_at(c, line, col, "%s (%s at line %zu)",
                       p->problem ? p->problem : "syntax error", p->context,
                       p->context_mark.line + 1);
    }
    return fail_at(c, line, col, "%s", p->problem ? p->problem : "syntax error");
}

int osr__yaml_parse(
    osr__yaml_doc **out, const char *data, size_t len, const char *name, osr_error *err)
{
    composer c;
    yaml_parser_t parser;
    yaml_event_t ev;
    bool parser_ready = false, have_event = false, done_stream = false;
    int documents = 0, error = 0;

    memset(&c, 0, sizeof(c));
    c.err = err;
    if (name == NULL)
        name = "<input>";
    if (len > OSR__YAML_MAX_INPUT) {
        return osr__error_set(err, OSR_ECONFIG, "%s: larger than %d bytes", name,
                              OSR__YAML_MAX_INPUT);
    }
    if (osr__yaml_doc_new(&c.doc, name) < 0)
        return nomem(err);
    if (!yaml_parser_initialize(&parser)) {
        error = nomem(err);
        goto done;
    }
    parser_ready = true;
    yaml_parser_set_input_string(&parser, (const unsigned char *)(data ? data : ""),
                                 data ? len : 0);

    while (!done_stream) {
        if (!yaml_parser_parse(&parser, &ev)) {
            error = parser_error(&c, &parser, data, len);
            goto done;
        }
        have_event = true;
        switch (ev.type) {
        case YAML_DOCUMENT_START_EVENT:
            if (++documents > 1) {
                error = fail_at(&c, ev.start_mark.line + 1, ev.start_mark.column + 1,
                                "expected a single document in the stream, but found another "
                                "document");
            }
            break;
        case YAML_SCALAR_EVENT:
            error = on_scalar(&c, &ev);
            break;
        case YAML_ALIAS_EVENT:
            error = on_alias(&c, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
            error = open_collection(&c, OSR__YAML_SEQUENCE, &ev);
            break;
        case YAML_MAPPING_START_EVENT:
            error = open_collection(&c, OSR__YAML_MAPPING, &ev);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (c.depth > 0)
                error = close_collection(&c);
            break;
        case YAML_STREAM_END_EVENT:
            done_stream = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
        have_event = false;
        if (error < 0)
            goto done;
    }
    *out = c.doc;
    c.doc = NULL;
done:
    if (have_event)
        yaml_event_delete(&ev);
    if (parser_ready)
        yaml_parser_delete(&parser);
    while (c.depth > 0) {
        free(c.stack[c.depth - 1].merges);
        c.depth--;
    }
    for (size_t i = 0; i < c.nanchors; i++)
        free(c.anchors[i].name);
    free(c.anchors);
    osr__yaml_doc_free(c.doc);
    return error;
}

/* ---- building and merging -------------------------------------------------------------- */

int osr__yaml_new_scalar(
    osr__yaml_node **out, osr__yaml_doc *doc, const char *value, bool plain, const char *origin)
{
    osr__yaml_node *n = node_alloc(doc, OSR__YAML_SCALAR);

    if (n == NULL)
        return OSR_ENOMEM;
    n->value = osr__strdup(value ? value : "");
    if (n->value == NULL)
        return OSR_ENOMEM;
    n->len = strlen(n->value);
    n->plain = plain;
    n->weight = 1;
    if (origin != NULL && (n->origin = osr__strdup(origin)) == NULL)
        return OSR_ENOMEM;
    *out = n;
    return 0;
}

int osr__yaml_new_mapping(osr__yaml_node **out, osr__yaml_doc *doc, const char *origin)
{
    osr__yaml_node *n = node_alloc(doc, OSR__YAML_MAPPING);

    if (n == NULL)
        return OSR_ENOMEM;
    n->weight = 1;
    n->height = 1;
    if (origin != NULL && (n->origin = osr__strdup(origin)) == NULL)
        return OSR_ENOMEM;
    *out = n;
    return 0;
}

static int map_put(osr__yaml_node *map, osr__yaml_node *key, osr__yaml_node *value)
{
    for (size_t i = 0; i < map->npairs; i++) {
        if (key_equal(map->pairs[i].key, key)) {
            map->pairs[i].value = value;
            return 0;
        }
    }
    if (grow((void **)&map->pairs, &map->cap, map->npairs + 1, sizeof(*map->pairs)) < 0)
        return OSR_ENOMEM;
    map->pairs[map->npairs].key = key;
    map->pairs[map->npairs].value = value;
    map->npairs++;
    return 0;
}

int osr__yaml_map_set(osr__yaml_doc *doc,
                      osr__yaml_node *map,
                      const char *key,
                      osr__yaml_node *value)
{
    osr__yaml_node *k = NULL;
    int error;

    if ((error = osr__yaml_new_scalar(&k, doc, key, true, NULL)) < 0)
        return error;
    return map_put(map, k, value);
}

int osr__yaml_merge(osr__yaml_node **out,
                    osr__yaml_doc *arena,
                    const osr__yaml_node *base,
                    const osr__yaml_node *over)
{
    osr__yaml_node *m;
    int error;

    if (over == NULL || base == NULL || base->type != OSR__YAML_MAPPING ||
        over->type != OSR__YAML_MAPPING) {
        *out = (osr__yaml_node *)(over ? over : base);
        return 0;
    }
    m = node_alloc(arena, OSR__YAML_MAPPING);
    if (m == NULL)
        return OSR_ENOMEM;
    m->source = base->source;
    m->line = base->line;
    m->column = base->column;
    m->origin = NULL;
    for (size_t i = 0; i < base->npairs; i++) {
        osr__yaml_node *v = base->pairs[i].value;
        const osr__yaml_node *ov = NULL;
        for (size_t j = 0; j < over->npairs && ov == NULL; j++) {
            if (key_equal(over->pairs[j].key, base->pairs[i].key))
                ov = over->pairs[j].value;
        }
        if (ov != NULL && (error = osr__yaml_merge(&v, arena, v, ov)) < 0)
            return error;
        if ((error = map_put(m, base->pairs[i].key, v)) < 0)
            return error;
    }
    for (size_t j = 0; j < over->npairs; j++) {
        bool seen = false;
        for (size_t i = 0; i < base->npairs && !seen; i++)
            seen = key_equal(over->pairs[j].key, base->pairs[i].key);
        if (!seen && (error = map_put(m, over->pairs[j].key, over->pairs[j].value)) < 0)
            return error;
    }
    *out = m;
    return 0;
}

/* ---- openstacksdk's key spelling ------------------------------------------------------- */

static bool has_dash(const osr__yaml_node *k)
{
    return memchr(k->value, '-', k->len) != NULL;
}

/* Is there a key with a dash anywhere below n? Bounded by the node limit. */
static bool needs_norm(const osr__yaml_node *n)
{
    if (n == NULL)
        return false;
    for (size_t i = 0; n->type == OSR__YAML_MAPPING && i < n->npairs; i++) {
        if (has_dash(n->pairs[i].key) || needs_norm(n->pairs[i].value))
            return true;
    }
    for (size_t i = 0; n->type == OSR__YAML_SEQUENCE && i < n->nitems; i++) {
        if (needs_norm(n->items[i]))
            return true;
    }
    return false;
}

static osr__yaml_node *copy_shell(osr__yaml_doc *arena, const osr__yaml_node *n)
{
    osr__yaml_node *m = node_alloc(arena, n->type);

    if (m == NULL)
        return NULL;
    m->source = n->source;
    m->line = n->line;
    m->column = n->column;
    m->weight = n->weight;
    m->height = n->height;
    return m;
}

int osr__yaml_normalize_keys(osr__yaml_node **out,
                             osr__yaml_doc *arena,
                             const osr__yaml_node *n,
                             osr_error *err)
{
    osr__yaml_node *m, *v, *k;
    int error;

    if (!needs_norm(n)) {
        *out = (osr__yaml_node *)n;
        return 0;
    }
    if ((m = copy_shell(arena, n)) == NULL)
        return nomem(err);
    if (n->type == OSR__YAML_SEQUENCE) {
        for (size_t i = 0; i < n->nitems; i++) {
            if ((error = osr__yaml_normalize_keys(&v, arena, n->items[i], err)) < 0)
                return error;
            if (grow((void **)&m->items, &m->cap, m->nitems + 1, sizeof(*m->items)) < 0)
                return nomem(err);
            m->items[m->nitems++] = v;
        }
        *out = m;
        return 0;
    }
    for (size_t i = 0; i < n->npairs; i++) {
        const osr__yaml_node *key = n->pairs[i].key;
        if ((error = osr__yaml_normalize_keys(&v, arena, n->pairs[i].value, err)) < 0)
            return error;
        k = (osr__yaml_node *)key;
        if (has_dash(key)) {
            if ((k = copy_shell(arena, key)) == NULL || (k->value = malloc(key->len + 1)) == NULL)
                return nomem(err);
            for (size_t j = 0; j <= key->len; j++)
                k->value[j] = key->value[j] == '-' ? '_' : key->value[j];
            k->len = key->len;
            k->plain = key->plain;
        }
        /* Stricter than openstacksdk, where the later spelling silently wins. */
        for (size_t j = 0; j < m->npairs; j++) {
            if (key_equal(m->pairs[j].key, k)) {
                const osr__yaml_node *first = n->pairs[j].key;
                char qa[OSR__QUOTE_MAX], qb[OSR__QUOTE_MAX];
                return osr__error_set(err, OSR_ECONFIG,
                                      "%s:%zu:%zu: duplicate key '%s': '%s' (line %zu) is the "
                                      "same key, '-' reading as '_'; keep one",
                                      key->source, key->line, key->column,
                                      osr__quote(qa, sizeof(qa), key->value, 64),
                                      osr__quote(qb, sizeof(qb), first->value, 64), first->line);
            }
        }
        if (grow((void **)&m->pairs, &m->cap, m->npairs + 1, sizeof(*m->pairs)) < 0)
            return nomem(err);
        m->pairs[m->npairs].key = k;
        m->pairs[m->npairs].value = v;
        m->npairs++;
    }
    *out = m;
    return 0;
}

int osr__yaml_map_put(osr__yaml_node *map, osr__yaml_node *key, osr__yaml_node *value)
{
    return map_put(map, key, value);
}
