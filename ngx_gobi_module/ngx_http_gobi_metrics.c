
/*
 * Copyright (C) the gobi authors
 *
 * Prometheus metrics: "location /metrics { gobi_metrics; }" answers the
 * text exposition format 0.0.4 from one shared zone that every worker
 * (and its pool threads) counts into with atomic adds.  The zone has a
 * fixed size and fixed slots: label values come from bounded sets (the
 * API's route table, a list of statuses, two thread pools), so counting
 * never allocates, and a scrape costs one pass over the zone.
 *
 * Requests are counted in the log phase, once each, whatever answered
 * them: the route's pattern is the "endpoint" label ("unmatched" for no
 * route, "websocket" for handshakes, counted when the session ends).
 */


#include "ngx_http_gobi_module.h"
#include "ngx_http_gobi_metrics.h"


#define NGX_HTTP_GOBI_METRICS_ROUTES   40  /* route table entries, at most */
#define NGX_HTTP_GOBI_METRICS_UNMATCHED (NGX_HTTP_GOBI_METRICS_ROUTES)
#define NGX_HTTP_GOBI_METRICS_WS       (NGX_HTTP_GOBI_METRICS_ROUTES + 1)
#define NGX_HTTP_GOBI_METRICS_ENDPOINTS (NGX_HTTP_GOBI_METRICS_ROUTES + 2)

/* statuses of their own; others count as their class ("4xx") */
static const ngx_uint_t  ngx_http_gobi_metrics_codes[] = {
    101, 200, 201, 204, 206, 304, 400, 401, 403, 404, 405, 408, 409, 410,
    412, 413, 416, 426, 429, 499, 500, 502, 503, 504, 507
};

#define NGX_HTTP_GOBI_METRICS_CODES                                          \
    (sizeof(ngx_http_gobi_metrics_codes) / sizeof(ngx_uint_t))
#define NGX_HTTP_GOBI_METRICS_STATUSES  (NGX_HTTP_GOBI_METRICS_CODES + 5)

/* histogram bounds, microseconds, and as "le" says them; then +Inf */
static const uint64_t  ngx_http_gobi_metrics_bounds[] = {
    1000, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
    2500000, 5000000, 10000000, 30000000
};

static const char  *ngx_http_gobi_metrics_le[] = {
    "0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1",
    "2.5", "5", "10", "30"
};

#define NGX_HTTP_GOBI_METRICS_BOUNDS                                         \
    (sizeof(ngx_http_gobi_metrics_bounds) / sizeof(uint64_t))
#define NGX_HTTP_GOBI_METRICS_BUCKETS  (NGX_HTTP_GOBI_METRICS_BOUNDS + 1)

/* a line of the output is at most this long (labels are ours) */
#define NGX_HTTP_GOBI_METRICS_LINE     256


typedef struct {
    ngx_atomic_t    bucket[NGX_HTTP_GOBI_METRICS_BUCKETS]; /* not cumulative */
    ngx_atomic_t    sum;                                   /* microseconds */
} ngx_http_gobi_histogram_t;


typedef struct {
    ngx_atomic_t                counter[NGX_HTTP_GOBI_M_N];
    ngx_atomic_t                requests[NGX_HTTP_GOBI_METRICS_ENDPOINTS]
                                        [NGX_HTTP_GOBI_METRICS_STATUSES];
    ngx_http_gobi_histogram_t   duration[NGX_HTTP_GOBI_METRICS_ENDPOINTS];
    ngx_http_gobi_histogram_t   store_job;
    ngx_atomic_t                gauge[NGX_MAX_PROCESSES][NGX_HTTP_GOBI_G_N];
} ngx_http_gobi_metrics_t;


typedef struct {
    const char                 *name;
    const char                 *type;
    const char                 *help;
    const char                 *labels;     /* "" or "{...}" */
} ngx_http_gobi_metric_info_t;


