/* broker/admin/durable.c: the broker's side of durability. Definitions are saved through the store
 * once per loop turn when a durable object changed; persistent messages on durable queues are
 * written by queue.c, those held by durable delayed exchanges by exchange_delayed.c; this file
 * issues the per-turn group sync, turns sync completions into publisher confirms, and replays
 * the store at start-up (into queues, and into delayed exchanges' heaps). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/props.h"
#include "broker/core/broker.h"
#include "broker/net/channel.h"
#include "broker/core/config.h"
#include "broker/admin/definitions.h"
#include "broker/admin/durable.h"
#include "broker/exchange/exchange.h"
#include "broker/core/log.h"
#include "broker/queue/message.h"
#include "broker/queue/queue.h"
#include "broker/vhost/vhost.h"
#include "storage/store.h"

static void durable_on_sync_task(struct deferred *d)
{
	struct broker *b = (struct broker *)((char *)d - offsetof(struct broker, store_sync_task));
	if (b->store && store_has_pending(b->store))
		b->sync_issued = store_sync(b->store);
}

void durable_synced(struct broker *b, uint64_t ticket, bool ok)
{
	if (ticket > b->sync_done)
		b->sync_done = ticket;
	struct list *pos, *tmp;
	list_for_each_safe(pos, tmp, &b->confirm_waiting)
	{
		struct channel *ch = list_entry(pos, struct channel, confirm_link);
		channel_confirms_synced(ch, ticket, ok);
	}
	if (!ok)
		log_error(b->log, "the message store could not write a batch (ticket %llu): publishes in it "
			  "are nacked",
			  (unsigned long long)ticket);
}

static void durable_on_synced(void *arg, uint64_t ticket, bool ok)
{
	struct broker *b = arg;
	if (b->synced_gate)
		b->synced_gate(b, ticket, ok);
	else
		durable_synced(b, ticket, ok);
}

static void durable_on_defs_flush(struct deferred *d)
{
	struct broker *b = (struct broker *)((char *)d - offsetof(struct broker, defs_flush));
	char err[256];
	if (!b->defs_dirty || !b->store)
		return;
	b->defs_dirty = false;
	/* Records appended before this change go to disk first: a deleted queue's purge must not
	 * be missing after a power cut while a queue declared again under its name is there (its
	 * old messages would come back in it). One more fdatasync per definitions change. */
	if (store_flush(b->store) != 0)
		log_warn(b->log, "saving definitions while the message store cannot write");
	json_t *doc = definitions_export(b, NULL);
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!text || store_definitions_save(b->store, text, strlen(text), err, sizeof err) != 0)
		log_error(b->log, "cannot save definitions: %s", text ? err : "out of memory");
	free(text);
}

struct durable_recovery {
	struct broker *b;
	struct strmap queues;  /* 8-byte store queue id -> struct queue */
	struct strmap delayed; /* 8-byte hold id -> durable x-delayed-message exchange */
	struct strmap dedup;   /* 8-byte cache id -> x-message-deduplication exchange on disk */
	struct strmap orphans; /* store queue ids whose queue (or exchange) no longer exists */
	uint64_t messages, delayed_messages, orphan_messages;
	/* the message the broker could not take (recovery then fails) */
	const char *failed_kind, *failed_vhost, *failed_name;
	uint64_t failed_msg;
};

static int durable_recover_failed(struct durable_recovery *r, const char *kind,
				  const struct vhost *v, const struct amqp_str *name,
				  uint64_t msg_id)
{
	r->failed_kind = kind;
	r->failed_vhost = v->name;
	r->failed_name = (const char *)name->ptr;
	r->failed_msg = msg_id;
	return -1;
}

static int durable_recover_one(void *arg, uint64_t queue_id, uint64_t msg_id,
			       const struct store_message *sm)
{
	struct durable_recovery *r = arg;
	struct queue *q = strmap_get(&r->queues, &queue_id, sizeof queue_id);
	struct exchange *x = q ? NULL : strmap_get(&r->delayed, &queue_id, sizeof queue_id);
	struct exchange *dx = q || x ? NULL : strmap_get(&r->dedup, &queue_id, sizeof queue_id);
	if (dx) {
		if (exchange_dedup_recover(dx, sm, msg_id) < 0)
			return durable_recover_failed(r, "deduplication exchange", dx->vhost,
						      &dx->name, msg_id);
		return 0;
	}
	if (x) {
		int rc = exchange_delay_recover(x, sm, msg_id);
		if (rc < 0)
			return durable_recover_failed(r, "delayed exchange", x->vhost, &x->name,
						      msg_id);
		r->delayed_messages += rc == 0;
		return 0;
	}
	if (!q) {
		/* Its queue is gone from the definitions: purged after recovery. */
		r->orphan_messages++;
		strmap_put(&r->orphans, &queue_id, sizeof queue_id, r);
		return 0;
	}
	struct message *m = message_from_store(r->b, sm, msg_id);
	if (!m)
		return durable_recover_failed(r, "queue", q->vhost, &q->name, msg_id);
	m->persistent = true; /* only persistent messages are logged into durable queues */
	enum queue_push_result pushed = queue_push(q, m);
	message_unref(m);
	if (pushed == QUEUE_PUSH_OOM)
		return durable_recover_failed(r, "queue", q->vhost, &q->name, msg_id);
	r->messages++;
	return 0;
}

/* storage/ logs through this (store_set_log): its levels are the broker's, in the same order. */
static void durable_store_log(void *arg, int level, const char *msg)
{
	static const enum log_level levels[] = { [STORE_LOG_DEBUG] = LOG_DEBUG,
						 [STORE_LOG_INFO] = LOG_INFO,
						 [STORE_LOG_WARNING] = LOG_WARNING,
						 [STORE_LOG_ERROR] = LOG_ERROR };

	struct broker *b = arg;
	log_msg(b->log, level >= 0 && level <= STORE_LOG_ERROR ? levels[level] : LOG_ERROR, "%s",
		msg);
}

