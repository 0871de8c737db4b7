
/*
 * Copyright (C) the gobi authors
 *
 * The Redis bus: the workers of every instance that serve one deployment.
 * A notice "vault V is at seq N" is PUBLISHed on the channel P:vault:V
 * with the seq in decimal as the message, P being gobi_bus_prefix (the
 * deployment: several may share one Redis, and vault ids of different
 * stores collide); a worker SUBSCRIBEs to the channels of the vaults it
 * has live sessions of, and only to those.
 *
 * Each worker has two hiredis async contexts on nginx's event loop
 * (ngx_http_gobi_bus_redis_io.c): one for commands (AUTH, SELECT,
 * PUBLISH) and one for subscriptions.  A lost connection is replaced by
 * a new context after a backoff with jitter; the subscriber then
 * subscribes to all its vaults again and, once Redis has confirmed that,
 * has every served vault re-read from the store: whatever rang while it
 * was away is not missed.
 *
 * A publish rings this worker's own sessions at once, then goes to Redis
 * (its echo on our own subscription is a duplicate, which the seq
 * filters).  Redis being away never fails or delays a write: notices that
 * could not be published (or whose PUBLISH got no answer) are kept, the
 * latest seq per vault, and published when the command connection is back.
 *
 * Redis pub/sub does not look at the database number: channels are
 * shared by every database of a server.  The number in the URI is
 * SELECTed on the command connection, nothing more.
 */


#include "ngx_http_gobi_module.h"
#include "ngx_http_gobi_conf.h"
#include "ngx_http_gobi_bus.h"
#include "ngx_http_gobi_bus_redis_io.h"
#include "ngx_http_gobi_metrics.h"

#include <hiredis/hiredis.h>
#include <hiredis/sds.h>


#define NGX_HTTP_GOBI_BUS_REDIS_VAULT        ":vault:"
#define NGX_HTTP_GOBI_BUS_REDIS_CHANNEL_LEN  (NGX_HTTP_GOBI_BUS_PREFIX_MAX   \
                                              + sizeof(":vault:") - 1       \
                                              + NGX_INT64_LEN)
#define NGX_HTTP_GOBI_BUS_REDIS_PORT         6379

#define NGX_HTTP_GOBI_BUS_REDIS_BACKOFF_MIN  100      /* ms */
#define NGX_HTTP_GOBI_BUS_REDIS_BACKOFF_MAX  5000     /* ms */
#define NGX_HTTP_GOBI_BUS_REDIS_TIMEOUT      5000     /* connect + setup */
#define NGX_HTTP_GOBI_BUS_REDIS_LOG_EVERY    10       /* s, repeated logs */

/* channels in one SUBSCRIBE after a connect */
#define NGX_HTTP_GOBI_BUS_REDIS_BATCH        512

/* unanswered bytes to Redis before the connection is deemed stuck */
#define NGX_HTTP_GOBI_BUS_REDIS_OBUF_MAX     (1024 * 1024)

/* vaults whose latest notice is kept while Redis is away */
#define NGX_HTTP_GOBI_BUS_REDIS_KEEP_MAX     65536



typedef struct {
    ngx_str_t                  name;        /* the URI, for logs */
    ngx_str_t                  channel;     /* "<gobi_bus_prefix>:vault:" */
    char                      *addr;        /* numeric, for hiredis */
    int                        port;
    ngx_int_t                  db;
    ngx_str_t                  user;
    ngx_str_t                  password;    /* len 0: no AUTH */
} ngx_http_gobi_bus_redis_conf_t;


typedef struct {
    const char                *role;        /* for logs */
    ngx_http_gobi_redis_io_t   io;          /* io.ac: NULL when closed */
    ngx_event_t                timer;       /* reconnect, or set-up timeout */
    ngx_msec_t                 backoff;
    ngx_uint_t                 setup;       /* AUTH, SELECT replies awaited */
    ngx_uint_t                 failures;    /* attempts since it was up */
    ngx_uint_t                 batch;       /* SUBSCRIBEs to be confirmed */
    time_t                     logged;
    const char                *reason;      /* why we closed it ourselves */
    u_char                     err[128];

    unsigned                   ready:1;
    unsigned                   subscriber:1;
    unsigned                   subscribing:1;  /* set up, SUBSCRIBEs may go */
    unsigned                   was_up:1;
} ngx_http_gobi_bus_redis_conn_t;


/* a vault this worker has sessions of (or that Redis still answers for) */
typedef struct ngx_http_gobi_bus_redis_vault_s
    ngx_http_gobi_bus_redis_vault_t;

struct ngx_http_gobi_bus_redis_vault_s {
    ngx_rbtree_node_t                 node;     /* key: vault id */
    int64_t                           vault;
    ngx_uint_t                        refs;     /* local subscribe() calls */
    ngx_uint_t                        subs;     /* SUBSCRIBE replies awaited */
    ngx_uint_t                        unsubs;   /* UNSUBSCRIBE replies */
    ngx_http_gobi_bus_redis_vault_t  *next;     /* a walk's list */
    unsigned                          sent:1;   /* last command: SUBSCRIBE */
    unsigned                          live:1;   /* confirmed, re-read */
    unsigned                          batch:1;  /* in the post-connect batch */
};


/* a vault whose latest notice Redis has not yet taken */
typedef struct {
    ngx_rbtree_node_t          node;        /* key: vault id */
    int64_t                    vault;
    int64_t                    seq;
    ngx_uint_t                 inflight;    /* PUBLISH replies awaited */
    unsigned                   unsent:1;
} ngx_http_gobi_bus_redis_notice_t;


typedef void (*ngx_http_gobi_bus_redis_walk_pt)(ngx_rbtree_node_t *node);


static ngx_int_t ngx_http_gobi_bus_redis_configure(ngx_conf_t *cf,
    ngx_str_t *uri);
static ngx_int_t ngx_http_gobi_bus_redis_unescape(ngx_conf_t *cf,
    ngx_str_t *in, ngx_str_t *out);
