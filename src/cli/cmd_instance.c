/* osrunner instance create | list | show | delete | user-data */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SECRET_FILE (64u << 10)
#define MAX_LIST        64

static const char instance_usage[] =
    "Usage: osrunner instance {create|list|show|delete|user-data} ...\n"
    "\n"
    "  create     launch runner VMs and wait until they are ACTIVE\n"
    "  list       osrunner's servers (--all: every server of the project)\n"
    "  show       one server\n"
    "  delete     delete servers and wait until they are gone\n"
    "  user-data  print the cloud-init user data a runner would get\n";

static const char create_usage[] =
    "Usage: osrunner instance create --name N --image I --flavor F --labels a,b\n"
    "           --github-path owner/repo [--token-file F | --jit-file F | --jit] [options]\n"
    "\n"
    "Launch runner VMs whose cloud-init registers an ephemeral GitHub runner.\n"
    "Everything is checked and resolved before the first server is created; a\n"
    "name already used by a server of the manager is refused (exit 11). A server\n"
    "that goes to ERROR or times out is deleted again; one that cannot be deleted\n"
    "is named by id (exit 9). The launch id is printed first (stderr): after a\n"
    "kill, 'instance delete --launch ID' removes what the launch made. SIGINT or\n"
    "SIGTERM stops the launch, deletes its servers (and runner records) and exits\n"
    "130 or 143. Without a token or JIT file, osrunner asks GitHub for a\n"
    "registration token (or with --jit, for a JIT config per runner) with the\n"
    "GitHub credentials below.\n"
    "\n"
    "  --name N              runner and server name (with --count: N-1 ... N-<count>)\n"
    "  --image I, --flavor F by name or id\n"
    "  --network NET         name or id, or none (default) or auto\n"
    "  --labels a,b          runner labels\n"
    "  --token-file F        registration token from file F ('-': standard input)\n"
    "  --jit-file F          an encoded JIT config instead of a token\n"
    "  --jit                 fetch a JIT config per runner instead of a registration token\n"
    "  --count N             launch N at once (default 1)\n"
    "  --wait, --no-wait     wait until ACTIVE (default) or return after create\n"
    "  --timeout S           the deadline in seconds (default 600): until it, network\n"
    "                        and server errors are retried; then what is not ACTIVE\n"
    "                        is deleted\n"
    "  --key-name K, --security-group SG (repeatable), --availability-zone AZ,\n"
    "  --config-drive, --property key=value (repeatable)\n"
    "  --http-proxy U, --https-proxy U, --no-proxy L, --docker-mirror U\n"
    "                        for the runner and its jobs; HTTPS defaults to the HTTP\n"
    "                        proxy, and NO_PROXY always holds localhost, 127.0.0.1\n"
    "                        and 169.254.169.254\n"
    "  --manager M           ownership prefix in tags and metadata (default osrunner)\n"
    "  --json                print the servers as JSON\n"
    "GitHub:\n" CLI_GITHUB_OPTIONS_HELP;

static const char list_usage[] =
    "Usage: osrunner instance list [--all | --launch ID] [--manager M] [--json]\n"
    "\n"
    "Servers osrunner manages (found by tag in one request per page), with\n"
    "--launch ID those of one launch, or with --all every server of the project.\n";

static const char show_usage[] = "Usage: osrunner instance show ID|NAME [--json]\n";

static const char delete_usage[] =
    "Usage: osrunner instance delete [--no-wait] [--timeout S] ID|NAME...\n"
    "       osrunner instance delete [--no-wait] [--timeout S] --launch ID\n"
    "\n"
    "Delete servers and wait until Nova no longer knows them. With --launch,\n"
    "every server of that launch (the id 'instance create' printed first).\n";

static const char userdata_usage[] =
    "Usage: osrunner instance user-data --name N --labels a,b --github-path P\n"
    "           (--token-file F | --jit-file F) [--github-url API-URL] [--reveal]\n"
    "           [proxy options]\n"
    "\n"
    "Print the cloud-init user data a runner would get. The token is masked\n"
    "unless --reveal is given.\n";

