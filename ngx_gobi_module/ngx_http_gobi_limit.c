
/*
 * Copyright (C) the gobi authors
 *
 * What a password costs.  argon2id takes ~135 ms of CPU and 64 MiB, so:
 *
 *   - at most gobi_auth_concurrency hashes run at once in a worker (the
 *     other pool threads stay free for store work); more get 429 at once;
 *   - failed password checks are counted per username and per client
 *     address in shared memory (all workers), sign-ups per address; over
 *     gobi_login_limit a request gets 429 before any hashing.
 *
 *   - hashes may have a thread pool of their own (gobi_auth_thread_pool):
 *     they never wait behind store work nor hold its threads, and those
 *     threads run as SCHED_IDLE, so that the event loops and the store
 *     work of the machine go first (on 2 cores, two hashes at nice 0 made a
 *     Bearer GET's p99 40 ms instead of 0.5 ms).  In a shared pool a
 *     hash runs at nice 19 only where the thread may go back to 0.
 *
 * The counters are fixed windows of the limit's period, in an rbtree of the
 * zone with the oldest entries evicted first when it is full: a flood of
 * new keys forgets old ones, it never fails a request. *
 * A refused request gets its 429 after a pause (a tarpit): a client that
 * floods logins waits for each answer instead of sending the next request
 * at once, so N connections cost N requests a second, not as many as the
 * event loops can answer (on 2 cores, 200 connections got ~10,000 instant
 * 429s a second, and a Bearer GET's p99 went from 0.6 to 12 ms).  A
 * waiting request holds its connection and pool, no slot and no thread.
 */


#include "ngx_http_gobi_module.h"

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>


#define NGX_HTTP_GOBI_LIMIT_ZONE   (1024 * 1024)
#define NGX_HTTP_GOBI_LIMIT_PAUSE  1000    /* ms before a 429 goes out */
#define NGX_HTTP_GOBI_LIMIT_KEY    (GOBI_USERNAME_MAX + 1)

/* what a key counts */
#define NGX_HTTP_GOBI_LIMIT_USER   'u'     /* failed logins of a username */
#define NGX_HTTP_GOBI_LIMIT_ADDR   'a'     /* failed logins from an address */
#define NGX_HTTP_GOBI_LIMIT_SIGNUP 's'     /* sign-ups from an address */


typedef struct {
    u_char                 color;
    u_char                 len;
    u_short                count;
    ngx_queue_t            queue;          /* oldest first */
    ngx_msec_t             start;          /* the window's */
    u_char                 key[1];
} ngx_http_gobi_limit_node_t;


typedef struct {
    ngx_rbtree_t           rbtree;
    ngx_rbtree_node_t      sentinel;
    ngx_queue_t            queue;
} ngx_http_gobi_limit_sh_t;


typedef struct {
    ngx_http_gobi_limit_sh_t  *sh;
    ngx_slab_pool_t           *shpool;
} ngx_http_gobi_limit_t;


static ngx_int_t ngx_http_gobi_limit_init_zone(ngx_shm_zone_t *zone,
    void *data);
static void ngx_http_gobi_limit_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static size_t ngx_http_gobi_limit_key(ngx_http_request_t *r, u_char kind,
    const char *username, u_char *key);
static ngx_http_gobi_limit_node_t *ngx_http_gobi_limit_find(u_char *key,
    size_t len, uint32_t hash);
static ngx_msec_t ngx_http_gobi_limit_over(ngx_http_gobi_main_conf_t *gmcf,
    u_char *key, size_t len);
static void ngx_http_gobi_limit_count(ngx_http_gobi_main_conf_t *gmcf,
    u_char *key, size_t len);


static void ngx_http_gobi_limit_wake(ngx_http_request_t *r);


static ngx_http_gobi_limit_t  ngx_http_gobi_limit;
static ngx_uint_t             ngx_http_gobi_hashing;   /* this worker's */
static ngx_uint_t             ngx_http_gobi_renice;    /* may go back to 0 */
static ngx_uint_t             ngx_http_gobi_own_pool;  /* hashes only */
static __thread int           ngx_http_gobi_niced;     /* this thread is */


