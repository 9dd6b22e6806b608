/* osrunner projects [--all] */
#include "cli.h"

#include <getopt.h>
#include <jansson.h>
#include <string.h>

static const char projects_usage[] =
    "Usage: osrunner [--os-cloud NAME] projects [--all] [--json]\n"
    "\n"
    "List the projects the user can see (Keystone GET /v3/auth/projects).\n"
    "\n"
    "  -a, --all   every project in the cloud (GET /v3/projects; needs admin)\n"
    "  --json      a JSON array of {id, name, domain_id, enabled, description}\n";

static bool arg_all;

static int projects_opt(int opt, const char *arg)
{
    (void)arg;
    if (opt == 'a') {
        arg_all = true;
        return 0;
    }
    return -1;
}

static const struct cli_column columns[] = {
    { .key = "id", .header = "ID" },
    { .key = "name", .header = "NAME" },
    { .key = "enabled", .header = "ENABLED" },
    { .key = NULL },
};

static int projects_list(int argc, char **argv)
{
    osr_session *session = NULL;
    osr_project_list *list = NULL;
    struct cli_table *t = NULL;
    int rc, error;
    size_t n;

    (void)argc;
    (void)argv;
    if ((rc = cli_session(&session)) != 0)
        return rc;
    error = osr_project_list_get(&list, session, arg_all ? OSR_PROJECTS_ALL : 0);
    if (error < 0) {
        rc = cli_fail(error, "%s", osr_session_last_error(session)->message);
        goto done;
    }
    n = osr_project_list_count(list);
    if ((rc = cli_table_new(&t, columns)) != 0)
        goto done;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const osr_project *p = osr_project_list_at(list, i);
        rc = cli_table_add(t, json_pack("{s:s,s:s,s:s,s:b,s:s}", "id", osr_project_id(p), "name",
                                        osr_project_name(p), "domain_id", osr_project_domain_id(p),
                                        "enabled", osr_project_enabled(p), "description",
                                        osr_project_description(p)));
    }
done:
    rc = cli_table_done(t, rc);
    osr_project_list_free(list);
    return rc;
}

static const struct option projects_options[] = { { "all", no_argument, NULL, 'a' },
                                                  { NULL, 0, NULL, 0 } };

/* A group of no verbs: the same grammar for its options and operands. */
int cmd_projects(int argc, char **argv)
{
    static const struct cli_verb verb = { "projects",
                                          0,
                                          0,
                                          projects_list,
                                          projects_usage,
                                          "a",
                                          projects_options,
                                          projects_opt,
                                          "projects takes no arguments" };
    cli_set_help_topic("projects", NULL);
    return cli_run_verb(&verb, argc, argv);
}