enum {
    OPT_NAME = 0x200,
    OPT_IMAGE,
    OPT_FLAVOR,
    OPT_NETWORK,
    OPT_LABELS,
    OPT_TOKEN_FILE,
    OPT_JIT_FILE,
    OPT_COUNT,
    OPT_WAIT,
    OPT_NO_WAIT,
    OPT_TIMEOUT,
    OPT_KEY_NAME,
    OPT_SECGROUP,
    OPT_AZ,
    OPT_CONFIG_DRIVE,
    OPT_PROPERTY,
    OPT_HTTP_PROXY,
    OPT_HTTPS_PROXY,
    OPT_NO_PROXY,
    OPT_DOCKER_MIRROR,
    OPT_MANAGER,
    OPT_REVEAL,
    OPT_ALL,
    OPT_JIT,
    OPT_LAUNCH,
};

static struct {
    const char *name, *image, *flavor, *network, *labels;
    const char *token_file, *jit_file, *key_name, *az, *manager, *launch;
    const char *http_proxy, *https_proxy, *no_proxy, *docker_mirror;
    const char *secgroups[MAX_LIST + 1];
    const char *properties[MAX_LIST + 1];
    size_t n_secgroups, n_properties;
    long count, timeout;
    bool no_wait, config_drive, reveal, all, jit;
} arg = { .count = 1 };

/* Each verb's own options: no verb takes another's. */
#define OPT(name, has, val)  \
    {                        \
        name, has, NULL, val \
    }
#define REQ required_argument
static const struct option create_options[] = {
    OPT("name", REQ, OPT_NAME),
    OPT("image", REQ, OPT_IMAGE),
    OPT("flavor", REQ, OPT_FLAVOR),
    OPT("network", REQ, OPT_NETWORK),
    OPT("labels", REQ, OPT_LABELS),
    OPT("token-file", REQ, OPT_TOKEN_FILE),
    OPT("jit-file", REQ, OPT_JIT_FILE),
    OPT("count", REQ, OPT_COUNT),
    OPT("wait", no_argument, OPT_WAIT),
    OPT("no-wait", no_argument, OPT_NO_WAIT),
    OPT("timeout", REQ, OPT_TIMEOUT),
    OPT("key-name", REQ, OPT_KEY_NAME),
    OPT("security-group", REQ, OPT_SECGROUP),
    OPT("availability-zone", REQ, OPT_AZ),
    OPT("config-drive", no_argument, OPT_CONFIG_DRIVE),
    OPT("property", REQ, OPT_PROPERTY),
    OPT("http-proxy", REQ, OPT_HTTP_PROXY),
    OPT("https-proxy", REQ, OPT_HTTPS_PROXY),
    OPT("no-proxy", REQ, OPT_NO_PROXY),
    OPT("docker-mirror", REQ, OPT_DOCKER_MIRROR),
    OPT("manager", REQ, OPT_MANAGER),
    OPT("jit", no_argument, OPT_JIT),
    CLI_GITHUB_OPTIONS,
    OPT(NULL, 0, 0),
};
static const struct option list_options[] = {
    OPT("all", no_argument, OPT_ALL),
    OPT("launch", REQ, OPT_LAUNCH),
    OPT("manager", REQ, OPT_MANAGER),
    OPT(NULL, 0, 0),
};
static const struct option delete_options[] = {
    OPT("wait", no_argument, OPT_WAIT),
    OPT("no-wait", no_argument, OPT_NO_WAIT),
    OPT("timeout", REQ, OPT_TIMEOUT),
    OPT("launch", REQ, OPT_LAUNCH),
    OPT(NULL, 0, 0),
};
static const struct option userdata_options[] = {
    OPT("name", REQ, OPT_NAME),
    OPT("labels", REQ, OPT_LABELS),
    OPT("token-file", REQ, OPT_TOKEN_FILE),
    OPT("jit-file", REQ, OPT_JIT_FILE),
    OPT("reveal", no_argument, OPT_REVEAL),
    OPT("http-proxy", REQ, OPT_HTTP_PROXY),
    OPT("https-proxy", REQ, OPT_HTTPS_PROXY),
    OPT("no-proxy", REQ, OPT_NO_PROXY),
    OPT("docker-mirror", REQ, OPT_DOCKER_MIRROR),
    CLI_GITHUB_OPTIONS,
    OPT(NULL, 0, 0),
};
#undef REQ

