/*
 * bench-ws: WebSocket fan-out load for scripts/bench (not part of gobi).
 * Built by scripts/bench into its temporary folder: cc -O2 -o bench-ws bench-ws.c
 *
 *   bench-ws -p PORT -u PATH -n N [-a AUTH] [-h HELLO] [-m MATCH]
 *            -P PUBPATH [-M METHOD] [-k PUBS] [-c CONCURRENT]
 *
 * Opens N WebSockets to 127.0.0.1:PORT PATH (Authorization: AUTH if given;
 * sends the text HELLO after the handshake and waits for the first message),
 * prints "ready N" and waits for a line on stdin (the caller measures the
 * server's memory with N idle connections).  Then, PUBS times: one HTTP
 * request METHOD PUBPATH (body "pub <i>", same AUTH) and the time until
 * every connection got a text message containing MATCH (any text message
 * if not given); prints "pub <i> <last ms> <median ms> <first ms> <got>".  One thread,
 * epoll; answers pings; closes with RST (no TIME_WAIT).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ 8192

enum { S_CONNECT, S_HANDSHAKE, S_WELCOME, S_READY, S_DEAD };

typedef struct {
    int fd, state, len;
    int got;            /* last publish seen */
    uint64_t skip;      /* bytes of an oversized frame still to drop */
    double at;          /* arrival of the current publish */
    char buf[BUFSZ];
} conn_t;

static int port, n, pubs = 5, conc = 256;
static const char *path, *auth, *hello, *match, *pubpath, *method = "POST";
static conn_t *cs;
static int ep, ready, pub = -1, pubgot;
static double t0;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *m)
{
    fprintf(stderr, "bench-ws: %s: %s\n", m, strerror(errno));
    exit(1);
}

static int connect_fd(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    struct linger l = { 1, 0 };
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        die("socket");
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (void *)&a, sizeof a) < 0 && errno != EINPROGRESS)
        die("connect");
    return fd;
}

static void sendall(int fd, const char *p, size_t len)
{
    double until = now() + 10000;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w > 0) {
            p += w;
            len -= w;
        } else if (w < 0 && errno == EAGAIN && now() < until) {
            usleep(100);
        } else {
            die("write");
        }
    }
}

/* a masked client frame (mask 0: the payload goes as is) */
static void send_frame(int fd, int op, const char *p, size_t len)
{
    char h[14];
    size_t hl = 2;
    h[0] = (char)(0x80 | op);
    if (len < 126) {
        h[1] = (char)(0x80 | len);
    } else {
        h[1] = (char)(0x80 | 126);
        h[2] = (char)(len >> 8);
        h[3] = (char)len;
        hl = 4;
    }
    memset(h + hl, 0, 4);
    hl += 4;
    sendall(fd, h, hl);
    if (len)
        sendall(fd, p, len);
}

static void start(int i)
{
    conn_t *c = &cs[i];
    struct epoll_event e = { .events = EPOLLIN | EPOLLOUT, .data.u32 = i };
    c->fd = connect_fd();
    c->state = S_CONNECT;
    c->len = 0;
    c->got = -1;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e) < 0)
        die("epoll_ctl");
}

static void set_ready(conn_t *c)
{
    struct epoll_event e = { .events = EPOLLIN, .data.u32 = c - cs };
    c->state = S_READY;
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
    ready++;
}

static void dead(conn_t *c, const char *why)
{
    if (c->state == S_DEAD)
        return;
    fprintf(stderr, "bench-ws: connection %d: %s (state %d)\n",
            (int)(c - cs), why, c->state);
    exit(1);
}

static void on_message(conn_t *c, int op, const char *p, uint64_t len)
{
    if (op == 9) {                      /* ping: pong */
        send_frame(c->fd, 10, p, len);
        return;
    }
    if (op == 8) {
        dead(c, "closed by the server");
        return;
    }
    if (op != 1 && op != 2)
        return;
    if (c->state == S_WELCOME) {
        set_ready(c);
        return;
    }
    if (pub >= 0 && c->got < pub &&
        (!match || memmem(p, len, match, strlen(match)))) {
        c->got = pub;
        c->at = now();
        pubgot++;
    }
}