ngx_int_t
ngx_http_gobi_limit_init(ngx_conf_t *cf)
{
    ngx_str_t        name;
    ngx_shm_zone_t  *zone;

    ngx_str_set(&name, "gobi_limits");

    zone = ngx_shared_memory_add(cf, &name, NGX_HTTP_GOBI_LIMIT_ZONE,
                                 &ngx_http_gobi_module);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    zone->init = ngx_http_gobi_limit_init_zone;

    return NGX_OK;
}


static ngx_int_t
ngx_http_gobi_limit_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_slab_pool_t           *shpool;
    ngx_http_gobi_limit_sh_t  *sh;

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (data) {
        sh = data;

    } else if (zone->shm.exists) {
        sh = shpool->data;

    } else {
        sh = ngx_slab_alloc(shpool, sizeof(ngx_http_gobi_limit_sh_t));
        if (sh == NULL) {
            return NGX_ERROR;
        }

        ngx_rbtree_init(&sh->rbtree, &sh->sentinel,
                        ngx_http_gobi_limit_insert);
        ngx_queue_init(&sh->queue);

        shpool->data = sh;
        shpool->log_nomem = 0;
    }

    zone->data = sh;
    ngx_http_gobi_limit.sh = sh;
    ngx_http_gobi_limit.shpool = shpool;

    return NGX_OK;
}


