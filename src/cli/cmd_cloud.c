/* osrunner cloud init | show */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CLOUDS_FILE (1u << 20)

static const char cloud_usage[] =
    "Usage: osrunner cloud {init|show} ...\n"
    "\n"
    "  init FILE|- [--output PATH]  validate and install a clouds.yaml\n"
    "  show [--json]                the resolved cloud, secrets masked\n";

static const char init_usage[] =
    "Usage: osrunner cloud init [--output PATH] FILE|-\n"
    "\n"
    "Validate a clouds.yaml (every cloud in it) and install it atomically with\n"
    "mode 0600, by default as ~/.config/openstack/clouds.yaml. Invalid input\n"
    "leaves the existing file untouched. '-' reads standard input. FILE must be a\n"
    "regular file of at most 1 MiB (larger: exit 3). A killed osrunner leaves no\n"
    "temporary file holding your password.\n"
    "\n"
    "  -o, --output PATH   where to write (default: ~/.config/openstack/clouds.yaml)\n"
    "  --json              print {\"path\": ..., \"clouds\": ...} on success\n";

static const char show_usage[] =
    "Usage: osrunner [--os-cloud NAME] cloud show [--json]\n"
    "\n"
    "Show the cloud osrunner would use, after the search path, secure.yaml, a\n"
    "vendor profile, the chosen region and OS_* variables are applied. Secrets\n"
    "are masked. With --json, booleans and numbers keep their JSON types.\n";

static const char *arg_output;

static int init_opt(int opt, const char *arg)
{
    if (opt == 'o') {
        arg_output = arg;
        return 0;
    }
    return -1;
}

/* Read FILE or stdin, at most MAX_CLOUDS_FILE bytes: a regular file (a FIFO or
 * a directory is refused at once), no NUL byte; too large is a configuration
 * error, as it is through OS_CLIENT_CONFIG_FILE. */
static int read_input(char **out, size_t *len_out, const char *path)
{
    osr_error err;
    int error;

    osr_error_clear(&err);
    error = osr_file_read(out, len_out, path, MAX_CLOUDS_FILE,
                          OSR_FILE_STDIN_DASH | OSR_FILE_CONFIG, NULL, NULL, &err);
    if (error < 0)
        return cli_fail(error, "%s", err.message);
    return 0;
}

static const struct option init_options[] = { { "output", required_argument, NULL, 'o' },
                                              { NULL, 0, NULL, 0 } };

static int cloud_init(int argc, char **argv)
{
    char *data = NULL, *def = NULL;
    const char *path, *source;
    size_t len = 0;
    osr_error err;
    int rc;

    (void)argc;
    source = strcmp(argv[0], "-") == 0 ? "<stdin>" : argv[0];
    osr_error_clear(&err);
    path = arg_output;
    if (path == NULL) {
        if (osr_clouds_default_path(&def, &err) < 0)
            return cli_fail(err.code, "%s", err.message);
        path = def;
    }
    if ((rc = read_input(&data, &len, argv[0])) != 0)
        goto done;
    if (osr_clouds_write(path, data, len, source, &err) < 0) {
        rc = cli_fail(err.code, "%s", err.message);
        goto done;
    }
    if (cli.json)
        rc = cli_print_json(json_pack("{s:s,s:s}", "path", path, "source", source));
    else
        printf("wrote %s\n", path);
done:
    if (data) {
        explicit_bzero(data, len);
        osr_free(data);
    }
    osr_free(def);
    return rc;
}

/* {"auth": {"username": ...}} from dotted keys. */
static int set_dotted(json_t *root, const char *key, json_t *value)
{
    const char *dot = strchr(key, '.');
    json_t *child;
    char head[128];

    if (dot == NULL)
        return json_object_set_new(root, key, value);
    snprintf(head, sizeof(head), "%.*s", (int)(dot - key), key);
    child = json_object_get(root, head);
    if (!json_is_object(child)) {
        child = json_object();
        if (json_object_set_new(root, head, child) < 0) {
            json_decref(value);
            return -1;
        }
    }
    return set_dotted(child, dot + 1, value);
}

/* The setting as JSON keeps its type: "verify": false, "identity_api_version": 3.
 * masked is the value osr_cloud_setting() gave, "****" for a secret. */
static int typed_value(
    json_t **out, const osr_cloud *cloud, const char *key, const char *masked, osr_cloud_type type)
{
    osr_error err;
    long long i;
    int b;

    osr_error_clear(&err);
    if (type == OSR_CLOUD_TYPE_BOOL) {
        if (osr_cloud_get_bool(&b, cloud, key, &err) < 0)
            return cli_fail(err.code, "%s", err.message);
        *out = json_boolean(b);
    } else if (type == OSR_CLOUD_TYPE_INT) {
        if (osr_cloud_get_int(&i, cloud, key, &err) < 0)
            return cli_fail(err.code, "%s", err.message);
        *out = json_integer(i);
    } else {
        *out = json_string(masked);
    }
    return 0;
}

static int cloud_show(int argc, char **argv)
{
    osr_cloud *cloud = NULL;
    int rc;
    size_t n;

    (void)argc;
    (void)argv;
    if ((rc = cli_load_cloud(&cloud)) != 0)
        return rc;
    n = osr_cloud_setting_count(cloud);
    {
        /* One object for both forms: typed with --json, "key: value" lines
         * (auth.username: ...) otherwise. */
        json_t *root = json_pack("{s:s,s:s,s:s}", "cloud", osr_cloud_name(cloud), "source",
                                 osr_cloud_source(cloud), "auth_type", osr_cloud_auth_type(cloud));
        for (size_t i = 0; root && i < n && rc == 0; i++) {
            const char *k, *v;
            json_t *jv = NULL;
            if (osr_cloud_setting(&k, &v, NULL, cloud, i, 0) != 0 || strcmp(k, "auth_type") == 0)
                continue;
            if ((rc = typed_value(&jv, cloud, k, v, osr_cloud_setting_type(cloud, i))) == 0)
                set_dotted(root, k, jv);
        }
        if (rc == 0)
            rc = cli_print_record(root);
        else
            json_decref(root);
    }
    osr_cloud_free(cloud);
    return rc;
}

static const struct cli_verb verbs[] = {
    { "init", 1, 1, cloud_init, init_usage, "o:", init_options, init_opt,
      "cloud init takes one FILE (or - for stdin)" },
    { "show", 0, 0, cloud_show, show_usage, NULL, NULL, NULL, "cloud show takes no arguments" },
};

int cmd_cloud(int argc, char **argv)
{
    return cli_dispatch("cloud", cloud_usage, verbs, sizeof(verbs) / sizeof(verbs[0]), argc, argv);
}
