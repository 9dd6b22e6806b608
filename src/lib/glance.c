/* Glance v2 images. jansson ownership: parse results are owned, *_get is
 * borrowed, *_set_new steals. */
#include "osrunner/glance.h"

#include "session.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* A server that always says "next" must not keep us forever. */
#define MAX_PAGES 100

struct osr_image {
    json_t *obj; /* the image as Glance returned it */
};

void osr_image_free(osr_image *image)
{
    if (image == NULL)
        return;
    json_decref(image->obj);
    free(image);
}

static int image_from_json(osr_image **out, json_t *obj, osr_error *err)
{
    osr_image *img;

    if (!json_is_object(obj) || !json_is_string(json_object_get(obj, "id")))
        return osr__error_set(err, OSR_EPROTO, "glance: an image without an id");
    img = calloc(1, sizeof(*img));
    if (img == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    img->obj = json_incref(obj);
    *out = img;
    return 0;
}

static const char *str_or_empty(const osr_image *image, const char *key)
{
    const char *v = json_string_value(json_object_get(image->obj, key));
    return v ? v : "";
}

const char *osr_image_id(const osr_image *image)
{
    return str_or_empty(image, "id");
}

const char *osr_image_name(const osr_image *image)
{
    return str_or_empty(image, "name");
}

const char *osr_image_status(const osr_image *image)
{
    return str_or_empty(image, "status");
}

const char *osr_image_property(const osr_image *image, const char *key)
{
    return json_string_value(json_object_get(image->obj, key));
}

long long osr_image_size(const osr_image *image)
{
    json_t *v = json_object_get(image->obj, "size");
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

/* GET url and parse the JSON answer. */
static int get_json(json_t **out, osr_session *s, const char *url)
{
    osr__http_request req = { .method = "GET", .url = url, .idempotent = true };
    osr__http_response resp;
    json_error_t jerr;
    int error;

    memset(&resp, 0, sizeof(resp));
    error = osr__session_request(s, &req, &resp);
    if (error == 0) {
        *out = json_loadb(resp.body.data, resp.body.len, 0, &jerr);
        if (*out == NULL)
            error = osr__error_set(osr__session_err(s), OSR_EPROTO,
                                   "GET %s: the answer is not JSON (%s)", url, jerr.text);
    }
    osr__http_response_free(&resp);
    return error;
}

static bool looks_like_uuid(const char *s)
{
    size_t n = strlen(s);
    if (n != 36 && n != 32)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (!hex && !(n == 36 && c == '-' && (i == 8 || i == 13 || i == 18 || i == 23)))
            return false;
    }
    return true;
}

int osr_image_get(osr_image **out, osr_session *s, const char *id)
{
    osr_error *err = osr__session_error(s);
    char *base = NULL, *url = NULL, *esc = NULL;
    json_t *obj = NULL;
    int error;

    if ((error = osr__session_service_url(&base, s, "image", "/v2")) < 0)
        return error;
    esc = curl_easy_escape(NULL, id, 0);
    url = esc ? osr__sprintf("%s/images/%s", base, esc) : NULL;
    if (url == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    if ((error = get_json(&obj, s, url)) == OSR_ENOTFOUND) {
        error = osr__error_set(err, OSR_ENOTFOUND, "image %s not found", id);
        goto done;
    } else if (error < 0) {
        goto done;
    }
    error = image_from_json(out, obj, err);
done:
    json_decref(obj);
    curl_free(esc);
    free(url);
    free(base);
    return error;
}

int osr_image_find(osr_image **out, osr_session *s, const char *name_or_id)
{
    osr_error *err;
    char *base = NULL, *url = NULL, *esc = NULL;
    json_t *matches = NULL;
    osr__buf ids = OSR__BUF_INIT;
    int error, pages = 0;

    if (looks_like_uuid(name_or_id)) {
        error = osr_image_get(out, s, name_or_id);
        if (error != OSR_ENOTFOUND)
            return error;
        /* An image may also be *named* like a UUID: fall through to names. */
    }
    err = osr__session_error(s);
    matches = json_array();
    if (matches == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    if ((error = osr__session_service_url(&base, s, "image", "/v2")) < 0)
        goto done;
    esc = curl_easy_escape(NULL, name_or_id, 0);
    url = esc ? osr__sprintf("%s/images?name=%s&limit=100", base, esc) : NULL;
    while (url != NULL) {
        json_t *page = NULL, *images;
        const char *next;
        size_t i;
        json_t *img;

        if (++pages > MAX_PAGES) {
            error =
                osr__error_set(err, OSR_EPROTO, "glance: more than %d pages of images", MAX_PAGES);
            goto done;
        }
        if ((error = get_json(&page, s, url)) < 0)
            goto done;
        images = json_object_get(page, "images");
        json_array_foreach(images, i, img)
        {
            const char *name = json_string_value(json_object_get(img, "name"));
            if (name && strcmp(name, name_or_id) == 0)
                json_array_append(matches, img);
        }
        next = json_string_value(json_object_get(page, "next"));
        free(url);
        /* "next" is a path like /v2/images?marker=...: join it to the endpoint's origin. */
        url = NULL;
        if (next) {
            const char *v2 = strstr(base, "/v2");
            url = osr__sprintf("%.*s%s", v2 ? (int)(v2 - base) : (int)strlen(base), base, next);
        }
        json_decref(page);
    }
    if (json_array_size(matches) == 0) {
        error = osr__error_set(err, OSR_ENOTFOUND, "image '%s' not found", name_or_id);
    } else if (json_array_size(matches) > 1) {
        size_t i;
        json_t *img;
        json_array_foreach(matches, i, img)
        {
            osr__buf_printf(&ids, "%s%s", i ? ", " : "",
                            json_string_value(json_object_get(img, "id")));
        }
        error = osr__error_set(err, OSR_EAMBIGUOUS,
                               "%zu images are named '%s' (%s); give an id instead",
                               json_array_size(matches), name_or_id, ids.data ? ids.data : "");
    } else {
        error = image_from_json(out, json_array_get(matches, 0), err);
    }
done:
    osr__buf_free(&ids);
    json_decref(matches);
    curl_free(esc);
    free(url);
    free(base);
    return error;
}