static ngx_int_t ngx_http_gobi_bus_redis_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_gobi_bus_redis_init_process(ngx_cycle_t *cycle);
static void ngx_http_gobi_bus_redis_exit_process(ngx_cycle_t *cycle);
static void ngx_http_gobi_bus_redis_publish(int64_t vault, int64_t seq);
static void ngx_http_gobi_bus_redis_subscribe(int64_t vault);
static void ngx_http_gobi_bus_redis_unsubscribe(int64_t vault);
static ngx_flag_t ngx_http_gobi_bus_redis_connected_now(void);

static void ngx_http_gobi_bus_redis_connect(
    ngx_http_gobi_bus_redis_conn_t *rc);
static void ngx_http_gobi_bus_redis_failed(ngx_http_gobi_bus_redis_conn_t *rc,
    const char *why);
static void ngx_http_gobi_bus_redis_schedule(
    ngx_http_gobi_bus_redis_conn_t *rc);
static void ngx_http_gobi_bus_redis_timer(ngx_event_t *ev);
static void ngx_http_gobi_bus_redis_up(ngx_http_gobi_bus_redis_conn_t *rc);
static void ngx_http_gobi_bus_redis_drop(ngx_http_gobi_bus_redis_conn_t *rc,
    const char *why);

static void ngx_http_gobi_bus_redis_closed(void *data,
    redisAsyncContext *ac);
static void ngx_http_gobi_bus_redis_io_failed(void *data, const char *why);
static void ngx_http_gobi_bus_redis_connected(const redisAsyncContext *ac,
    int status);

static void ngx_http_gobi_bus_redis_setup_reply(redisAsyncContext *ac,
    void *r, void *data);
static void ngx_http_gobi_bus_redis_publish_reply(redisAsyncContext *ac,
    void *r, void *data);
static void ngx_http_gobi_bus_redis_send(ngx_http_gobi_bus_redis_notice_t *n);
static void ngx_http_gobi_bus_redis_resend(ngx_rbtree_node_t *node);
static void ngx_http_gobi_bus_redis_notice_done(
    ngx_http_gobi_bus_redis_notice_t *n);

static void ngx_http_gobi_bus_redis_batch(void);
static void ngx_http_gobi_bus_redis_batch_add(ngx_rbtree_node_t *node);
static void ngx_http_gobi_bus_redis_batch_flush(void);
static void ngx_http_gobi_bus_redis_sub_reply(redisAsyncContext *ac,
    void *r, void *data);
static void ngx_http_gobi_bus_redis_confirmed(int64_t vault);
static void ngx_http_gobi_bus_redis_vault_done(
    ngx_http_gobi_bus_redis_vault_t *v);
static void ngx_http_gobi_bus_redis_vault_reset(ngx_rbtree_node_t *node);

static ngx_rbtree_node_t *ngx_http_gobi_bus_redis_find(ngx_rbtree_t *tree,
    int64_t vault);
static void ngx_http_gobi_bus_redis_walk(ngx_rbtree_t *tree,
    ngx_http_gobi_bus_redis_walk_pt handler);
static void ngx_http_gobi_bus_redis_walk_node(ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel, ngx_http_gobi_bus_redis_walk_pt handler);
static size_t ngx_http_gobi_bus_redis_channel(u_char *buf, int64_t vault);
static int64_t ngx_http_gobi_bus_redis_number(const char *p, size_t len);
static ngx_uint_t ngx_http_gobi_bus_redis_log_due(time_t *last);


const ngx_http_gobi_bus_t  ngx_http_gobi_bus_redis = {
    "redis",
    ngx_http_gobi_bus_redis_configure,
    ngx_http_gobi_bus_redis_init_module,
    ngx_http_gobi_bus_redis_init_process,
    ngx_http_gobi_bus_redis_exit_process,
    ngx_http_gobi_bus_redis_publish,
    ngx_http_gobi_bus_redis_subscribe,
    ngx_http_gobi_bus_redis_unsubscribe,
    ngx_http_gobi_bus_redis_connected_now
};


/* what the last configure() parsed, and what this cycle runs with */
static ngx_http_gobi_bus_redis_conf_t  *ngx_http_gobi_bus_redis_parsed;
static ngx_http_gobi_bus_redis_conf_t  *ngx_http_gobi_bus_redis_conf;

static ngx_http_gobi_bus_redis_conn_t   ngx_http_gobi_bus_redis_cmd;
static ngx_http_gobi_bus_redis_conn_t   ngx_http_gobi_bus_redis_sub;
static ngx_http_gobi_bus_redis_conn_t  *ngx_http_gobi_bus_redis_conns[] = {
    &ngx_http_gobi_bus_redis_cmd,
    &ngx_http_gobi_bus_redis_sub
};
static ngx_uint_t                       ngx_http_gobi_bus_redis_running;

/* this worker's vaults: what the subscriber connection subscribes to */
static ngx_rbtree_t                     ngx_http_gobi_bus_redis_vaults;
static ngx_rbtree_node_t                ngx_http_gobi_bus_redis_vsentinel;
static ngx_http_gobi_bus_redis_vault_t *ngx_http_gobi_bus_redis_doomed;

/* notices not yet taken by Redis */
static ngx_rbtree_t                     ngx_http_gobi_bus_redis_notices;
static ngx_rbtree_node_t                ngx_http_gobi_bus_redis_nsentinel;
static ngx_uint_t                       ngx_http_gobi_bus_redis_nnotices;
static ngx_uint_t                       ngx_http_gobi_bus_redis_dropped;
static time_t                           ngx_http_gobi_bus_redis_kept_logged;
static time_t                           ngx_http_gobi_bus_redis_drop_logged;

/* one SUBSCRIBE being built */
static const char   *ngx_http_gobi_bus_redis_argv[
                         NGX_HTTP_GOBI_BUS_REDIS_BATCH + 1];
static size_t        ngx_http_gobi_bus_redis_argvlen[
                         NGX_HTTP_GOBI_BUS_REDIS_BATCH + 1];
static u_char        ngx_http_gobi_bus_redis_names[
                         NGX_HTTP_GOBI_BUS_REDIS_BATCH]
                         [NGX_HTTP_GOBI_BUS_REDIS_CHANNEL_LEN];
static int           ngx_http_gobi_bus_redis_argc;


/* configuration --------------------------------------------------------- */


