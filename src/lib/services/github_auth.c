/* GitHub client auth: personal access tokens, the App JWT and installation
 * tokens (fetched, cached and renewed), and the request that sends the
 * client's credentials. */
#include "github_internal.h"

#include "fs.h"

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Installation tokens live an hour; one this close to expiry is renewed. */
#define TOKEN_MARGIN_S 300
#define MAX_TOKEN_FILE 16384
#define MAX_KEY_FILE   65536

/* ---------------------------------------------------------------- base64url */

char *osr__github_b64url(const unsigned char *data, size_t len)
{
    size_t n = 4 * ((len + 2) / 3);
    char *out;
    int m;

    if (len > (1u << 20) || (out = malloc(n + 1)) == NULL)
        return NULL;
    m = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    if (m < 0) {
        free(out);
        return NULL;
    }
    out[m] = '\0';
    for (int i = 0; i < m; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
    while (m > 0 && out[m - 1] == '=')
        out[--m] = '\0';
    return out;
}

/* ------------------------------------------------------------------ App JWT */

/* Never prompt on a terminal for a passphrase: an encrypted key is an error. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

int osr__github_load_key(
    EVP_PKEY **out, const char *pem, size_t len, const char *source, osr_error *err)
{
    BIO *bio;
    EVP_PKEY *key;

    if (len > MAX_KEY_FILE)
        return osr__error_set(err, OSR_ECONFIG, "%s: larger than %d bytes", source, MAX_KEY_FILE);
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    ERR_clear_error();
    if (key == NULL) {
        return osr__error_set(err, OSR_ECONFIG, "%s: not a PEM private key (or it is encrypted)",
                              source);
    }
    if (EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
        EVP_PKEY_free(key);
        return osr__error_set(err, OSR_ECONFIG, "%s: a GitHub App key must be RSA", source);
    }
    *out = key;
    return 0;
}

bool osr__github_all_digits(const char *s)
{
    if (s == NULL || *s == '\0')
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
    }
    return true;
}

int osr__github_jwt(char **out, EVP_PKEY *key, const char *app_id, int64_t now, osr_error *err)
{
    static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
    json_t *claims = NULL;
    char *payload = NULL, *h64 = NULL, *p64 = NULL, *s64 = NULL, *input = NULL;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    EVP_MD_CTX *ctx = NULL;
    int error = OSR_ENOMEM;

    /* iat a minute back and exp nine minutes ahead: GitHub allows ten, and
     * clocks drift. */
    claims = json_object();
    if (claims == NULL ||
        json_object_set_new(claims, "iat", json_integer((json_int_t)(now - 60))) < 0 ||
        json_object_set_new(claims, "exp", json_integer((json_int_t)(now + 540))) < 0 ||
        json_object_set_new(claims, "iss",
                            osr__github_all_digits(app_id) && strlen(app_id) < 19
                                ? json_integer((json_int_t)strtoll(app_id, NULL, 10))
                                : json_string(app_id)) < 0)
        goto done;
    payload = json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
    h64 = osr__github_b64url((const unsigned char *)header, sizeof(header) - 1);
    p64 = payload ? osr__github_b64url((const unsigned char *)payload, strlen(payload)) : NULL;
    input = h64 && p64 ? osr__sprintf("%s.%s", h64, p64) : NULL;
    if (input == NULL)
        goto done;
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        goto done;
    if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(ctx, NULL, &siglen, (const unsigned char *)input, strlen(input)) != 1 ||
        (sig = malloc(siglen)) == NULL ||
        EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)input, strlen(input)) != 1) {
        ERR_clear_error();
        error = sig ? osr__error_set(err, OSR_ERROR, "GitHub App: cannot sign the JWT") : error;
        goto done;
    }
    s64 = osr__github_b64url(sig, siglen);
    if (s64 == NULL)
        goto done;
    *out = osr__sprintf("%s.%s", input, s64);
    error = *out ? 0 : OSR_ENOMEM;
done:
    if (error == OSR_ENOMEM)
        osr__error_set(err, OSR_ENOMEM, "out of memory");
    json_decref(claims);
    free(payload);
    free(h64);
    free(p64);
    free(s64);
    free(input);
    free(sig);
    EVP_MD_CTX_free(ctx);
    return error;
}

/* ------------------------------------------------------------ credentials */

/* A token must be one printable line: it goes into a header. */
int osr__github_token_from(
    char **out, const char *data, size_t len, const char *what, osr_error *err)
{
    size_t a = 0, b = len;

    while (a < b && (data[a] == ' ' || data[a] == '\t' || data[a] == '\r' || data[a] == '\n'))
        a++;
    while (b > a && (data[b - 1] == ' ' || data[b - 1] == '\t' || data[b - 1] == '\r' ||
                     data[b - 1] == '\n'))
        b--;
    if (a == b)
        return osr__error_set(err, OSR_ECONFIG, "%s: empty GitHub token", what);
    for (size_t i = a; i < b; i++) {
        unsigned char c = (unsigned char)data[i];
        if (c <= 0x20 || c >= 0x7f)
            return osr__error_set(err, OSR_ECONFIG, "%s: a GitHub token is one word", what);
    }
    *out = osr__strndup(data + a, b - a);
    return *out ? 0 : osr__error_set(err, OSR_ENOMEM, "out of memory");
}

