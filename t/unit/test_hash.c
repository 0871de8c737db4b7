/*
 * Copyright (C) the gobi authors
 *
 * BLAKE2b-256 content hashes: known vectors, streaming, files.
 */

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "unit.h"

#include "gobi_hash.h"


#define EMPTY_HASH                                                           \
    "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"
#define ABC_HASH                                                             \
    "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319"
#define FOX_HASH                                                             \
    "01718cec35cd3d796dd00020e0bfecb473ad23457d063b75eff29c0ffa2e58a9"
#define BIG_HASH    /* bytes i % 251 for i in 0..199999 */                   \
    "04bb8ecaae05b9024a76314d4e774b4bda8ad4c662e5dc008764fc6c37284653"

#define BIG_LEN     200000


static unsigned char  big[BIG_LEN];


static void
test_vectors(void)
{
    char         hex[GOBI_HASH_HEX_LEN + 1];
    const char  *fox = "The quick brown fox jumps over the lazy dog";

    gobi_hash_buf("", 0, hex);
    is_str(hex, EMPTY_HASH, "BLAKE2b-256 of \"\"");
    is_int(strlen(hex), GOBI_HASH_HEX_LEN, "64 hex characters");

    gobi_hash_buf("abc", 3, hex);
    is_str(hex, ABC_HASH, "BLAKE2b-256 of \"abc\"");

    gobi_hash_buf(fox, strlen(fox), hex);
    is_str(hex, FOX_HASH, "BLAKE2b-256 of the fox");

    gobi_hash_buf(big, BIG_LEN, hex);
    is_str(hex, BIG_HASH, "BLAKE2b-256 of 200000 bytes");
}


static void
test_streaming(void)
{
    static const size_t  steps[] = { 1, 7, 127, 128, 129, 4096, 65537 };
    char                 hex[GOBI_HASH_HEX_LEN + 1];
    gobi_hash_t          h;
    size_t               i, off, n;

    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        gobi_hash_init(&h);

        for (off = 0; off < BIG_LEN; off += n) {
            n = steps[i] < BIG_LEN - off ? steps[i] : BIG_LEN - off;
            gobi_hash_update(&h, big + off, n);
        }

        gobi_hash_final(&h, hex);
        is_str(hex, BIG_HASH, "streaming in pieces of %zu", steps[i]);
    }

    /* empty updates change nothing */
    gobi_hash_init(&h);
    gobi_hash_update(&h, "", 0);
    gobi_hash_update(&h, "a", 1);
    gobi_hash_update(&h, "", 0);
    gobi_hash_update(&h, "bc", 2);
    gobi_hash_final(&h, hex);
    is_str(hex, ABC_HASH, "empty updates in between");
}


static int
tmpfile_with(const unsigned char *p, size_t len)
{
    char  name[] = "/tmp/gobi-test-hash-XXXXXX";
    int   fd;

    fd = mkstemp(name);
    if (fd < 0) {
        return -1;
    }

    unlink(name);

    if (len && write(fd, p, len) != (ssize_t) len) {
        close(fd);
        return -1;
    }

    return fd;
}


static void
test_fd(void)
{
    static const size_t  sizes[] = { 0, 1, 3, 65535, 65536, 65537, 131072,
                                     BIG_LEN };
    char                 hex[GOBI_HASH_HEX_LEN + 1];
    char                 want[GOBI_HASH_HEX_LEN + 1];
    int64_t              size;
    size_t               i;
    int                  fd, rc;

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        fd = tmpfile_with(big, sizes[i]);
        ok(fd >= 0, "temp file of %zu bytes", sizes[i]);
        if (fd < 0) {
            continue;
        }

        gobi_hash_buf(big, sizes[i], want);

        size = -1;
        rc = gobi_hash_fd(fd, hex, &size);
        is_int(rc, 0, "hash fd of %zu bytes", sizes[i]);
        is_str(hex, want, "fd hash == buffer hash, %zu bytes", sizes[i]);
        is_int(size, sizes[i], "size reported, %zu bytes", sizes[i]);

        /* the file position does not matter: it reads from offset 0 */
        lseek(fd, 0, SEEK_END);
        rc = gobi_hash_fd(fd, hex, NULL);
        is_int(rc, 0, "hash fd again, size NULL");
        is_str(hex, want, "same hash after seeking to the end");

        close(fd);
    }

    fd = tmpfile_with((const unsigned char *) "abc", 3);
    rc = gobi_hash_fd(fd, hex, &size);
    is_str(hex, ABC_HASH, "fd of \"abc\"");
    close(fd);

    errno = 0;
    is_int(gobi_hash_fd(-1, hex, &size), -1, "bad fd: -1");
    is_int(errno, EBADF, "bad fd: EBADF");

    fd = open("/tmp", O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        is_int(gobi_hash_fd(fd, hex, &size), -1, "directory: -1");
        close(fd);
    }
}


static void
test_hex(void)
{
    static const unsigned char  bytes[] = { 0x00, 0x01, 0x7f, 0x80, 0xab,
                                            0xff };
    char                        buf[sizeof(bytes) * 2 + 1];

    gobi_hex(buf, bytes, sizeof(bytes));
    is_str(buf, "00017f80abff", "gobi_hex");

    gobi_hex(buf, bytes, 0);
    is_str(buf, "", "gobi_hex of nothing");

    ok(gobi_hash_valid_hex(EMPTY_HASH, 64), "valid hex");
    ok(!gobi_hash_valid_hex(EMPTY_HASH, 63), "63 characters");
    ok(!gobi_hash_valid_hex(EMPTY_HASH "0", 65), "65 characters");
    ok(!gobi_hash_valid_hex("", 0), "empty");
    ok(!gobi_hash_valid_hex(
        "0E5751C026E543B2E8AB2EB06099DAA1D1E5DF47778F7787FAAB45CDF12FE3A8",
        64), "upper case is refused");
    ok(!gobi_hash_valid_hex(
        "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3ag",
        64), "a 'g'");
    ok(!gobi_hash_valid_hex(
        "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a\0",
        64), "a NUL");
}


int
main(void)
{
    size_t  i;

    for (i = 0; i < BIG_LEN; i++) {
        big[i] = (unsigned char) (i % 251);
    }

    if (sodium_init() < 0) {
        printf("Bail out! sodium_init\n");
        return 1;
    }

    test_vectors();
    test_streaming();
    test_fd();
    test_hex();

    done_testing();
}