static void
ngx_http_gobi_limit_insert(ngx_rbtree_node_t *temp, ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t          **p;
    ngx_http_gobi_limit_node_t  *n, *t;

    for ( ;; ) {

        if (node->key != temp->key) {
            p = (node->key < temp->key) ? &temp->left : &temp->right;

        } else {
            n = (ngx_http_gobi_limit_node_t *) &node->color;
            t = (ngx_http_gobi_limit_node_t *) &temp->color;

            p = (ngx_memn2cmp(n->key, t->key, n->len, t->len) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


/*
 * The thread count of gobi's pool, for the default concurrency.  nginx
 * keeps ngx_thread_pool_t private; its layout has not changed since 1.7.11
 * and the name field checks that this copy still matches it.
 */

typedef struct {
    ngx_thread_mutex_t     mtx;
    struct {
        ngx_thread_task_t   *first;
        ngx_thread_task_t  **last;
    }                      queue;
    ngx_int_t              waiting;
    ngx_thread_cond_t      cond;
    ngx_log_t             *log;
    ngx_str_t              name;
    ngx_uint_t             threads;
} ngx_http_gobi_thread_pool_t;


ngx_int_t
ngx_http_gobi_limit_init_module(ngx_cycle_t *cycle)
{
    ngx_uint_t                    threads;
    struct rlimit                 rl;
    ngx_http_gobi_main_conf_t    *gmcf;
    ngx_http_gobi_thread_pool_t  *tp;

    gmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_gobi_module);

    /*
     * A thread that lowered its priority for a hash may raise it back to
     * nice 0 only within RLIMIT_NICE (workers have no CAP_SYS_NICE).  The
     * master, usually root, allows that much for the workers it forks;
     * without it hashes run at normal priority.
     */

    if (getrlimit(RLIMIT_NICE, &rl) == 0 && rl.rlim_cur < 20) {
        rl.rlim_cur = 20;
        if (rl.rlim_max < 20) {
            rl.rlim_max = 20;
        }

        (void) setrlimit(RLIMIT_NICE, &rl);
    }

    if (gmcf->auth_concurrency != NGX_CONF_UNSET_UINT) {
        return NGX_OK;
    }

    tp = (ngx_http_gobi_thread_pool_t *) gmcf->auth_pool;
    threads = 0;

    if (tp->name.len == gmcf->auth_pool_name.len
        && ngx_strncmp(tp->name.data, gmcf->auth_pool_name.data,
                       tp->name.len) == 0
        && tp->threads > 0 && tp->threads < 65536)
    {
        threads = tp->threads;

    } else {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "gobi: cannot read the thread count of pool \"%V\", "
                      "gobi_auth_concurrency defaults to 1",
                      &gmcf->auth_pool_name);
    }

    /* a pool of its own may be busy hashing; a shared one only by half */

    if (gmcf->auth_pool == gmcf->thread_pool) {
        threads /= 2;
    }

    gmcf->auth_concurrency = ngx_max(threads, 1);

    return NGX_OK;
}


/* in a worker: can a pool thread go back to nice 0 after a hash? */

void
ngx_http_gobi_limit_init_process(ngx_cycle_t *cycle)
{
    struct rlimit               rl;
    ngx_http_gobi_main_conf_t  *gmcf;

    gmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_gobi_module);

    ngx_http_gobi_own_pool = (gmcf->auth_pool != gmcf->thread_pool);
    ngx_http_gobi_renice = getrlimit(RLIMIT_NICE, &rl) == 0
                           && rl.rlim_cur >= 20
                           && getpriority(PRIO_PROCESS, 0) == 0;

    if (!ngx_http_gobi_own_pool && !ngx_http_gobi_renice) {
        ngx_log_error(NGX_LOG_INFO, cycle->log, 0,
                      "gobi: password hashes run at normal priority "
                      "(no gobi_auth_thread_pool, RLIMIT_NICE below 20)");
    }
}


/*
 * Thread side, around an argon2id: this thread only (Linux priorities
 * are per thread).  Returns what ngx_http_gobi_hash_end() needs.
 */

int
ngx_http_gobi_hash_begin(void)
{
    pid_t               tid;
    struct sched_param  sp;

    if (ngx_http_gobi_niced) {
        return 0;
    }

    tid = (pid_t) syscall(SYS_gettid);

    if (ngx_http_gobi_own_pool) {
        /* for good, the thread does nothing else: it runs when nothing
         * else of the machine wants the CPU */
        ngx_memzero(&sp, sizeof(struct sched_param));
        ngx_http_gobi_niced = (sched_setscheduler(tid, SCHED_IDLE, &sp) == 0
                               || setpriority(PRIO_PROCESS, tid, 19) == 0);
        return 0;
    }

    if (!ngx_http_gobi_renice) {
        return 0;
    }

    return setpriority(PRIO_PROCESS, tid, 19) == 0;
}


void
ngx_http_gobi_hash_end(int lowered)
{
    pid_t  tid;

    if (lowered) {
        tid = (pid_t) syscall(SYS_gettid);
        (void) setpriority(PRIO_PROCESS, tid, 0);
    }
}


/* key: kind, then the client's address (IPv6: its /64) or a username */

static size_t
ngx_http_gobi_limit_key(ngx_http_request_t *r, u_char kind,
    const char *username, u_char *key)
{
    size_t                len;
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    key[0] = kind;

    if (kind == NGX_HTTP_GOBI_LIMIT_USER) {
        /* usernames are unique case-insensitively: so are their counts */
        len = ngx_min(ngx_strlen(username), GOBI_USERNAME_MAX);
        ngx_strlow(key + 1, (u_char *) username, len);
        return len + 1;
    }

    switch (r->connection->sockaddr->sa_family) {

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) r->connection->sockaddr;
        ngx_memcpy(key + 1, sin6->sin6_addr.s6_addr, 8);
        return 9;
#endif

    case AF_INET:
        sin = (struct sockaddr_in *) r->connection->sockaddr;
        ngx_memcpy(key + 1, &sin->sin_addr, 4);
        return 5;

    default:
        /* a unix socket: whoever is behind the proxy in front */
        return 1;
    }
}


