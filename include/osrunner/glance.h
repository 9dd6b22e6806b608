/* osrunner: Glance v2 images. */
#ifndef OSRUNNER_GLANCE_H
#define OSRUNNER_GLANCE_H

#include "common.h"
#include "session.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One image as Glance describes it. Opaque; free with osr_image_free(). */
typedef struct osr_image osr_image;

/**
 * An image by its id (GET /v2/images/{id}). Errors are in
 * osr_session_last_error().
 * @return 0, OSR_ENOTFOUND, or a transport/auth error
 */
OSR_EXTERN int osr_image_get(osr_image **out, osr_session *session, const char *id);

/**
 * An image by id or by exact name. A name that several images carry is an
 * OSR_EAMBIGUOUS error that lists their ids; an unknown one is OSR_ENOTFOUND
 * naming the image. One exception keeps rollback sets usable: when only one
 * of the images is active, or when every active one was published by
 * osr_image_publish() (property "osrunner_upload") in one project (the same
 * owner), the current image is
 * returned: the only active one, else the newest active one (created_at,
 * then id).
 */
OSR_EXTERN int osr_image_find(osr_image **out, osr_session *session, const char *name_or_id);

/** Free an image. Accepts NULL. */
OSR_EXTERN void osr_image_free(osr_image *image);

/** The image's id, name and status (borrowed; "" if the cloud left one out). */
OSR_EXTERN const char *osr_image_id(const osr_image *image);
OSR_EXTERN const char *osr_image_name(const osr_image *image);
OSR_EXTERN const char *osr_image_status(const osr_image *image);

/**
 * Any string field or property of the image ("disk_format", "checksum",
 * "os_hash_value", "os_distro", ...), borrowed, or NULL when absent.
 */
OSR_EXTERN const char *osr_image_property(const osr_image *image, const char *key);

/** The image's size in bytes, or -1 when Glance does not know it yet. */
OSR_EXTERN long long osr_image_size(const osr_image *image);

/** Progress of a long transfer: bytes so far and total (-1: unknown). */
typedef void (*osr_progress_cb)(long long now, long long total, void *payload);

/** The property that osr_image_publish() sets on its images ("bootid/pid" of the uploader). */
#define OSR_IMAGE_UPLOAD_PROPERTY "osrunner_upload"

/**
 * The image as Glance described it, as JSON text (an object). Free *out with
 * osr_free().
 * @return 0 or OSR_ENOMEM
 */
OSR_EXTERN int osr_image_to_json(char **out, const osr_image *image);

/** The image's tags: how many, and the i-th (borrowed; NULL when out of range). */
OSR_EXTERN size_t osr_image_tag_count(const osr_image *image);
OSR_EXTERN const char *osr_image_tag(const osr_image *image, size_t i);

/** A list of images. Opaque; free with osr_image_list_free(). */
typedef struct osr_image_list osr_image_list;

/** What to list. Initialise with OSR_IMAGE_FILTER_INIT; every field is optional. */
typedef struct osr_image_filter {
    unsigned int version;
    /** Only images with exactly this name. */
    const char *name;
    /** Only images carrying this tag. */
    const char *tag;
    /** Only images with these properties, "key=value" strings, NULL-terminated. */
    const char *const *properties;
    /** Only images in this status ("active", "queued", "saving", ...). */
    const char *status;
    /** "public", "private", "shared", "community" or "all"; NULL: Glance's default. */
    const char *visibility;
    /** Stop after this many images; 0: all of them (at most 100 pages of 100). */
    size_t max;
} osr_image_filter;

#define OSR_IMAGE_FILTER_VERSION 1
#define OSR_IMAGE_FILTER_INIT                                     \
    {                                                             \
        OSR_IMAGE_FILTER_VERSION, NULL, NULL, NULL, NULL, NULL, 0 \
    }