static int parse_long(long *out, const char *s, long min, long max, const char *what)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        cli_usage_error(NULL, "%s must be a whole number from %ld to %ld", what, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

static int on_option(int opt, const char *v)
{
    if (opt >= CLI_OPT_GITHUB_FIRST && opt <= CLI_OPT_GITHUB_LAST)
        return cli_github_opt(opt, v);
    switch (opt) {
    case OPT_NAME:
        arg.name = v;
        return 0;
    case OPT_IMAGE:
        arg.image = v;
        return 0;
    case OPT_FLAVOR:
        arg.flavor = v;
        return 0;
    case OPT_NETWORK:
        arg.network = v;
        return 0;
    case OPT_LABELS:
        arg.labels = v;
        return 0;
    case OPT_TOKEN_FILE:
        arg.token_file = v;
        return 0;
    case OPT_JIT_FILE:
        arg.jit_file = v;
        return 0;
    case OPT_COUNT:
        return parse_long(&arg.count, v, 1, 1000, "--count");
    case OPT_WAIT:
        arg.no_wait = false;
        return 0;
    case OPT_NO_WAIT:
        arg.no_wait = true;
        return 0;
    case OPT_TIMEOUT:
        return parse_long(&arg.timeout, v, 1, 86400, "--timeout");
    case OPT_KEY_NAME:
        arg.key_name = v;
        return 0;
    case OPT_SECGROUP:
        if (arg.n_secgroups == MAX_LIST) {
            cli_usage_error(NULL, "at most %d security groups", MAX_LIST);
            return -1;
        }
        arg.secgroups[arg.n_secgroups++] = v;
        return 0;
    case OPT_AZ:
        arg.az = v;
        return 0;
    case OPT_CONFIG_DRIVE:
        arg.config_drive = true;
        return 0;
    case OPT_PROPERTY:
        if (arg.n_properties == MAX_LIST) {
            cli_usage_error(NULL, "at most %d properties", MAX_LIST);
            return -1;
        }
        arg.properties[arg.n_properties++] = v;
        return 0;
    case OPT_HTTP_PROXY:
        arg.http_proxy = v;
        return 0;
    case OPT_HTTPS_PROXY:
        arg.https_proxy = v;
        return 0;
    case OPT_NO_PROXY:
        arg.no_proxy = v;
        return 0;
    case OPT_DOCKER_MIRROR:
        arg.docker_mirror = v;
        return 0;
    case OPT_MANAGER:
        arg.manager = v;
        return 0;
    case OPT_REVEAL:
        arg.reveal = true;
        return 0;
    case OPT_ALL:
        arg.all = true;
        return 0;
    case OPT_JIT:
        arg.jit = true;
        return 0;
    case OPT_LAUNCH:
        arg.launch = v;
        return 0;
    default:
        return -1;
    }
}

/* A secret from a file or stdin, trailing whitespace removed. Never from argv. */
static int read_secret(char **out, const char *path)
{
    return cli_read_secret(out, path, MAX_SECRET_FILE);
}

static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void fill_config(osr_instance_config *cfg,
                        char **labels,
                        const char *web_url,
                        const char *token,
                        const char *jit)
{
    cfg->name = arg.name;
    cfg->labels = (const char *const *)labels;
    cfg->github_path = cli_github_path();
    cfg->github_url = web_url;
    cfg->registration_token = token;
    cfg->jit_config = jit;
    cfg->image = arg.image;
    cfg->flavor = arg.flavor;
    cfg->network = arg.network;
    cfg->key_name = arg.key_name;
    cfg->security_groups = arg.n_secgroups ? arg.secgroups : NULL;
    cfg->availability_zone = arg.az;
    cfg->config_drive = arg.config_drive;
    cfg->metadata = arg.n_properties ? arg.properties : NULL;
    cfg->http_proxy = arg.http_proxy;
    cfg->https_proxy = arg.https_proxy;
    cfg->no_proxy = arg.no_proxy;
    cfg->docker_mirror = arg.docker_mirror;
    cfg->manager = arg.manager;
}

/* The token or JIT config from a file; with fetch_ok and neither file given,
 * none (the caller asks GitHub). */
static int read_credential(char **token, char **jit, bool fetch_ok, const char *usage)
{
    *token = *jit = NULL;
    if (arg.token_file && arg.jit_file)
        return cli_usage_error(usage, "give only one of --token-file and --jit-file");
    if ((arg.token_file || arg.jit_file) && arg.jit)
        return cli_usage_error(usage, "--jit fetches a JIT config; drop --token-file/--jit-file");
    if (arg.token_file)
        return read_secret(token, arg.token_file);
    if (arg.jit_file)
        return read_secret(jit, arg.jit_file);
    if (!fetch_ok)
        return cli_usage_error(usage, "give --token-file or --jit-file");
    return 0;
}

/* config.sh --url: GitHub's web URL, from --github-url (the API URL) or github.com. */
static int web_url(char **out)
{
    osr_error err;

    osr_error_clear(&err);
    return cli_check(osr_github_web_url(out, cli_github_api_url(), &err), &err);
}

static json_t *server_json(const osr_server *sv)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "id", osr_server_id(sv), "name", osr_server_name(sv),
                          "status", osr_server_status(sv), "created", osr_server_created(sv));
    json_t *meta = json_object(), *tags = json_array();
    for (size_t i = 0; i < osr_server_metadata_count(sv); i++) {
        const char *k = osr_server_metadata_key(sv, i);
        json_object_set_new(meta, k, json_string(osr_server_metadata(sv, k)));
    }
    for (size_t i = 0; i < osr_server_tag_count(sv); i++)
        json_array_append_new(tags, json_string(osr_server_tag(sv, i)));
    json_object_set_new(o, "metadata", meta);
    json_object_set_new(o, "tags", tags);
    if (osr_server_fault(sv))
        json_object_set_new(o, "fault", json_string(osr_server_fault(sv)));
    return o;
}