/*
 * redis://[[user]:password@]host[:port][/db]; the user and the password
 * may hold %XX escapes.  The host is resolved now, as for upstreams.
 */

static ngx_int_t
ngx_http_gobi_bus_redis_configure(ngx_conf_t *cf, ngx_str_t *uri)
{
    u_char                          *p, *last, *at, *slash, *colon;
    size_t                           len;
    ngx_int_t                        db;
    ngx_url_t                        u;
    ngx_str_t                        userinfo, user, password, hostport;
    ngx_str_t                        name;
    ngx_http_gobi_bus_redis_conf_t  *rcf;
    ngx_http_gobi_main_conf_t       *gmcf;

    gmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_gobi_module);

    if (ngx_http_gobi_bus_prefix_check(cf, &gmcf->bus_prefix) != NGX_OK) {
        return NGX_ERROR;
    }

    /*
     * What the messages below show of the URI: a password with an
     * unescaped '/' is cut at it, and its start would pass for the host.
     */

    if (ngx_http_gobi_uri_mask(cf->pool, uri, &name) != NGX_OK) {
        return NGX_ERROR;
    }

    p = uri->data;
    last = p + uri->len;

    if (uri->len >= sizeof("rediss://") - 1
        && ngx_strncasecmp(p, (u_char *) "rediss://",
                           sizeof("rediss://") - 1) == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"gobi_bus\": \"rediss://\" (Redis over TLS) "
                           "is not supported yet, use \"redis://\" on a "
                           "trusted network or through a TLS tunnel");
        return NGX_ERROR;
    }

    if (uri->len < sizeof("redis://") - 1
        || ngx_strncasecmp(p, (u_char *) "redis://", sizeof("redis://") - 1)
           != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"gobi_bus\": expected "
                           "\"redis://[:password@]host:port/db\"");
        return NGX_ERROR;
    }

    p += sizeof("redis://") - 1;

    slash = ngx_strlchr(p, last, '/');
    if (slash == NULL) {
        slash = last;
    }

    /* the last '@' before the path: a password must escape its own */

    at = NULL;

    for (colon = p; colon < slash; colon++) {
        if (*colon == '@') {
            at = colon;
        }
    }

    ngx_str_null(&user);
    ngx_str_null(&password);

    if (at) {
        userinfo.data = p;
        userinfo.len = at - p;

        colon = ngx_strlchr(userinfo.data, at, ':');
        if (colon == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"gobi_bus\": expected \"[user]:password@\" "
                               "before the host of the Redis URI");
            return NGX_ERROR;
        }

        user.data = userinfo.data;
        user.len = colon - userinfo.data;
        password.data = colon + 1;
        password.len = at - password.data;

        if (password.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"gobi_bus\": empty password in the Redis "
                               "URI");
            return NGX_ERROR;
        }

        if (ngx_http_gobi_bus_redis_unescape(cf, &user, &user) != NGX_OK
            || ngx_http_gobi_bus_redis_unescape(cf, &password, &password)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        p = at + 1;
    }

    hostport.data = p;
    hostport.len = slash - p;

    if (hostport.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"gobi_bus\": no host in the Redis URI");
        return NGX_ERROR;
    }

    if (hostport.len >= 5 && ngx_strncmp(hostport.data, "unix:", 5) == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"gobi_bus\": the Redis bus connects over TCP "
                           "only, expected \"redis://host:port/db\"");
        return NGX_ERROR;
    }

    db = 0;

    if (slash < last) {
        p = slash + 1;
        len = last - p;

        db = (len > 0 && len <= 9) ? ngx_atoi(p, len) : NGX_ERROR;

        if (db == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"gobi_bus\": the database in the Redis URI "
                               "must be a number, as in "
                               "\"redis://127.0.0.1:6379/0\"");
            return NGX_ERROR;
        }
    }

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = hostport;
    u.default_port = NGX_HTTP_GOBI_BUS_REDIS_PORT;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"gobi_bus\": %s in \"%V\"",
                           u.err ? u.err : "invalid host", &name);
        return NGX_ERROR;
    }

    if (u.naddrs == 0 || u.family == AF_UNIX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"gobi_bus\": no address for \"%V\"", &name);
        return NGX_ERROR;
    }

    rcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_gobi_bus_redis_conf_t));
    if (rcf == NULL) {
        return NGX_ERROR;
    }

    /* the first address; hiredis wants it as text */

    rcf->addr = ngx_pcalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
    if (rcf->addr == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen,
                         (u_char *) rcf->addr, NGX_SOCKADDR_STRLEN, 0);

    rcf->port = u.no_port ? NGX_HTTP_GOBI_BUS_REDIS_PORT : u.port;
    rcf->db = db;
    rcf->user = user;
    rcf->password = password;

    /* for logs: never the password */
    rcf->name = name;

    rcf->channel.len = gmcf->bus_prefix.len
                       + sizeof(NGX_HTTP_GOBI_BUS_REDIS_VAULT) - 1;
    rcf->channel.data = ngx_pnalloc(cf->pool, rcf->channel.len);
    if (rcf->channel.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(rcf->channel.data, "%V" NGX_HTTP_GOBI_BUS_REDIS_VAULT,
                &gmcf->bus_prefix);

    if (u.naddrs > 1) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"gobi_bus\": \"%V\" has %ui addresses, the bus "
                           "uses the first, %s", &hostport, u.naddrs,
                           rcf->addr);
    }

    ngx_http_gobi_bus_redis_parsed = rcf;

    return NGX_OK;
}


static ngx_int_t
ngx_http_gobi_bus_redis_unescape(ngx_conf_t *cf, ngx_str_t *in,
    ngx_str_t *out)
{
    u_char      *dst, *p, *last;
    ngx_int_t    hi, lo;

    p = in->data;
    last = p + in->len;

    dst = ngx_pnalloc(cf->pool, in->len + 1);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    out->data = dst;

    while (p < last) {
        if (*p != '%') {
            *dst++ = *p++;
            continue;
        }

        hi = (last - p >= 3) ? ngx_hextoi(p + 1, 1) : NGX_ERROR;
        lo = (last - p >= 3) ? ngx_hextoi(p + 2, 1) : NGX_ERROR;

        if (hi == NGX_ERROR || lo == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"gobi_bus\": bad %%XX escape in the user "
                               "or password of the Redis URI");
            return NGX_ERROR;
        }

        *dst++ = (u_char) (hi * 16 + lo);
        p += 3;
    }

    *dst = '\0';
    out->len = dst - out->data;

    return NGX_OK;
}


