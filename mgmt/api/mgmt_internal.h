/* mgmt/api/mgmt_internal.h: what the mgmt_<resource>.c files share: the request being served, the
 * reply helpers, list rendering (columns, sort, paging) and the sampled message rates. */
#ifndef MGMT_MGMT_INTERNAL_H
#define MGMT_MGMT_INTERNAL_H

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amqp/wire.h"
#include "broker/core/strmap.h"

struct broker;
struct user;
struct vhost;
struct queue;
struct exchange;
struct conn;
struct consumer;

#define MGMT_MAX_SEGMENTS 12
#define MGMT_BODY_MAX (1u << 20)            /* 1 MiB */
#define MGMT_DEFINITIONS_BODY_MAX (16u << 20) /* 16 MiB */

/* Counters of one object at the last two samples, and the rates between them. */
struct mgmt_sample {
	void *obj;        /* the object the counters belong to (reset when it changes) */
	uint64_t epoch;   /* last sample that saw it */
	uint64_t prev[6]; /* counters at the previous sample */
	double rate[6];   /* per second */
	bool idle;        /* channels: no activity over the last interval (since prev[1]) */
};

struct mgmt {
	struct broker *b;
	int64_t wall_offset_ms; /* wall clock minus the broker's monotonic clock */
	struct evhttp *http, *prom_http;
	struct event *timer;
	uint64_t epoch;
	uint64_t last_sample_ms;
	struct strmap samples;     /* "q" or "x", vhost, NUL, name -> struct mgmt_sample */
	struct mgmt_sample global; /* published, delivered, acked, redelivered, confirmed, returned */
	struct mgmt_history *history; /* the overview's charts (mgmt_history.c); NULL until sampled */
};

enum mgmt_rate { MGMT_R_PUBLISH, MGMT_R_DELIVER, MGMT_R_ACK, MGMT_R_REDELIVER, MGMT_R_CONFIRM,
		 MGMT_R_RETURN };

struct mgmt_req {
	struct mgmt *m;
	struct broker *b;
	struct evhttp_request *req;
	enum evhttp_cmd_type method;
	char *seg[MGMT_MAX_SEGMENTS]; /* decoded path segments after "/api" */
	size_t seg_len[MGMT_MAX_SEGMENTS];
	int nseg;
	struct evkeyvalq query;
	struct user *user;
	bool is_admin, is_monitor, is_policymaker;
	bool replied;
};

