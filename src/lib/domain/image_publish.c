/* Publishing runner images: the domain rules over the thin Glance client.
 * An upload is marked with its owner ("bootid/pid") and time; records of
 * dead uploads of ours are cleaned up first; the new image is created,
 * uploaded and waited for; only once it is active are older images of ours
 * of the same name retired beyond keep. Anything not ours (no marker, or
 * another project) is never deleted. Moved out of glance.c unchanged. */
#include "glance_internal.h"
#include "http.h"
#include "osrunner/image.h"
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A record of another machine's upload is stale after this long unchanged. */
#define STALE_FOREIGN_S (6 * 3600)

static bool is_status(json_t *img, const char *status)
{
    const char *st = json_string_value(json_object_get(img, "status"));
    return st && strcmp(st, status) == 0;
}

/* "bootid/pid" of this process. */
static int upload_owner(char *out, size_t n)
{
    char boot[64] = "";
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    ssize_t r = fd >= 0 ? read(fd, boot, sizeof(boot) - 1) : -1;

    if (fd >= 0)
        close(fd);
    if (r <= 0)
        snprintf(boot, sizeof(boot), "unknown");
    else
        boot[strcspn(boot, "\n")] = '\0';
    snprintf(out, n, "%s/%ld", boot, (long)getpid());
    return 0;
}

int osr__glance_is_stale(json_t *img, const char *my_boot, int64_t now)
{
    const char *owner = json_string_value(json_object_get(img, OSR_IMAGE_UPLOAD_PROPERTY));
    const char *slash, *upd;
    int64_t t = 0;
    char *end;
    long pid;

    if (owner == NULL)
        return 0;
    if (!is_status(img, "queued") && !is_status(img, "saving") && !is_status(img, "importing") &&
        !is_status(img, "uploading") && !is_status(img, "killed"))
        return 0;
    slash = strrchr(owner, '/');
    if (slash && my_boot && strlen(my_boot) == (size_t)(slash - owner) &&
        strncmp(owner, my_boot, (size_t)(slash - owner)) == 0) {
        errno = 0;
        pid = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end != '\0' || pid <= 0)
            return 1;
        /* This machine, this boot: the uploader is gone when its pid is. */
        return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
    }
    upd = json_string_value(json_object_get(img, "updated_at"));
    if (upd == NULL || osr__parse_timestamp(&t, upd) < 0)
        return 0;
    return now - t > STALE_FOREIGN_S;
}

/* 1 when img carries osrunner's provenance marker and belongs to project:
 * the only images osrunner ever deletes on its own. */
static bool ours(const osr_image *img, const char *project)
{
    const char *owner = osr_image_property(img, "owner");
    return osr_image_property(img, OSR_IMAGE_UPLOAD_PROPERTY) != NULL && project != NULL &&
           owner != NULL && strcmp(owner, project) == 0;
}

static int cleanup_stale(size_t *removed, osr_session *s, const char *name, long timeout_ms)
{
    osr_image_filter f = OSR_IMAGE_FILTER_INIT;
    osr_image_list *list = NULL;
    const char *project;
    char owner[128], *slash;
    size_t n = 0;
    int error;

    f.name = name;
    upload_owner(owner, sizeof(owner));
    slash = strrchr(owner, '/');
    if (slash)
        *slash = '\0';
    if ((error = osr_image_list_get(&list, s, &f)) < 0)
        return error;
    project = osr_session_project_id(s);
    for (size_t i = 0; i < osr_image_list_count(list); i++) {
        const osr_image *img = osr_image_list_at(list, i);
        if (!osr__glance_is_stale(osr__glance_image_json(img), owner, osr__now_s_wall()))
            continue;
        if (!ours(img, project)) {
            osr__http_log(osr__session_http(s), OSR_LOG_INFO,
                          "image %s looks like a dead upload, but of project %s: left alone",
                          osr_image_id(img),
                          osr_image_property(img, "owner") ? osr_image_property(img, "owner")
                                                           : "(unknown)");
            continue;
        }
        error = osr__glance_delete_within(s, osr_image_id(img), timeout_ms);
        if (error == OSR_ENOTFOUND)
            error = 0; /* someone else cleaned it up */
        if (error < 0)
            break;
        n++;
    }
    osr_image_list_free(list);
    if (error == 0 && removed)
        *removed = n;
    return error;
}

