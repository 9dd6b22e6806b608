/* The one CLI grammar: every group dispatches its verbs from a table, and
 * every verb parses its own option table, then has its operands counted. */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

/* The cloud and session of the verb that runs, opened by cli_session. */
static osr_cloud *the_cloud;
static osr_session *the_session;

/* "GROUP" or "GROUP VERB": what a usage error points the user to. */
static char help_topic[64];

void cli_set_help_topic(const char *group, const char *verb)
{
    if (group == NULL)
        help_topic[0] = '\0';
    else
        snprintf(help_topic, sizeof(help_topic), "%s%s%s", group, verb ? " " : "",
                 verb ? verb : "");
}

const char *cli_help_topic(void)
{
    return help_topic;
}

/* "init or show", "create, list, show, delete or user-data". */
static void verb_names(char *out, size_t size, const struct cli_verb *verbs, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && len < size; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        int w = snprintf(out + len, size - len, "%s%s", sep, verbs[i].name);
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

int cli_run_verb(const struct cli_verb *v, int argc, char **argv)
{
    char *ops[CLI_MAX_OPERANDS + 1], **a = argv, q[OSR_QUOTE_BUF];
    int n = argc, found = 0, rc;

    /* Options may come before, between and after the operands, also under
     * POSIXLY_CORRECT: each round starts at the operand just found, which
     * getopt skips like a program name. */
    for (;;) {
        int f = cli_parse(n, a, v->shortopts, v->options, v->usage, v->on_opt);
        if (f == -1)
            return EXIT_OK;
        if (f < 0)
            return EXIT_USAGE;
        if (f >= n)
            break;
        if ((v->max_args >= 0 && found >= v->max_args) || found >= CLI_MAX_OPERANDS) {
            if (v->arity)
                return cli_usage_error(v->usage, "%s", v->arity);
            return cli_usage_error(v->usage, "unexpected argument '%s'",
                                   osr_quote(q, sizeof(q), a[f], 64));
        }
        ops[found++] = a[f];
        a += f;
        n -= f;
    }
    if (found < v->min_args) {
        if (v->arity)
            return cli_usage_error(v->usage, "%s", v->arity);
        return cli_usage_error(v->usage, "%s needs %s", help_topic,
                               v->min_args == 1 ? "an argument" : "more arguments");
    }
    ops[found] = NULL;
    rc = v->run(found, ops);
    cli_close_cloud(the_cloud, the_session);
    the_cloud = NULL;
    the_session = NULL;
    return rc;
}

int cli_dispatch(const char *group,
                 const char *usage,
                 const struct cli_verb *verbs,
                 size_t n,
                 int argc,
                 char **argv)
{
    const char *verb = argc >= 2 ? argv[1] : NULL;
    char names[256], q[OSR_QUOTE_BUF];

    cli_set_help_topic(group, NULL);
    if (verb == NULL) {
        verb_names(names, sizeof(names), verbs, n);
        return cli_usage_error(usage, "%s needs a command: %s", group, names);
    }
    if (strcmp(verb, "help") == 0 || strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
        if (argc > 2)
            return cli_usage_error(usage, "%s %s takes no arguments", group, verb);
        fputs(usage, stdout);
        return EXIT_OK;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(verb, verbs[i].name) == 0) {
            cli_set_help_topic(group, verbs[i].name);
            return cli_run_verb(&verbs[i], argc - 1, argv + 1);
        }
    }
    return cli_usage_error(usage, "unknown %s command '%s'", group,
                           osr_quote(q, sizeof(q), verb, 64));
}

int cli_open_cloud(osr_cloud **cloud, osr_session **session)
{
    int rc;

    *cloud = NULL;
    *session = NULL;
    if ((rc = cli_load_cloud(cloud)) != 0)
        return rc;
    if ((rc = cli_open_session(session, *cloud)) != 0) {
        osr_cloud_free(*cloud);
        *cloud = NULL;
        return rc;
    }
    return 0;
}

void cli_close_cloud(osr_cloud *cloud, osr_session *session)
{
    osr_session_free(session);
    osr_cloud_free(cloud);
}

int cli_session(osr_session **out)
{
    int rc;

    if (the_session == NULL && (rc = cli_open_cloud(&the_cloud, &the_session)) != 0)
        return rc;
    *out = the_session;
    return 0;
}
