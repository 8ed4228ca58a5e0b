/* storage/store_message.c: the records the broker asks for: a message (written once however
 * many queues hold it), enqueue, dequeue and purge, appended to the pending batch by
 * store_append (store_file.c) and kept in the in-memory index; and the queue id every record
 * names. Volatile queue ids change the index only. */
#include "storage/store.h"

#include <stdlib.h>

#include "storage/store_internal.h"
#include "storage/store_log.h"
#include "storage/store_record.h"

uint64_t store_queue_id(const char *vhost, const uint8_t *name, size_t name_len)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, then a finaliser to spread the bits */

	for (const char *p = vhost; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	h = (h ^ 0xff) * 0x100000001b3ull; /* cannot occur in UTF-8: separates vhost and name */
	for (size_t i = 0; i < name_len; i++)
		h = (h ^ name[i]) * 0x100000001b3ull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	h &= ~STORE_QUEUE_VOLATILE;
	return h ? h : 1; /* 0 means "no queue" */
}

static bool store_can_add(struct store *s)
{
	if (s->failed)
		return false;
	if (!s->recovered) {
		store_log_error("storage: append before store_recover; refused");
		return false;
	}
	return true;
}

uint64_t store_message_add(struct store *s, const struct store_message *m)
{
	uint64_t len = store_record_message_len(m, 0);
	struct store_pos where;
	struct store_salt salt;
	struct store_index_entry *e;
	struct store_segment *sg;
	uint8_t *p;
	uint64_t id;

	if (!store_can_add(s))
		return 0;
	if (len == 0 || STORE_RECORD_HEADER_SIZE + len > UINT32_MAX) {
		store_log_warn("storage: message too large to store (%llu body bytes)",
			       (unsigned long long)m->body_len);
		return 0;
	}
	p = store_append(s, len, true, &where, &salt);
	if (!p)
		return 0;
	id = s->next_id;
	e = store_index_put(&s->index, id, where.seg, (uint32_t)where.off,
			    (uint32_t)(STORE_RECORD_HEADER_SIZE + len));
	if (!e) {
		store_unappend(s, len);
		return 0;
	}
	s->next_id++;
	store_record_message_encode(p + STORE_RECORD_HEADER_SIZE, id, m, NULL, 0);
	store_record_seal(p, STORE_RECORD_MESSAGE, (uint32_t)len, salt);
	sg = store_segment_find(s, where.seg);
	if (id < sg->min_id)
		sg->min_id = id;
	if (id > sg->max_id)
		sg->max_id = id;
	return id;
}

static uint8_t *store_append_pair(struct store *s, enum store_record_type type, uint64_t queue_id,
				  uint64_t msg_id)
{
	struct store_pos where;
	struct store_salt salt;
	uint8_t *p = store_append(s, STORE_RECORD_PAIR_SIZE, true, &where, &salt);

	if (!p)
		return NULL;
	store_record_put_u64(p + STORE_RECORD_HEADER_SIZE, queue_id);
	store_record_put_u64(p + STORE_RECORD_HEADER_SIZE + 8, msg_id);
	store_record_seal(p, type, STORE_RECORD_PAIR_SIZE, salt);
	return p;
}

int store_enqueue(struct store *s, uint64_t queue_id, uint64_t msg_id)
{
	struct store_index_entry *e = store_index_get(&s->index, msg_id);
	int rc;

	if (!e || queue_id == 0 || !store_can_add(s))
		return -1;
	if (!store_segment_find(s, e->segment)) {
		/* added, never queued, and its segment is gone */
		store_index_remove(&s->index, msg_id);
		return -1;
	}
	if (store_index_holds(&s->index, msg_id, e, queue_id))
		return 0;
	if (!store_queue_is_volatile(queue_id) &&
	    !store_append_pair(s, STORE_RECORD_ENQUEUE, queue_id, msg_id))
		return -1;
	rc = store_index_enqueue(&s->index, msg_id, e, queue_id);
	if (rc < 0) {
		if (!store_queue_is_volatile(queue_id))
			store_unappend(s, STORE_RECORD_PAIR_SIZE);
		return -1;
	}
	if (store_index_queue_count(&s->index, msg_id, e) == 1)
		store_segment_account(s, e, 1);
	return 0;
}

int store_dequeue(struct store *s, uint64_t queue_id, uint64_t msg_id)
{
	struct store_index_entry *e = store_index_get(&s->index, msg_id);

	if (!e || !s->recovered || !store_index_holds(&s->index, msg_id, e, queue_id))
		return -1;
	/* allowed while writes fail: acks must not come back after the disk recovers */
	if (!store_queue_is_volatile(queue_id) &&
	    !store_append_pair(s, STORE_RECORD_DEQUEUE, queue_id, msg_id))
		return -1;
	store_index_dequeue(&s->index, msg_id, e, queue_id);
	if (!store_index_live(e)) {
		store_segment_account(s, e, -1);
		store_index_remove(&s->index, msg_id);
	}
	return 0;
}

struct store_purge_ctx {
	struct store *s;
	uint64_t queue_id;
	uint64_t *dead;
	size_t dead_count, dead_cap;
	bool oom;
};

static void store_purge_one(void *arg, uint64_t msg_id, struct store_index_entry *e)
{
	struct store_purge_ctx *c = arg;

	if (c->oom || store_index_dequeue(&c->s->index, msg_id, e, c->queue_id) != 1 ||
	    store_index_live(e))
		return;
	store_segment_account(c->s, e, -1);
	if (c->dead_count == c->dead_cap) {
		size_t cap = c->dead_cap ? c->dead_cap * 2 : 256;
		uint64_t *dead = realloc(c->dead, cap * sizeof *dead);
		if (!dead) {
			c->oom = true; /* the entry stays, dead, until its segment goes */
			return;
		}
		c->dead = dead;
		c->dead_cap = cap;
	}
	c->dead[c->dead_count++] = msg_id;
}

int store_queue_purge(struct store *s, uint64_t queue_id)
{
	struct store_purge_ctx c = { .s = s, .queue_id = queue_id };
	struct store_pos where;
	struct store_salt salt;

	/* before a successful recovery a purge record could cancel enqueues never replayed */
	if (!s->recovered)
		return -1;
	if (!store_queue_is_volatile(queue_id)) {
		uint8_t *p = store_append(s, STORE_RECORD_PURGE_SIZE, true, &where, &salt);
		if (!p)
			return -1;
		store_record_put_u64(p + STORE_RECORD_HEADER_SIZE, queue_id);
		store_record_seal(p, STORE_RECORD_PURGE, STORE_RECORD_PURGE_SIZE, salt);
	}
	/* a walk over the whole index: purges and queue deletions are rare */
	store_index_visit(&s->index, 0, UINT64_MAX, store_purge_one, &c);
	for (size_t i = 0; i < c.dead_count; i++)
		store_index_remove(&s->index, c.dead[i]);
	free(c.dead);
	return 0;
}