/* Progress on a terminal: one line, rewritten; nothing in pipes or with --json. */
struct progress {
    size_t n, active, failed, deleting;
    char *state; /* per instance: 'c'reating 'b'uilding 'a'ctive 'f'ailed 'd'eleting */
};

static void on_progress(size_t index, const char *name, const char *state, void *payload)
{
    struct progress *p = payload;
    size_t creating = 0, building = 0;
    char c = strcmp(state, "active") == 0 || strcmp(state, "created") == 0 ? 'a'
             : strcmp(state, "failed") == 0                                ? 'f'
             : strcmp(state, "building") == 0                              ? 'b'
             : strncmp(state, "failed;", 7) == 0                           ? 'd'
             : strcmp(state, "deleted") == 0                               ? 'd'
                                                                           : 'c';
    (void)name;
    p->state[index] = c;
    p->active = p->failed = p->deleting = 0;
    for (size_t i = 0; i < p->n; i++) {
        creating += p->state[i] == 'c';
        building += p->state[i] == 'b';
        p->active += p->state[i] == 'a';
        p->failed += p->state[i] == 'f';
        p->deleting += p->state[i] == 'd';
    }
    fprintf(stderr, "\r\033[Klaunching %zu: %zu creating, %zu building, %zu active, %zu failed",
            p->n, creating, building, p->active, p->failed + p->deleting);
    fflush(stderr);
}

/* SIGINT and SIGTERM cancel a launch: the handler only sets the flag the
 * library's engine checks (its wait is interrupted by the signal). */
static volatile bool interrupted;
static volatile sig_atomic_t interrupt_signal;