/* the master: the configuration that parsed is the one the workers get */

static ngx_int_t
ngx_http_gobi_bus_redis_init_module(ngx_cycle_t *cycle)
{
    ngx_http_gobi_bus_redis_conf = ngx_http_gobi_bus_redis_parsed;

    return NGX_OK;
}


/* a worker -------------------------------------------------------------- */


static ngx_int_t
ngx_http_gobi_bus_redis_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                       i;
    ngx_http_gobi_bus_redis_conn_t  *rc;

    if (ngx_http_gobi_bus_redis_conf == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "gobi: the Redis bus is not configured");
        return NGX_ERROR;
    }

    ngx_rbtree_init(&ngx_http_gobi_bus_redis_vaults,
                    &ngx_http_gobi_bus_redis_vsentinel,
                    ngx_rbtree_insert_value);
    ngx_rbtree_init(&ngx_http_gobi_bus_redis_notices,
                    &ngx_http_gobi_bus_redis_nsentinel,
                    ngx_rbtree_insert_value);

    ngx_http_gobi_bus_redis_cmd.role = "command";
    ngx_http_gobi_bus_redis_sub.role = "subscriber";
    ngx_http_gobi_bus_redis_sub.subscriber = 1;

    ngx_http_gobi_bus_redis_running = 1;

    for (i = 0; i < 2; i++) {
        rc = ngx_http_gobi_bus_redis_conns[i];

        rc->backoff = NGX_HTTP_GOBI_BUS_REDIS_BACKOFF_MIN;
        rc->timer.handler = ngx_http_gobi_bus_redis_timer;
        rc->timer.data = rc;
        rc->timer.log = cycle->log;
        rc->timer.cancelable = 1;    /* a graceful exit does not wait */

        ngx_http_gobi_bus_redis_connect(rc);
    }

    return NGX_OK;
}


static void
ngx_http_gobi_bus_redis_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                       i;
    ngx_http_gobi_bus_redis_conn_t  *rc;

    if (!ngx_http_gobi_bus_redis_running) {
        return;
    }

    ngx_http_gobi_bus_redis_running = 0;

    for (i = 0; i < 2; i++) {
        rc = ngx_http_gobi_bus_redis_conns[i];

        if (rc->timer.timer_set) {
            ngx_del_timer(&rc->timer);
        }

        if (rc->io.ac) {
            rc->reason = "the worker exits";
            redisAsyncFree(rc->io.ac);     /* runs ..._closed() */
        }
    }

    if (ngx_http_gobi_bus_redis_nnotices) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "gobi: redis bus: %ui notices not published at exit "
                      "(subscribers catch up from the store)",
                      ngx_http_gobi_bus_redis_nnotices);
    }
}


/* publishing ------------------------------------------------------------- */


static void
ngx_http_gobi_bus_redis_publish(int64_t vault, int64_t seq)
{
    ngx_rbtree_node_t                 *node;
    ngx_http_gobi_bus_redis_conn_t    *rc;
    ngx_http_gobi_bus_redis_notice_t  *n;

    /* this worker's own sessions need not wait for Redis' echo */
    ngx_http_gobi_subs_notice(vault, seq);

    if (!ngx_http_gobi_bus_redis_running) {
        return;
    }

    rc = &ngx_http_gobi_bus_redis_cmd;

    if (rc->ready
        && sdslen(rc->io.ac->c.obuf) > NGX_HTTP_GOBI_BUS_REDIS_OBUF_MAX)
    {
        ngx_http_gobi_bus_redis_drop(rc, "Redis does not read what we send");
    }

    node = ngx_http_gobi_bus_redis_find(&ngx_http_gobi_bus_redis_notices,
                                        vault);

    if (node) {
        n = (ngx_http_gobi_bus_redis_notice_t *) node;

        if (seq > n->seq) {
            n->seq = seq;
        }

    } else {
        if (ngx_http_gobi_bus_redis_nnotices
            >= NGX_HTTP_GOBI_BUS_REDIS_KEEP_MAX)
        {
            ngx_http_gobi_bus_redis_dropped++;

            if (ngx_http_gobi_bus_redis_log_due(
                    &ngx_http_gobi_bus_redis_drop_logged))
            {
                ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                              "gobi: redis bus: %ui notices dropped, too "
                              "many vaults wait for Redis (subscribers "
                              "catch up at their next notice)",
                              ngx_http_gobi_bus_redis_dropped);
                ngx_http_gobi_bus_redis_dropped = 0;
            }

            return;
        }

        n = ngx_alloc(sizeof(ngx_http_gobi_bus_redis_notice_t),
                      ngx_cycle->log);
        if (n == NULL) {
            return;
        }

        n->node.key = (ngx_rbtree_key_t) vault;
        n->vault = vault;
        n->seq = seq;
        n->inflight = 0;
        n->unsent = 0;

        ngx_rbtree_insert(&ngx_http_gobi_bus_redis_notices, &n->node);
        ngx_http_gobi_bus_redis_nnotices++;
    }

    if (rc->ready) {
        ngx_http_gobi_bus_redis_send(n);
        return;
    }

    /* Redis is away: the latest seq waits for it, the write goes on */

    n->unsent = 1;

    if (ngx_http_gobi_bus_redis_log_due(&ngx_http_gobi_bus_redis_kept_logged))
    {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "gobi: redis bus: %V is not available, notices wait "
                      "for it (writes go on, the store has them)",
                      &ngx_http_gobi_bus_redis_conf->name);
    }
}