/**
 * List images (GET /v2/images, following "next" pages), newest first
 * (created_at, then id). filter may be NULL for every image.
 * @return 0, OSR_EINVAL (a property without '='), or a transport/auth error
 */
OSR_EXTERN int
osr_image_list_get(osr_image_list **out, osr_session *session, const osr_image_filter *filter);

/** Free a list. Accepts NULL. */
OSR_EXTERN void osr_image_list_free(osr_image_list *list);
OSR_EXTERN size_t osr_image_list_count(const osr_image_list *list);
/** The i-th image (borrowed from the list; NULL when out of range). */
OSR_EXTERN const osr_image *osr_image_list_at(const osr_image_list *list, size_t i);
/**
 * 1 when the i-th image is the one osr_image_find() returns for its name
 * (judged among the images of the list), else 0.
 */
OSR_EXTERN int osr_image_list_is_current(const osr_image_list *list, size_t i);

/** What osr_image_create() registers. Initialise with OSR_IMAGE_CREATE_OPTIONS_INIT. */
typedef struct osr_image_create_options {
    unsigned int version;
    /** Required. */
    const char *name;
    /** NULL: "qcow2". */
    const char *disk_format;
    /** NULL: "bare". */
    const char *container_format;
    /** "public", "private", "shared" or "community"; NULL: Glance's default. */
    const char *visibility;
    /** Extra properties, "key=value" strings, NULL-terminated (os_distro=ubuntu, ...). */
    const char *const *properties;
    /** Tags, NULL-terminated. */
    const char *const *tags;
} osr_image_create_options;

#define OSR_IMAGE_CREATE_OPTIONS_VERSION 1
#define OSR_IMAGE_CREATE_OPTIONS_INIT                                        \
    {                                                                        \
        OSR_IMAGE_CREATE_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL \
    }

/**
 * Register an image without data (POST /v2/images); it is "queued" until
 * osr_image_upload() sends its data.
 * @return 0, OSR_EINVAL (no name, a property without '=' or a reserved one),
 *         OSR_ECONFLICT, OSR_EREQUEST, or a transport/auth error
 */
OSR_EXTERN int
osr_image_create(osr_image **out, osr_session *session, const osr_image_create_options *opts);

/**
 * Delete an image (DELETE /v2/images/{id}), whatever its status.
 * @return 0, OSR_ENOTFOUND, OSR_EFORBIDDEN (protected), or a transport/auth error
 */
OSR_EXTERN int osr_image_delete(osr_session *session, const char *id);

/** Add or remove a tag (PUT / DELETE /v2/images/{id}/tags/{tag}). */
OSR_EXTERN int osr_image_tag_add(osr_session *session, const char *id, const char *tag);
OSR_EXTERN int osr_image_tag_remove(osr_session *session, const char *id, const char *tag);

/** Options of osr_image_upload() and osr_image_publish() transfers. */
typedef struct osr_image_upload_options {
    unsigned int version;
    /** Called as data goes out (bytes sent, file size). */
    osr_progress_cb progress_cb;
    void *progress_payload;
    /** Time for the whole transfer in ms; 0: 10 minutes plus 1 s per 4 MiB. */
    long timeout_ms;
    /** When *cancel becomes non-zero (e.g. from a signal handler) the transfer stops. */
    const volatile int *cancel;
} osr_image_upload_options;

#define OSR_IMAGE_UPLOAD_OPTIONS_VERSION 1
#define OSR_IMAGE_UPLOAD_OPTIONS_INIT                         \
    {                                                         \
        OSR_IMAGE_UPLOAD_OPTIONS_VERSION, NULL, NULL, 0, NULL \
    }

