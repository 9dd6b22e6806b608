/* fs.c: reads that refuse FIFOs, directories and NUL bytes; atomic writes on
 * both paths (O_TMPFILE and a named temporary), their clean-up after
 * SIGKILL and SIGTERM, and the warning about secrets others may read. */
#include "fs.h"

#include "osrunner/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[256];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

static int setup(void **state)
{
    const char *base = getenv("TMPDIR");
    (void)state;
    snprintf(dir, sizeof(dir), "%s/osr-fs-XXXXXX", base && *base ? base : "/tmp");
    if (mkdtemp(dir) == NULL)
        return -1;
    osr__fs_no_tmpfile = false;
    /* A hung read must fail the test, not block it. */
    alarm(20);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    alarm(0);
    osr__fs_no_tmpfile = false;
    return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *in_dir(const char *name)
{
    char *p = osr__sprintf("%s/%s", dir, name);
    assert_non_null(p);
    return p;
}

static void put(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

/* How many "NAME.tmp.*" files are in dir. */
static int temporaries(const char *name)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = strlen(name);
    int count = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, name, n) == 0 && strncmp(de->d_name + n, ".tmp.", 5) == 0)
            count++;
    }
    closedir(d);
    return count;
}

static void assert_content(const char *path, const char *want)
{
    char *data = NULL;
    size_t len = 0;
    osr_error err;

    assert_int_equal(osr__fs_read(&data, &len, path, 1 << 20, &err), 0);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(data, want, len);
    free(data);
}

/* ---- reads ------------------------------------------------------------------------------ */

static void test_read_regular(void **state)
{
    char *p = in_dir("f"), *data = (char *)0x1;
    struct stat st;
    size_t len = 0;
    osr_error err;
    (void)state;

    put(p, "hello\n", 6, 0640);
    assert_int_equal(osr__fs_read_st(&data, &len, &st, p, 100, 0, &err), 0);
    assert_string_equal(data, "hello\n");
    assert_int_equal(len, 6);
    assert_true(osr__fs_mode_loose(&st));
    free(data);
    data = (char *)0x1;
    assert_int_equal(osr__fs_read(&data, &len, p, 3, &err), OSR_EIO);
    assert_non_null(strstr(err.message, "larger than 3 bytes"));
    assert_ptr_equal(data, (char *)0x1);
    free(p);
}

static void test_read_nul(void **state)
{
    char *p = in_dir("token"), *data = (char *)0x1;
    size_t len = 0;
    osr_error err;
    (void)state;

    put(p, "abc\0def\n", 8, 0600);
    assert_int_equal(osr__fs_read(&data, &len, p, 100, &err), OSR_EINVAL);
    assert_ptr_equal(data, (char *)0x1);
    assert_non_null(strstr(err.message, "token: contains a NUL byte (at offset 3)"));
    assert_null(strstr(err.message, "def"));
    free(p);
}

static void test_read_not_regular(void **state)
{
    char *fifo = in_dir("fifo"), *data = (char *)0x1;
    size_t len;
    osr_error err;
    (void)state;

    /* A FIFO without a writer would block a plain open() for ever. */
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(osr__fs_read(&data, &len, fifo, 100, &err), OSR_EIO);
    assert_non_null(strstr(err.message, "fifo: is a FIFO, not a regular file"));
    assert_int_equal(osr_file_read(&data, &len, fifo, 100, OSR_FILE_SECRET, NULL, NULL, &err),
                     OSR_EIO);
    assert_non_null(strstr(err.message, "is a FIFO"));

    assert_int_equal(osr__fs_read(&data, &len, dir, 100, &err), OSR_EIO);
    assert_non_null(strstr(err.message, ": is a directory"));

    assert_int_equal(osr__fs_read(&data, &len, "/dev/null", 100, &err), OSR_EIO);
    assert_non_null(strstr(err.message, "is a device"));
    assert_ptr_equal(data, (char *)0x1);

    free(fifo);
    fifo = in_dir("missing");
    assert_int_equal(osr__fs_read(&data, &len, fifo, 100, &err), OSR_ENOTFOUND);
    free(fifo);
}

static int warnings;
static char last_warning[512];

static void log_cb(osr_log_level level, const char *msg, void *payload)
{
    (void)payload;
    if (level == OSR_LOG_WARN) {
        warnings++;
        snprintf(last_warning, sizeof(last_warning), "%s", msg);
    }
}

static void test_secret_mode_warning(void **state)
{
    char *p = in_dir("secret"), *data = NULL;
    osr_error err;
    (void)state;

    warnings = 0;
    put(p, "s3cret\n", 7, 0600);
    assert_int_equal(osr_file_read(&data, NULL, p, 100, OSR_FILE_SECRET, log_cb, NULL, &err), 0);
    osr_free(data);
    osr_file_check_private(p, "--token-file", log_cb, NULL);
    assert_int_equal(warnings, 0);

    assert_int_equal(chmod(p, 0644), 0);
    assert_int_equal(osr_file_read(&data, NULL, p, 100, OSR_FILE_SECRET, log_cb, NULL, &err), 0);
    osr_free(data);
    assert_int_equal(warnings, 1);
    assert_non_null(strstr(last_warning, "group or others may read it (mode 0644)"));
    assert_null(strstr(last_warning, "s3cret"));
    osr_file_check_private(p, "--token-file", log_cb, NULL);
    assert_int_equal(warnings, 2);
    assert_non_null(strstr(last_warning, "--token-file "));
    /* Not a secret: no warning. */
    assert_int_equal(osr_file_read(&data, NULL, p, 100, 0, log_cb, NULL, &err), 0);
    osr_free(data);
    assert_int_equal(warnings, 2);
    free(p);
}