int osr_image_cleanup_stale(size_t *removed, osr_session *s, const char *name)
{
    return cleanup_stale(removed, s, name, 0);
}

/* Once the new image is active: delete our older images of its name beyond
 * keep. Anything else of that name is left alone and said so. Failures are
 * warnings: the upload has succeeded. */
static size_t
retire_old(osr_session *s, const osr_image *active, unsigned int keep, long timeout_ms)
{
    osr_image_filter f = OSR_IMAGE_FILTER_INIT;
    osr_image_list *list = NULL;
    const char *project = osr_session_project_id(s);
    osr__http *h = osr__session_http(s);
    size_t kept = 0, gone = 0;

    f.name = osr_image_name(active);
    if (osr_image_list_get(&list, s, &f) < 0) {
        osr__http_log(h, OSR_LOG_WARN, "image %s is active, but older images were not retired: %s",
                      osr_image_id(active), osr__session_err(s)->message);
        return 0;
    }
    for (size_t i = 0; i < osr_image_list_count(list); i++) {
        const osr_image *img = osr_image_list_at(list, i);
        const char *st = osr_image_status(img), *owner = osr_image_property(img, "owner");
        int error;

        if (strcmp(osr_image_id(img), osr_image_id(active)) == 0) {
            kept++;
            continue;
        }
        /* Others' uploads in flight are theirs to finish or clean. */
        if (strcmp(st, "queued") == 0 || strcmp(st, "saving") == 0 ||
            strcmp(st, "importing") == 0 || strcmp(st, "uploading") == 0)
            continue;
        if (strcmp(osr_image_name(img), osr_image_name(active)) != 0)
            continue;
        if (!ours(img, project)) {
            if (osr_image_property(img, OSR_IMAGE_UPLOAD_PROPERTY) == NULL)
                osr__http_log(h, OSR_LOG_WARN,
                              "image %s is also named '%s' but was not published by osrunner "
                              "(no %s property): left alone",
                              osr_image_id(img), osr_image_name(img), OSR_IMAGE_UPLOAD_PROPERTY);
            else
                osr__http_log(h, OSR_LOG_WARN,
                              "image %s is also named '%s' but belongs to project %s, not %s: "
                              "left alone",
                              osr_image_id(img), osr_image_name(img), owner ? owner : "(unknown)",
                              project ? project : "(unknown)");
            continue;
        }
        if (strcmp(st, "active") == 0 && kept < keep) {
            kept++;
            continue;
        }
        error = osr__glance_delete_within(s, osr_image_id(img), timeout_ms);
        if (error == OSR_ENOTFOUND)
            continue;
        if (error < 0) {
            osr__http_log(h, OSR_LOG_WARN,
                          "image %s is active, but retiring old image %s failed: %s",
                          osr_image_id(active), osr_image_id(img), osr__session_err(s)->message);
            continue;
        }
        gone++;
    }
    osr_image_list_free(list);
    return gone;
}

