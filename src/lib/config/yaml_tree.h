/* Private YAML 1.1 reader over libyaml: a small tree with positions. Not installed.
 *
 * The tree follows PyYAML's safe_load: aliases point at the anchored node (the
 * tree is a DAG, never a cycle), merge keys ("<<") are already folded in with
 * lower priority than explicit keys, and duplicate keys are rejected. Limits:
 * input size, nesting depth and the number of nodes counted with aliases
 * expanded, so a walk over the tree is bounded. */
#ifndef OSR_LIB_YAML_TREE_H
#define OSR_LIB_YAML_TREE_H

#include "util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OSR__YAML_MAX_INPUT (1024 * 1024)
#define OSR__YAML_MAX_DEPTH 64
#define OSR__YAML_MAX_NODES 100000

typedef enum {
    OSR__YAML_SCALAR = 1,
    OSR__YAML_SEQUENCE = 2,
    OSR__YAML_MAPPING = 3,
} osr__yaml_type;

/* What PyYAML's safe_load would make of a node. */
typedef enum {
    OSR__YAML_KIND_NULL = 1,
    OSR__YAML_KIND_BOOL,
    OSR__YAML_KIND_INT,
    OSR__YAML_KIND_FLOAT,
    OSR__YAML_KIND_STR,
    OSR__YAML_KIND_SEQ,
    OSR__YAML_KIND_MAP,
} osr__yaml_kind;

typedef struct osr__yaml_node osr__yaml_node;
typedef struct osr__yaml_doc osr__yaml_doc;

typedef struct osr__yaml_pair {
    osr__yaml_node *key; /* always a scalar */
    osr__yaml_node *value;
} osr__yaml_pair;

struct osr__yaml_node {
    osr__yaml_type type;
    size_t line;        /* 1-based; 0 for nodes built by hand */
    size_t column;      /* 1-based; 0 for nodes built by hand */
    const char *source; /* the document's name, borrowed from it */
    const char *origin; /* built nodes: what they stand for (e.g. "OS_AUTH_URL"); else NULL */
    bool plain;         /* scalar written without quotes (or a block scalar: false) */
    char *tag;          /* explicit tag ("tag:yaml.org,2002:str"), NULL if none */
    char *value;        /* scalar: NUL-terminated (may hold NULs before len) */
    size_t len;
    osr__yaml_node **items; /* sequence */
    size_t nitems;
    osr__yaml_pair *pairs; /* mapping, merge keys folded in */
    size_t npairs;
    /* private to yaml_tree.c */
    size_t cap;
    size_t weight; /* nodes below and including this one, aliases expanded */
    size_t height; /* nesting levels below and including this one */
    bool open;     /* still being composed (an alias to it would be a cycle) */
};

/* Parse one YAML document (JSON is YAML too). name appears in messages as
 * "NAME:LINE:COL: message". An empty stream gives a document whose root is
 * NULL. Returns 0, OSR_ECONFIG or OSR_ENOMEM. */
int osr__yaml_parse(
    osr__yaml_doc **out, const char *data, size_t len, const char *name, osr_error *err);

/* An empty document to build nodes in (see osr__yaml_new_*). */
int osr__yaml_doc_new(osr__yaml_doc **out, const char *name);

/* Free a document and every node it owns; scalar values are wiped. Accepts NULL. */
void osr__yaml_doc_free(osr__yaml_doc *doc);

const osr__yaml_node *osr__yaml_doc_root(const osr__yaml_doc *doc);
const char *osr__yaml_doc_name(const osr__yaml_doc *doc);
void osr__yaml_doc_set_root(osr__yaml_doc *doc, osr__yaml_node *root);

/* Build nodes owned by doc. origin is copied; value is copied. */
int osr__yaml_new_scalar(
    osr__yaml_node **out, osr__yaml_doc *doc, const char *value, bool plain, const char *origin);
int osr__yaml_new_mapping(osr__yaml_node **out, osr__yaml_doc *doc, const char *origin);
/* Set key (a string) to value in map, replacing an existing value. */
int osr__yaml_map_set(osr__yaml_doc *doc,
                      osr__yaml_node *map,
                      const char *key,
                      osr__yaml_node *value);
/* Set key (a scalar node, shared) to value in map, replacing an existing value. */
int osr__yaml_map_put(osr__yaml_node *map, osr__yaml_node *key, osr__yaml_node *value);

/* Deep merge: mappings merge recursively, anything else in over wins. New
 * mapping nodes go into arena; other nodes are shared, so the documents that
 * hold base and over must outlive the result. */
int osr__yaml_merge(osr__yaml_node **out,
                    osr__yaml_doc *arena,
                    const osr__yaml_node *base,
                    const osr__yaml_node *over);

/* openstacksdk's key spelling: '-' in every mapping key, at every level, reads
 * as '_' ("auth-url" is "auth_url"). Subtrees without a dash are shared; new
 * nodes go into arena. Two spellings of one key in a mapping are refused
 * (OSR_ECONFIG, naming both), as any duplicate key is. */
int osr__yaml_normalize_keys(osr__yaml_node **out,
                             osr__yaml_doc *arena,
                             const osr__yaml_node *node,
                             osr_error *err);

/* The value for a string key in a mapping, or NULL (also when map is not a mapping). */
const osr__yaml_node *osr__yaml_map_get(const osr__yaml_node *map, const char *key);

/* YAML 1.1 resolution as PyYAML's safe_load does it. */
osr__yaml_kind osr__yaml_kind_of(const osr__yaml_node *node);
const char *osr__yaml_kind_name(osr__yaml_kind kind);
bool osr__yaml_is_null(const osr__yaml_node *node);
/* 0 and *out when node is a YAML 1.1 boolean, else -1 (*out untouched). */
int osr__yaml_bool(bool *out, const osr__yaml_node *node);
/* 0 and *out when node is a YAML 1.1 int that fits int64_t, else -1. */
int osr__yaml_int(int64_t *out, const osr__yaml_node *node);
/* Resolution of a plain, untagged scalar text (for tests and callers with text). */
osr__yaml_kind osr__yaml_resolve_plain(const char *text, size_t len);

#endif
