/* osrunner: command line entry point, global options and the verb table. */
#include "cli.h"

#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct cli_global cli;

enum { OPT_OS_CLOUD = 0x100, OPT_JSON, OPT_NO_CACHE, OPT_VERSION, OPT_HELP = 'h' };

static const char main_usage[] =
    "Usage: osrunner [--os-cloud NAME] [-v] [--json] COMMAND [ARGS...]\n"
    "\n"
    "Run GitHub Actions runners as short-lived OpenStack VMs.\n"
    "\n"
    "Commands:\n"
    "  cloud init FILE|-   validate a clouds.yaml and install it (mode 0600)\n"
    "  cloud show          show the resolved cloud, secrets masked\n"
    "  projects            list the projects you can see (--all: every project)\n"
    "  github COMMAND      GitHub: runner-apps, token, jitconfig, runners, delete-runner\n"
    "  instance create     launch runner VMs (and list, show, delete, user-data)\n"
    "  image COMMAND       runner images: build, upload, list, show, delete\n"
    "  config check        validate the pool manager's osrunner.yaml\n"
    "\n"
    "Options (accepted before or after the command):\n"
    "  --os-cloud NAME     the cloud in clouds.yaml (default: OS_CLOUD, or the only one)\n"
    "  --json              machine-readable output on stdout\n"
    "  --no-token-cache    neither read nor write the token cache\n"
    "  -v, --verbose       trace HTTP requests on stderr (-vv: with bodies); secrets redacted\n"
    "  -h, --help          this help; 'osrunner COMMAND --help' for a command\n"
    "  --version           print the version\n"
    "\n"
    "Exit status: 0 ok, 1 other failure, 2 usage, 3 configuration, 4 authentication,\n"
    "5 not found, 6 network, 7 server error, 8 request rejected, 9 launch failed or\n"
    "something could not be cleaned up, 10 integrity (checksum or format), 11 exists,\n"
    "130/143 interrupted.\n"
    "See osrunner(1).\n";

static const struct option global_options[] = {
    { "os-cloud", required_argument, NULL, OPT_OS_CLOUD },
    { "json", no_argument, NULL, OPT_JSON },
    { "no-token-cache", no_argument, NULL, OPT_NO_CACHE },
    { "verbose", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, OPT_HELP },
    { "version", no_argument, NULL, OPT_VERSION },
};
#define N_GLOBAL (sizeof(global_options) / sizeof(global_options[0]))

int cli_exit_code(int code)
{
    switch (code) {
    case OSR_OK:
        return EXIT_OK;
    case OSR_ECONFIG:
    case OSR_EAMBIGUOUS:
        return EXIT_CONFIG;
    case OSR_ELAUNCH:
    case OSR_ELEFT:
        return EXIT_LAUNCH;
    case OSR_EINTEGRITY:
        return EXIT_INTEGRITY;
    case OSR_EEXISTS:
        return EXIT_EXISTS;
    case OSR_EINTERRUPTED:
        return EXIT_INTERRUPTED;
    case OSR_EAUTH:
    case OSR_EFORBIDDEN:
        return EXIT_AUTH;
    case OSR_ENOTFOUND:
        return EXIT_NOTFOUND;
    case OSR_ENET:
    case OSR_ETIMEOUT:
        return EXIT_NETWORK;
    case OSR_ESERVER:
    case OSR_EPROTO:
        return EXIT_SERVER;
    case OSR_EREQUEST:
    case OSR_ECONFLICT:
    case OSR_ERATELIMIT:
        return EXIT_REJECTED;
    case OSR_EINVAL:
        return EXIT_USAGE;
    default:
        return EXIT_FAILURE_OTHER;
    }
}

