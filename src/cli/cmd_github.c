/* osrunner github runner-apps | token | jitconfig | runners | runner | delete-runner | url */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char github_usage[] =
    "Usage: osrunner github COMMAND [OPTIONS]\n"
    "\n"
    "Talk to GitHub's REST API about self-hosted runners.\n"
    "\n"
    "Commands:\n"
    "  runner-apps [--os OS] [--arch ARCH]   the runner downloads GitHub offers\n"
    "  token registration|remove (--output FILE | --reveal)\n"
    "                                        a token for config.sh\n"
    "  jitconfig --name NAME [--labels a,b] [--runner-group G] [--work-folder DIR]\n"
    "            (--output FILE | --reveal)  register a just-in-time runner\n"
    "  runners [--name NAME]                 list the runners\n"
    "  runner ID                             show one runner\n"
    "  delete-runner ID                      unregister a runner\n"
    "  url                                   the URL runners register with (config.sh --url)\n"
    "\n"
    "GitHub options (every command):\n" CLI_GITHUB_OPTIONS_HELP "\n"
    "Tokens and JIT configs are secrets: they are printed only with --reveal,\n"
    "otherwise written to --output FILE with mode 0600. 'osrunner github COMMAND\n"
    "--help' says more. Exit status as for osrunner(1); a rate limit that outlasts\n"
    "--rate-limit-wait exits 8.\n";

static const char apps_usage[] =
    "Usage: osrunner github runner-apps [--os OS] [--arch ARCH] [--json] [--reveal]\n"
    "\n"
    "List the runner applications GitHub offers (GET .../actions/runners/downloads):\n"
    "the latest runner release, one per OS and architecture.\n"
    "\n"
    "  --os OS       only this OS (linux, osx, win)\n"
    "  --arch ARCH   only this architecture (x64, arm64, arm)\n"
    "  --json        a JSON array of {os, architecture, version, filename, download_url,\n"
    "                sha256_checksum, temp_download_token}; the token is \"****\"\n"
    "  --reveal      show temp_download_token in --json output\n"
    "\n"
    "GitHub options:\n" CLI_GITHUB_OPTIONS_HELP;

static const char token_usage[] =
    "Usage: osrunner github token registration|remove (--output FILE | --reveal) [--json]\n"
    "\n"
    "Create a registration token (config.sh --token) or a remove token (config.sh\n"
    "remove --token). It is valid for an hour.\n"
    "\n"
    "  -o, --output FILE   write the token to FILE (mode 0600, atomically); checked\n"
    "                      before GitHub is asked\n"
    "  --reveal            print the token on standard output\n"
    "  --json              {\"kind\", \"expires_at\", \"output\"} (and \"token\" with --reveal)\n"
    "\n"
    "GitHub options:\n" CLI_GITHUB_OPTIONS_HELP;

static const char jit_usage[] =
    "Usage: osrunner github jitconfig --name NAME [--labels a,b] [--runner-group G]\n"
    "                                 [--work-folder DIR] (--output FILE | --reveal) [--json]\n"
    "\n"
    "Register a just-in-time runner and get its configuration for\n"
    "'run.sh --jitconfig' (no config.sh). A name that is taken is refused (exit 8).\n"
    "--output FILE is checked before the runner is registered; if the config cannot\n"
    "be written after all, the runner is deleted again (exit 9 if that fails too).\n"
    "\n"
    "  --name NAME           the runner's name: 1-64 of A-Z a-z 0-9 - _ . (as for\n"
    "                        instance create)\n"
    "  --labels a,b          its labels (default: self-hosted)\n"
    "  --runner-group G      runner group ID or name (organisations; default: Default)\n"
    "                        (env OSR_GITHUB_RUNNER_GROUP)\n"
    "  --work-folder DIR     work folder (default: _work)\n"
    "  -o, --output FILE     write the encoded JIT config to FILE (mode 0600)\n"
    "  --reveal              print the encoded JIT config on standard output\n"
    "  --json                {\"runner_id\", \"name\", \"output\"} (and \"encoded_jit_config\"\n"
    "                        with --reveal)\n"
    "\n"
    "GitHub options:\n" CLI_GITHUB_OPTIONS_HELP;