int osr_image_publish(osr_image **out,
                      size_t *retired,
                      osr_session *s,
                      const char *path,
                      const osr_image_publish_options *opts)
{
    osr_image_create_options co;
    osr_image *created = NULL, *active = NULL;
    const char **props = NULL;
    char owner[128], *marker = NULL, *stamp = NULL;
    size_t nprops = 0, gone;
    long long size = 0;
    unsigned int keep;
    int fd = -1, error;

    if (opts != NULL &&
        (osr__version_check(osr__session_error(s), "osr_image_publish", "osr_image_publish_options",
                            opts->version, 1, OSR_IMAGE_PUBLISH_OPTIONS_VERSION) < 0 ||
         osr__version_check(osr__session_error(s), "osr_image_publish",
                            "osr_image_publish_options.image", opts->image.version, 1,
                            OSR_IMAGE_CREATE_OPTIONS_VERSION) < 0 ||
         osr__version_check(osr__session_error(s), "osr_image_publish",
                            "osr_image_publish_options.upload", opts->upload.version, 1,
                            OSR_IMAGE_UPLOAD_OPTIONS_VERSION) < 0))
        return OSR_EINVAL;
    if (opts == NULL || opts->image.name == NULL || *opts->image.name == '\0')
        return osr__error_set(osr__session_error(s), OSR_EINVAL, "an image needs a name");
    keep = opts->keep ? opts->keep : 2;
    /* The file is opened and its content checked before anything exists in
     * Glance: a bad file leaves no record. */
    if ((error = osr__glance_open_checked(&fd, &size, path, opts->image.disk_format,
                                          osr__session_error(s))) < 0)
        return error;
    if ((error = cleanup_stale(NULL, s, opts->image.name, opts->upload.timeout_ms)) < 0)
        goto done;

    for (const char *const *p = opts->image.properties; p && *p; p++)
        nprops++;
    upload_owner(owner, sizeof(owner));
    props = calloc(nprops + 3, sizeof(*props));
    marker = osr__sprintf("%s=%s", OSR_IMAGE_UPLOAD_PROPERTY, owner);
    {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        stamp = osr__sprintf("%s=%lld", OSR__IMAGE_UPLOAD_TIME,
                             (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000);
    }
    if (props == NULL || marker == NULL || stamp == NULL) {
        error = osr__error_set(osr__session_error(s), OSR_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < nprops; i++)
        props[i] = opts->image.properties[i];
    props[nprops] = marker;
    props[nprops + 1] = stamp;
    co = opts->image;
    co.properties = props;
    if ((error = osr_image_create(&created, s, &co)) < 0)
        goto done;
    if ((error = osr__glance_upload_fd(&active, s, osr_image_id(created), path, fd, size,
                                       &opts->upload)) < 0)
        goto done;

    /* The new image is active: now, and only now, retire old ones of ours. */
    gone = retire_old(s, active, keep, opts->upload.timeout_ms);
    osr__session_error(s); /* success: retirement warnings went to the log */
    if (retired)
        *retired = gone;
    if (out) {
        *out = active;
        active = NULL;
    }
done:
    if (fd >= 0)
        close(fd);
    osr_image_free(active);
    osr_image_free(created);
    free(marker);
    free(stamp);
    free(props);
    return error;
}

int osr_image_provenance(char ***out,
                         const osr_build_result *result,
                         const osr_runner_app *app,
                         osr_error *err)
{
    const char *glance_arch = NULL, *build_id;
    const char *keys[6] = { "os_distro",         "os_version",
                            "architecture",      "osrunner_runner_version",
                            "osrunner_build_id", "osrunner_builder_version" };
    const char *vals[6];
    size_t need = 7 * sizeof(char *), n = 0, left;
    char **list, *p;
    int error;

    if (out == NULL || result == NULL || app == NULL)
        return osr__error_set(err, OSR_EINVAL, "provenance: no build result or runner");
    if ((error = osr_runner_arch_map(NULL, &glance_arch, osr_runner_app_architecture(app), err)) <
        0)
        return error;
    build_id = osr_build_result_get(result, "build_id");
    vals[0] = osr_build_result_get(result, "os_distro");
    vals[1] = osr_build_result_get(result, "os_version");
    vals[2] = glance_arch;
    vals[3] = osr_runner_app_version(app);
    vals[4] = build_id ? build_id : "";
    vals[5] = osr_version();
    for (size_t i = 0; i < 6; i++) {
        if (vals[i])
            need += strlen(keys[i]) + 1 + strlen(vals[i]) + 1;
    }
    if ((list = calloc(1, need)) == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    p = (char *)(list + 7);
    left = need - 7 * sizeof(char *);
    for (size_t i = 0; i < 6; i++) {
        int w;
        if (vals[i] == NULL)
            continue;
        list[n++] = p;
        w = snprintf(p, left, "%s=%s", keys[i], vals[i]);
        p += (size_t)w + 1;
        left -= (size_t)w + 1;
    }
    list[n] = NULL;
    *out = list;
    return 0;
}