/* Start-up: definitions, then the message log into the queues they define. Either everything
 * comes back or the broker does not start (-1, after a log line saying what could not be
 * loaded): starting with a queue missing messages, or without a queue, would drop them for
 * good, because the purges and acks that follow would be written over them. */
int durable_open(struct broker *b)
{
	char dir[4096], err[512];
	size_t len = 0, i, vi;
	struct store_options opt = { .segment_size = b->cfg->msg_store_file_size_limit,
				     .synced = durable_on_synced, .synced_arg = b };

	b->store_sync_task.fn = durable_on_sync_task;
	b->defs_flush.fn = durable_on_defs_flush;
	snprintf(dir, sizeof dir, "%s", b->cfg->data_dir ? b->cfg->data_dir : "./data");
	store_set_log(durable_store_log, b);
	b->store = store_open(b->base, dir, &opt, err, sizeof err);
	if (!b->store) {
		log_error(b->log, "cannot open the store in %s: %s", dir, err);
		return -1;
	}
	b->recovering = true;
	char *text = NULL;
	int loaded = store_definitions_load(b->store, &text, &len, err, sizeof err);
	if (loaded < 0) {
		log_error(b->log, "cannot start: %s", err);
		return -1;
	}
	if (text) {
		json_error_t jerr;
		json_t *doc = json_loadb(text, len, 0, &jerr);
		int rc = doc ? definitions_import(b, doc, NULL, err, sizeof err) : -1;
		json_decref(doc);
		free(text);
		if (rc != 0) {
			log_error(b->log, "cannot start: the saved definitions in %s cannot be imported: "
				  "%s; starting without them would drop their queues and messages",
				  dir, doc ? err : jerr.text);
			return -1;
		}
	}
	struct durable_recovery r = { .b = b };
	strmap_init(&r.queues);
	strmap_init(&r.delayed);
	strmap_init(&r.dedup);
	strmap_init(&r.orphans);
	for (struct strmap_entry *ve = strmap_first(&b->vhosts, &vi); ve;
	     ve = strmap_next(&b->vhosts, ve, &vi)) {
		struct vhost *v = ve->value;
		for (struct strmap_entry *e = strmap_first(&v->queues, &i); e;
		     e = strmap_next(&v->queues, e, &i)) {
			struct queue *q = e->value;
			if (q->store_id &&
			    strmap_put(&r.queues, &q->store_id, sizeof q->store_id, q) != 0)
				goto oom;
		}
		for (struct strmap_entry *e = strmap_first(&v->exchanges, &i); e;
		     e = strmap_next(&v->exchanges, e, &i)) {
			struct exchange *x = e->value;
			if (x->delayed && x->durable) {
				uint64_t id = exchange_delay_store_qid(x);
				if (strmap_put(&r.delayed, &id, sizeof id, x) != 0)
					goto oom;
			}
			if (exchange_dedup_is_persistent(x)) {
				uint64_t id = exchange_dedup_store_qid(x);
				if (strmap_put(&r.dedup, &id, sizeof id, x) != 0)
					goto oom;
			}
		}
	}
	struct store_recovery_stats st;
	int rc = store_recover(b->store, durable_recover_one, &r, &st);
	strmap_clear(&r.queues);
	strmap_clear(&r.delayed);
	strmap_clear(&r.dedup);
	b->recovering = false;
	if (rc != 0) {
		strmap_clear(&r.orphans);
		if (r.failed_kind)
			log_error(b->log, "cannot start: out of memory loading message %llu of %s '%s' in "
				  "vhost '%s' (%llu messages were loaded before it); the data in "
				  "%s is untouched",
				  (unsigned long long)r.failed_msg, r.failed_kind, r.failed_name,
				  r.failed_vhost, (unsigned long long)r.messages, dir);
		else
			log_error(b->log, "cannot start: the message store in %s could not be recovered "
				  "(see above); the data is untouched", dir);
		return -1;
	}
	if (loaded == 1 && r.orphans.count > 0)
		/* the fallback copy may predate the queues these messages are in */
		log_warn(b->log, "%llu messages of %zu queues missing from the definitions are kept on "
			 "disk (the definitions came from the previous copy)",
			 (unsigned long long)r.orphan_messages, r.orphans.count);
	else
		for (struct strmap_entry *e = strmap_first(&r.orphans, &i); e;
		     e = strmap_next(&r.orphans, e, &i)) {
			uint64_t qid;
			memcpy(&qid, e->key, sizeof qid);
			store_queue_purge(b->store, qid);
		}
	strmap_clear(&r.orphans);
	broker_store_touched(b);
	log_info(b->log, "recovered %llu messages into their queues and %llu into delayed exchanges from "
		 "%llu segments in %llu ms (%llu corrupt records skipped, %llu torn bytes "
		 "truncated, %llu records of a torn batch dropped, %llu for deleted queues)",
		 (unsigned long long)r.messages, (unsigned long long)r.delayed_messages,
		 (unsigned long long)st.segments, (unsigned long long)st.elapsed_ms,
		 (unsigned long long)st.corrupt_records_skipped,
		 (unsigned long long)st.torn_bytes_truncated,
		 (unsigned long long)st.torn_records_discarded,
		 (unsigned long long)r.orphan_messages);
	return 0;
oom:
	strmap_clear(&r.queues);
	strmap_clear(&r.delayed);
	strmap_clear(&r.dedup);
	strmap_clear(&r.orphans);
	log_error(b->log, "cannot start: out of memory listing the durable queues");
	return -1;
}