static void
ngx_http_gobi_bus_redis_send(ngx_http_gobi_bus_redis_notice_t *n)
{
    u_char                           chan[NGX_HTTP_GOBI_BUS_REDIS_CHANNEL_LEN];
    u_char                           msg[NGX_INT64_LEN];
    size_t                           clen, mlen;
    ngx_http_gobi_bus_redis_conn_t  *rc;

    rc = &ngx_http_gobi_bus_redis_cmd;

    clen = ngx_http_gobi_bus_redis_channel(chan, n->vault);
    mlen = ngx_sprintf(msg, "%L", n->seq) - msg;

    if (redisAsyncCommand(rc->io.ac, ngx_http_gobi_bus_redis_publish_reply, n,
                          "PUBLISH %b %b", chan, clen, msg, mlen)
        != REDIS_OK)
    {
        n->unsent = 1;
        return;
    }

    n->unsent = 0;
    n->inflight++;
}


static void
ngx_http_gobi_bus_redis_publish_reply(redisAsyncContext *ac, void *r,
    void *data)
{
    redisReply                        *reply = r;
    ngx_http_gobi_bus_redis_notice_t  *n = data;

    n->inflight--;

    if (reply == NULL) {
        /* the connection went before Redis answered: maybe not sent */
        n->unsent = 1;
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR
        && ngx_http_gobi_bus_redis_log_due(
               &ngx_http_gobi_bus_redis_drop_logged))
    {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "gobi: redis bus: PUBLISH failed: %*s",
                      (size_t) reply->len, reply->str);
    }

    ngx_http_gobi_bus_redis_notice_done(n);
}


static void
ngx_http_gobi_bus_redis_notice_done(ngx_http_gobi_bus_redis_notice_t *n)
{
    if (n->inflight || n->unsent) {
        return;
    }

    ngx_rbtree_delete(&ngx_http_gobi_bus_redis_notices, &n->node);
    ngx_http_gobi_bus_redis_nnotices--;
    ngx_free(n);
}


/* the command connection is (back) up: what waited goes now */

static void
ngx_http_gobi_bus_redis_resend(ngx_rbtree_node_t *node)
{
    ngx_http_gobi_bus_redis_notice_t  *n;

    n = (ngx_http_gobi_bus_redis_notice_t *) node;

    if (n->unsent) {
        ngx_http_gobi_bus_redis_send(n);
    }
}


/* subscribing ------------------------------------------------------------ */


static void
ngx_http_gobi_bus_redis_subscribe(int64_t vault)
{
    u_char                           *name;
    size_t                            len;
    ngx_rbtree_node_t                *node;
    ngx_http_gobi_bus_redis_conn_t   *rc;
    ngx_http_gobi_bus_redis_vault_t  *v;

    if (!ngx_http_gobi_bus_redis_running) {
        return;
    }

    node = ngx_http_gobi_bus_redis_find(&ngx_http_gobi_bus_redis_vaults,
                                        vault);

    if (node) {
        v = (ngx_http_gobi_bus_redis_vault_t *) node;

    } else {
        v = ngx_calloc(sizeof(ngx_http_gobi_bus_redis_vault_t),
                       ngx_cycle->log);
        if (v == NULL) {
            return;
        }

        v->node.key = (ngx_rbtree_key_t) vault;
        v->vault = vault;

        ngx_rbtree_insert(&ngx_http_gobi_bus_redis_vaults, &v->node);
    }

    if (v->refs++ > 0) {
        return;
    }

    rc = &ngx_http_gobi_bus_redis_sub;

    if (!rc->subscribing) {
        /* the batch after the next connect has it */
        return;
    }

    name = ngx_http_gobi_bus_redis_names[0];
    len = ngx_http_gobi_bus_redis_channel(name, vault);

    if (redisAsyncCommand(rc->io.ac, ngx_http_gobi_bus_redis_sub_reply, rc,
                          "SUBSCRIBE %b", name, len)
        == REDIS_OK)
    {
        v->sent = 1;
        v->subs++;
    }
}


static void
ngx_http_gobi_bus_redis_unsubscribe(int64_t vault)
{
    u_char                           *name;
    size_t                            len;
    ngx_rbtree_node_t                *node;
    ngx_http_gobi_bus_redis_conn_t   *rc;
    ngx_http_gobi_bus_redis_vault_t  *v;

    if (!ngx_http_gobi_bus_redis_running) {
        return;
    }

    node = ngx_http_gobi_bus_redis_find(&ngx_http_gobi_bus_redis_vaults,
                                        vault);
    if (node == NULL) {
        return;
    }

    v = (ngx_http_gobi_bus_redis_vault_t *) node;

    if (v->refs == 0 || --v->refs > 0) {
        return;
    }

    v->live = 0;
    rc = &ngx_http_gobi_bus_redis_sub;

    if (v->sent && rc->io.ac) {
        name = ngx_http_gobi_bus_redis_names[0];
        len = ngx_http_gobi_bus_redis_channel(name, vault);

        if (redisAsyncCommand(rc->io.ac, NULL, NULL, "UNSUBSCRIBE %b",
                              name, len)
            == REDIS_OK)
        {
            v->unsubs++;
        }
    }

    v->sent = 0;

    ngx_http_gobi_bus_redis_vault_done(v);
}


/* after a connect: every vault this worker serves, in a few SUBSCRIBEs */

static void
ngx_http_gobi_bus_redis_batch(void)
{
    ngx_http_gobi_bus_redis_conn_t  *rc;

    rc = &ngx_http_gobi_bus_redis_sub;

    rc->subscribing = 1;
    rc->batch = 0;

    ngx_http_gobi_bus_redis_argv[0] = "SUBSCRIBE";
    ngx_http_gobi_bus_redis_argvlen[0] = sizeof("SUBSCRIBE") - 1;
    ngx_http_gobi_bus_redis_argc = 1;

    ngx_http_gobi_bus_redis_walk(&ngx_http_gobi_bus_redis_vaults,
                                 ngx_http_gobi_bus_redis_batch_add);

    ngx_http_gobi_bus_redis_batch_flush();
}


static void
ngx_http_gobi_bus_redis_batch_add(ngx_rbtree_node_t *node)
{
    int                               i;
    u_char                           *name;
    ngx_http_gobi_bus_redis_vault_t  *v;

    v = (ngx_http_gobi_bus_redis_vault_t *) node;

    if (v->refs == 0) {
        return;
    }

    i = ngx_http_gobi_bus_redis_argc++;
    name = ngx_http_gobi_bus_redis_names[i - 1];

    ngx_http_gobi_bus_redis_argv[i] = (const char *) name;
    ngx_http_gobi_bus_redis_argvlen[i] =
                               ngx_http_gobi_bus_redis_channel(name, v->vault);

    v->sent = 1;
    v->subs++;
    v->batch = 1;
    ngx_http_gobi_bus_redis_sub.batch++;

    if (ngx_http_gobi_bus_redis_argc == NGX_HTTP_GOBI_BUS_REDIS_BATCH + 1) {
        ngx_http_gobi_bus_redis_batch_flush();
    }
}