static ngx_http_gobi_limit_node_t *
ngx_http_gobi_limit_find(u_char *key, size_t len, uint32_t hash)
{
    ngx_int_t                    rc;
    ngx_rbtree_node_t           *node, *sentinel;
    ngx_http_gobi_limit_node_t  *n;

    node = ngx_http_gobi_limit.sh->rbtree.root;
    sentinel = ngx_http_gobi_limit.sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }

        n = (ngx_http_gobi_limit_node_t *) &node->color;

        rc = ngx_memn2cmp(key, n->key, len, n->len);
        if (rc == 0) {
            return n;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


/* the ms until the key's window ends when it is over the limit, else 0 */

static ngx_msec_t
ngx_http_gobi_limit_over(ngx_http_gobi_main_conf_t *gmcf, u_char *key,
    size_t len)
{
    ngx_msec_t                   left;
    ngx_msec_int_t               age;
    ngx_http_gobi_limit_node_t  *n;

    left = 0;

    ngx_shmtx_lock(&ngx_http_gobi_limit.shpool->mutex);

    n = ngx_http_gobi_limit_find(key, len, ngx_crc32_short(key, len));

    if (n) {
        age = (ngx_msec_int_t) (ngx_current_msec - n->start);

        if (age >= 0 && (ngx_msec_t) age < gmcf->login_limit.period
            && n->count >= gmcf->login_limit.count)
        {
            left = gmcf->login_limit.period - age;
        }
    }

    ngx_shmtx_unlock(&ngx_http_gobi_limit.shpool->mutex);

    return left;
}


static void
ngx_http_gobi_limit_count(ngx_http_gobi_main_conf_t *gmcf, u_char *key,
    size_t len)
{
    size_t                       size;
    uint32_t                     hash;
    ngx_uint_t                   i;
    ngx_queue_t                 *q;
    ngx_msec_int_t               age;
    ngx_rbtree_node_t           *node;
    ngx_http_gobi_limit_sh_t    *sh;
    ngx_http_gobi_limit_node_t  *n;

    sh = ngx_http_gobi_limit.sh;
    hash = ngx_crc32_short(key, len);

    ngx_shmtx_lock(&ngx_http_gobi_limit.shpool->mutex);

    n = ngx_http_gobi_limit_find(key, len, hash);

    if (n) {
        age = (ngx_msec_int_t) (ngx_current_msec - n->start);

        if (age < 0 || (ngx_msec_t) age >= gmcf->login_limit.period) {
            n->start = ngx_current_msec;
            n->count = 0;
        }

        if (n->count < 65535) {
            n->count++;
        }

        ngx_queue_remove(&n->queue);
        ngx_queue_insert_head(&sh->queue, &n->queue);

        goto done;
    }

    size = offsetof(ngx_rbtree_node_t, color)
           + offsetof(ngx_http_gobi_limit_node_t, key) + len;

    /* the zone is full: the oldest entries go, at most a few a time */

    for (i = 0; i < 8; i++) {
        node = ngx_slab_alloc_locked(ngx_http_gobi_limit.shpool, size);
        if (node) {
            break;
        }

        if (ngx_queue_empty(&sh->queue)) {
            goto done;
        }

        q = ngx_queue_last(&sh->queue);
        n = ngx_queue_data(q, ngx_http_gobi_limit_node_t, queue);
        ngx_queue_remove(q);

        node = (ngx_rbtree_node_t *)
                   ((u_char *) n - offsetof(ngx_rbtree_node_t, color));
        ngx_rbtree_delete(&sh->rbtree, node);
        ngx_slab_free_locked(ngx_http_gobi_limit.shpool, node);
        node = NULL;
    }

    if (node == NULL) {
        goto done;
    }

    node->key = hash;
    n = (ngx_http_gobi_limit_node_t *) &node->color;
    n->len = (u_char) len;
    n->count = 1;
    n->start = ngx_current_msec;
    ngx_memcpy(n->key, key, len);

    ngx_rbtree_insert(&sh->rbtree, node);
    ngx_queue_insert_head(&sh->queue, &n->queue);

done:

    ngx_shmtx_unlock(&ngx_http_gobi_limit.shpool->mutex);
}


static ngx_int_t
ngx_http_gobi_limit_refuse(ngx_http_gobi_job_t *job, ngx_msec_t left,
    const char *what)
{
    job->retry_after = (left + 999) / 1000;

    ngx_http_gobi_job_error(job, NGX_HTTP_TOO_MANY_REQUESTS,
                            "too_many_requests", "%s, retry in %ui s", what,
                            job->retry_after);

    return NGX_DECLINED;
}


/*
 * Before a route that hashes a password is posted: the counters, then a
 * hashing slot.  NGX_DECLINED with the job's 429 set.
 */

ngx_int_t
ngx_http_gobi_limit_check(ngx_http_request_t *r, ngx_http_gobi_job_t *job,
    ngx_uint_t signup)
{
    size_t                      len;
    ngx_msec_t                  left;
    u_char                      key[1 + NGX_HTTP_GOBI_LIMIT_KEY];
    ngx_http_gobi_main_conf_t  *gmcf;

    gmcf = job->gmcf;

    if (signup) {
        len = ngx_http_gobi_limit_key(r, NGX_HTTP_GOBI_LIMIT_SIGNUP, NULL,
                                      key);
        left = ngx_http_gobi_limit_over(gmcf, key, len);

        if (left) {
            return ngx_http_gobi_limit_refuse(job, left,
                                              "too many sign-ups from your "
                                              "address");
        }

    } else {
        len = ngx_http_gobi_limit_key(r, NGX_HTTP_GOBI_LIMIT_ADDR, NULL,
                                      key);
        left = ngx_http_gobi_limit_over(gmcf, key, len);

        if (left == 0 && job->username) {
            len = ngx_http_gobi_limit_key(r, NGX_HTTP_GOBI_LIMIT_USER,
                                          job->username, key);
            left = ngx_http_gobi_limit_over(gmcf, key, len);
        }

        if (left) {
            return ngx_http_gobi_limit_refuse(job, left,
                                              "too many failed logins");
        }
    }

    if (ngx_http_gobi_hashing >= gmcf->auth_concurrency) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "gobi: %ui password hashes running, refused",
                       ngx_http_gobi_hashing);
        return ngx_http_gobi_limit_refuse(job, 1000,
                                          "too many logins at once");
    }

    ngx_http_gobi_hashing++;
    job->hashing = 1;

    if (signup) {
        ngx_http_gobi_limit_count(gmcf, key, len);
    }

    return NGX_OK;
}