static const char runners_usage[] =
    "Usage: osrunner github runners [--name NAME] [--json]\n"
    "\n"
    "List the self-hosted runners of the repository or organisation, every page.\n"
    "\n"
    "  --name NAME   only the runner of this name\n"
    "  --json        a JSON array of {id, name, os, status, busy, ephemeral,\n"
    "                runner_group_id, version, labels}\n"
    "\n"
    "GitHub options:\n" CLI_GITHUB_OPTIONS_HELP;

static const char runner_usage[] = "Usage: osrunner github runner ID [--json]\n"
                                   "\n"
                                   "Show one runner (exit 5 when there is none).\n"
                                   "\n"
                                   "GitHub options:\n" CLI_GITHUB_OPTIONS_HELP;

static const char delete_usage[] =
    "Usage: osrunner github delete-runner ID [--json]\n"
    "\n"
    "Unregister a runner. Exit 5: no such runner (HTTP 404); exit 8: the runner is\n"
    "busy running a job (HTTP 422).\n"
    "\n"
    "GitHub options:\n" CLI_GITHUB_OPTIONS_HELP;

static const char url_usage[] = "Usage: osrunner github url [--json]\n"
                                "\n"
                                "Print the URL runners register with (config.sh --url):\n"
                                "https://github.com/OWNER/REPO, or the same on a GitHub\n"
                                "Enterprise Server.\n"
                                "\n"
                                "GitHub options:\n" CLI_GITHUB_OPTIONS_HELP;

/* The GitHub options, shared with other commands through cli.h. */
static struct {
    const char *path, *url, *token_file, *token_env, *app_id, *installation_id, *app_key;
    const char *runner_group;
    int rate_limit_wait; /* -1: default */
    int per_page;
} gh_args = { NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, -1, 0 };

/* This command's own options. */
enum {
    OPT_OS = 0x200,
    OPT_ARCH,
    OPT_REVEAL,
    OPT_NAME,
    OPT_LABELS,
    OPT_WORK_FOLDER,
    OPT_OUTPUT = 'o',
};

static struct {
    const char *os, *arch, *output, *name, *labels, *work_folder;
    bool reveal;
} args;

static bool parse_int(int *out, const char *s, int lo, int hi)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

int cli_github_opt(int opt, const char *arg)
{
    switch (opt) {
    case CLI_OPT_GITHUB_PATH:
        gh_args.path = arg;
        return 0;
    case CLI_OPT_GITHUB_URL:
        gh_args.url = arg;
        return 0;
    case CLI_OPT_GITHUB_TOKEN_FILE:
        gh_args.token_file = arg;
        return 0;
    case CLI_OPT_GITHUB_TOKEN_ENV:
        gh_args.token_env = arg;
        return 0;
    case CLI_OPT_GITHUB_APP_ID:
        gh_args.app_id = arg;
        return 0;
    case CLI_OPT_GITHUB_INSTALLATION_ID:
        gh_args.installation_id = arg;
        return 0;
    case CLI_OPT_GITHUB_APP_KEY:
        gh_args.app_key = arg;
        return 0;
    case CLI_OPT_GITHUB_RUNNER_GROUP:
        gh_args.runner_group = arg;
        return 0;
    case CLI_OPT_GITHUB_RATE_WAIT:
        if (!parse_int(&gh_args.rate_limit_wait, arg, 0, 3600)) {
            cli_usage_error(NULL, "--rate-limit-wait takes seconds, 0..3600");
            return -1;
        }
        return 0;
    case CLI_OPT_GITHUB_PER_PAGE:
        if (!parse_int(&gh_args.per_page, arg, 1, 100)) {
            cli_usage_error(NULL, "--per-page takes 1..100");
            return -1;
        }
        return 0;
    default:
        return 1;
    }
}

static const char *env_or(const char *value, const char *name)
{
    const char *v;
    if (value)
        return value;
    v = getenv(name);
    return v && *v ? v : NULL;
}

const char *cli_github_path(void)
{
    return env_or(gh_args.path, "OSR_GITHUB_PATH");
}

