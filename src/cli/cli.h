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

/* getopt_long over argc/argv with the global options mixed in. Returns the
 * index of the first operand, -1 after printing help (exit 0), or -2 on a usage error. */
struct option;
int cli_parse(int argc,
              char **argv,
              const char *shortopts,
              const struct option *extra,
              const char *usage,
              int (*on_opt)(int opt, const char *arg));

/* Load the cloud chosen by --os-cloud / OS_CLOUD, or report and return an exit code. */
int cli_load_cloud(osr_cloud **out);
/* A session for the cloud with the CLI's log settings. */
int cli_open_session(osr_session **out, const osr_cloud *cloud);

/* Print a JSON value on stdout (pretty, one trailing newline) and release it. */
struct json_t;
int cli_print_json(struct json_t *value);

int cmd_cloud(int argc, char **argv);
int cmd_projects(int argc, char **argv);

#endif