/* in ngx_http_gobi_metric_e order; lines of one family follow each other */
static const ngx_http_gobi_metric_info_t  ngx_http_gobi_metrics_info[] = {
    { "gobi_upload_bytes_total", "counter",
      "File bytes received by uploads (PUT), as they arrive.", "" },
    { "gobi_download_bytes_total", "counter",
      "File bytes sent by downloads (GET of a file).", "" },
    { "gobi_websocket_sessions_total", "counter",
      "WebSocket sessions opened.", "" },
    { "gobi_events_published_total", "counter",
      "Writes announced on the bus (one notice per write that made events).",
      "" },
    { "gobi_events_delivered_total", "counter",
      "Event messages queued to WebSocket sessions by the live fan-out.",
      "" },
    { "gobi_bus_notices_total", "counter",
      "Bus notices (vault V is at seq N) heard by the workers.", "" },
    { "gobi_bus_reconnects_total", "counter",
      "Connections to the bus (Redis) made again after one was lost.", "" },
    { "gobi_store_errors_total", "counter",
      "Store calls that failed, by kind.", "{kind=\"unavailable\"}" },
    { "gobi_store_errors_total", "counter",
      "Store calls that failed, by kind.", "{kind=\"error\"}" },
    { "gobi_store_breaker_refused_total", "counter",
      "Requests answered 503 by the open store breaker, without a call.",
      "" },
    { "gobi_store_breaker_opens_total", "counter",
      "Times the store breaker opened (the store answered unavailable).",
      "" },
    { "gobi_store_breaker_open", "gauge",
      "1 while the store breaker is open (the store is deemed down).", "" },
    { "gobi_blob_stored_bytes_total", "counter",
      "File bytes of uploads stored as blobs (plaintext size).", "" },
    { "gobi_retention_runs_total", "counter",
      "Housekeeping runs (event retention, history, blob collection).",
      "" },
    { "gobi_retention_failures_total", "counter",
      "Housekeeping runs with a step that failed.", "" },
    { "gobi_events_pruned_total", "counter",
      "Events removed by the retention.", "" },
    { "gobi_blobs_collected_total", "counter",
      "Unused blobs removed by the collector.", "" },
    { "gobi_storage_scrub_runs_total", "counter",
      "Scrubs of the blob targets.", "" },
    { "gobi_health_checks_total", "counter",
      "Checks of the store and the storage made for /api/v1/health.", "" }
};


static ngx_int_t ngx_http_gobi_metrics_init_zone(ngx_shm_zone_t *zone,
    void *data);
static ngx_int_t ngx_http_gobi_metrics_log(ngx_http_request_t *r);
static ngx_int_t ngx_http_gobi_metrics_handler(ngx_http_request_t *r);
static void ngx_http_gobi_metrics_observe(ngx_http_gobi_histogram_t *h,
    uint64_t usec);
static u_char *ngx_http_gobi_metrics_histogram(u_char *p, const char *name,
    const char *labels, ngx_http_gobi_histogram_t *h);


static ngx_http_gobi_metrics_t      *ngx_http_gobi_metrics;
static const ngx_http_gobi_route_t  *ngx_http_gobi_metrics_table;
static ngx_uint_t                    ngx_http_gobi_metrics_nroutes;


ngx_int_t
ngx_http_gobi_metrics_init(ngx_conf_t *cf)
{
    ngx_str_t                   name;
    ngx_shm_zone_t             *zone;
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    ngx_str_set(&name, "gobi_metrics");

    zone = ngx_shared_memory_add(cf, &name,
                                 ngx_align(sizeof(ngx_http_gobi_metrics_t),
                                           ngx_pagesize)
                                 + 8 * ngx_pagesize,
                                 &ngx_http_gobi_module);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    zone->init = ngx_http_gobi_metrics_init_zone;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_gobi_metrics_log;

    return NGX_OK;
}


static ngx_int_t
ngx_http_gobi_metrics_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_slab_pool_t          *shpool;
    ngx_http_gobi_metrics_t  *m;

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    /* counters go on across reloads, as Prometheus expects of them */

    if (data) {
        m = data;

    } else if (zone->shm.exists) {
        m = shpool->data;

    } else {
        m = ngx_slab_alloc(shpool, sizeof(ngx_http_gobi_metrics_t));
        if (m == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(m, sizeof(ngx_http_gobi_metrics_t));
        shpool->data = m;
    }

    zone->data = m;
    ngx_http_gobi_metrics = m;

    return NGX_OK;
}


