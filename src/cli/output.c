/* The one table/JSON output of every list and show command. */
#include "cli.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct cli_table {
    const struct cli_column *cols;
    size_t ncols;
    json_t *rows; /* array of objects: the JSON output as it is */
};

int cli_table_new(struct cli_table **out, const struct cli_column *cols)
{
    struct cli_table *t = calloc(1, sizeof(*t));

    if (t == NULL || (t->rows = json_array()) == NULL) {
        free(t);
        return cli_fail(OSR_ENOMEM, "out of memory");
    }
    t->cols = cols;
    while (cols[t->ncols].key)
        t->ncols++;
    *out = t;
    return 0;
}

void cli_table_free(struct cli_table *t)
{
    size_t i;
    json_t *row;

    if (t == NULL)
        return;
    json_array_foreach(t->rows, i, row)
    {
        for (size_t c = 0; c < t->ncols; c++) {
            json_t *v = t->cols[c].secret ? json_object_get(row, t->cols[c].key) : NULL;
            if (json_is_string(v))
                explicit_bzero((char *)json_string_value(v), json_string_length(v));
        }
    }
    json_decref(t->rows);
    free(t);
}

int cli_table_add(struct cli_table *t, json_t *row)
{
    if (row == NULL || json_array_append_new(t->rows, row) < 0)
        return cli_fail(OSR_ENOMEM, "out of memory");
    return 0;
}

/* row[key], or for "a.b" row[a][b] when row has no key "a.b". */
static json_t *lookup(json_t *row, const char *key)
{
    json_t *v = json_object_get(row, key);
    const char *dot = strchr(key, '.');
    char head[128];

    if (v || dot == NULL || (size_t)(dot - key) >= sizeof(head))
        return v;
    snprintf(head, sizeof(head), "%.*s", (int)(dot - key), key);
    return lookup(json_object_get(row, head), dot + 1);
}

/* One cell as text: strings as they are, numbers in decimal, booleans and
 * null as the column says, arrays joined by commas. Control characters
 * (tabs, newlines, escapes) become '?': one row is one line. */
static char *cell_text(const struct cli_column *col, json_t *v)
{
    char *s = NULL;

    if (col->format) {
        char buf[64];
        col->format(buf, sizeof(buf), v);
        s = strdup(buf);
    } else if (json_is_string(v)) {
        s = strdup(json_string_value(v));
    } else if (json_is_integer(v)) {
        if (asprintf(&s, "%lld", (long long)json_integer_value(v)) < 0)
            s = NULL;
    } else if (json_is_real(v)) {
        if (asprintf(&s, "%g", json_real_value(v)) < 0)
            s = NULL;
    } else if (json_is_boolean(v)) {
        const char *b =
            json_is_true(v) ? (col->yes ? col->yes : "yes") : (col->no ? col->no : "no");
        s = strdup(b);
    } else if (json_is_array(v)) {
        size_t len = 1, at = 0, i;
        json_t *e;
        json_array_foreach(v, i, e) len +=
            (json_is_string(e) ? strlen(json_string_value(e)) : 0) + 1;
        if ((s = malloc(len)) != NULL) {
            json_array_foreach(v, i, e)
            {
                size_t l = json_is_string(e) ? strlen(json_string_value(e)) : 0;
                if (i)
                    s[at++] = ',';
                memcpy(s + at, l ? json_string_value(e) : "", l);
                at += l;
            }
            s[at] = '\0';
        }
    } else {
        s = strdup(col->none ? col->none : "-");
    }
    for (char *p = s; p && *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    }
    return s;
}

/* Columns as wide as their widest cell (the header included), two spaces
 * apart, the last one unpadded; right-aligned where the column says. The
 * same on a terminal and in a pipe: no tabs, nothing cut. */
static int print_text(const struct cli_table *t)
{
    size_t nrows = json_array_size(t->rows), ncells = nrows * t->ncols;
    char **cells = calloc(ncells + 1, sizeof(*cells));
    size_t *width = calloc(t->ncols + 1, sizeof(*width));
    int rc = EXIT_OK;

    if (cells == NULL || width == NULL) {
        rc = cli_fail(OSR_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t c = 0; c < t->ncols; c++)
        width[c] = t->cols[c].header ? strlen(t->cols[c].header) : 0;
    for (size_t r = 0; r < nrows; r++) {
        json_t *row = json_array_get(t->rows, r);
        for (size_t c = 0; c < t->ncols; c++) {
            if (t->cols[c].json_only) {
                cells[r * t->ncols + c] = NULL;
                continue;
            }
            char *s = cell_text(&t->cols[c], lookup(row, t->cols[c].key));
            if (s == NULL) {
                rc = cli_fail(OSR_ENOMEM, "out of memory");
                goto done;
            }
            cells[r * t->ncols + c] = s;
            if (strlen(s) > width[c])
                width[c] = strlen(s);
        }
    }
    for (size_t r = 0; r <= nrows; r++) {
        size_t lastc = t->ncols;
        while (lastc > 0 && t->cols[lastc - 1].json_only)
            lastc--;
        for (size_t c = 0; c < lastc; c++) {
            const char *s = r == 0 ? t->cols[c].header : cells[(r - 1) * t->ncols + c];
            bool last = c + 1 == lastc;
            if (t->cols[c].json_only)
                continue;
            if (t->cols[c].right)
                printf("%*s%s", (int)width[c], s, last ? "" : "  ");
            else if (last)
                fputs(s, stdout);
            else
                printf("%-*s  ", (int)width[c], s);
        }
        putchar('\n');
    }
done:
    for (size_t i = 0; cells && i < ncells; i++)
        free(cells[i]);
    free(cells);
    free(width);
    return rc;
}

int cli_table_done(struct cli_table *t, int rc)
{
    if (rc == EXIT_OK && t)
        rc = cli_table_print(t);
    cli_table_free(t);
    return rc;
}

int cli_table_print(struct cli_table *t)
{
    if (cli.json) {
        json_t *rows = json_incref(t->rows);
        return cli_print_json(rows);
    }
    return print_text(t);
}

/* Text of a scalar in a record: JSON's own spelling, strings bare. */
static void print_scalar(json_t *v)
{
    if (json_is_string(v)) {
        for (const char *p = json_string_value(v); *p; p++)
            putchar((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p);
    } else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        fputs(s ? s : "?", stdout);
        free(s);
    }
}

static void print_fields(const char *prefix, json_t *object)
{
    const char *k;
    json_t *v;

    json_object_foreach(object, k, v)
    {
        char key[256];
        snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "", k);
        if (json_is_object(v) && json_object_size(v) > 0) {
            print_fields(key, v);
            continue;
        }
        printf("%s: ", key);
        if (json_is_array(v)) {
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
            {
                if (i)
                    putchar(',');
                print_scalar(e);
            }
        } else {
            print_scalar(v);
        }
        putchar('\n');
    }
}

int cli_print_record(json_t *object)
{
    if (object == NULL)
        return cli_fail(OSR_ENOMEM, "out of memory");
    if (cli.json)
        return cli_print_json(object);
    print_fields("", object);
    json_decref(object);
    return EXIT_OK;
}