const char *cli_github_api_url(void)
{
    return env_or(gh_args.url, "OSR_GITHUB_URL");
}

const char *cli_github_runner_group(void)
{
    return env_or(gh_args.runner_group, "OSR_GITHUB_RUNNER_GROUP");
}

int cli_open_github(osr_github **out)
{
    osr_github_options opts = OSR_GITHUB_OPTIONS_INIT;
    osr_error err;

    osr_error_clear(&err);
    opts.api_url = env_or(gh_args.url, "OSR_GITHUB_URL");
    opts.app_id = env_or(gh_args.app_id, "OSR_GITHUB_APP_ID");
    if (opts.app_id || gh_args.installation_id || gh_args.app_key) {
        opts.installation_id = env_or(gh_args.installation_id, "OSR_GITHUB_INSTALLATION_ID");
        opts.app_key_file = env_or(gh_args.app_key, "OSR_GITHUB_APP_KEY");
        /* Explicit token options next to an App are a conflict the library reports. */
        opts.token_file = gh_args.token_file;
        opts.token_env = gh_args.token_env;
    } else {
        opts.token_file = env_or(gh_args.token_file, "OSR_GITHUB_TOKEN_FILE");
        opts.token_env = gh_args.token_env;
        if (opts.token_file == NULL && opts.token_env == NULL && env_or(NULL, "GITHUB_TOKEN"))
            opts.token_env = "GITHUB_TOKEN";
    }
    /* As ssh does for keys: a secret others may read is worth a warning. */
    osr_file_check_private(opts.token_file, "GitHub token file", cli_log_to_stderr, NULL);
    osr_file_check_private(opts.app_key_file, "GitHub App key", cli_log_to_stderr, NULL);
    opts.rate_limit_wait_s = gh_args.rate_limit_wait;
    opts.per_page = gh_args.per_page;
    opts.log_cb = cli_log_to_stderr;
    opts.log_level = cli_log_level();
    return cli_check(osr_github_new(out, &opts, &err), &err);
}

int cli_read_secret(char **out, const char *path, size_t max)
{
    osr_error err;
    char *data = NULL, *copy;
    size_t n = 0;
    int error;

    osr_error_clear(&err);
    error = osr_file_read(&data, &n, path, max, OSR_FILE_STDIN_DASH | OSR_FILE_SECRET,
                          cli_log_to_stderr, NULL, &err);
    if (error < 0)
        return cli_fail(error, "%s", err.message);
    while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r' || data[n - 1] == ' ' ||
                     data[n - 1] == '\t'))
        data[--n] = '\0';
    if (n == 0) {
        osr_free(data);
        return cli_fail(OSR_EINVAL, "%s: empty", strcmp(path, "-") == 0 ? "<stdin>" : path);
    }
    copy = strdup(data);
    explicit_bzero(data, n);
    osr_free(data);
    if (copy == NULL)
        return cli_fail(OSR_ENOMEM, "out of memory");
    *out = copy;
    return 0;
}

/* ------------------------------------------------------------------ helpers */

static int own_opt(int opt, const char *arg)
{
    switch (opt) {
    case OPT_OS:
        args.os = arg;
        return 0;
    case OPT_ARCH:
        args.arch = arg;
        return 0;
    case OPT_REVEAL:
        args.reveal = true;
        return 0;
    case OPT_NAME:
        args.name = arg;
        return 0;
    case OPT_LABELS:
        args.labels = arg;
        return 0;
    case OPT_WORK_FOLDER:
        args.work_folder = arg;
        return 0;
    case OPT_OUTPUT:
        args.output = arg;
        return 0;
    default:
        return cli_github_opt(opt, arg) == 0 ? 0 : -1;
    }
}

/* Each verb's own options (the GitHub ones are every verb's). */
#define OPT_ENTRY(name, has, val) \
    {                             \
        name, has, NULL, val      \
    }
