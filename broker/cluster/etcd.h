/* broker/cluster/etcd.h: a small client of etcd's v3 JSON gateway (etcd 3.4, Debian 12's
 * etcd-server): POST /v3/kv/range, /v3/kv/put, /v3/kv/txn, /v3/kv/deleterange,
 * /v3/lease/grant, /v3/lease/keepalive and /v3/lease/revoke, over libevent's evhttp client with
 * bodies by jansson; keys and values travel base64-encoded and 64-bit integers as decimal
 * strings, as the gateway's protobuf-to-JSON mapping wants them. Every call is asynchronous on
 * the broker's loop and ends in exactly one callback (etcd_free's cancellation included). A call that
 * fails (no answer in time, refused, an etcd error) reports one line naming the endpoint and
 * why, and the following calls go to the next endpoint of the list. Only small metadata goes
 * through here: who leads, who is in sync, which nodes exist; never messages. */
#ifndef BROKER_CLUSTER_ETCD_H
#define BROKER_CLUSTER_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct etcd;

/* One key as a range (or a failed txn) returned it; the strings are NUL-terminated copies
 * that live as long as the reply. */
struct etcd_kv {
	const char *key;
	const char *value;
	size_t value_len;
	int64_t create_revision, mod_revision, lease;
};

/* What a call returned; lent to the callback only. */
struct etcd_reply {
	const char *error;   /* NULL on success, else "etcd http://h:p: <why>" */
	bool unreachable;    /* the error is the transport's (refused, timeout), not etcd's */
	bool cancelled;      /* etcd_free ended the call: free what arg owns, touch nothing else */
	int64_t revision;    /* header.revision: the store's revision when etcd answered */
	char cluster_id[32]; /* header.cluster_id: which etcd cluster answered */
	int64_t lease_id;    /* grant */
	int64_t ttl;         /* grant, keepalive: seconds left; 0 when the lease is gone */
	bool succeeded;      /* txn: the compare held */
	struct etcd_kv *kvs; /* range; a txn whose compare failed: the key as it is */
	size_t kv_count;
};

typedef void (*etcd_cb)(void *arg, const struct etcd_reply *r);

/* endpoints: comma-separated http:// URLs. timeout_ms bounds each call. NULL with a message
 * when an endpoint does not parse. */
struct etcd *etcd_new(struct event_base *base, const char *endpoints, unsigned timeout_ms,
		      char *err, size_t errlen);
/* Cancels what is pending (each callback runs once more, with r->cancelled) and frees.
 * Never call it from a callback. NULL-safe. */
void etcd_free(struct etcd *e);
/* The URL the next call goes to. */
const char *etcd_endpoint(const struct etcd *e);

/* Each returns 0, or -1 out of memory (no callback then). */
int etcd_lease_grant(struct etcd *e, int64_t ttl, etcd_cb cb, void *arg);
int etcd_lease_keepalive(struct etcd *e, int64_t id, etcd_cb cb, void *arg);
int etcd_lease_revoke(struct etcd *e, int64_t id, etcd_cb cb, void *arg);
/* lease 0: the key outlives its writer. */
int etcd_put(struct etcd *e, const char *key, const char *value, int64_t lease, etcd_cb cb,
	     void *arg);
/* Every key that starts with prefix. */
int etcd_range_prefix(struct etcd *e, const char *prefix, etcd_cb cb, void *arg);
int etcd_delete(struct etcd *e, const char *key, etcd_cb cb, void *arg);
/* Creates key only if it does not exist (its create_revision is 0): r->succeeded, and
 * r->revision is then the new key's create_revision; otherwise r->kvs holds the key as it is. */
int etcd_create(struct etcd *e, const char *key, const char *value, int64_t lease, etcd_cb cb,
		void *arg);
/* Puts key only while guard's create_revision is guard_rev (the writer still leads):
 * r->succeeded says whether it did. */
int etcd_put_guarded(struct etcd *e, const char *key, const char *value, const char *guard,
		     int64_t guard_rev, etcd_cb cb, void *arg);

/* A blocking lease revoke with a short timeout, for a process on its way out (the loop no
 * longer runs): tries each endpoint once. 0 when etcd answered. */
int etcd_lease_revoke_now(const char *endpoints, int64_t id, unsigned timeout_ms);

/* base64 as the gateway writes it (RFC 4648, padded). etcd_b64_encode returns a malloc'd
 * string; etcd_b64_decode a malloc'd, NUL-terminated buffer and its length in *len, or NULL
 * when the text is not base64. Exposed for the unit tests. */
char *etcd_b64_encode(const void *data, size_t len);
char *etcd_b64_decode(const char *text, size_t *len);

#endif