static void on_interrupt(int sig)
{
    interrupt_signal = sig;
    interrupted = true;
}

static void catch_interrupts(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a blocking wait returns at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int interrupt_exit(void)
{
    return 128 + (interrupt_signal ? (int)interrupt_signal : SIGINT);
}

/* The exit code of a launch: a server left behind first (9), then an
 * interruption (130/143), then the first failure. */
static int launch_exit(const osr_launch_batch *b, size_t n, int rc)
{
    bool left = false;
    for (size_t i = 0; i < n; i++)
        left = left || osr_launch_batch_error(b, i)->code == OSR_ELEFT;
    if (left)
        return cli_exit_code(OSR_ELEFT);
    if (interrupted)
        return interrupt_exit();
    return rc;
}

/* Report a launch that was over when the signal came: the library deleted its
 * servers again. */
static int undo_report(const osr_provision *p, size_t n, const char *id)
{
    const osr_launch_batch *b = osr_provision_launch_batch(p);
    size_t k = 0;
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        const osr_server *sv = osr_launch_batch_server(b, i);
        const osr_error *e = osr_provision_undo_error(p, i);
        if (sv == NULL)
            continue;
        k++;
        if (e->code < 0)
            rc = cli_fail(OSR_ELEFT, "interrupted; server %s is LEFT: %s", osr_server_id(sv),
                          e->message);
    }
    if (rc == 0) {
        cli_fail(OSR_EINTERRUPTED, "interrupted; the %zu servers of launch %s were deleted", k, id);
        rc = interrupt_exit();
    }
    return rc;
}

