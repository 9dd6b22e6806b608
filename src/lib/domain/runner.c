/* Runner instance configs: validation and cloud-init user data. The user
 * data is a #cloud-config document built with jansson (JSON is YAML). It
 * writes the runner service (data/runner-service.sh, fixed text), its unit
 * and its settings, and starts the unit once cloud-init is done: every value
 * reaches the VM as data in files (runner.conf is read line by line, never
 * evaluated), never as text a shell parses. docs/runner-vm.md tells the VM's
 * life from boot to power-off. */
#include "runner_internal.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define RUNNER_HOME "/home/ubuntu/actions-runner"
#define MASK        "****"

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

static bool has_control(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    }
    return false;
}

/* GitHub logins: letters, digits and single hyphens, 1-39, not at the ends. */
static bool owner_ok(const char *s, size_t n)
{
    if (n == 0 || n > 39 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && c != '-')
            return false;
    }
    return true;
}

static bool repo_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 100 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!name_char(s[i]))
            return false;
    }
    return true;
}

static bool url_ok(const char *u)
{
    const char *p;
    if (strncmp(u, "https://", 8) == 0)
        p = u + 8;
    else if (strncmp(u, "http://", 7) == 0)
        p = u + 7;
    else
        return false;
    return *p != '\0' && *p != '/' && !has_control(u) && strchr(u, ' ') == NULL;
}

int osr__runner_labels_join(osr__buf *out, const char *const *labels)
{
    for (size_t i = 0; labels && labels[i]; i++) {
        if ((i && osr__buf_puts(out, ",") < 0) || osr__buf_puts(out, labels[i]) < 0)
            return OSR_ENOMEM;
    }
    return osr__buf_puts(out, "") < 0 ? OSR_ENOMEM : 0;
}