/* a worker starts its gauges afresh: its slot may be a killed one's */

void
ngx_http_gobi_metrics_init_process(void)
{
    ngx_uint_t  i;

    if (ngx_http_gobi_metrics == NULL
        || ngx_process_slot < 0 || ngx_process_slot >= NGX_MAX_PROCESSES)
    {
        return;
    }

    for (i = 0; i < NGX_HTTP_GOBI_G_N; i++) {
        ngx_http_gobi_metrics->gauge[ngx_process_slot][i] = 0;
    }
}


ngx_int_t
ngx_http_gobi_metrics_routes(ngx_conf_t *cf,
    const ngx_http_gobi_route_t *routes)
{
    ngx_uint_t  n;

    for (n = 0; routes[n].methods; n++) { /* void */ }

    if (n > NGX_HTTP_GOBI_METRICS_ROUTES) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "gobi: %ui routes, metrics have room for %d",
                           n, NGX_HTTP_GOBI_METRICS_ROUTES);
        return NGX_ERROR;
    }

    ngx_http_gobi_metrics_table = routes;
    ngx_http_gobi_metrics_nroutes = n;

    return NGX_OK;
}


void
ngx_http_gobi_metrics_add(ngx_http_gobi_metric_e m, ngx_atomic_int_t n)
{
    if (ngx_http_gobi_metrics && n) {
        (void) ngx_atomic_fetch_add(&ngx_http_gobi_metrics->counter[m], n);
    }
}


void
ngx_http_gobi_metrics_set(ngx_http_gobi_metric_e m, ngx_atomic_int_t v)
{
    if (ngx_http_gobi_metrics) {
        ngx_http_gobi_metrics->counter[m] = v;
    }
}


void
ngx_http_gobi_metrics_gauge(ngx_http_gobi_gauge_e g, ngx_atomic_int_t n)
{
    if (ngx_http_gobi_metrics
        && ngx_process_slot >= 0 && ngx_process_slot < NGX_MAX_PROCESSES)
    {
        (void) ngx_atomic_fetch_add(
                   &ngx_http_gobi_metrics->gauge[ngx_process_slot][g], n);
    }
}


void
ngx_http_gobi_metrics_store_job(uint64_t usec)
{
    if (ngx_http_gobi_metrics) {
        ngx_http_gobi_metrics_observe(&ngx_http_gobi_metrics->store_job,
                                      usec);
    }
}


static void
ngx_http_gobi_metrics_observe(ngx_http_gobi_histogram_t *h, uint64_t usec)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_GOBI_METRICS_BOUNDS; i++) {
        if (usec <= ngx_http_gobi_metrics_bounds[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&h->bucket[i], 1);
    (void) ngx_atomic_fetch_add(&h->sum, (ngx_atomic_int_t) usec);
}


static ngx_uint_t
ngx_http_gobi_metrics_status(ngx_uint_t status)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_GOBI_METRICS_CODES; i++) {
        if (ngx_http_gobi_metrics_codes[i] == status) {
            return i;
        }
    }

    if (status == 0) {
        /* the client went away before an answer */
        return ngx_http_gobi_metrics_status(499);
    }

    if (status < 100 || status > 599) {
        status = 500;
    }

    return NGX_HTTP_GOBI_METRICS_CODES + status / 100 - 1;
}


/* the log phase: every request of a gobi_api or gobi_websocket location */