static int instance_create(int argc, char **argv)
{
    osr_instance_config *cfgs = NULL;
    const osr_instance_config **ptrs = NULL;
    char **names = NULL, **labels = NULL, *token = NULL, *jit = NULL;
    char *web = NULL;
    osr_github *gh = NULL;
    osr_session *session = NULL;
    osr_provision *prov = NULL;
    const osr_launch_batch *batch = NULL;
    osr_provision_options po = OSR_PROVISION_OPTIONS_INIT;
    osr_launch_options *lo = &po.launch;
    struct progress prog = { 0, 0, 0, 0, NULL };
    char launch_id[OSR_LAUNCH_ID_SIZE];
    osr_error err;
    int rc, error;
    bool fetch;
    size_t n;

    (void)argc;
    (void)argv;
    if ((rc = read_credential(&token, &jit, true, create_usage)) != 0)
        return rc;
    catch_interrupts();
    fetch = token == NULL && jit == NULL;
    n = (size_t)arg.count;
    (void)osr_runner_labels_split(&labels, arg.labels, NULL); /* NULL: out of memory */
    cfgs = calloc(n, sizeof(*cfgs));
    ptrs = calloc(n, sizeof(*ptrs));
    names = calloc(n, sizeof(*names));
    prog.state = calloc(n + 1, 1);
    if (labels == NULL || cfgs == NULL || ptrs == NULL || names == NULL || prog.state == NULL) {
        rc = cli_fail(OSR_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = web_url(&web)) != 0)
        goto done;
    prog.n = n;
    for (size_t i = 0; i < n; i++) {
        osr_instance_config init = OSR_INSTANCE_CONFIG_INIT;
        cfgs[i] = init;
        /* Until GitHub is asked, a stand-in lets everything else be checked first. */
        fill_config(&cfgs[i], labels, web, fetch ? "pending" : token, jit);
        if (n > 1 && arg.name) {
            if (asprintf(&names[i], "%s-%zu", arg.name, i + 1) < 0) {
                names[i] = NULL;
                rc = cli_fail(OSR_ENOMEM, "out of memory");
                goto done;
            }
            cfgs[i].name = names[i];
        }
        ptrs[i] = &cfgs[i];
        osr_error_clear(&err);
        /* Bad input fails here, before any cloud or GitHub is asked. */
        if ((error = osr_instance_config_validate(&cfgs[i], &err)) < 0) {
            rc = cli_fail(error, "%s", err.message);
            goto done;
        }
    }
    /* Missing GitHub credentials fail before the cloud is asked anything. */
    if (fetch && (rc = cli_open_github(&gh)) != 0)
        goto done;
    if ((rc = cli_session(&session)) != 0)
        goto done;
    lo->wait = !arg.no_wait;
    lo->timeout_s = arg.timeout;
    lo->cancel = &interrupted;
    osr_launch_id_new(launch_id, sizeof(launch_id));
    lo->launch_id = launch_id;
    po.jit = arg.jit;
    po.runner_group = cli_github_runner_group();
    /* Before anything exists: what finds this launch's servers after a kill. */
    fprintf(stderr, "osrunner: launch %s (instance delete --launch %s)\n", launch_id, launch_id);
    fflush(stderr);
    if (!cli.json && isatty(STDERR_FILENO)) {
        lo->progress = on_progress;
        lo->payload = &prog;
    }
    /* GitHub's credentials (when none were given), the launch, and the
     * runner records of instances that did not launch deleted again. */
    error = osr_runner_provision(&prov, session, gh, ptrs, n, &po);
    if (lo->progress && prov)
        fputs("\n", stderr);
    batch = osr_provision_launch_batch(prov);
    if (batch == NULL) {
        rc = cli_fail(error, "%s", osr_session_last_error(session)->message);
        if (error == OSR_EINTERRUPTED)
            rc = interrupt_exit();
        goto done;
    }
    if (osr_provision_undone(prov)) {
        /* The signal came after the launch was over: it was undone all the same. */
        rc = undo_report(prov, n, launch_id);
        goto done;
    }
    rc = EXIT_OK;
    if (cli.json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            const osr_server *sv = osr_launch_batch_server(batch, i);
            json_t *o = sv ? server_json(sv)
                           : json_pack("{s:s,s:s,s:s}", "name", cfgs[i].name, "status", "FAILED",
                                       "error", osr_launch_batch_error(batch, i)->message);
            if (o && osr_provision_runner_id(prov, i) > 0)
                json_object_set_new(o, "runner_id", json_integer(osr_provision_runner_id(prov, i)));
            if (o)
                json_object_set_new(o, "launch", json_string(launch_id));
            json_array_append_new(arr, o);
        }
        cli_print_json(arr);
    } else {
        for (size_t i = 0; i < n; i++) {
            const osr_server *sv = osr_launch_batch_server(batch, i);
            if (sv)
                printf("%s  %s  %s\n", osr_server_id(sv), osr_server_name(sv),
                       osr_server_status(sv));
        }
    }
    if (error == OSR_EINTERRUPTED || (error == OSR_ELEFT && interrupted)) {
        size_t deleted = 0;
        for (size_t i = 0; i < n; i++)
            deleted += osr_launch_batch_error(batch, i)->code == OSR_EINTERRUPTED;
        cli_fail(OSR_EINTERRUPTED,
                 "interrupted; %zu instances of launch %s deleted or never created", deleted,
                 launch_id);
    }
    for (size_t i = 0; i < n; i++) {
        const osr_error *e = osr_launch_batch_error(batch, i);
        if (e->code < 0 && e->code != OSR_EINTERRUPTED) {
            int code = cli_fail(e->code, "%s: %s", cfgs[i].name, e->message);
            if (rc == EXIT_OK)
                rc = code;
        }
    }
    rc = launch_exit(batch, n, rc);
done:
    for (size_t i = 0; prov && i < n; i++) {
        if (osr_provision_forget_error(prov, i)->code < 0)
            cli_fail(OSR_ERROR, "%s", osr_provision_forget_error(prov, i)->message);
    }
    osr_provision_free(prov);
    osr_github_free(gh);
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
    free(ptrs);
    free(cfgs);
    osr_free(labels);
    free(prog.state);
    osr_free(web);
    free_secret(token);
    free_secret(jit);
    return rc;
}

static const struct cli_column server_columns[] = {
    { .key = "id", .header = "ID" },
    { .key = "name", .header = "NAME" },
    { .key = "status", .header = "STATUS" },
    { .key = "metadata.osrunner-labels", .header = "LABELS", .none = "" },
    { .key = NULL },
};