int osr_runner_labels_split(char ***out, const char *text, osr_error *err)
{
    size_t n = 0, len = text ? strlen(text) : 0;
    char **v, *copy;

    if (out == NULL)
        return osr__error_set(err, OSR_EINVAL, "osr_runner_labels_split: NULL argument");
    if (len > 0) {
        n = 1;
        for (size_t i = 0; i < len; i++)
            n += text[i] == ',';
    }
    v = malloc((n + 1) * sizeof(*v) + len + 1);
    if (v == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    copy = (char *)(v + n + 1);
    memcpy(copy, text ? text : "", len + 1);
    n = 0;
    if (len > 0) {
        v[n++] = copy;
        for (char *p = copy; *p; p++) {
            if (*p == ',') {
                *p = '\0';
                v[n++] = p + 1;
            }
        }
    }
    v[n] = NULL;
    *out = v;
    return 0;
}

/* A JIT config is base64 (standard alphabet, padded) of a JSON object. The
 * messages never show it: it is a secret. */
int osr_runner_jit_config_check(const char *jit, osr_error *err)
{
    size_t n, dn;
    unsigned char *raw = NULL;
    json_t *root = NULL;
    int m, error = 0;

    if (jit == NULL || *jit == '\0')
        return osr__error_set(err, OSR_EINVAL, "jit config: empty");
    n = strlen(jit);
    if (n > OSR_USER_DATA_MAX)
        return osr__error_set(err, OSR_EINVAL, "jit config: %zu bytes; at most %d", n,
                              OSR_USER_DATA_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = jit[i];
        bool b64 = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '+' || c == '/' || (c == '=' && i >= n - 2);
        if (!b64)
            return osr__error_set(err, OSR_EINVAL,
                                  "jit config: not base64 (byte %zu); give the "
                                  "encoded_jit_config GitHub returned",
                                  i + 1);
    }
    if (n % 4 != 0 || (jit[n - 2] == '=' && jit[n - 1] != '='))
        return osr__error_set(err, OSR_EINVAL, "jit config: not base64 (its length)");
    dn = n / 4 * 3;
    raw = malloc(dn + 1);
    if (raw == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    m = EVP_DecodeBlock(raw, (const unsigned char *)jit, (int)n);
    if (m < 0) {
        error = osr__error_set(err, OSR_EINVAL, "jit config: not base64");
        goto done;
    }
    dn = (size_t)m - (jit[n - 1] == '=') - (jit[n - 2] == '=');
    root = json_loadb((const char *)raw, dn, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(root) || json_object_size(root) == 0)
        error = osr__error_set(err, OSR_EINVAL,
                               "jit config: base64, but not of a JIT runner configuration (a JSON "
                               "object)");
done:
    if (root) {
        const char *k;
        json_t *v;
        json_object_foreach(root, k, v)
        {
            if (json_is_string(v))
                osr__secret_wipe((char *)json_string_value(v), json_string_length(v));
        }
    }
    json_decref(root);
    osr__secret_wipe(raw, dn);
    free(raw);
    return error;
}

static const char *manager_of(const osr_instance_config *cfg)
{
    return cfg->manager ? cfg->manager : "osrunner";
}

/* Everything but the cloud resources: what the user data needs. */
static int validate_runner(const osr_instance_config *cfg, osr_error *err)
{
    const char *slash;
    size_t n, labels_len = 0;
    char q[OSR__QUOTE_MAX];
    int error;

    if (cfg == NULL)
        return osr__error_set(err, OSR_EINVAL, "instance config: missing");
    if (osr__version_check(err, "instance config", "osr_instance_config", cfg->version, 1,
                           OSR_INSTANCE_CONFIG_VERSION) < 0)
        return OSR_EINVAL;
    if ((error = osr_runner_name_check(cfg->name, err)) < 0)
        return error;
    if (cfg->labels == NULL || cfg->labels[0] == NULL)
        return osr__error_set(err, OSR_EINVAL, "labels: at least one label is needed");
    for (size_t i = 0; cfg->labels[i]; i++) {
        const char *l = cfg->labels[i];
        size_t ln = strlen(l);
        if (ln == 0)
            return osr__error_set(err, OSR_EINVAL, "labels: label %zu is empty", i + 1);
        if (ln > 256)
            return osr__error_set(err, OSR_EINVAL,
                                  "labels: label %zu has %zu characters; at most 256", i + 1, ln);
        if (strchr(l, ',') || has_control(l))
            return osr__error_set(err, OSR_EINVAL,
                                  "labels: label %zu contains a comma or a control character",
                                  i + 1);
        labels_len += ln + 1;
    }
    if (labels_len - 1 > 255)
        return osr__error_set(err, OSR_EINVAL,
                              "labels: together %zu characters; server metadata holds 255",
                              labels_len - 1);
    if (cfg->github_path == NULL || *cfg->github_path == '\0')
        return osr__error_set(err, OSR_EINVAL, "github path: missing (owner/repo or org)");
    slash = strchr(cfg->github_path, '/');
    if (slash ? (!owner_ok(cfg->github_path, (size_t)(slash - cfg->github_path)) ||
                 !repo_ok(slash + 1))
              : !owner_ok(cfg->github_path, strlen(cfg->github_path)))
        return osr__error_set(err, OSR_EINVAL,
                              "github path: '%s' is neither owner/repo nor an organisation",
                              osr__quote(q, sizeof(q), cfg->github_path, 140));
    if (cfg->github_url && !url_ok(cfg->github_url))
        return osr__error_set(err, OSR_EINVAL, "github url: not an http(s) URL: '%s'",
                              osr__quote(q, sizeof(q), cfg->github_url, 140));
    if ((cfg->registration_token == NULL) == (cfg->jit_config == NULL))
        return osr__error_set(err, OSR_EINVAL,
                              "token: give exactly one of a registration token and a JIT config");
    {
        const char *secret = cfg->registration_token ? cfg->registration_token : cfg->jit_config;
        if (*secret == '\0' || has_control(secret) || strchr(secret, ' '))
            return osr__error_set(err, OSR_EINVAL, "token: empty or not a single word");
        if (cfg->jit_config && (error = osr_runner_jit_config_check(cfg->jit_config, err)) < 0)
            return error;
    }
    {
        const char *const vals[] = { cfg->http_proxy, cfg->https_proxy, cfg->no_proxy,
                                     cfg->docker_mirror };
        const char *const names[] = { "http proxy", "https proxy", "no proxy", "docker mirror" };
        for (size_t i = 0; i < 4; i++) {
            if (vals[i] && (has_control(vals[i]) || *vals[i] == '\0'))
                return osr__error_set(err, OSR_EINVAL, "%s: empty or has a control character",
                                      names[i]);
            if (vals[i] && i != 2 && !url_ok(vals[i]))
                return osr__error_set(err, OSR_EINVAL, "%s: not an http(s) URL", names[i]);
        }
    }
    n = strlen(manager_of(cfg));
    if (n == 0 || n > 40)
        return osr__error_set(err, OSR_EINVAL, "manager: 1 to 40 characters");
    for (const char *p = manager_of(cfg); *p; p++) {
        if (!name_char(*p))
            return osr__error_set(err, OSR_EINVAL,
                                  "manager: use only letters, digits, '-', '_' and '.'");
    }
    for (size_t i = 0; cfg->metadata && cfg->metadata[i]; i++) {
        const char *m = cfg->metadata[i], *eq = strchr(m, '=');
        if (eq == NULL || eq == m || (size_t)(eq - m) > 255 || strlen(eq + 1) > 255 ||
            has_control(m))
            return osr__error_set(err, OSR_EINVAL,
                                  "metadata: '%s' is not key=value (each at most 255)",
                                  osr__quote(q, sizeof(q), m, 80));
        if (strncmp(m, "osrunner-", 9) == 0 || strncmp(m, "managed-by=", 11) == 0)
            return osr__error_set(err, OSR_EINVAL, "metadata: '%.*s' is reserved for osrunner",
                                  (int)(eq - m), m);
    }
    for (size_t i = 0; cfg->security_groups && cfg->security_groups[i]; i++) {
        if (*cfg->security_groups[i] == '\0')
            return osr__error_set(err, OSR_EINVAL, "security groups: an empty name");
    }
    return 0;
}

int osr_instance_config_validate(const osr_instance_config *cfg, osr_error *err)
{
    int error = validate_runner(cfg, err);

    if (error < 0)
        return error;
    if (cfg->image == NULL || *cfg->image == '\0')
        return osr__error_set(err, OSR_EINVAL, "image: missing");
    if (cfg->flavor == NULL || *cfg->flavor == '\0')
        return osr__error_set(err, OSR_EINVAL, "flavor: missing");
    if (cfg->network && *cfg->network == '\0')
        return osr__error_set(err, OSR_EINVAL, "network: empty (use none, auto, a name or an id)");
    return 0;
}

/* ---------------------------------------------------------------- user data */

static json_t *
file_entry(const char *path, const char *owner, const char *mode, const char *text, bool defer)
{
    json_t *f = json_pack("{s:s,s:s,s:s,s:s}", "path", path, "owner", owner, "permissions", mode,
                          "content", text);
    if (f && defer)
        json_object_set_new(f, "defer", json_true());
    return f;
}

extern const unsigned char osr__runner_service_sh[];
extern const unsigned char osr__runner_unit[];

static int conf_line(osr__buf *b, const char *key, const char *value)
{
    return value ? osr__buf_printf(b, "%s=%s\n", key, value) : 0;
}

static int env_pair(osr__buf *b, const char *lower, const char *upper, const char *value)
{
    return value ? osr__buf_printf(b, "%s=%s\n%s=%s\n", lower, value, upper, value) : 0;
}

int osr_instance_user_data(char **out, const osr_instance_config *cfg, int reveal, osr_error *err)
{
    json_t *doc = NULL, *files, *runcmd;
    osr__buf env = OSR__BUF_INIT, conf = OSR__BUF_INIT, labels = OSR__BUF_INIT;
    char *url = NULL, *text = NULL, *result = NULL, *https = NULL, *no_proxy = NULL;
    const char *base = cfg && cfg->github_url ? cfg->github_url : "https://github.com";
    const char *secret;
    int error;

    if ((error = validate_runner(cfg, err)) < 0)
        return error;
    secret = cfg->jit_config ? cfg->jit_config : cfg->registration_token;
    if ((error = osr__proxy_effective(&https, &no_proxy, cfg->http_proxy, cfg->https_proxy,
                                      cfg->no_proxy)) < 0 ||
        (error = osr__runner_labels_join(&labels, cfg->labels)) < 0 ||
        (url = osr__sprintf("%s/%s", base, cfg->github_path)) == NULL) {
        error = OSR_ENOMEM;
        goto done;
    }
    /* runner.conf: what the service reads as data, one key=value a line
     * (validate_runner let no newline or control byte through). No secret. */
    if (conf_line(&conf, "mode", cfg->jit_config ? "jit" : "token") < 0 ||
        conf_line(&conf, "url", url) < 0 || conf_line(&conf, "name", cfg->name) < 0 ||
        conf_line(&conf, "labels", labels.data) < 0 || conf_line(&conf, "user", "ubuntu") < 0 ||
        conf_line(&conf, "dir", RUNNER_HOME) < 0 ||
        conf_line(&conf, "http_proxy", cfg->http_proxy) < 0 ||
        conf_line(&conf, "https_proxy", https) < 0 || conf_line(&conf, "no_proxy", no_proxy) < 0) {
        error = OSR_ENOMEM;
        goto done;
    }
    /* The runner's .env: proxies for the runner and the jobs it runs. Only
     * values that are set; no empty assignments. */
    if (env_pair(&env, "http_proxy", "HTTP_PROXY", cfg->http_proxy) < 0 ||
        env_pair(&env, "https_proxy", "HTTPS_PROXY", https) < 0 ||
        env_pair(&env, "no_proxy", "NO_PROXY", no_proxy) < 0 ||
        osr__buf_puts(&env, "LANG=C.UTF-8\n") < 0) {
        error = OSR_ENOMEM;
        goto done;
    }

    doc = json_object();
    files = json_array();
    runcmd = json_array();
    if (doc == NULL || files == NULL || runcmd == NULL) {
        json_decref(files);
        json_decref(runcmd);
        error = OSR_ENOMEM;
        goto done;
    }
    json_object_set_new(doc, "write_files", files);
    json_object_set_new(doc, "runcmd", runcmd);
    json_array_append_new(
        files, file_entry("/etc/osrunner/runner.conf", "root:root", "0644", conf.data, false));
    /* On tmpfs, root's alone, and deleted by the service once read. */
    json_array_append_new(files, file_entry("/run/osrunner/runner.secret", "root:root", "0600",
                                            reveal ? secret : MASK, false));
    json_array_append_new(files, file_entry("/usr/local/lib/osrunner/runner-service", "root:root",
                                            "0755", (const char *)osr__runner_service_sh, false));
    json_array_append_new(files,
                          file_entry("/etc/systemd/system/osrunner-runner.service", "root:root",
                                     "0644", (const char *)osr__runner_unit, false));
    /* defer: write after the user exists (cloud-init's final stage). */
    json_array_append_new(files,
                          file_entry(RUNNER_HOME "/.env", "ubuntu:ubuntu", "0644", env.data, true));
    if (cfg->docker_mirror) {
        json_t *daemon = json_pack("{s:[s]}", "registry-mirrors", cfg->docker_mirror);
        char *dj = daemon ? json_dumps(daemon, JSON_INDENT(2)) : NULL;
        json_decref(daemon);
        if (dj == NULL) {
            error = OSR_ENOMEM;
            goto done;
        }
        json_array_append_new(
            files, file_entry("/etc/docker/daemon.json", "root:root", "0644", dj, false));
        free(dj);
        json_array_append_new(runcmd, json_pack("[s,s,s]", "systemctl", "restart", "docker"));
    }
    /* The runner is a service of its own, queued now and started once
     * cloud-init is done (the unit is ordered after cloud-final). */
    json_array_append_new(runcmd, json_pack("[s,s]", "systemctl", "daemon-reload"));
    json_array_append_new(runcmd, json_pack("[s,s,s,s]", "systemctl", "start", "--no-block",
                                            "osrunner-runner.service"));
    if (json_array_size(files) != 5u + (cfg->docker_mirror != NULL) ||
        json_array_size(runcmd) != 2u + (cfg->docker_mirror != NULL)) {
        error = OSR_ENOMEM;
        goto done;
    }
    text = osr__json_dumps_secret(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text == NULL) {
        error = OSR_ENOMEM;
        goto done;
    }
    /* One exact allocation (vasprintf() grows a buffer it frees unwiped). */
    if ((result = malloc(strlen(text) + sizeof("#cloud-config\n\n"))) != NULL)
        snprintf(result, strlen(text) + sizeof("#cloud-config\n\n"), "#cloud-config\n%s\n", text);
    if (result == NULL) {
        error = OSR_ENOMEM;
        goto done;
    }
    /* Nova's limit applies to the base64 form. */
    if (4 * ((strlen(result) + 2) / 3) > OSR_USER_DATA_MAX) {
        error = osr__error_set(err, OSR_EINVAL,
                               "user data: %zu bytes base64-encoded; Nova accepts at most %d",
                               4 * ((strlen(result) + 2) / 3), OSR_USER_DATA_MAX);
        goto done;
    }
    *out = result;
    result = NULL;
done:
    if (error == OSR_ENOMEM)
        osr__error_set(err, OSR_ENOMEM, "out of memory");
    osr__secret_free(result);
    osr__secret_free(text);
    osr__buf_free(&env);
    osr__buf_free(&conf);
    osr__buf_free(&labels);
    free(url);
    free(https);
    free(no_proxy);
    osr__json_wipe(doc); /* held the token or JIT config; ours alone */
    json_decref(doc);
    return error;
}