static const struct option apps_options[] = {
    OPT_ENTRY("os", required_argument, OPT_OS),
    OPT_ENTRY("arch", required_argument, OPT_ARCH),
    OPT_ENTRY("reveal", no_argument, OPT_REVEAL),
    CLI_GITHUB_OPTIONS,
    { NULL, 0, NULL, 0 },
};
static const struct option token_options[] = {
    OPT_ENTRY("reveal", no_argument, OPT_REVEAL),
    OPT_ENTRY("output", required_argument, OPT_OUTPUT),
    CLI_GITHUB_OPTIONS,
    { NULL, 0, NULL, 0 },
};
static const struct option jit_options[] = {
    OPT_ENTRY("reveal", no_argument, OPT_REVEAL),
    OPT_ENTRY("name", required_argument, OPT_NAME),
    OPT_ENTRY("labels", required_argument, OPT_LABELS),
    OPT_ENTRY("work-folder", required_argument, OPT_WORK_FOLDER),
    OPT_ENTRY("output", required_argument, OPT_OUTPUT),
    CLI_GITHUB_OPTIONS,
    { NULL, 0, NULL, 0 },
};
static const struct option runners_options[] = {
    OPT_ENTRY("name", required_argument, OPT_NAME),
    CLI_GITHUB_OPTIONS,
    { NULL, 0, NULL, 0 },
};
static const struct option github_options[] = {
    CLI_GITHUB_OPTIONS,
    { NULL, 0, NULL, 0 },
};

/* The path, checked; or print why not and return an exit code. */
static int need_path(const char **path, const char *usage)
{
    osr_error err;
    const char *p = cli_github_path();

    if (p == NULL)
        return cli_usage_error(usage, "give --github-path OWNER/REPO or ORG (or OSR_GITHUB_PATH)");
    osr_error_clear(&err);
    if (osr_github_path_check(NULL, p, &err) < 0)
        return cli_usage_error(usage, "%s", err.message);
    *path = p;
    return 0;
}

static void iso_time(char out[32], long long t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "%lld", t);
}

static int gh_fail(osr_github *gh, int error)
{
    return cli_fail(error, "%s", osr_github_last_error(gh)->message);
}

static bool parse_id(long long *id, const char *s)
{
    char *end;
    errno = 0;
    *id = strtoll(s, &end, 10);
    return errno == 0 && end != s && *end == '\0' && *id > 0;
}

/* -------------------------------------------------------------- commands */

static const struct cli_column app_columns[] = {
    { .key = "os", .header = "OS" },
    { .key = "architecture", .header = "ARCH" },
    { .key = "version", .header = "VERSION" },
    { .key = "filename", .header = "FILENAME" },
    { .key = "sha256_checksum", .header = "SHA256" },
    { .key = "temp_download_token", .json_only = true, .secret = true },
    { .key = NULL },
};

static int github_apps(int argc, char **argv)
{
    osr_github *gh = NULL;
    osr_runner_app_list *apps = NULL;
    struct cli_table *t = NULL;
    const char *path = NULL; /* set by the helper that opens the client */
    int rc, error;
    size_t n;

    (void)argc;
    (void)argv;
    if ((rc = need_path(&path, apps_usage)) != 0)
        return rc;
    if ((rc = cli_open_github(&gh)) != 0)
        return rc;
    if ((error = osr_github_runner_apps(&apps, gh, path)) < 0) {
        rc = gh_fail(gh, error);
        goto done;
    }
    n = osr_runner_app_list_count(apps);
    if ((rc = cli_table_new(&t, app_columns)) != 0)
        goto done;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const osr_runner_app *a = osr_runner_app_list_at(apps, i);
        const char *tok = osr_runner_app_temp_download_token(a);
        if ((args.os && strcmp(args.os, osr_runner_app_os(a)) != 0) ||
            (args.arch && strcmp(args.arch, osr_runner_app_architecture(a)) != 0))
            continue;
        rc = cli_table_add(t, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "os", osr_runner_app_os(a),
                                        "architecture", osr_runner_app_architecture(a), "version",
                                        osr_runner_app_version(a), "filename",
                                        osr_runner_app_filename(a), "download_url",
                                        osr_runner_app_download_url(a), "sha256_checksum",
                                        osr_runner_app_sha256(a), "temp_download_token",
                                        (*tok && !args.reveal) ? "****" : tok));
    }