/* ---- writes ----------------------------------------------------------------------------- */

static void check_write(bool fallback)
{
    char *p = in_dir("sub/out"), *link = in_dir("link"), *victim = in_dir("victim");
    struct stat st;
    osr_error err;
    mode_t old = umask(0);

    osr__fs_no_tmpfile = fallback;
    assert_int_equal(osr__fs_write_atomic(p, "one", 3, 0600, &err), 0);
    assert_int_equal(osr__fs_write_atomic(p, "two", 3, 0600, &err), 0);
    umask(old);
    assert_content(p, "two");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    free(p);
    p = in_dir("sub");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    free(p);

    /* A planted symlink is refused, never followed. */
    put(victim, "keep", 4, 0644);
    assert_int_equal(symlink(victim, link), 0);
    assert_int_equal(osr__fs_write_atomic(link, "evil", 4, 0600, &err), OSR_EIO);
    assert_non_null(strstr(err.message, "is a symbolic link"));
    assert_content(victim, "keep");
    assert_int_equal(osr__fs_write_atomic(dir, "x", 1, 0600, &err), OSR_EIO);
    unlink(link);

    /* An uncommitted writer leaves nothing. */
    {
        osr__fs_writer *w = NULL;
        assert_int_equal(osr__fs_writer_open(&w, victim, 0600, &err), 0);
        assert_int_equal(temporaries("victim"), fallback ? 1 : 0);
        osr__fs_writer_free(w);
        assert_content(victim, "keep");
    }
    assert_int_equal(temporaries("out"), 0);
    assert_int_equal(temporaries("victim"), 0);
    free(link);
    free(victim);
}

static void test_write_tmpfile(void **state)
{
    (void)state;
    check_write(false);
}

static void test_write_fallback(void **state)
{
    (void)state;
    check_write(true);
}

/* A child opens a writer for NAME, says so on a pipe and waits; the parent
 * sends sig. With handler, the child cleans up in its SIGTERM handler as the
 * CLI does. */
static void on_term(int sig)
{
    osr__fs_signal_cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void kill_writer(const char *name, int sig, bool handler)
{
    char *p = in_dir(name);
    int ready[2], hold[2], status;
    char c;
    pid_t pid;

    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(hold), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        osr__fs_writer *w = NULL;
        osr_error err;
        close(ready[0]);
        close(hold[1]);
        if (handler)
            signal(SIGTERM, on_term);
        if (osr__fs_writer_open(&w, p, 0600, &err) < 0)
            _exit(3);
        if (write(ready[1], "r", 1) != 1)
            _exit(4);
        (void)read(hold[0], &c, 1); /* until killed */
        _exit(5);
    }
    close(ready[1]);
    close(hold[0]);
    assert_int_equal(read(ready[0], &c, 1), 1);
    assert_int_equal(kill(pid, sig), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), sig);
    close(ready[0]);
    close(hold[1]);
    free(p);
}

static void test_sigkill_tmpfile(void **state)
{
    (void)state;
    kill_writer("cache.json", SIGKILL, false);
    /* O_TMPFILE: the killed writer's file never had a name. */
    assert_int_equal(temporaries("cache.json"), 0);
}

static void test_sigkill_fallback_swept(void **state)
{
    char *p = in_dir("cache.json");
    osr__fs_writer *live = NULL;
    osr_error err;
    (void)state;

    osr__fs_no_tmpfile = true;
    kill_writer("cache.json", SIGKILL, false);
    assert_int_equal(temporaries("cache.json"), 1);
    /* A live writer's temporary (locked) must survive the sweep. */
    assert_int_equal(osr__fs_writer_open(&live, p, 0600, &err), 0);
    assert_int_equal(temporaries("cache.json"), 1 + 0); /* the stale one was swept */
    assert_int_equal(osr__fs_write_atomic(p, "new", 3, 0600, &err), 0);
    assert_int_equal(temporaries("cache.json"), 1); /* the live one is still there */
    assert_int_equal(osr__fs_writer_commit(live, "live", 4, &err), 0);
    osr__fs_writer_free(live);
    assert_int_equal(temporaries("cache.json"), 0);
    assert_content(p, "live");
    free(p);
}

static void test_sigterm_fallback_cleaned(void **state)
{
    (void)state;
    osr__fs_no_tmpfile = true;
    kill_writer("clouds.yaml", SIGTERM, true);
    assert_int_equal(temporaries("clouds.yaml"), 0);
}

static void test_public_writer(void **state)
{
    char *p = in_dir("r1.jit");
    osr_file_writer *w = NULL;
    osr_error err;
    (void)state;

    assert_int_equal(osr_file_writer_open(&w, p, 0600, &err), 0);
    assert_int_equal(osr_file_writer_commit(w, "jit\n", 4, &err), 0);
    osr_file_writer_free(w);
    assert_content(p, "jit\n");
    w = (osr_file_writer *)0x1;
    assert_int_equal(osr_file_writer_open(&w, dir, 0600, &err), OSR_EIO);
    assert_ptr_equal(w, (osr_file_writer *)0x1);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read_regular, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_nul, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_not_regular, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_mode_warning, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_tmpfile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_tmpfile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_fallback_swept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_fallback_cleaned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_public_writer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