static int instance_list(int argc, char **argv)
{
    osr_session *session = NULL;
    osr_server_list *list = NULL;
    struct cli_table *t = NULL;
    int rc, error;

    (void)argc;
    (void)argv;
    if (arg.all && arg.launch)
        return cli_usage_error(list_usage, "give only one of --all and --launch");
    if ((rc = cli_session(&session)) != 0)
        goto done;
    if (arg.launch)
        error = osr_server_list_launch(&list, session, arg.launch);
    else
        error = osr_server_list_get(&list, session, arg.manager, arg.all ? OSR_SERVERS_ALL : 0);
    if (error < 0) {
        rc = cli_fail(error, "%s", osr_session_last_error(session)->message);
        goto done;
    }
    if ((rc = cli_table_new(&t, server_columns)) != 0)
        goto done;
    for (size_t i = 0; i < osr_server_list_count(list) && rc == 0; i++)
        rc = cli_table_add(t, server_json(osr_server_list_at(list, i)));
done:
    rc = cli_table_done(t, rc);
    osr_server_list_free(list);
    return rc;
}

static int instance_show(int argc, char **argv)
{
    osr_session *session = NULL;
    osr_server *sv = NULL;
    int rc, error;

    (void)argc;
    if ((rc = cli_session(&session)) != 0)
        goto done;
    if ((error = osr_server_get(&sv, session, argv[0])) < 0) {
        rc = cli_fail(error, "%s", osr_session_last_error(session)->message);
        goto done;
    }
    rc = cli_print_record(server_json(sv));
done:
    osr_server_free(sv);
    return rc;
}