done:
    rc = cli_table_done(t, rc);
    osr_runner_app_list_free(apps);
    osr_github_free(gh);
    return rc;
}

/* --output: checked and its temporary created before anything is asked of
 * GitHub, so that a refused path costs nothing there. NULL without --output. */
static int open_output(osr_file_writer **out, const char *what)
{
    osr_error err;

    *out = NULL;
    if (args.output == NULL)
        return 0;
    osr_error_clear(&err);
    if (osr_file_writer_open(out, args.output, 0600, &err) < 0)
        return cli_fail(err.code, "%s: %s", what, err.message);
    return 0;
}

/* Deliver a secret to --output (0600, atomically): the writer opened above. */
static int deliver_secret(osr_file_writer *w, const char *secret, const char *what)
{
    osr_error err;
    size_t n = strlen(secret);
    char *line;
    int error;

    if (w == NULL)
        return 0;
    osr_error_clear(&err);
    if ((line = malloc(n + 2)) == NULL)
        return cli_fail(OSR_ENOMEM, "out of memory");
    memcpy(line, secret, n);
    line[n] = '\n';
    line[n + 1] = '\0';
    error = osr_file_writer_commit(w, line, n + 1, &err);
    explicit_bzero(line, n + 1);
    free(line);
    if (error < 0)
        return cli_fail(err.code, "%s: %s", what, err.message);
    return 0;
}

static int github_token(int argc, char **argv)
{
    osr_github *gh = NULL;
    osr_file_writer *w = NULL;
    char *token = NULL;
    long long expires = 0;
    const char *path = NULL; /* set by the helper that opens the client */
    const char *kind = argv[0];
    char when[32];
    int rc, error;

    (void)argc;
    if (strcmp(kind, "registration") != 0 && strcmp(kind, "remove") != 0) {
        char q[OSR_QUOTE_BUF];
        return cli_usage_error(token_usage, "token: registration or remove, not '%s'",
                               osr_quote(q, sizeof(q), kind, 64));
    }
    if (args.output == NULL && !args.reveal)
        return cli_usage_error(token_usage,
                               "the token is a secret: give --output FILE or --reveal");
    if ((rc = need_path(&path, token_usage)) != 0)
        return rc;
    if ((rc = open_output(&w, kind)) != 0)
        return rc;
    if ((rc = cli_open_github(&gh)) != 0)
        goto done;
    error = strcmp(kind, "registration") == 0
                ? osr_github_registration_token(&token, &expires, gh, path)
                : osr_github_remove_token(&token, &expires, gh, path);
    if (error < 0) {
        rc = gh_fail(gh, error);
        goto done;
    }
    if ((rc = deliver_secret(w, token, kind)) != 0)
        goto done;
    iso_time(when, expires);
    if (cli.json) {
        json_t *o = json_pack("{s:s,s:s}", "kind", kind, "expires_at", when);
        if (o && args.output)
            json_object_set_new(o, "output", json_string(args.output));
        if (o && args.reveal)
            json_object_set_new(o, "token", json_string(token));
        rc = cli_print_json(o);
    } else {
        if (args.reveal)
            printf("%s\n", token);
        if (args.output)
            fprintf(stderr, "osrunner: %s token written to %s (expires %s)\n", kind, args.output,
                    when);
        rc = EXIT_OK;
    }
done:
    osr_file_writer_free(w);
    osr_secret_free(token);
    osr_github_free(gh);
    return rc;
}