int osr__github_read_token_file(char **out, const char *path, osr_error *err)
{
    char *data = NULL;
    size_t len = 0;
    int error = osr__fs_read(&data, &len, path, MAX_TOKEN_FILE, err);

    if (error < 0) {
        /* A credential file named in the configuration but missing is a configuration error. */
        if (error == OSR_ENOTFOUND && err)
            err->code = OSR_ECONFIG;
        return error == OSR_ENOTFOUND ? OSR_ECONFIG : error;
    }
    error = osr__github_token_from(out, data, len, path, err);
    osr__secret_wipe(data, len);
    free(data);
    return error;
}

int osr__github_read_key_file(EVP_PKEY **out, const char *path, osr_error *err)
{
    char *data = NULL;
    size_t len = 0;
    int error = osr__fs_read(&data, &len, path, MAX_KEY_FILE, err);

    if (error < 0) {
        /* A credential file named in the configuration but missing is a configuration error. */
        if (error == OSR_ENOTFOUND && err)
            err->code = OSR_ECONFIG;
        return error == OSR_ENOTFOUND ? OSR_ECONFIG : error;
    }
    error = osr__github_load_key(out, data, len, path, err);
    osr__secret_wipe(data, len);
    free(data);
    return error;
}

/* ------------------------------------------------- installation tokens */

static int fetch_installation_token(osr_github *gh)
{
    osr_error *err = &gh->err;
    osr__http_response resp;
    char *jwt = NULL, *url = NULL, *token = NULL;
    long long expires = 0;
    int error;

    if ((error = osr__github_jwt(&jwt, gh->app_key, gh->app_id, osr__now_s_wall(), err)) < 0)
        return error;
    url = osr__sprintf("%s/app/installations/%s/access_tokens", gh->api_url, gh->installation_id);
    if (url == NULL) {
        osr__secret_free(jwt);
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    }
    /* No body: the schema declares none, and an empty JSON object is refused.
     * A new installation token is all it makes: safe to ask again. */
    error = osr__github_send_with(gh, "POST", url, NULL, OSR__GITHUB_SAFE, jwt, &resp);
    if (error == 0)
        error = osr__github_parse_token(&token, &expires, resp.body.data, resp.body.len, err);
    if (error < 0) {
        osr__error_prefix(err, "GitHub App installation %s", gh->installation_id);
    } else {
        osr__secret_free(gh->inst_token);
        gh->inst_token = token;
        gh->inst_expires = expires;
        gh->token_fetches++;
        osr__github_log(gh, OSR_LOG_INFO,
                        "GitHub App installation token obtained, valid for %lld s",
                        (long long)(expires - osr__now_s_wall()));
    }
    osr__buf_free_secret(&resp.body);
    osr__http_response_free(&resp);
    osr__secret_free(jwt);
    free(url);
    return error;
}

/* Send with the client's credentials: the token, or an installation token
 * (fetched when missing or about to expire; fetched again once on a 401). */
int osr__github_send(osr_github *gh,
                     const char *method,
                     const char *url,
                     const char *body,
                     enum osr__github_resend resend,
                     osr__http_response *resp)
{
    bool fresh = false;
    int error;

    if (gh->token)
        return osr__github_send_with(gh, method, url, body, resend, gh->token, resp);
    if (gh->app_key == NULL) {
        memset(resp, 0, sizeof(*resp));
        return osr__error_set(&gh->err, OSR_EAUTH,
                              "no GitHub credentials: give a token (file or variable) or a "
                              "GitHub App");
    }
    if (gh->inst_token == NULL || gh->inst_expires - osr__now_s_wall() < TOKEN_MARGIN_S) {
        if ((error = fetch_installation_token(gh)) < 0) {
            memset(resp, 0, sizeof(*resp));
            return error;
        }
        fresh = true;
    }
    error = osr__github_send_with(gh, method, url, body, resend, gh->inst_token, resp);
    if (error == OSR_EAUTH && !fresh) {
        /* Revoked early (or the App was reinstalled): one new token. */
        osr__github_log(gh, OSR_LOG_INFO, "installation token rejected; fetching a new one");
        osr__http_response_free(resp);
        osr__secret_free(gh->inst_token);
        gh->inst_token = NULL;
        if ((error = fetch_installation_token(gh)) < 0) {
            memset(resp, 0, sizeof(*resp));
            return error;
        }
        error = osr__github_send_with(gh, method, url, body, resend, gh->inst_token, resp);
    }
    return error;
}
