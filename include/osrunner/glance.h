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
 * naming the image.
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

#ifdef __cplusplus
}
#endif

#endif