static ngx_int_t
ngx_http_gobi_metrics_log(ngx_http_request_t *r)
{
    off_t                      sent;
    ngx_uint_t                 e, s;
    ngx_msec_int_t             ms;
    ngx_time_t                *tp;
    ngx_http_gobi_ctx_t       *ctx;
    ngx_http_gobi_loc_conf_t  *glcf;

    if (ngx_http_gobi_metrics == NULL || r != r->main) {
        return NGX_OK;
    }

    glcf = ngx_http_get_module_loc_conf(r, ngx_http_gobi_module);
    ctx = ngx_http_gobi_get_ctx(r);

    if (glcf->websocket == 1) {
        e = NGX_HTTP_GOBI_METRICS_WS;

    } else if (glcf->api == 1) {
        e = NGX_HTTP_GOBI_METRICS_UNMATCHED;

        if (ctx && ctx->route && ngx_http_gobi_metrics_table) {
            e = ctx->route - ngx_http_gobi_metrics_table;

            if (e >= ngx_http_gobi_metrics_nroutes) {
                e = NGX_HTTP_GOBI_METRICS_UNMATCHED;
            }
        }

    } else {
        return NGX_OK;
    }

    s = ngx_http_gobi_metrics_status(r->err_status ? r->err_status
                                                   : r->headers_out.status);

    (void) ngx_atomic_fetch_add(&ngx_http_gobi_metrics->requests[e][s], 1);

    if (ctx && ctx->download) {
        /* $body_bytes_sent */
        sent = r->connection->sent - r->header_size;

        if (sent > 0) {
            ngx_http_gobi_metrics_add(NGX_HTTP_GOBI_M_DOWNLOAD_BYTES, sent);
        }
    }

    if (e == NGX_HTTP_GOBI_METRICS_WS && r->headers_out.status == 101) {
        /* a session's life is not a request's duration */
        return NGX_OK;
    }

    tp = ngx_timeofday();
    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));
    ms = ngx_max(ms, 0);

    ngx_http_gobi_metrics_observe(&ngx_http_gobi_metrics->duration[e],
                                  (uint64_t) ms * 1000);

    return NGX_OK;
}


/* the location ----------------------------------------------------------- */


char *
ngx_http_gobi_metrics_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_gobi_main_conf_t  *gmcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == ngx_http_gobi_metrics_handler) {
        return "is duplicate";
    }

    clcf->handler = ngx_http_gobi_metrics_handler;

    /* the zone is made with the rest of gobi's */
    gmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_gobi_module);
    gmcf->enabled = 1;

    return NGX_CONF_OK;
}


static const char *
ngx_http_gobi_metrics_method(ngx_uint_t methods)
{
    if (methods & NGX_HTTP_GET) {
        return "GET";
    }

    if (methods & NGX_HTTP_PUT) {
        return "PUT";
    }

    if (methods & NGX_HTTP_POST) {
        return "POST";
    }

    if (methods & NGX_HTTP_DELETE) {
        return "DELETE";
    }

    if (methods & NGX_HTTP_PATCH) {
        return "PATCH";
    }

    return "other";
}


/* the endpoint's labels, for requests[e] and duration[e] */

static u_char *
ngx_http_gobi_metrics_endpoint(u_char *p, ngx_uint_t e)
{
    const ngx_http_gobi_route_t  *route;

    if (e == NGX_HTTP_GOBI_METRICS_WS) {
        return ngx_sprintf(p, "endpoint=\"websocket\",method=\"GET\"");
    }

    if (e == NGX_HTTP_GOBI_METRICS_UNMATCHED) {
        return ngx_sprintf(p, "endpoint=\"unmatched\",method=\"other\"");
    }

    route = &ngx_http_gobi_metrics_table[e];

    return ngx_sprintf(p, "endpoint=\"%V\",method=\"%s\"", &route->pattern,
                       ngx_http_gobi_metrics_method(route->methods));
}


static ngx_uint_t
ngx_http_gobi_metrics_used(ngx_uint_t e)
{
    if (e < NGX_HTTP_GOBI_METRICS_ROUTES) {
        return e < ngx_http_gobi_metrics_nroutes;
    }

    return 1;
}


static u_char *
ngx_http_gobi_metrics_head(u_char *p, const char *name, const char *type,
    const char *help)
{
    return ngx_sprintf(p, "# HELP %s %s\n# TYPE %s %s\n",
                       name, help, name, type);
}


