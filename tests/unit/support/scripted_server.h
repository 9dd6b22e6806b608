/* The unit tests' scripted HTTP server: a thread on 127.0.0.1, one request
 * per connection (the replies say Connection: close), in one of three ways:
 *   server_start          a function fills the reply to the n-th request;
 *   server_start_replies  a list of whole replies, one per connection, then
 *                         no more accepts; "HANG" reads and never answers,
 *                         until the client closes;
 *   server_start_handler  a function answers on the connection itself.
 * server_stop ends the thread; after it the counts are final. */
#ifndef OSR_TEST_SCRIPTED_SERVER_H
#define OSR_TEST_SCRIPTED_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#define SERVER_REQUEST_MAX 65536 /* a longer request is cut there */
#define SERVER_KEPT        8     /* requests kept whole, from the first */
#define SERVER_KEPT_MAX    4096  /* ... each up to this, NUL included */
#define SERVER_REPLY_MAX   65536

struct server;
/* Fill reply (a whole HTTP response, at most cap bytes with its NUL) for the
 * n-th request (0-based). */
typedef void (*respond_fn)(struct server *s, int n, const char *request, char *reply, size_t cap);
/* Answer request n on connection c (the server closes c afterwards). */
typedef void (*handler_fn)(struct server *s, int c, int n, const char *request);

struct server {
    int fd;
    int port;
    int served;                                  /* requests read so far */
    char last_request[SERVER_REQUEST_MAX];       /* NUL-terminated */
    char requests[SERVER_KEPT][SERVER_KEPT_MAX]; /* the first ones */
    respond_fn respond;
    const char *const *replies;
    handler_fn handle;
    void *payload; /* the test's, for handle */
    volatile bool stop;
    pthread_t thread;
};

void server_start(struct server *s, respond_fn respond);
void server_start_replies(struct server *s, const char *const *replies);
void server_start_handler(struct server *s, handler_fn handle, void *payload);
void server_stop(struct server *s);

/* A listening socket on a free port of 127.0.0.1 (for servers of their own). */
int server_listen(int backlog, int *port);
/* Read one whole request from c: its head, then Content-Length bytes of body
 * (or up to cap - 1 bytes); NUL-terminated; returns its length. */
size_t server_read_request(int c, char *buf, size_t cap);
/* Write all of text to c (a peer gone is no error: the test sees it). */
void server_write(int c, const char *text);

/* A whole JSON answer ("200 OK", extra header lines or "", the body), with
 * Connection: close. */
void reply_json(char *reply, size_t cap, const char *status, const char *headers, const char *body);

/* A session on a cloud that is never contacted (nothing here needs a token);
 * *cloud is the caller's to free after the session. */
struct osr_cloud;
struct osr_session;
struct osr_session *offline_session(struct osr_cloud **cloud);

#endif