static void
ngx_http_gobi_bus_redis_batch_flush(void)
{
    ngx_http_gobi_bus_redis_conn_t  *rc;

    rc = &ngx_http_gobi_bus_redis_sub;

    if (ngx_http_gobi_bus_redis_argc > 1) {
        /* a failure means the context is going: its cleanup resets all */
        (void) redisAsyncCommandArgv(rc->io.ac,
                                     ngx_http_gobi_bus_redis_sub_reply, rc,
                                     ngx_http_gobi_bus_redis_argc,
                                     ngx_http_gobi_bus_redis_argv,
                                     ngx_http_gobi_bus_redis_argvlen);
    }

    ngx_http_gobi_bus_redis_argc = 1;
}


/*
 * Every reply on the subscriber connection but AUTH's: ["subscribe", ch,
 * n], ["unsubscribe", ch, n] and ["message", ch, seq].
 */

static void
ngx_http_gobi_bus_redis_sub_reply(redisAsyncContext *ac, void *r, void *data)
{
    redisReply                      *reply = r;
    ngx_http_gobi_bus_redis_conn_t  *rc = data;

    int64_t                           vault, seq;
    ngx_str_t                        *prefix;
    redisReply                       *type, *chan, *msg;
    ngx_rbtree_node_t                *node;
    ngx_http_gobi_bus_redis_vault_t  *v;

    if (reply == NULL || rc->io.ac != ac) {
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) {
        if (reply->type == REDIS_REPLY_ERROR) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "gobi: redis bus: %V: %*s",
                          &ngx_http_gobi_bus_redis_conf->name,
                          (size_t) reply->len, reply->str);
        }

        return;
    }

    type = reply->element[0];
    chan = reply->element[1];
    msg = reply->element[2];
    prefix = &ngx_http_gobi_bus_redis_conf->channel;

    if (type->type != REDIS_REPLY_STRING || chan->type != REDIS_REPLY_STRING
        || chan->len <= prefix->len
        || ngx_strncmp(chan->str, prefix->data, prefix->len) != 0)
    {
        return;
    }

    vault = ngx_http_gobi_bus_redis_number(chan->str + prefix->len,
                                           chan->len - prefix->len);
    if (vault < 0) {
        return;
    }

    if (type->len == 7 && ngx_strncmp(type->str, "message", 7) == 0) {
        seq = (msg->type == REDIS_REPLY_STRING)
              ? ngx_http_gobi_bus_redis_number(msg->str, msg->len) : -1;

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "gobi: redis bus: vault %L at seq %L", vault, seq);

        /* not a seq (someone else's message): re-read to be sure */
        ngx_http_gobi_subs_notice(vault, seq);
        return;
    }

    if (type->len == 9 && ngx_strncmp(type->str, "subscribe", 9) == 0) {
        ngx_http_gobi_bus_redis_confirmed(vault);
        return;
    }

    if (type->len == 11 && ngx_strncmp(type->str, "unsubscribe", 11) == 0) {
        node = ngx_http_gobi_bus_redis_find(&ngx_http_gobi_bus_redis_vaults,
                                            vault);
        if (node) {
            v = (ngx_http_gobi_bus_redis_vault_t *) node;

            if (v->unsubs) {
                v->unsubs--;
            }

            ngx_http_gobi_bus_redis_vault_done(v);
        }
    }
}


/*
 * Redis confirmed a SUBSCRIBE.  When it is the last one awaited for the
 * vault, the subscription is active: a notice published before it may
 * have been missed, so the vault is read from the store once.  After a
 * connect that is done for all vaults at once, when the whole batch is
 * confirmed.
 */

static void
ngx_http_gobi_bus_redis_confirmed(int64_t vault)
{
    ngx_rbtree_node_t                *node;
    ngx_http_gobi_bus_redis_conn_t   *rc;
    ngx_http_gobi_bus_redis_vault_t  *v;

    node = ngx_http_gobi_bus_redis_find(&ngx_http_gobi_bus_redis_vaults,
                                        vault);
    if (node == NULL) {
        return;
    }

    v = (ngx_http_gobi_bus_redis_vault_t *) node;

    if (v->subs == 0 || --v->subs > 0) {
        return;
    }

    rc = &ngx_http_gobi_bus_redis_sub;

    if (v->batch) {
        v->batch = 0;
        v->live = (v->refs && v->sent);

        if (--rc->batch == 0) {
            ngx_http_gobi_bus_redis_up(rc);
        }

    } else if (v->refs && v->sent && !v->live) {
        v->live = 1;
        ngx_http_gobi_subs_notice(vault, -1);
    }

    ngx_http_gobi_bus_redis_vault_done(v);
}


static void
ngx_http_gobi_bus_redis_vault_done(ngx_http_gobi_bus_redis_vault_t *v)
{
    if (v->refs || v->subs || v->unsubs || v->batch) {
        return;
    }

    ngx_rbtree_delete(&ngx_http_gobi_bus_redis_vaults, &v->node);
    ngx_free(v);
}


/* the subscriber connection is gone: nothing is pending any more */

static void
ngx_http_gobi_bus_redis_vault_reset(ngx_rbtree_node_t *node)
{
    ngx_http_gobi_bus_redis_vault_t  *v;

    v = (ngx_http_gobi_bus_redis_vault_t *) node;

    v->subs = 0;
    v->unsubs = 0;
    v->sent = 0;
    v->live = 0;
    v->batch = 0;

    if (v->refs == 0) {
        v->next = ngx_http_gobi_bus_redis_doomed;
        ngx_http_gobi_bus_redis_doomed = v;
    }
}


/* connections ----------------------------------------------------------- */