/* The one error line: "osrunner: message". */
static void report(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static void report(const char *fmt, va_list ap)
{
    fputs("osrunner: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int cli_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(fmt, ap);
    va_end(ap);
    return cli_exit_code(code);
}

int cli_check(int error, const osr_error *err)
{
    return error < 0 ? cli_fail(error, "%s", err->message) : 0;
}

int cli_usage_error(const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(fmt, ap);
    va_end(ap);
    /* Not the whole help (the user asked for none): where to find it. */
    (void)usage;
    fprintf(stderr, "see 'osrunner%s%s --help'\n", cli_help_topic()[0] ? " " : "",
            cli_help_topic());
    return EXIT_USAGE;
}

int cli_parse(int argc,
              char **argv,
              const char *shortopts,
              const struct option *extra,
              const char *usage,
              int (*on_opt)(int opt, const char *arg))
{
    struct option opts[64];
    char sopts[64], q[OSR_QUOTE_BUF];
    size_t n = 0;
    int c, li;

    for (size_t i = 0; i < N_GLOBAL; i++)
        opts[n++] = global_options[i];
    for (; extra && extra->name && n < 63; extra++)
        opts[n++] = *extra;
    memset(&opts[n], 0, sizeof(opts[n]));
    /* A leading '+' (the top level) stops at the command name; commands
     * themselves take options before and after their operands. */
    if (shortopts && shortopts[0] == '+')
        snprintf(sopts, sizeof(sopts), "+:vh%s", shortopts + 1);
    else
        snprintf(sopts, sizeof(sopts), ":vh%s", shortopts ? shortopts : "");
    optind = 0; /* 0, not 1: glibc then re-reads the ordering flag ("+") */
    opterr = 0;
    while ((li = -1, c = getopt_long(argc, argv, sopts, opts, &li)) != -1) {
        /* No abbreviations: "--os" is not "--os-cloud", and an option of
         * another command is never taken for a prefix of one of these. */
        if (li >= 0) {
            const char *tok = optarg && optind >= 2 && optarg == argv[optind - 1]
                                  ? argv[optind - 2]
                                  : argv[optind - 1];
            size_t len = strcspn(tok + 2, "=");
            if (strncmp(tok, "--", 2) != 0 || strlen(opts[li].name) != len ||
                strncmp(tok + 2, opts[li].name, len) != 0) {
                char name[80];
                snprintf(name, sizeof(name), "%.*s", (int)(len + 2 < 79 ? len + 2 : 79), tok);
                cli_usage_error(usage, "unknown option %s", osr_quote(q, sizeof(q), name, 64));
                return -2;
            }
        }
        switch (c) {
        case OPT_OS_CLOUD:
            cli.os_cloud = optarg;
            break;
        case OPT_JSON:
            cli.json = true;
            break;
        case OPT_NO_CACHE:
            cli.no_cache = true;
            break;
        case 'v':
            cli.verbose++;
            break;
        case OPT_HELP:
            fputs(usage, stdout);
            return -1;
        case OPT_VERSION:
            printf("osrunner %s\n", osr_version());
            return -1;
        case ':':
            cli_usage_error(usage, "option %s needs a value",
                            osr_quote(q, sizeof(q), argv[optind - 1], 64));
            return -2;
        case '?':
            cli_usage_error(usage, "unknown option %s",
                            osr_quote(q, sizeof(q), argv[optind - 1], 64));
            return -2;
        default:
            if (on_opt == NULL || on_opt(c, optarg) < 0)
                return -2;
        }
    }
    return optind;
}

void cli_log_to_stderr(osr_log_level level, const char *msg, void *payload)
{
    static const char *const names[] = { "", "error", "warning", "info", "debug", "trace" };
    (void)payload;
    fprintf(stderr, "osrunner: %s: %s\n", names[level <= OSR_LOG_TRACE ? level : 0], msg);
}

osr_log_level cli_log_level(void)
{
    return cli.verbose > 1 ? OSR_LOG_TRACE : cli.verbose ? OSR_LOG_DEBUG : OSR_LOG_WARN;
}

int cli_load_cloud(osr_cloud **out)
{
    osr_cloud_options opts = OSR_CLOUD_OPTIONS_INIT;
    osr_error err;

    osr_error_clear(&err);
    opts.cloud_name = cli.os_cloud;
    opts.log_cb = cli_log_to_stderr;
    opts.log_level = cli_log_level();
    return cli_check(osr_cloud_load(out, &opts, &err), &err);
}

int cli_open_session(osr_session **out, const osr_cloud *cloud)
{
    osr_session_options opts = OSR_SESSION_OPTIONS_INIT;
    osr_error err;

    osr_error_clear(&err);
    opts.token_cache = !cli.no_cache;
    opts.log_cb = cli_log_to_stderr;
    opts.log_level = cli_log_level();
    return cli_check(osr_session_new(out, cloud, &opts, &err), &err);
}

/* SIGTERM, SIGINT, SIGHUP: remove the named temporaries of atomic writes in
 * progress (secrets), then die of the signal as before. Commands with a
 * clean-up of their own install their own handlers. */
static void on_fatal_signal(int sig)
{
    osr_file_signal_cleanup();
    raise(sig); /* SA_RESETHAND: the default action now */
}

static void install_signal_cleanup(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_fatal_signal;
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static const struct cli_command commands[] = {
    { "cloud", "validate, install and show clouds.yaml", NULL, cmd_cloud },
    { "projects", "list projects", NULL, cmd_projects },
    { "github", "GitHub runner tokens, JIT configs and runners", NULL, cmd_github },
    { "instance", "launch, list, show and delete runner VMs", NULL, cmd_instance },
    { "image", "build, upload, list, show and delete runner images", NULL, cmd_image },
    { "config", "validate the pool manager's configuration", NULL, cmd_config },
    { "pool", "plan, reconcile, show or flush the pools of osrunner.yaml", NULL, cmd_pool },
};

int main(int argc, char **argv)
{
    int first, rc = EXIT_USAGE;

    first = cli_parse(argc, argv, "+", NULL, main_usage, NULL);
    if (first == -1)
        return EXIT_OK;
    if (first < 0)
        return EXIT_USAGE;
    if (first >= argc)
        return cli_usage_error(main_usage, "no command given");
    if (strcmp(argv[first], "help") == 0) {
        fputs(main_usage, stdout);
        return EXIT_OK;
    }
    if (osr_global_init() < 0)
        return cli_fail(OSR_ERROR, "cannot initialise libcurl");
    install_signal_cleanup();
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[first], commands[i].name) == 0) {
            rc = commands[i].run(argc - first, argv + first);
            goto done;
        }
    }
    {
        char q[OSR_QUOTE_BUF];
        rc = cli_usage_error(main_usage, "unknown command '%s'",
                             osr_quote(q, sizeof(q), argv[first], 64));
    }
done:
    if (fflush(stdout) != 0 && rc == EXIT_OK)
        rc = cli_fail(OSR_EIO, "cannot write the output");
    osr_global_shutdown();
    return rc;
}

int cli_print_json(json_t *value)
{
    char *s = value ? json_dumps(value, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(value);
    if (s == NULL)
        return cli_fail(OSR_ENOMEM, "out of memory");
    puts(s);
    /* It may hold a secret the user asked for (--reveal --json). */
    explicit_bzero(s, strlen(s));
    free(s);
    return EXIT_OK;
}