/**
 * Send a file as the data of a queued image (PUT /v2/images/{id}/file),
 * streamed in constant memory. SHA-512 and MD5 are computed while sending
 * and compared with Glance's os_hash_value and checksum once the image is
 * active. On any failure (error, timeout, cancel, checksum mismatch) the
 * image is deleted (within opts->timeout_ms when it is set), so no queued or
 * saving record is left behind; when that delete fails too the result is
 * OSR_ELEFT, naming the image and the first failure. opts may be NULL.
 * @param out the active image, re-read from Glance; may be NULL
 * @return 0, OSR_EIO (the file), OSR_EPROTO (checksum mismatch), OSR_ETIMEOUT,
 *         OSR_ERROR (cancelled: "interrupted"), OSR_ELEFT, or a transport/auth
 *         error
 */
OSR_EXTERN int osr_image_upload(osr_image **out,
                                osr_session *session,
                                const char *id,
                                const char *path,
                                const osr_image_upload_options *opts);

/** What osr_image_publish() does. Initialise with OSR_IMAGE_PUBLISH_OPTIONS_INIT. */
typedef struct osr_image_publish_options {
    unsigned int version;
    /** The image as osr_image_create() takes it (name required). */
    osr_image_create_options image;
    /** The transfer. */
    osr_image_upload_options upload;
    /**
     * How many images of this name to keep once the new one is active, the
     * new one included (older ones are rollback targets); 0: 2.
     */
    unsigned int keep;
} osr_image_publish_options;

#define OSR_IMAGE_PUBLISH_OPTIONS_VERSION 1
#define OSR_IMAGE_PUBLISH_OPTIONS_INIT                                    \
    {                                                                     \
        OSR_IMAGE_PUBLISH_OPTIONS_VERSION, OSR_IMAGE_CREATE_OPTIONS_INIT, \
            OSR_IMAGE_UPLOAD_OPTIONS_INIT, 0                              \
    }

/**
 * Safe replacement of a named image:
 *  1. open the file and check its content against the disk format before
 *     anything exists in Glance: qcow2 needs its magic and a sane header
 *     (version 2 or 3, cluster_bits 9 to 21, a virtual size, its tables inside
 *     the file, no backing file); raw must not be empty; content of another
 *     format osrunner knows (qcow2, vmdk, vhdx, vdi) is refused;
 *  2. delete stale records of the name (osr_image_cleanup_stale());
 *  3. create the image, marked with OSR_IMAGE_UPLOAD_PROPERTY, and upload the
 *     file (osr_image_upload(): verified, deleted on failure, the delete
 *     bounded by opts->upload.timeout_ms when it is set);
 *  4. only once it is active, retire older images of the same name beyond the
 *     newest opts->keep that are osrunner's: marked with
 *     OSR_IMAGE_UPLOAD_PROPERTY and owned by the session's project. Anything
 *     else of the name (another project's, hand-made) is left alone and a
 *     warning naming it goes to the session's log hook; so does a failure to
 *     retire, which does not fail the publish. Images still being uploaded
 *     are left alone.
 * Until step 4 the previous image stays current, and a failure leaves the
 * cloud as it was (less stale records).
 * @param out the new active image; may be NULL
 * @param retired how many older images were deleted; may be NULL
 * @return 0, OSR_EINTEGRITY (the file is not its disk format; no image was
 *         created), OSR_ENOTFOUND or OSR_EIO (the file), or an error of
 *         osr_image_create() or osr_image_upload()
 */
OSR_EXTERN int osr_image_publish(osr_image **out,
                                 size_t *retired,
                                 osr_session *session,
                                 const char *path,
                                 const osr_image_publish_options *opts);

/**
 * Delete image records left by a publish that died (SIGKILL, power loss):
 * images (of this name, or of any name when name is NULL) in status
 * queued, saving, importing or killed that carry OSR_IMAGE_UPLOAD_PROPERTY and
 * belong to the session's project, when the uploading process is gone (same
 * boot of this machine and no such pid), or
 * when another machine's record has not changed for 6 hours.
 * @param removed how many were deleted; may be NULL
 */
OSR_EXTERN int osr_image_cleanup_stale(size_t *removed, osr_session *session, const char *name);

#ifdef __cplusplus
}
#endif

#endif
