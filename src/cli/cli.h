/* The osrunner CLI: shared state and helpers of the verb files. */
#ifndef OSR_CLI_H
#define OSR_CLI_H

#include <osrunner/osrunner.h>
#include <stdbool.h>
#include <stdio.h>

/* Documented exit codes (osrunner(1), EXIT STATUS). */
enum {
    EXIT_OK = 0,
    EXIT_FAILURE_OTHER = 1,
    EXIT_USAGE = 2,
    EXIT_CONFIG = 3,
    EXIT_AUTH = 4,
    EXIT_NOTFOUND = 5,
    EXIT_NETWORK = 6,
    EXIT_SERVER = 7,
    EXIT_REJECTED = 8,
    EXIT_LAUNCH = 9,
    EXIT_INTEGRITY = 10,
    EXIT_EXISTS = 11,
    EXIT_PARTIAL = 12,      /* a pool pass could not read a source: nothing was deleted */
    EXIT_INTERRUPTED = 130, /* SIGINT; SIGTERM is 143 (the CLI knows which) */
};

/* Options that every command accepts, before or after its name. */
struct cli_global {
    const char *os_cloud;
    int verbose;
    bool json;
    bool no_cache;
};

extern struct cli_global cli;

/* A command: its name, one-line summary, usage text and entry point. */
struct cli_command {
    const char *name;
    const char *summary;
    const char *usage;
    int (*run)(int argc, char **argv);
};

/* Print "osrunner: message" on stderr and return the exit code for code. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_exit_code(int code);
/* 0 when error is not negative, else cli_fail with err's message. */
int cli_check(int error, const osr_error *err);

/* getopt_long over argc/argv with the global options mixed in. Returns the
 * index of the first operand, -1 after printing help (exit 0), or -2 on a usage error. */
struct option;
int cli_parse(int argc,
              char **argv,
              const char *shortopts,
              const struct option *extra,
              const char *usage,
              int (*on_opt)(int opt, const char *arg));

/* The library's log hook for the CLI: "osrunner: LEVEL: message" on stderr,
 * at the level -v/-vv choose (warnings otherwise). */
void cli_log_to_stderr(osr_log_level level, const char *msg, void *payload);
osr_log_level cli_log_level(void);

/* Load the cloud chosen by --os-cloud / OS_CLOUD, or report and return an exit code. */
int cli_load_cloud(osr_cloud **out);
/* A session for the cloud with the CLI's log settings. */
int cli_open_session(osr_session **out, const osr_cloud *cloud);

/* Both: the cloud and a session for it (on failure, neither, reported). */
int cli_open_cloud(osr_cloud **cloud, osr_session **session);
void cli_close_cloud(osr_cloud *cloud, osr_session *session);
/* The session of the running verb: opened on the first call (the cloud loaded
 * as cli_load_cloud does), freed by the dispatcher when the verb returns. Or
 * report and return an exit code. (verbs.c) */
int cli_session(osr_session **out);

/* A verb of a group ("image list"): its operand counts (max_args -1: no
 * limit), its entry point, which gets the operands only (argv[argc] is NULL),
 * its usage text and its own options besides the global ones. arity, when
 * set, is the message for a wrong number of operands. (verbs.c) */
#define CLI_MAX_OPERANDS 255
struct cli_verb {
    const char *name;
    int min_args, max_args;
    int (*run)(int argc, char **argv);
    const char *usage;
    const char *shortopts;
    const struct option *options;
    int (*on_opt)(int opt, const char *arg);
    const char *arity;
};
/* argv[0] is the group name, argv[1] the verb. No verb, an unknown verb, too
 * many or too few operands and an option that is not the verb's are usage
 * errors (exit 2, one line and where to look); help, --help and -h print the
 * group's usage (exit 0). */
int cli_dispatch(const char *group,
                 const char *usage,
                 const struct cli_verb *verbs,
                 size_t n,
                 int argc,
                 char **argv);
/* Parse one verb's options (argv[0] is the verb), count its operands, run it. */
int cli_run_verb(const struct cli_verb *v, int argc, char **argv);
/* What 'see osrunner TOPIC --help' names after a usage error. */
void cli_set_help_topic(const char *group, const char *verb);
const char *cli_help_topic(void);

/* Print a JSON value on stdout (pretty, one trailing newline) and release it. */
struct json_t;
int cli_print_json(struct json_t *value);

/* The output of every list and show command (output.c). A list is a table:
 * rows are JSON objects, printed as a JSON array with --json (their types
 * kept), else as columns two spaces apart, as wide as their widest cell, under
 * a header line: the same on a terminal and in a pipe, one line per row, no
 * tabs. A cell is row[key] (or row[a][b] for "a.b"): strings as they are,
 * numbers in decimal, booleans as yes/no (or the column's words), null as
 * none (default "-"), arrays joined by commas; format, when set, writes it.
 * A json_only column is not printed as text; a secret one (a string) is
 * wiped in every row when the table is freed. */