static void on_read(conn_t *c)
{
    for (;;) {
        ssize_t r = read(c->fd, c->buf + c->len, BUFSZ - c->len);
        if (r == 0) {
            dead(c, "EOF");
            return;
        }
        if (r < 0) {
            if (errno == EAGAIN)
                return;
            dead(c, strerror(errno));
            return;
        }
        c->len += r;
        if (c->state == S_HANDSHAKE) {
            char *e = memmem(c->buf, c->len, "\r\n\r\n", 4);
            if (!e) {
                if (c->len == BUFSZ)
                    dead(c, "handshake too long");
                continue;
            }
            if (c->len < 12 || memcmp(c->buf + 9, "101", 3) != 0) {
                c->buf[c->len < 200 ? c->len : 200] = 0;
                fprintf(stderr, "bench-ws: handshake: %s\n", c->buf);
                exit(1);
            }
            e += 4;
            c->len -= e - c->buf;
            memmove(c->buf, e, c->len);
            if (hello) {
                c->state = S_WELCOME;
                send_frame(c->fd, 1, hello, strlen(hello));
            } else {
                set_ready(c);
            }
        }
        /* frames */
        int off = 0;
        for (;;) {
            unsigned char *b = (unsigned char *)c->buf + off;
            int avail = c->len - off;
            if (c->skip) {
                uint64_t s = c->skip < (uint64_t)avail ? c->skip : (uint64_t)avail;
                c->skip -= s;
                off += s;
                if (c->skip)
                    break;
                continue;
            }
            if (avail < 2)
                break;
            uint64_t pl = b[1] & 0x7f;
            int hl = 2;
            if (pl == 126) {
                if (avail < 4)
                    break;
                pl = (b[2] << 8) | b[3];
                hl = 4;
            } else if (pl == 127) {
                if (avail < 10)
                    break;
                pl = 0;
                for (int k = 0; k < 8; k++)
                    pl = pl << 8 | b[2 + k];
                hl = 10;
            }
            if (hl + pl > BUFSZ) {      /* too big to keep: count, drop */
                on_message(c, b[0] & 0x0f, "", 0);
                c->skip = pl;
                off += hl;
                continue;
            }
            if ((uint64_t)avail < hl + pl)
                break;
            on_message(c, b[0] & 0x0f, (char *)b + hl, pl);
            off += hl + pl;
        }
        memmove(c->buf, c->buf + off, c->len - off);
        c->len -= off;
    }
}

static void on_writable(conn_t *c)
{
    char req[2048];
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) {
        errno = err;
        die("connect (raise the server's backlog?)");
    }
    int l = snprintf(req, sizeof req,
        "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n%s%s%s\r\n", path, port,
        auth ? "Authorization: " : "", auth ? auth : "", auth ? "\r\n" : "");
    sendall(c->fd, req, l);
    c->state = S_HANDSHAKE;
    struct epoll_event e = { .events = EPOLLIN, .data.u32 = c - cs };
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
}