/*
 * The job's 429 goes out after NGX_HTTP_GOBI_LIMIT_PAUSE, as limit_req
 * delays a request: the timer on the connection's write event, which
 * nginx deletes if the connection goes first (a client that closes is
 * seen by ngx_http_test_reading).
 */

ngx_int_t
ngx_http_gobi_limit_pause(ngx_http_request_t *r)
{
    ngx_event_t  *wev;

    wev = r->connection->write;

    r->main->count++;
    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_gobi_limit_wake;

    wev->delayed = 1;
    ngx_add_timer(wev, NGX_HTTP_GOBI_LIMIT_PAUSE);

    return NGX_DONE;
}


static void
ngx_http_gobi_limit_wake(ngx_http_request_t *r)
{
    ngx_int_t             rc;
    ngx_event_t          *wev;
    ngx_http_gobi_ctx_t  *ctx;

    wev = r->connection->write;

    /* ngx_http_request_handler() clears `delayed` when the timer fires */

    if (wev->delayed) {
        if (ngx_handle_write_event(wev, 0) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_ERROR);
        }

        return;
    }

    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    ctx = ngx_http_gobi_get_ctx(r);

    rc = ngx_http_gobi_send_job(r, ctx->job);
    ngx_http_finalize_request(r, rc);
}


/* the job is back: its slot is free, a wrong password counts */

void
ngx_http_gobi_limit_done(ngx_http_request_t *r, ngx_http_gobi_job_t *job)
{
    size_t  len;
    u_char  key[1 + NGX_HTTP_GOBI_LIMIT_KEY];

    if (!job->hashing) {
        return;
    }

    job->hashing = 0;
    ngx_http_gobi_hashing--;

    if (!job->password_failed) {
        return;
    }

    len = ngx_http_gobi_limit_key(r, NGX_HTTP_GOBI_LIMIT_ADDR, NULL, key);
    ngx_http_gobi_limit_count(job->gmcf, key, len);

    if (job->username) {
        len = ngx_http_gobi_limit_key(r, NGX_HTTP_GOBI_LIMIT_USER,
                                      job->username, key);
        ngx_http_gobi_limit_count(job->gmcf, key, len);
    }
}