static void
ngx_http_gobi_bus_redis_connect(ngx_http_gobi_bus_redis_conn_t *rc)
{
    redisAsyncContext               *ac;
    ngx_http_gobi_bus_redis_conf_t  *rcf;

    rcf = ngx_http_gobi_bus_redis_conf;

    rc->ready = 0;
    rc->subscribing = 0;
    rc->setup = 0;
    rc->batch = 0;
    rc->reason = NULL;

    /* a numeric address: hiredis does not resolve, connect(2) is async */

    ac = redisAsyncConnect(rcf->addr, rcf->port);
    if (ac == NULL) {
        ngx_http_gobi_bus_redis_failed(rc, "out of memory");
        ngx_http_gobi_bus_redis_schedule(rc);
        return;
    }

    if (ac->err) {
        ngx_http_gobi_bus_redis_failed(rc, ac->errstr);
        redisAsyncFree(ac);
        ngx_http_gobi_bus_redis_schedule(rc);
        return;
    }

    rc->io.data = rc;
    rc->io.closed = ngx_http_gobi_bus_redis_closed;
    rc->io.failed = ngx_http_gobi_bus_redis_io_failed;

    if (ngx_http_gobi_redis_io_attach(&rc->io, ac) != NGX_OK) {
        ngx_http_gobi_bus_redis_failed(rc, "no free connection");
        redisAsyncFree(ac);
        ngx_http_gobi_bus_redis_schedule(rc);
        return;
    }

    /* the write event that tells the connect is done */
    (void) redisAsyncSetConnectCallback(ac,
                                        ngx_http_gobi_bus_redis_connected);

    /* queued now, sent once connected */

    if (rcf->password.len) {
        if (rcf->user.len) {
            (void) redisAsyncCommand(ac, ngx_http_gobi_bus_redis_setup_reply,
                                     rc, "AUTH %b %b",
                                     rcf->user.data, rcf->user.len,
                                     rcf->password.data, rcf->password.len);

        } else {
            (void) redisAsyncCommand(ac, ngx_http_gobi_bus_redis_setup_reply,
                                     rc, "AUTH %b",
                                     rcf->password.data, rcf->password.len);
        }

        rc->setup++;
    }

    if (!rc->subscriber && rcf->db) {
        (void) redisAsyncCommand(ac, ngx_http_gobi_bus_redis_setup_reply, rc,
                                 "SELECT %d", (int) rcf->db);
        rc->setup++;
    }

    /*
     * An answer, not a connect(2) that went through, says Redis is up: a
     * server that accepts and then refuses (maxclients, loading) counts
     * as a failed attempt and backs off.
     */

    if (rc->setup == 0) {
        (void) redisAsyncCommand(ac, ngx_http_gobi_bus_redis_setup_reply, rc,
                                 "PING");
        rc->setup++;
    }

    ngx_add_timer(&rc->timer, NGX_HTTP_GOBI_BUS_REDIS_TIMEOUT);
}


static void
ngx_http_gobi_bus_redis_connected(const redisAsyncContext *cac, int status)
{
    ngx_http_gobi_bus_redis_conn_t  *rc;

    rc = cac->data;

    if (status != REDIS_OK || rc->io.ac == NULL) {
        /* hiredis frees the context: ..._closed() tells why */
        return;
    }

    /* a peer that vanished is noticed even on a quiet connection */
    (void) redisEnableKeepAlive(&rc->io.ac->c);
}


static void
ngx_http_gobi_bus_redis_setup_reply(redisAsyncContext *ac, void *r,
    void *data)
{
    redisReply                      *reply = r;
    ngx_http_gobi_bus_redis_conn_t  *rc = data;

    if (reply == NULL || rc->io.ac != ac) {
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        (void) ngx_cpystrn(rc->err, (u_char *) reply->str,
                           ngx_min(sizeof(rc->err), (size_t) reply->len + 1));
        rc->reason = (const char *) rc->err;

        /* freed when this callback returns */
        redisAsyncFree(ac);
        return;
    }

    if (reply->type != REDIS_REPLY_STATUS || rc->setup == 0) {
        return;
    }

    if (--rc->setup > 0) {
        return;
    }

    if (!rc->subscriber) {
        ngx_http_gobi_bus_redis_up(rc);
        return;
    }

    ngx_http_gobi_bus_redis_batch();

    if (rc->batch == 0) {
        ngx_http_gobi_bus_redis_up(rc);
    }
}


static void
ngx_http_gobi_bus_redis_up(ngx_http_gobi_bus_redis_conn_t *rc)
{
    if (rc->timer.timer_set) {
        ngx_del_timer(&rc->timer);
    }

    rc->ready = 1;
    rc->backoff = NGX_HTTP_GOBI_BUS_REDIS_BACKOFF_MIN;

    if (rc->failures || rc->was_up) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "gobi: redis bus: %s connection to %V is back "
                      "after %ui failed attempts", rc->role,
                      &ngx_http_gobi_bus_redis_conf->name, rc->failures);

    } else {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "gobi: redis bus: %s connection to %V is up",
                      rc->role, &ngx_http_gobi_bus_redis_conf->name);
    }

    if (rc->was_up) {
        ngx_http_gobi_metrics_add(NGX_HTTP_GOBI_M_BUS_RECONNECTS, 1);
    }

    rc->failures = 0;
    rc->logged = 0;
    rc->was_up = 1;

    if (rc->subscriber) {
        /* whatever rang while we were away: every served vault re-reads */
        ngx_http_gobi_subs_notice_all();
        return;
    }

    ngx_http_gobi_bus_redis_kept_logged = 0;

    ngx_http_gobi_bus_redis_walk(&ngx_http_gobi_bus_redis_notices,
                                 ngx_http_gobi_bus_redis_resend);
}


/* both connections are up: notices go out and come in */

static ngx_flag_t
ngx_http_gobi_bus_redis_connected_now(void)
{
    return ngx_http_gobi_bus_redis_cmd.ready
           && ngx_http_gobi_bus_redis_sub.ready;
}


/* closes a connection that is up but no good; it is replaced */

static void
ngx_http_gobi_bus_redis_drop(ngx_http_gobi_bus_redis_conn_t *rc,
    const char *why)
{
    if (rc->io.ac == NULL) {
        return;
    }

    rc->reason = why;

    /* now, or (in a hiredis callback) when the callback returns */
    redisAsyncFree(rc->io.ac);
}