struct cli_column {
    const char *key, *header;
    bool right, json_only, secret;
    const char *yes, *no, *none;
    void (*format)(char *buf, size_t size, struct json_t *value);
};
struct cli_table;
/* cols ends with a column whose key is NULL. */
int cli_table_new(struct cli_table **out, const struct cli_column *cols);
/* Add a row (taken, also on failure). */
int cli_table_add(struct cli_table *t, struct json_t *row);
int cli_table_print(struct cli_table *t);
void cli_table_free(struct cli_table *t);
/* The end of a list command: print t if rc is 0, free it (NULL is fine),
 * return the exit code. */
int cli_table_done(struct cli_table *t, int rc);
/* A show command's one object: JSON with --json, else "key: value" lines
 * (nested keys dotted, arrays joined by commas). Takes the object. */
int cli_print_record(struct json_t *object);

/* GitHub options, shared by 'github' and 'instance create' (cmd_github.c).
 * Put CLI_GITHUB_OPTIONS in a command's struct option table and hand option
 * values in [CLI_OPT_GITHUB_FIRST, CLI_OPT_GITHUB_LAST] to cli_github_opt
 * (0: taken, -1: bad value, reported). */
enum {
    CLI_OPT_GITHUB_FIRST = 0x300,
    CLI_OPT_GITHUB_PATH = CLI_OPT_GITHUB_FIRST,
    CLI_OPT_GITHUB_URL,
    CLI_OPT_GITHUB_TOKEN_FILE,
    CLI_OPT_GITHUB_TOKEN_ENV,
    CLI_OPT_GITHUB_APP_ID,
    CLI_OPT_GITHUB_INSTALLATION_ID,
    CLI_OPT_GITHUB_APP_KEY,
    CLI_OPT_GITHUB_RUNNER_GROUP,
    CLI_OPT_GITHUB_RATE_WAIT,
    CLI_OPT_GITHUB_PER_PAGE,
    CLI_OPT_GITHUB_LAST = CLI_OPT_GITHUB_PER_PAGE,
};
#define CLI_GITHUB_OPTIONS                                                                     \
    { "github-path", required_argument, NULL, CLI_OPT_GITHUB_PATH },                           \
        { "github-url", required_argument, NULL, CLI_OPT_GITHUB_URL },                         \
        { "github-token-file", required_argument, NULL, CLI_OPT_GITHUB_TOKEN_FILE },           \
        { "github-token-env", required_argument, NULL, CLI_OPT_GITHUB_TOKEN_ENV },             \
        { "github-app-id", required_argument, NULL, CLI_OPT_GITHUB_APP_ID },                   \
        { "github-installation-id", required_argument, NULL, CLI_OPT_GITHUB_INSTALLATION_ID }, \
        { "github-app-key", required_argument, NULL, CLI_OPT_GITHUB_APP_KEY },                 \
        { "runner-group", required_argument, NULL, CLI_OPT_GITHUB_RUNNER_GROUP },              \
        { "rate-limit-wait", required_argument, NULL, CLI_OPT_GITHUB_RATE_WAIT },              \
    {                                                                                          \
        "per-page", required_argument, NULL, CLI_OPT_GITHUB_PER_PAGE                           \
    }
#define CLI_GITHUB_OPTIONS_HELP                                                               \
    "  --github-path OWNER/REPO|ORG  the repository or organisation (env OSR_GITHUB_PATH)\n"  \
    "  --github-url URL              API base URL (env OSR_GITHUB_URL; default\n"             \
    "                                https://api.github.com; GHES: https://HOST/api/v3)\n"    \
    "  --github-token-file FILE      the token, from a file (env OSR_GITHUB_TOKEN_FILE)\n"    \
    "  --github-token-env NAME       the token, from this variable (default: GITHUB_TOKEN)\n" \
    "  --github-app-id ID            a GitHub App instead (env OSR_GITHUB_APP_ID), with\n"    \
    "  --github-installation-id ID   its installation (env OSR_GITHUB_INSTALLATION_ID)\n"     \
    "  --github-app-key FILE         and its private key, PEM (env OSR_GITHUB_APP_KEY)\n"     \
    "  --rate-limit-wait SECONDS     longest wait for a rate limit to reset (default 60)\n"   \
    "  --per-page N                  page size of list calls, 1..100 (default 100)\n"
int cli_github_opt(int opt, const char *arg);
/* A GitHub client from those options and the environment, with the CLI's log
 * settings; or report and return an exit code. */
int cli_open_github(osr_github **out);
/* --github-path (or OSR_GITHUB_PATH), and --runner-group (or
 * OSR_GITHUB_RUNNER_GROUP); NULL when not given. */
const char *cli_github_path(void);
const char *cli_github_runner_group(void);
/* --github-url (or OSR_GITHUB_URL): the API base URL; NULL when not given. */
const char *cli_github_api_url(void);

/* A secret from FILE or stdin ("-"), at most max bytes, trailing whitespace
 * removed: a regular file only, no NUL byte, a warning when group or others
 * may read it. *out is freed with free() after wiping. Or report and return
 * an exit code. (cmd_github.c) */
int cli_read_secret(char **out, const char *path, size_t max);

int cmd_cloud(int argc, char **argv);
int cmd_projects(int argc, char **argv);
int cmd_github(int argc, char **argv);
int cmd_instance(int argc, char **argv);
int cmd_image(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_pool(int argc, char **argv);

#endif
