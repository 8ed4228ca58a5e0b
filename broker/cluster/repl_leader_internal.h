/* broker/cluster/repl_leader_internal.h: the leader's replication state, shared by
 * repl_leader.c (sessions, the store's tap, the in-sync set, confirms, the wrapped handlers)
 * and repl_snapshot.c (what a joining follower is sent first: the manifest of files with
 * their CRC32Cs from worker threads, the files it fetches). Not for any other file. */
#ifndef BROKER_CLUSTER_REPL_LEADER_INTERNAL_H
#define BROKER_CLUSTER_REPL_LEADER_INTERNAL_H

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "broker/cluster/cluster_internal.h"
#include "broker/cluster/repl_wire.h"
#include "broker/core/broker.h"
#include "broker/core/list.h"
#include "broker/net/handler.h"
#include "storage/store.h"
#include "storage/store_replica.h"

#define REPL_TIMER_MS 100
#define REPL_PING_MS 500
#define REPL_CHUNK (1u << 20)          /* PART frames hold about this much of a run */
#define REPL_OUTPUT_MAX (256ull << 20) /* a follower this far behind on the wire is dropped */
#define REPL_SINGLE_WRITE (8u << 20)

enum repl_state {
	RS_HELLO,    /* waiting for AUTH */
	RS_DISK,     /* registered: waiting for the batch being written to reach the disk */
	RS_MANIFEST, /* CRCs being computed */
	RS_FETCH,    /* MANIFEST sent, waiting for FETCH */
	RS_PLAN,     /* checking the prefixes a FETCH named */
	RS_STREAM,   /* snapshot queued; the stream goes straight out */
};

struct repl_mark {
	uint64_t seq, bytes, records;
};

struct repl_file {
	char name[STORE_REPLICA_NAME_MAX];
	uint64_t size;
	uint32_t crc;
	bool crc_known;
	int fd;     /* segments: open at the manifest point, so a deletion does not matter */
	char *mem;  /* definitions.json: its content at the manifest point */
	/* FETCH */
	bool wanted;
	uint64_t from;
	uint32_t prefix_crc;
	uint32_t our_prefix_crc;
	bool prefix_done;
};

struct repl_manifest {
	struct repl_file *files;
	size_t count;
	uint64_t removals; /* the leader's streams_removed when the files were opened */
};

struct repl_member;

struct repl_session {
	struct list link;
	struct repl_leader *l;
	struct bufferevent *bev;
	char peer[64];
	char name[CLUSTER_NAME_MAX];
	enum repl_state state;
	uint8_t nonce[REPL_NONCE_LEN];
	bool registered;           /* receives the stream (into backlog until the snapshot) */
	uint32_t mf_seg;           /* the snapshot covers the log up to here: what was shipped */
	uint64_t mf_off;           /* when the stream started for this follower */
	/* the streams' files and their sizes at that instant (they are written on the loop:
	 * every later byte is in the backlog) */
	struct repl_sized {
		char name[STORE_REPLICA_NAME_MAX];
		uint64_t size;
	} *streams;
	size_t stream_count;
	bool synced;               /* SYNCED came: its acks count */
	struct evbuffer *backlog;
	struct repl_manifest mf;
	struct repl_job *job;      /* the CRC worker running for it */
	uint64_t sent_bytes, sent_records, acked_bytes, acked_records, acked_seq;
	struct repl_mark *marks;
	size_t mark_head, mark_count, mark_cap;
	uint64_t last_rx_ms, last_ping_ms;
	struct repl_member *member;
	/* Closing: it reads nothing more and is freed from free_task (or once its last frames
	 * left), never inside repl_session_close, whose callers (a frame handler under
	 * repl_on_read, a loop over the sessions) still hold it. */
	bool closing;
	struct deferred free_task;
	bool tls; /* clustering.ssl: only the bufferevent may write its socket */
};

enum repl_member_state { M_JOINING, M_IN, M_LEAVING };

struct repl_member {
	char name[CLUSTER_NAME_MAX];
	enum repl_member_state state;
	uint64_t acked_seq;
	uint64_t floor;    /* JOINING: it must hold this seq before etcd hears of it */
	uint64_t since_ms; /* without a session since */
	const char *why;   /* LEAVING: the reason, for the log */
	struct repl_session *s;
};

struct repl_wait {
	uint64_t ticket, seq;
	bool ok;
};

struct repl_frozen {
	uint64_t conn_id, seq; /* seq 0: waiting for the definitions save of this loop turn */
};

/* A CRC worker: checksums of open files, computed off the loop. */
struct repl_job {
	struct list link;
	struct repl_leader *l;
	struct repl_session *s; /* NULL once the session went */
	pthread_t thread;
	struct event *done;
	struct {
		int fd;
		uint64_t len;
		uint32_t crc;
		int rc;
	} *items;
	size_t count;
	void (*finish)(struct repl_session *s, struct repl_job *j);
};

/* The CRC32C of a file's first size bytes: a log segment before the head never changes, and
 * a stream's files are only appended to until they are removed (which drops their entries),
 * so the CRC of a prefix of one stays true. */
struct repl_crc_cache {
	char name[STORE_REPLICA_NAME_MAX];
	uint64_t size;
	uint32_t crc;
};

struct repl_leader {
	struct cluster *c;
	struct broker *b;
	struct list sessions, jobs;
	uint64_t seq;           /* the last seq assigned */
	bool in_batch;
	uint64_t committed;     /* every member holds every seq up to here */
	struct repl_member members[CLUSTER_MAX_NODES];
	size_t member_count;
	bool have_view, isr_ready, isr_call;
	char written[CLUSTER_MAX_NODES][CLUSTER_NAME_MAX];
	size_t written_count;
	struct repl_wait *waits;
	size_t wait_head, wait_count, wait_cap;
	struct repl_frozen *frozen;
	size_t frozen_count, frozen_cap;
	struct deferred unfreeze_task;
	uint64_t short_since_ms; /* too few followers in sync since (0: enough) */
	struct event *timer;
	struct handler handler;
	const struct handler *inner;
	struct store_tap tap;
	uint64_t sent_bytes;
	uint32_t shipped_seg;   /* the log's bytes handed to followers end here: a batch handed */
	uint64_t shipped_off;   /* again after a failed write is cut to what is new */
	uint32_t head_seg;      /* the segment being appended (for the CRC cache) */
	struct repl_crc_cache *cache;
	size_t cache_count, cache_cap;
	uint64_t streams_removed; /* streams' files removed so far (a CRC computed from a file
				   * opened before one went may be of the removed file) */
	bool stopped;
};

/* repl_leader.c, for repl_snapshot.c */
struct evbuffer *repl_session_out(struct repl_session *s);
void repl_send(struct repl_session *s, struct repl_buf *b);
void repl_session_close(struct repl_session *s, const char *why);

/* repl_snapshot.c, for repl_leader.c */
void repl_job_free(struct repl_job *j);
void repl_manifest_free(struct repl_manifest *mf);
void repl_start_snapshot(struct repl_session *s);
void repl_disk_moved(struct repl_leader *l);
int repl_on_fetch(struct repl_session *s, const struct repl_frame *fr);

#endif
