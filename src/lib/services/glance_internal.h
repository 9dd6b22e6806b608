/* Glance internals shared with tests and fuzz targets. Not installed. */
#ifndef OSR_LIB_GLANCE_INTERNAL_H
#define OSR_LIB_GLANCE_INTERNAL_H

#include "osrunner/glance.h"
#include "util.h"

#include <jansson.h>

/* When osr_image_publish() created an image: microseconds since the epoch
 * (Glance's created_at has whole seconds only). */
#define OSR__IMAGE_UPLOAD_TIME "osrunner_upload_time"

/* Among images of one name, the index of the current one (see
 * osr_image_find()), or -1 when the name is ambiguous. */
int osr__glance_pick_current(json_t *const *imgs, size_t n);

/* An empty list, for osr__glance_list_page(); NULL when out of memory. */
osr_image_list *osr__glance_list_new(void);

/* Parse one page of GET /v2/images into l (images that pass filter, at most
 * filter->max); *next is the "next" link or NULL (free it). */
int osr__glance_list_page(osr_image_list *l,
                          char **next,
                          const char *body,
                          size_t len,
                          const osr_image_filter *filter,
                          osr_error *err);

/* The POST /v2/images body for o. Free *out. */
int osr__glance_create_body(char **out, const osr_image_create_options *o, osr_error *err);

/* Compare an image after upload with the hashes we computed (lowercase hex). */
int osr__glance_verify(json_t *obj, const char *sha512, const char *md5, osr_error *err);

/* 1 when img is the record of a dead publish (see osr_image_cleanup_stale()). */
int osr__glance_is_stale(json_t *img, const char *my_boot, int64_t now);

/* Check the first len bytes of a file of size bytes against disk_format
 * (NULL: qcow2): qcow2 needs its magic and a sane header, raw must not be
 * empty, and content osrunner recognises as another format is refused.
 * OSR_EINTEGRITY names path and both formats. */
int osr__glance_check_content(const unsigned char *head,
                              size_t len,
                              long long size,
                              const char *disk_format,
                              const char *path,
                              osr_error *err);

/* Lowercase hex of md (2*len chars plus NUL). */
void osr__glance_hex(char *out, const unsigned char *md, unsigned int len);

#endif
