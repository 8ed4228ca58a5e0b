/* storage/store_read.c: reading messages back from the log, one (store_message_read) or a
 * batch of them with one pread per run of adjacent records (store_message_read_many). */
#include "storage/store.h"

#include <stdlib.h>

#include "storage/store_internal.h"
#include "storage/store_log.h"
#include "storage/store_record.h"

#define STORE_READ_RUN_MAX (1u << 20)

static uint8_t *store_readbuf(struct store *s, size_t len)
{
	if (len > s->readbuf_cap) {
		uint8_t *b = realloc(s->readbuf, len);
		if (!b)
			return NULL;
		s->readbuf = b;
		s->readbuf_cap = len;
	}
	return s->readbuf;
}

static bool store_decode_message(const uint8_t *p, uint32_t len, uint64_t msg_id,
				 struct store_salt salt, struct store_message *out)
{
	struct store_record rec;
	struct store_record_message rm;

	if (store_record_check(p, len, &rec, salt) != (int64_t)len ||
	    (rec.type != STORE_RECORD_MESSAGE && rec.type != STORE_RECORD_MOVED) ||
	    store_record_message_decode(rec.payload, rec.len, &rm) != 0 || rm.msg_id != msg_id)
		return false;
	*out = rm.m;
	return true;
}

int store_message_read(struct store *s, uint64_t msg_id, struct store_message *out, void **block)
{
	struct store_index_entry *e = store_index_get(&s->index, msg_id);
	uint8_t *buf;

	*block = NULL;
	if (!e || !(buf = malloc(e->len)))
		return -1;
	if (store_read_record(s, e->segment, e->offset, e->len, buf) != 0 ||
	    !store_decode_message(buf, e->len, msg_id, store_segment_salt(s, e->segment), out)) {
		store_log_error("storage: message %llu at segment %u offset %u cannot be read back",
				(unsigned long long)msg_id, e->segment, e->offset);
		free(buf);
		return -1;
	}
	*block = buf;
	return 0;
}

void store_message_read_many(struct store *s, const uint64_t *ids, size_t n, store_read_fn fn,
			     void *arg)
{
	size_t i = 0;

	while (i < n) {
		struct store_index_entry *e = store_index_get(&s->index, ids[i]);
		struct store_message m;
		struct store_salt salt;
		size_t j = i + 1;
		uint64_t end;
		uint8_t *buf;

		if (!e) {
			store_log_error("storage: message %llu is not in the index",
					(unsigned long long)ids[i]);
			fn(arg, i++, NULL);
			continue;
		}
		/* extend the run while the next record follows on disk in the same segment */
		end = (uint64_t)e->offset + e->len;
		while (j < n) {
			struct store_index_entry *f = store_index_get(&s->index, ids[j]);
			if (!f || f->segment != e->segment || f->offset != end ||
			    end + f->len - e->offset > STORE_READ_RUN_MAX)
				break;
			end += f->len;
			j++;
		}
		/* a run reaching past what is durable may sit in a batch: one record at a time */
		if (store_pos_cmp((struct store_pos){ e->segment, end }, s->durable) > 0)
			j = i + 1, end = (uint64_t)e->offset + e->len;
		buf = store_readbuf(s, (size_t)(end - e->offset));
		if (!buf || store_read_record(s, e->segment, e->offset, (uint32_t)(end - e->offset),
					      buf) != 0) {
			store_log_error("storage: cannot read segment %u at offset %u", e->segment,
					e->offset);
			for (; i < j; i++)
				fn(arg, i, NULL);
			continue;
		}
		/* fn must not call into the store, so the entries stay where they are */
		salt = store_segment_salt(s, e->segment);
		for (uint64_t base = e->offset, off = base; i < j; i++) {
			struct store_index_entry *f = store_index_get(&s->index, ids[i]);
			if (store_decode_message(buf + (off - base), f->len, ids[i], salt, &m)) {
				fn(arg, i, &m);
			} else {
				store_log_error("storage: message %llu at segment %u offset "
						"%u cannot be read back",
						(unsigned long long)ids[i], f->segment, f->offset);
				fn(arg, i, NULL);
			}
			off += f->len;
		}
	}
}