static void
ngx_http_gobi_bus_redis_io_failed(void *data, const char *why)
{
    ngx_http_gobi_bus_redis_drop(data, why);
}


static void
ngx_http_gobi_bus_redis_failed(ngx_http_gobi_bus_redis_conn_t *rc,
    const char *why)
{
    rc->failures++;

    if (rc->failures > 1
        && !ngx_http_gobi_bus_redis_log_due(&rc->logged))
    {
        return;
    }

    if (rc->failures == 1) {
        rc->logged = ngx_time();
    }

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "gobi: redis bus: %s connection to %V failed: %s "
                  "(attempt %ui, retrying with backoff)", rc->role,
                  &ngx_http_gobi_bus_redis_conf->name, why, rc->failures);
}


static void
ngx_http_gobi_bus_redis_schedule(ngx_http_gobi_bus_redis_conn_t *rc)
{
    ngx_msec_t  delay;

    if (!ngx_http_gobi_bus_redis_running) {
        return;
    }

    /* half the backoff and a random part of the other half */

    delay = rc->backoff / 2 + (ngx_msec_t) ngx_random() % (rc->backoff / 2 + 1);

    rc->backoff *= 2;

    if (rc->backoff > NGX_HTTP_GOBI_BUS_REDIS_BACKOFF_MAX) {
        rc->backoff = NGX_HTTP_GOBI_BUS_REDIS_BACKOFF_MAX;
    }

    if (rc->timer.timer_set) {
        ngx_del_timer(&rc->timer);
    }

    ngx_add_timer(&rc->timer, delay);
}


static void
ngx_http_gobi_bus_redis_timer(ngx_event_t *ev)
{
    ngx_http_gobi_bus_redis_conn_t  *rc;

    rc = ev->data;

    if (rc->io.ac) {
        /* connect, AUTH, SELECT or the SUBSCRIBEs took too long */
        rc->reason = "timed out";
        redisAsyncFree(rc->io.ac);
        return;
    }

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    ngx_http_gobi_bus_redis_connect(rc);
}


/* hiredis freed the context (the adapter closed the socket): what it
 * leaves behind, and what comes next */

static void
ngx_http_gobi_bus_redis_closed(void *data, redisAsyncContext *ac)
{
    ngx_http_gobi_bus_redis_conn_t *rc = data;

    const char                       *why;
    ngx_http_gobi_bus_redis_vault_t  *v;

    if (rc->timer.timer_set) {
        ngx_del_timer(&rc->timer);
    }

    why = rc->reason ? rc->reason
          : (ac->c.err ? ac->c.errstr : "closed");

    if (rc->subscriber) {
        ngx_http_gobi_bus_redis_doomed = NULL;

        ngx_http_gobi_bus_redis_walk(&ngx_http_gobi_bus_redis_vaults,
                                     ngx_http_gobi_bus_redis_vault_reset);

        while (ngx_http_gobi_bus_redis_doomed) {
            v = ngx_http_gobi_bus_redis_doomed;
            ngx_http_gobi_bus_redis_doomed = v->next;

            ngx_rbtree_delete(&ngx_http_gobi_bus_redis_vaults, &v->node);
            ngx_free(v);
        }
    }

    rc->subscribing = 0;
    rc->batch = 0;
    rc->setup = 0;

    if (!ngx_http_gobi_bus_redis_running) {
        rc->ready = 0;
        return;
    }

    if (rc->ready) {
        rc->ready = 0;
        rc->backoff = NGX_HTTP_GOBI_BUS_REDIS_BACKOFF_MIN;

        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "gobi: redis bus: %s connection to %V lost: %s, "
                      "reconnecting", rc->role,
                      &ngx_http_gobi_bus_redis_conf->name, why);

    } else {
        ngx_http_gobi_bus_redis_failed(rc, why);
    }

    ngx_http_gobi_bus_redis_schedule(rc);
}


/* helpers --------------------------------------------------------------- */


static ngx_rbtree_node_t *
ngx_http_gobi_bus_redis_find(ngx_rbtree_t *tree, int64_t vault)
{
    ngx_rbtree_key_t    key;
    ngx_rbtree_node_t  *node, *sentinel;

    key = (ngx_rbtree_key_t) vault;
    node = tree->root;
    sentinel = tree->sentinel;

    while (node != sentinel) {
        if (key < node->key) {
            node = node->left;
            continue;
        }

        if (key > node->key) {
            node = node->right;
            continue;
        }

        return node;
    }

    return NULL;
}


/* the handler must not change the tree */

static void
ngx_http_gobi_bus_redis_walk(ngx_rbtree_t *tree,
    ngx_http_gobi_bus_redis_walk_pt handler)
{
    ngx_http_gobi_bus_redis_walk_node(tree->root, tree->sentinel, handler);
}


static void
ngx_http_gobi_bus_redis_walk_node(ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel, ngx_http_gobi_bus_redis_walk_pt handler)
{
    if (node == sentinel) {
        return;
    }

    ngx_http_gobi_bus_redis_walk_node(node->left, sentinel, handler);
    handler(node);
    ngx_http_gobi_bus_redis_walk_node(node->right, sentinel, handler);
}


static size_t
ngx_http_gobi_bus_redis_channel(u_char *buf, int64_t vault)
{
    return ngx_sprintf(buf, "%V%L", &ngx_http_gobi_bus_redis_conf->channel,
                       vault)
           - buf;
}


/* a non-negative decimal, or -1 */

static int64_t
ngx_http_gobi_bus_redis_number(const char *p, size_t len)
{
    off_t  n;

    if (len == 0 || len > NGX_INT64_LEN - 1) {
        return -1;
    }

    n = ngx_atoof((u_char *) p, len);

    return (n == NGX_ERROR) ? -1 : (int64_t) n;
}


static ngx_uint_t
ngx_http_gobi_bus_redis_log_due(time_t *last)
{
    time_t  now;

    now = ngx_time();

    if (*last && now - *last < NGX_HTTP_GOBI_BUS_REDIS_LOG_EVERY) {
        return 0;
    }

    *last = now;

    return 1;
}