static void loop_once(int ms)
{
    struct epoll_event ev[512];
    int k = epoll_wait(ep, ev, 512, ms);
    for (int i = 0; i < k; i++) {
        uint32_t id = ev[i].data.u32;
        if (id == (uint32_t)n) {        /* the publish request's answer */
            char tmp[4096];
            ssize_t r = read(cs[n].fd, tmp, sizeof tmp);
            if (r <= 0) {
                epoll_ctl(ep, EPOLL_CTL_DEL, cs[n].fd, NULL);
                close(cs[n].fd);
            } else if (r > 12 && memcmp(tmp + 9, "20", 2) != 0) {
                tmp[r < 300 ? r : 300] = 0;
                fprintf(stderr, "bench-ws: publish: %s\n", tmp);
                exit(1);
            }
            continue;
        }
        conn_t *c = &cs[id];
        if (c->state == S_CONNECT && (ev[i].events & (EPOLLOUT | EPOLLERR)))
            on_writable(c);
        else if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
            on_read(c);
    }
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int o;
    while ((o = getopt(argc, argv, "p:u:n:a:h:m:P:M:k:c:")) != -1) {
        switch (o) {
        case 'p': port = atoi(optarg); break;
        case 'u': path = optarg; break;
        case 'n': n = atoi(optarg); break;
        case 'a': auth = optarg; break;
        case 'h': hello = optarg; break;
        case 'm': match = optarg; break;
        case 'P': pubpath = optarg; break;
        case 'M': method = optarg; break;
        case 'k': pubs = atoi(optarg); break;
        case 'c': conc = atoi(optarg); break;
        default: fprintf(stderr, "bench-ws: bad option\n"); return 2;
        }
    }
    if (!port || !path || n <= 0 || !pubpath) {
        fprintf(stderr, "usage: bench-ws -p PORT -u PATH -n N -P PUBPATH ...\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    cs = calloc(n + 1, sizeof *cs);
    ep = epoll_create1(0);
    if (!cs || ep < 0)
        die("init");

    /* connect, at most conc handshakes in flight */
    double t = now();
    int started = 0;
    while (ready < n) {
        while (started < n && started - ready < conc)
            start(started++);
        loop_once(100);
        if (now() - t > 120000) {
            fprintf(stderr, "bench-ws: %d of %d ready after 120 s\n", ready, n);
            return 1;
        }
    }
    printf("ready %d %.0f\n", n, now() - t);

    /* idle until told to go on (pings answered meanwhile) */
    fcntl(0, F_SETFL, O_NONBLOCK);
    for (double until = now() + 600000; now() < until;) {
        char l[64];
        if (read(0, l, sizeof l) > 0)
            break;
        loop_once(50);
    }

    double *lat = malloc(n * sizeof *lat);
    for (pub = 0; pub < pubs; pub++) {
        char req[2048], body[64];
        int bl = snprintf(body, sizeof body, "pub %d %d %.6f", pub, (int)getpid(),
                          now());       /* new bytes every time */
        int l = snprintf(req, sizeof req,
            "%s %s%d HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n"
            "Content-Type: text/plain\r\nConnection: close\r\n%s%s%s\r\n%s",
            method, pubpath, pub, bl,
            auth ? "Authorization: " : "", auth ? auth : "", auth ? "\r\n" : "",
            body);
        /* pubpath ends with the publish's number: gobi writes a new file
         * each time; nchan's channel takes ?n=<i> and ignores it */
        pubgot = 0;
        cs[n].fd = connect_fd();
        int fl = fcntl(cs[n].fd, F_GETFL);
        fcntl(cs[n].fd, F_SETFL, fl & ~O_NONBLOCK);
        t0 = now();
        sendall(cs[n].fd, req, l);
        struct epoll_event e = { .events = EPOLLIN, .data.u32 = n };
        fcntl(cs[n].fd, F_SETFL, fl);
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[n].fd, &e);
        double until = t0 + 30000;
        while (pubgot < n && now() < until)
            loop_once(10);
        if (pubgot < n) {
            fprintf(stderr, "bench-ws: publish %d reached %d of %d "
                    "subscribers in 30 s\n", pub, pubgot, n);
            return 1;
        }
        for (int i = 0; i < n; i++)
            lat[i] = cs[i].got == pub ? cs[i].at - t0 : 1e9;
        qsort(lat, n, sizeof *lat, cmp);
        printf("pub %d %.3f %.3f %.3f %d\n", pub, lat[n - 1], lat[n / 2],
               lat[0], pubgot);
        for (double w = now() + 300; now() < w;)     /* settle */
            loop_once(20);
    }
    for (int i = 0; i <= n; i++)
        close(cs[i].fd);
    return 0;
}
