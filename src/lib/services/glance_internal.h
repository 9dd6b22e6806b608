/* Glance internals shared with tests and fuzz targets. Not installed. */
#ifndef OSR_LIB_GLANCE_INTERNAL_H
#define OSR_LIB_GLANCE_INTERNAL_H

#include "http.h"
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

/* Waiting for an image to leave 'saving' (or 'uploading', 'importing')
 * after its upload: GET url, then again after a growing delay that is a timer
 * on the session's engine, never a sleep. */
typedef struct osr__glance_wait {
    osr_session *s;
    char *url;
    long delay_ms;
    long timeout_ms;
    int64_t deadline;
    int polls; /* GETs sent */
    osr__http_done_cb cb;
    void *payload;
    osr__http_response resp;
    osr_error req_err;
    bool done;
    int error;   /* the outcome once done (also in the session's record) */
    json_t *obj; /* the image once done with 0 (owned; cleared by _clear) */
} osr__glance_wait;

/* Start waiting on the session's engine (timeout_ms 0: 120 s). cb (may be
 * NULL) runs once from the engine when it is over; w must live until then.
 * Nothing is sent until the engine runs (osr__http_run, osr__http_step). */
int osr__glance_wait_start(osr__glance_wait *w,
                           osr_session *s,
                           const char *url,
                           long timeout_ms,
                           osr__http_done_cb cb,
                           void *payload);
void osr__glance_wait_clear(osr__glance_wait *w);

/* Lowercase hex of md (2*len chars plus NUL). */
void osr__glance_hex(char *out, const unsigned char *md, unsigned int len);

/* For the publishing domain code (image_publish.c) over the Glance client:
 * the image's JSON (borrowed); a delete waited for within timeout_ms; the
 * upload file opened and its content checked for disk_format (*fd closed
 * again on failure); an upload into the record id, waited for until active. */
json_t *osr__glance_image_json(const osr_image *image);
int osr__glance_delete_within(osr_session *s, const char *id, long timeout_ms);
int osr__glance_open_checked(
    int *fd, long long *size, const char *path, const char *disk_format, osr_error *err);
int osr__glance_upload_fd(osr_image **out,
                          osr_session *s,
                          const char *id,
                          const char *path,
                          int fd,
                          long long size,
                          const osr_image_upload_options *opts);

#endif