/* ---- replies (mgmt.c) ---- */
void mgmt_reply_json(struct mgmt_req *r, int code, json_t *body); /* steals body */
void mgmt_reply_empty(struct mgmt_req *r, int code);
void mgmt_reply_error(struct mgmt_req *r, int code, const char *error, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void mgmt_reply_not_found(struct mgmt_req *r);
void mgmt_reply_bad(struct mgmt_req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mgmt_reply_method_not_allowed(struct mgmt_req *r);
/* Maps an admin_* status to RabbitMQ's reply; ADMIN_CREATED -> 201, ADMIN_OK -> ok_code. */
void mgmt_reply_admin(struct mgmt_req *r, int status, const char *err, int ok_code);
/* The request body as JSON (object expected). NULL after a 400/413 reply. max: byte limit. */
json_t *mgmt_body_json(struct mgmt_req *r, size_t max, bool allow_empty);
const char *mgmt_query(struct mgmt_req *r, const char *key);
bool mgmt_query_true(struct mgmt_req *r, const char *key);

/* ---- access (mgmt.c) ---- */
bool mgmt_can_see_vhost(struct mgmt_req *r, const char *vhost);
/* The requesting user's configure/write/read permission (enum auth_perm) on a queue or
 * exchange (enum auth_resource) in v, the default exchange checked as amq.default. RabbitMQ's
 * management API acts through an AMQP connection as that user, so administrators too need the
 * vhost permission. On refusal replies 401 {"error":"not_authorised","reason":"Access
 * refused."} and returns false. */
bool mgmt_require_perm(struct mgmt_req *r, struct vhost *v, int perm, int kind,
		       struct amqp_str name);
/* The same check without a reply: false, with RabbitMQ's refusal text in text. */
bool mgmt_permitted(struct mgmt_req *r, struct vhost *v, int perm, int kind,
		    struct amqp_str name, char *text, size_t cap);
/* The vhost named by segment i, with a 404 (missing) or 401 (no access) replied otherwise. */
struct vhost *mgmt_vhost_arg(struct mgmt_req *r, int i);
/* 401 "Not administrator user" etc.; true when allowed. */
bool mgmt_require_admin(struct mgmt_req *r);
bool mgmt_require_policymaker(struct mgmt_req *r);

/* ---- lists (mgmt_list.c) ---- */
struct mgmt_item {
	const char *vhost;
	const char *name;
	size_t name_len;
	void *obj;
};
typedef json_t *(*mgmt_render_fn)(struct mgmt_req *r, void *obj);
struct mgmt_items {
	struct mgmt_item *v;
	size_t count, cap;
};
void mgmt_items_add(struct mgmt_items *it, const char *vhost, const char *name, size_t name_len,
		    void *obj);
void mgmt_items_free(struct mgmt_items *it);
/* Filters (name, use_regex), sorts (sort, sort_reverse), pages (page, page_size), renders and
 * projects (columns), and replies. Sorting by vhost/name needs no rendering of hidden items. */
void mgmt_list_reply(struct mgmt_req *r, struct mgmt_items *items, mgmt_render_fn render);
/* The list endpoints of per-vhost objects (queues, exchanges): every object in the registry at
 * map_offset in struct vhost (offsetof(struct vhost, queues)), of `only` or of every vhost the
 * user may see, through mgmt_list_reply's filtering, sorting and paging. */
void mgmt_list_vhost_objects(struct mgmt_req *r, struct vhost *only, size_t map_offset,
			     mgmt_render_fn render);
/* The top of /api/queues and /api/exchanges: /api/<things> and /api/<things>/<vhost> are
 * answered here with their list (NULL returned); a deeper path returns its vhost (NULL after a
 * 404, 405 or 401 reply). */
struct vhost *mgmt_vhost_objects_route(struct mgmt_req *r, size_t map_offset,
				       mgmt_render_fn render);
/* An optional boolean in a request body: true (*out set when present), or false after a 400
 * when it has another type. */
bool mgmt_body_bool(struct mgmt_req *r, json_t *body, const char *key, bool *out);
/* Applies ?columns= to one object and replies. */
void mgmt_object_reply(struct mgmt_req *r, json_t *obj);

/* ---- rates (mgmt.c) ---- */
const struct mgmt_sample *mgmt_sample_find(struct mgmt *m, char kind, const char *vhost,
					   const char *name, size_t name_len);
struct mgmt_sample *mgmt_sample_get(struct mgmt *m, char kind, const char *vhost,
				    const char *name, size_t name_len, bool create);
/* Records obj's counters now[0..n) under (kind, vhost, name) for this sample: rates follow. */
void mgmt_sample_record(struct mgmt *m, char kind, const char *vhost, const char *name,
			size_t name_len, void *obj, const uint64_t *now, size_t n, double secs);
/* Wall-clock milliseconds since the epoch of a time_now_ms() time. */
uint64_t mgmt_wall_ms(const struct mgmt *m, uint64_t mono_ms);
/* Adds "<key>": n and "<key>_details": {"rate": r} to obj. */
void mgmt_stat_set(json_t *obj, const char *key, uint64_t n, double rate);
void mgmt_sample_now(struct mgmt *m);

/* ---- publish flows and channel activity (mgmt_flows.c) ---- */
struct channel;
/* Samples (at the statistics interval) every exchange -> queue flow, every channel's publishes
 * per exchange, and whether each channel did anything since the last sample. */
void mgmt_flows_sample(struct mgmt *m, double secs);
/* An exchange's "outgoing" (per queue) and "incoming" (per channel) publish statistics, and a
 * queue's "incoming" (per exchange), as RabbitMQ's detailed statistics shape them. */
json_t *mgmt_flows_exchange_outgoing(struct mgmt_req *r, struct exchange *x);
json_t *mgmt_flows_exchange_incoming(struct mgmt_req *r, struct exchange *x);
json_t *mgmt_flows_queue_incoming(struct mgmt_req *r, struct queue *q);
/* The channel's idle_since ("2026-11-22T15:49:43.778+00:00"), or NULL while it is busy: it
 * did something in the last statistics interval. */
json_t *mgmt_flows_idle_since(struct mgmt_req *r, struct channel *ch);

/* ---- statistics history (mgmt_history.c) ---- */
struct mgmt_history;
/* Appends the node-wide counters and queue totals, stamped with the wall clock (called by
 * mgmt_sample_now). */
void mgmt_history_record(struct mgmt *m);
/* Adds RabbitMQ's "samples", "avg" and "avg_rate" to the overview's message_stats and
 * queue_totals details when the query asks for them (msg_rates_age/_incr, lengths_age/_incr). */
void mgmt_history_add_samples(struct mgmt_req *r, json_t *overview);
void mgmt_history_free(struct mgmt_history *h);

/* ---- shared renderers ---- */
json_t *mgmt_queue_json(struct mgmt_req *r, struct queue *q);
/* A channel as RabbitMQ names it inside other objects (connection_name, name, node, number,
 * peer_host, peer_port, user), and a consumer as /api/consumers and a queue's consumer_details
 * show it (its channel_details included). New references. */
json_t *mgmt_channel_details(struct mgmt_req *r, const struct channel *ch);
json_t *mgmt_consumer_json(struct mgmt_req *r, const struct consumer *c);
json_t *mgmt_exchange_json(struct mgmt_req *r, struct exchange *x);
/* properties_key for a binding's routing key and arguments, RabbitMQ's form. */
void mgmt_binding_props_key(const char *key, size_t key_len, const void *args, size_t args_len,
			    char *out, size_t cap);
json_t *mgmt_bindings_of_queue(struct mgmt_req *r, struct queue *q);
/* This node as /api/nodes shows it (name, memory, disk, uptime ...). */
json_t *mgmt_node_json_self(struct mgmt_req *r);

/* ---- a replicated cluster (mgmt_cluster.c); each does nothing without clustering ---- */
/* GET /api/nodes[/{name}], DELETE /api/nodes/{name}: false when it did not reply. */
bool mgmt_cluster_nodes(struct mgmt_req *r);
void mgmt_cluster_overview(struct mgmt_req *r, json_t *o);
void mgmt_cluster_metrics(struct mgmt *m, struct evbuffer *buf);
/* Whether /api/connections shows c: not once it is closing (mgmt_overview.c). */
bool mgmt_conn_is_listed(const struct conn *c);
/* {"max-connections": N, ...}: the user's limits that are set (mgmt_limits.c). */
json_t *mgmt_user_limits_json(const struct user *u);

/* ---- resources: each handles /api/<resource>/... ---- */
void mgmt_overview_handle(struct mgmt_req *r);   /* overview */
void mgmt_whoami_handle(struct mgmt_req *r);
void mgmt_nodes_handle(struct mgmt_req *r);
void mgmt_health_handle(struct mgmt_req *r);
void mgmt_aliveness_handle(struct mgmt_req *r);
void mgmt_vhost_limits_handle(struct mgmt_req *r); /* mgmt_limits.c */
void mgmt_user_limits_handle(struct mgmt_req *r);  /* mgmt_limits.c */
void mgmt_extensions_handle(struct mgmt_req *r);
void mgmt_vhosts_handle(struct mgmt_req *r);
void mgmt_users_handle(struct mgmt_req *r);
void mgmt_permissions_handle(struct mgmt_req *r);
void mgmt_topic_permissions_handle(struct mgmt_req *r);
void mgmt_queues_handle(struct mgmt_req *r);
void mgmt_exchanges_handle(struct mgmt_req *r);
void mgmt_bindings_handle(struct mgmt_req *r);
void mgmt_connections_handle(struct mgmt_req *r);
void mgmt_channels_handle(struct mgmt_req *r);
void mgmt_consumers_handle(struct mgmt_req *r);
void mgmt_definitions_handle(struct mgmt_req *r);
void mgmt_policies_handle(struct mgmt_req *r);
void mgmt_operator_policies_handle(struct mgmt_req *r);
void mgmt_parameters_handle(struct mgmt_req *r); /* mgmt_parameters.c */
void mgmt_shovels_handle(struct mgmt_req *r);    /* mgmt_shovels.c */

/* ---- Prometheus (mgmt_metrics.c) ---- */
/* aggregated or per-object text format into buf. */
void mgmt_metrics_render(struct mgmt *m, struct evbuffer *buf, bool per_object);

#endif