static int github_jit(int argc, char **argv)
{
    osr_github_jit_options jo = OSR_GITHUB_JIT_OPTIONS_INIT;
    osr_github *gh = NULL;
    osr_file_writer *w = NULL;
    const char **labels = NULL;
    char **split = NULL, *jit = NULL;
    long long id = 0;
    const char *path = NULL; /* set by the helper that opens the client */
    int rc, error;

    (void)argc;
    (void)argv;
    if (args.name == NULL)
        return cli_usage_error(jit_usage, "jitconfig needs --name");
    {
        /* The one name rule, as for instance create. */
        osr_error err;
        osr_error_clear(&err);
        if (osr_runner_name_check(args.name, &err) < 0)
            return cli_usage_error(jit_usage, "%s", err.message);
    }
    if (args.output == NULL && !args.reveal)
        return cli_usage_error(jit_usage,
                               "the JIT config is a secret: give --output FILE or --reveal");
    if ((rc = need_path(&path, jit_usage)) != 0)
        return rc;
    if (args.labels) {
        if (osr_runner_labels_split(&split, args.labels, NULL) < 0) {
            rc = cli_fail(OSR_ENOMEM, "out of memory");
            goto done;
        }
        labels = (const char **)split;
    }
    /* The output first: a refused path must not leave a runner at GitHub. */
    if ((rc = open_output(&w, "jitconfig")) != 0)
        goto done;
    if ((rc = cli_open_github(&gh)) != 0)
        goto done;
    jo.name = args.name;
    jo.labels = labels;
    jo.runner_group = cli_github_runner_group();
    jo.work_folder = args.work_folder;
    if ((error = osr_github_jitconfig(&jit, &id, gh, path, &jo)) < 0) {
        rc = gh_fail(gh, error);
        goto done;
    }
    if ((rc = deliver_secret(w, jit, "jitconfig")) != 0) {
        /* Registered but not delivered: unregister, or the name stays taken. */
        if (osr_github_runner_delete(gh, path, id) < 0)
            rc = cli_fail(OSR_ELEFT, "runner %lld (%s) is left registered at GitHub: %s", id,
                          args.name, osr_github_last_error(gh)->message);
        else
            fprintf(stderr, "osrunner: runner %lld (%s) unregistered again\n", id, args.name);
        goto done;
    }
    if (cli.json) {
        json_t *o = json_pack("{s:I,s:s}", "runner_id", (json_int_t)id, "name", args.name);
        if (o && args.output)
            json_object_set_new(o, "output", json_string(args.output));
        if (o && args.reveal)
            json_object_set_new(o, "encoded_jit_config", json_string(jit));
        rc = cli_print_json(o);
    } else {
        if (args.reveal)
            printf("%s\n", jit);
        fprintf(stderr, "osrunner: runner %lld (%s) registered%s%s\n", id, args.name,
                args.output ? "; JIT config written to " : "", args.output ? args.output : "");
        rc = EXIT_OK;
    }
done:
    osr_file_writer_free(w);
    osr_secret_free(jit);
    osr_free(split);
    osr_github_free(gh);
    return rc;
}

static json_t *runner_json(const osr_github_runner *r)
{
    json_t *labels = json_array();
    for (size_t j = 0; labels && j < osr_github_runner_label_count(r); j++)
        json_array_append_new(labels, json_string(osr_github_runner_label(r, j)));
    return json_pack("{s:I,s:s,s:s,s:s,s:b,s:b,s:I,s:s,s:o*}", "id",
                     (json_int_t)osr_github_runner_id(r), "name", osr_github_runner_name(r), "os",
                     osr_github_runner_os(r), "status", osr_github_runner_status(r), "busy",
                     osr_github_runner_busy(r), "ephemeral", osr_github_runner_ephemeral(r),
                     "runner_group_id", (json_int_t)osr_github_runner_group_id(r), "version",
                     osr_github_runner_version(r), "labels", labels);
}

static const struct cli_column runner_columns[] = {
    { .key = "id", .header = "ID" },         { .key = "name", .header = "NAME" },
    { .key = "status", .header = "STATUS" }, { .key = "busy", .header = "BUSY" },
    { .key = "labels", .header = "LABELS" }, { .key = NULL },
};