/* Delete every server of --launch ID: one list by tag, then all at once. */
static int delete_launch(void)
{
    osr_session *session = NULL;
    osr_server_list *list = NULL;
    const char **ids = NULL;
    osr_error *errors = NULL;
    json_t *done_list = json_array();
    size_t n;
    int rc, error;

    if ((rc = cli_session(&session)) != 0)
        goto done;
    if ((error = osr_server_list_launch(&list, session, arg.launch)) < 0) {
        rc = cli_fail(error, "%s", osr_session_last_error(session)->message);
        goto done;
    }
    n = osr_server_list_count(list);
    ids = calloc(n + 1, sizeof(*ids));
    errors = calloc(n + 1, sizeof(*errors));
    if (ids == NULL || errors == NULL || done_list == NULL) {
        rc = cli_fail(OSR_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        ids[i] = osr_server_id(osr_server_list_at(list, i));
    osr_server_delete_many(session, ids, n, !arg.no_wait, arg.timeout, errors);
    for (size_t i = 0; i < n; i++) {
        const osr_server *sv = osr_server_list_at(list, i);
        if (errors[i].code < 0) {
            int code = cli_fail(OSR_ELEFT, "%s (%s) is LEFT: %s", osr_server_name(sv),
                                osr_server_id(sv), errors[i].message);
            if (rc == EXIT_OK)
                rc = code;
        } else {
            json_array_append_new(done_list, json_pack("{s:s,s:s}", "id", osr_server_id(sv), "name",
                                                       osr_server_name(sv)));
            if (!cli.json)
                printf("deleted %s (%s)\n", osr_server_name(sv), osr_server_id(sv));
        }
    }
    if (n == 0 && !cli.json)
        fprintf(stderr, "osrunner: launch %s has no servers\n", arg.launch);
    if (cli.json) {
        cli_print_json(done_list);
        done_list = NULL;
    }
done:
    json_decref(done_list);
    free(ids);
    free(errors);
    osr_server_list_free(list);
    return rc;
}

static int instance_delete(int argc, char **argv)
{
    osr_session *session = NULL;
    osr_server **found = NULL;
    const char **ids = NULL;
    osr_error *errors = NULL;
    json_t *done_list = NULL;
    size_t n = 0, k = 0;
    int first = 0, rc;

    if (arg.launch && argc > 0)
        return cli_usage_error(delete_usage, "give --launch ID or servers, not both");
    if (arg.launch)
        return delete_launch();
    if (argc == 0)
        return cli_usage_error(delete_usage, "instance delete needs an ID or NAME or --launch ID");
    n = (size_t)argc;
    found = calloc(n, sizeof(*found));
    ids = calloc(n, sizeof(*ids));
    errors = calloc(n, sizeof(*errors));
    done_list = json_array();
    if (found == NULL || ids == NULL || errors == NULL || done_list == NULL) {
        rc = cli_fail(OSR_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = cli_session(&session)) != 0)
        goto done;
    /* Resolve every name first, then delete them all at once. */
    for (size_t i = 0; i < n; i++) {
        int error = osr_server_get(&found[i], session, argv[first + (int)i]);
        if (error < 0)
            rc = cli_fail(error, "%s: %s", argv[first + (int)i],
                          osr_session_last_error(session)->message);
        else
            ids[k++] = osr_server_id(found[i]);
    }
    osr_server_delete_many(session, ids, k, !arg.no_wait, arg.timeout, errors);
    for (size_t i = 0, j = 0; i < n; i++) {
        if (found[i] == NULL)
            continue;
        if (errors[j].code < 0) {
            rc = cli_fail(errors[j].code, "%s: %s", osr_server_name(found[i]), errors[j].message);
        } else {
            json_array_append_new(done_list, json_pack("{s:s,s:s}", "id", osr_server_id(found[i]),
                                                       "name", osr_server_name(found[i])));
            if (!cli.json)
                printf("deleted %s (%s)\n", osr_server_name(found[i]), osr_server_id(found[i]));
        }
        j++;
    }
    if (cli.json) {
        cli_print_json(done_list);
        done_list = NULL;
    }
done:
    for (size_t i = 0; found && i < n; i++)
        osr_server_free(found[i]);
    free(found);
    free(ids);
    free(errors);
    json_decref(done_list);
    return rc;
}

static int instance_user_data(int argc, char **argv)
{
    osr_instance_config cfg = OSR_INSTANCE_CONFIG_INIT;
    char **labels = NULL, *token = NULL, *jit = NULL, *ud = NULL;
    char *web = NULL;
    osr_error err;
    int rc, error;

    (void)argc;
    (void)argv;
    if ((rc = read_credential(&token, &jit, false, userdata_usage)) != 0)
        return rc;
    (void)osr_runner_labels_split(&labels, arg.labels, NULL); /* NULL: out of memory */
    if (labels == NULL) {
        rc = cli_fail(OSR_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = web_url(&web)) != 0)
        goto done;
    fill_config(&cfg, labels, web, token, jit);
    osr_error_clear(&err);
    if ((error = osr_instance_user_data(&ud, &cfg, arg.reveal, &err)) < 0) {
        rc = cli_fail(error, "%s", err.message);
        goto done;
    }
    if (cli.json)
        rc = cli_print_json(json_pack("{s:s}", "user_data", ud));
    else
        fputs(ud, stdout);
done:
    free_secret(ud);
    osr_free(web);
    osr_free(labels);
    free_secret(token);
    free_secret(jit);
    return rc;
}

static const struct cli_verb verbs[] = {
    { "create", 0, 0, instance_create, create_usage, NULL, create_options, on_option, NULL },
    { "list", 0, 0, instance_list, list_usage, NULL, list_options, on_option, NULL },
    { "show", 1, 1, instance_show, show_usage, NULL, NULL, NULL,
      "instance show takes one ID or NAME" },
    { "delete", 0, -1, instance_delete, delete_usage, NULL, delete_options, on_option, NULL },
    { "user-data", 0, 0, instance_user_data, userdata_usage, NULL, userdata_options, on_option,
      NULL },
};

int cmd_instance(int argc, char **argv)
{
    return cli_dispatch("instance", instance_usage, verbs, sizeof(verbs) / sizeof(verbs[0]), argc,
                        argv);
}