static u_char *
ngx_http_gobi_metrics_histogram(u_char *p, const char *name,
    const char *labels, ngx_http_gobi_histogram_t *h)
{
    uint64_t    n, sum;
    ngx_uint_t  i;

    n = 0;

    for (i = 0; i < NGX_HTTP_GOBI_METRICS_BUCKETS; i++) {
        n += h->bucket[i];

        p = ngx_sprintf(p, "%s_bucket{%s%sle=\"%s\"} %uL\n",
                        name, labels, labels[0] ? "," : "",
                        i < NGX_HTTP_GOBI_METRICS_BOUNDS
                        ? ngx_http_gobi_metrics_le[i] : "+Inf", n);
    }

    sum = h->sum;

    if (labels[0]) {
        p = ngx_sprintf(p, "%s_sum{%s} %uL.%06uL\n%s_count{%s} %uL\n",
                        name, labels, sum / 1000000, sum % 1000000,
                        name, labels, n);

    } else {
        p = ngx_sprintf(p, "%s_sum %uL.%06uL\n%s_count %uL\n",
                        name, sum / 1000000, sum % 1000000, name, n);
    }

    return p;
}


static ngx_int_t
ngx_http_gobi_metrics_handler(ngx_http_request_t *r)
{
    u_char                     *p, *last, labels[NGX_HTTP_GOBI_METRICS_LINE];
    size_t                      len;
    ngx_int_t                   rc;
    ngx_uint_t                  e, s, i, k, lines, pools, code;
    ngx_buf_t                  *b;
    ngx_chain_t                 out;
    ngx_table_elt_t            *allow;
    ngx_atomic_int_t            v[NGX_HTTP_GOBI_G_N];
    ngx_http_gobi_metrics_t    *m;
    ngx_http_gobi_main_conf_t  *gmcf;

    static u_char  not_allowed[] =
        "{\"error\":{\"code\":\"method_not_allowed\","
        "\"message\":\"use GET\"}}";

    m = ngx_http_gobi_metrics;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        allow = ngx_list_push(&r->headers_out.headers);
        if (allow == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        allow->hash = 1;
        ngx_str_set(&allow->key, "Allow");
        ngx_str_set(&allow->value, "GET, HEAD");

        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        b->pos = not_allowed;
        b->last = not_allowed + sizeof(not_allowed) - 1;
        b->memory = 1;
        goto send;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_gobi_module);

    /* the lines of a full output, at most */

    lines = (sizeof(ngx_http_gobi_metrics_info)
             / sizeof(ngx_http_gobi_metric_info_t)) * 3
            + NGX_HTTP_GOBI_METRICS_ENDPOINTS
              * (NGX_HTTP_GOBI_METRICS_STATUSES
                 + NGX_HTTP_GOBI_METRICS_BUCKETS + 2)
            + NGX_HTTP_GOBI_METRICS_BUCKETS + 2
            + NGX_HTTP_GOBI_G_N * 2 + 32;

    b = ngx_create_temp_buf(r->pool, lines * NGX_HTTP_GOBI_METRICS_LINE);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->last;

    /* the table: counters, and the breaker's gauge */

    for (i = 0; i < NGX_HTTP_GOBI_M_N; i++) {
        if (i == 0 || ngx_strcmp(ngx_http_gobi_metrics_info[i].name,
                                 ngx_http_gobi_metrics_info[i - 1].name)
                      != 0)
        {
            p = ngx_http_gobi_metrics_head(p,
                                           ngx_http_gobi_metrics_info[i].name,
                                           ngx_http_gobi_metrics_info[i].type,
                                           ngx_http_gobi_metrics_info[i].help);
        }

        p = ngx_sprintf(p, "%s%s %uA\n", ngx_http_gobi_metrics_info[i].name,
                        ngx_http_gobi_metrics_info[i].labels,
                        m->counter[i]);
    }

    /* requests: the pairs seen so far */

    p = ngx_http_gobi_metrics_head(p, "gobi_http_requests_total", "counter",
                                   "Requests answered, by endpoint (the "
                                   "route's pattern), method and status.");

    for (e = 0; e < NGX_HTTP_GOBI_METRICS_ENDPOINTS; e++) {
        if (!ngx_http_gobi_metrics_used(e)) {
            continue;
        }

        for (s = 0; s < NGX_HTTP_GOBI_METRICS_STATUSES; s++) {
            if (m->requests[e][s] == 0) {
                continue;
            }

            p = ngx_sprintf(p, "gobi_http_requests_total{");
            p = ngx_http_gobi_metrics_endpoint(p, e);

            if (s < NGX_HTTP_GOBI_METRICS_CODES) {
                code = ngx_http_gobi_metrics_codes[s];
                p = ngx_sprintf(p, ",status=\"%ui\"} %uA\n",
                                code, m->requests[e][s]);

            } else {
                code = s - NGX_HTTP_GOBI_METRICS_CODES + 1;
                p = ngx_sprintf(p, ",status=\"%uixx\"} %uA\n",
                                code, m->requests[e][s]);
            }
        }
    }

    p = ngx_http_gobi_metrics_head(p, "gobi_http_request_duration_seconds",
                                   "histogram",
                                   "Time from the request's first byte to "
                                   "its log, by endpoint (WebSocket "
                                   "sessions not included).");

    for (e = 0; e < NGX_HTTP_GOBI_METRICS_ENDPOINTS; e++) {
        if (!ngx_http_gobi_metrics_used(e)) {
            continue;
        }

        for (k = 0, i = 0; i < NGX_HTTP_GOBI_METRICS_BUCKETS; i++) {
            k += m->duration[e].bucket[i];
        }

        if (k == 0) {
            continue;
        }

        last = ngx_http_gobi_metrics_endpoint(labels, e);
        *last = '\0';

        p = ngx_http_gobi_metrics_histogram(p,
                "gobi_http_request_duration_seconds", (char *) labels,
                &m->duration[e]);
    }

    p = ngx_http_gobi_metrics_head(p, "gobi_store_job_duration_seconds",
                                   "histogram",
                                   "Time a pool thread spent on one job of "
                                   "store calls (with an upload's blob "
                                   "write); password hashing not included.");
    p = ngx_http_gobi_metrics_histogram(p, "gobi_store_job_duration_seconds",
                                        "", &m->store_job);

    /* the gauges, summed over the worker slots */

    ngx_memzero(v, sizeof(v));

    for (i = 0; i < NGX_MAX_PROCESSES; i++) {
        for (k = 0; k < NGX_HTTP_GOBI_G_N; k++) {
            v[k] += (ngx_atomic_int_t) m->gauge[i][k];
        }
    }

    p = ngx_http_gobi_metrics_head(p, "gobi_websocket_sessions_open", "gauge",
                                   "WebSocket sessions open now.");
    p = ngx_sprintf(p, "gobi_websocket_sessions_open %A\n",
                    v[NGX_HTTP_GOBI_G_WS_OPEN]);

    pools = (gmcf->auth_pool != gmcf->thread_pool) ? 2 : 1;

    p = ngx_http_gobi_metrics_head(p, "gobi_thread_pool_queue_length", "gauge",
                                   "Jobs posted to a thread pool that no "
                                   "thread has taken yet.");

    for (i = 0; i < pools; i++) {
        p = ngx_sprintf(p, "gobi_thread_pool_queue_length{pool=\"%V\"} %A\n",
                        i ? &gmcf->auth_pool_name : &gmcf->thread_pool_name,
                        v[NGX_HTTP_GOBI_G_QUEUED + i]);
    }

    p = ngx_http_gobi_metrics_head(p, "gobi_thread_pool_jobs_running",
                                   "gauge",
                                   "Jobs a pool thread is working on now.");

    for (i = 0; i < pools; i++) {
        p = ngx_sprintf(p, "gobi_thread_pool_jobs_running{pool=\"%V\"} %A\n",
                        i ? &gmcf->auth_pool_name : &gmcf->thread_pool_name,
                        v[NGX_HTTP_GOBI_G_RUNNING + i]);
    }

    b->last = p;

    ngx_str_set(&r->headers_out.content_type, "text/plain; version=0.0.4");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.status = NGX_HTTP_OK;

    goto out;

send:

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.status = NGX_HTTP_NOT_ALLOWED;

out:

    len = b->last - b->pos;
    r->headers_out.content_length_n = len;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