static int print_runners(const osr_github_runner_list *list, bool one)
{
    size_t n = osr_github_runner_list_count(list);
    struct cli_table *t = NULL;
    int rc;

    if (one)
        return cli_print_record(runner_json(osr_github_runner_list_at(list, 0)));
    if ((rc = cli_table_new(&t, runner_columns)) != 0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = cli_table_add(t, runner_json(osr_github_runner_list_at(list, i)));
    return cli_table_done(t, rc);
}

static int github_runners(int argc, char **argv)
{
    osr_github *gh = NULL;
    osr_github_runner_list *list = NULL;
    const char *path = NULL; /* set by the helper that opens the client */
    int rc, error;

    (void)argc;
    (void)argv;
    if ((rc = need_path(&path, runners_usage)) != 0)
        return rc;
    if ((rc = cli_open_github(&gh)) != 0)
        return rc;
    if ((error = osr_github_runners_list(&list, gh, path, args.name)) < 0)
        rc = gh_fail(gh, error);
    else
        rc = print_runners(list, false);
    osr_github_runner_list_free(list);
    osr_github_free(gh);
    return rc;
}

static int github_runner(int argc, char **argv, bool del)
{
    const char *usage = del ? delete_usage : runner_usage;
    osr_github *gh = NULL;
    osr_github_runner_list *list = NULL;
    const char *path = NULL; /* set by the helper that opens the client */
    const char *arg = argv[0];
    long long id;
    int rc, error;

    (void)argc;
    if (!parse_id(&id, arg)) {
        char q[OSR_QUOTE_BUF];
        return cli_usage_error(usage, "runner ID '%s': expected a positive number",
                               osr_quote(q, sizeof(q), arg, 64));
    }
    if ((rc = need_path(&path, usage)) != 0)
        return rc;
    if ((rc = cli_open_github(&gh)) != 0)
        return rc;
    if (del) {
        if ((error = osr_github_runner_delete(gh, path, id)) < 0) {
            rc = gh_fail(gh, error);
        } else if (cli.json) {
            rc = cli_print_json(json_pack("{s:I}", "deleted", (json_int_t)id));
        } else {
            printf("deleted runner %lld\n", id);
            rc = EXIT_OK;
        }
    } else if ((error = osr_github_runner_get(&list, gh, path, id)) < 0) {
        rc = gh_fail(gh, error);
    } else {
        rc = print_runners(list, true);
    }
    osr_github_runner_list_free(list);
    osr_github_free(gh);
    return rc;
}

static int github_url(int argc, char **argv)
{
    osr_github *gh = NULL;
    const char *path = NULL; /* set by the helper that opens the client */
    char *url = NULL;
    int rc, error;

    (void)argc;
    (void)argv;
    if ((rc = need_path(&path, url_usage)) != 0)
        return rc;
    if ((rc = cli_open_github(&gh)) != 0)
        return rc;
    if ((error = osr_github_runner_url(&url, gh, path)) < 0) {
        rc = gh_fail(gh, error);
    } else if (cli.json) {
        rc = cli_print_json(json_pack("{s:s,s:s}", "url", url, "api_url", osr_github_api_url(gh)));
    } else {
        printf("%s\n", url);
        rc = EXIT_OK;
    }
    osr_free(url);
    osr_github_free(gh);
    return rc;
}

static int github_show_runner(int argc, char **argv)
{
    return github_runner(argc, argv, false);
}

static int github_delete_runner(int argc, char **argv)
{
    return github_runner(argc, argv, true);
}

static const struct cli_verb verbs[] = {
    { "runner-apps", 0, 0, github_apps, apps_usage, NULL, apps_options, own_opt,
      "runner-apps takes no arguments" },
    { "token", 1, 1, github_token, token_usage, "o:", token_options, own_opt,
      "token takes 1 argument" },
    { "jitconfig", 0, 0, github_jit, jit_usage, "o:", jit_options, own_opt,
      "jitconfig takes no arguments" },
    { "runners", 0, 0, github_runners, runners_usage, NULL, runners_options, own_opt,
      "runners takes no arguments" },
    { "runner", 1, 1, github_show_runner, runner_usage, NULL, github_options, own_opt,
      "runner takes 1 argument" },
    { "delete-runner", 1, 1, github_delete_runner, delete_usage, NULL, github_options, own_opt,
      "delete-runner takes 1 argument" },
    { "url", 0, 0, github_url, url_usage, NULL, github_options, own_opt, "url takes no arguments" },
};

int cmd_github(int argc, char **argv)
{
    return cli_dispatch("github", github_usage, verbs, sizeof(verbs) / sizeof(verbs[0]), argc,
                        argv);
}
