/* broker/queue/stream/stream_filter.c: a stream consumer's filter (stream_filter.h): reading
 * it from basic.consume's arguments, reading a message's filter value, and matching. Values are
 * compared by hash first (64 bits: a mismatch is certain) and then byte for byte. */
#include "broker/queue/stream/stream_filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/props.h"

#define STREAM_FILTER_MAX 256 /* values one consumer may name */

void stream_filter_free(struct stream_filter *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->count; i++)
		free((void *)f->values[i].ptr);
	free(f->values);
	free(f->hashes);
	free(f);
}

static int stream_filter_add(struct stream_filter *f, struct amqp_str v)
{
	uint8_t *copy = malloc(v.len ? v.len : 1);
	if (!copy)
		return -2;
	memcpy(copy, v.ptr, v.len);
	f->values[f->count] = (struct amqp_str){ copy, v.len };
	f->hashes[f->count] = sbloom_hash(v.ptr, v.len);
	f->count++;
	return 0;
}

static int stream_filter_bad(const char *arg, uint8_t type, const char **bad_arg, char *err,
			     size_t errlen)
{
	*bad_arg = arg;
	snprintf(err, errlen, "{unacceptable_type,%s}", amqp_value_type_name(type));
	return -1;
}

int stream_filter_parse(struct amqp_table args, struct stream_filter **out, const char **bad_arg,
			char *err, size_t errlen)
{
	struct amqp_value fv, mu;
	size_t n = 1;
	*out = NULL;
	bool has_mu = amqp_table_get(args, "x-stream-match-unfiltered", &mu);
	if (has_mu && mu.type != 't')
		return stream_filter_bad("x-stream-match-unfiltered", mu.type, bad_arg, err,
					 errlen);
	if (!amqp_table_get(args, "x-stream-filter", &fv))
		return 0;
	if (fv.type == 'A') {
		struct amqp_table_iter it;
		struct amqp_value e;
		n = 0;
		amqp_array_iter_init(&it, fv.v.table);
		while (amqp_array_next(&it, &e) == 1) {
			if (e.type != 'S')
				return stream_filter_bad("x-stream-filter", e.type, bad_arg, err,
							 errlen);
			n++;
		}
		if (n > STREAM_FILTER_MAX) {
			*bad_arg = "x-stream-filter";
			snprintf(err, errlen, "{too_many_values,%zu}", n);
			return -1;
		}
	} else if (fv.type != 'S') {
		return stream_filter_bad("x-stream-filter", fv.type, bad_arg, err, errlen);
	}
	struct stream_filter *f = calloc(1, sizeof *f);
	if (!f || !(f->values = calloc(n ? n : 1, sizeof *f->values)) ||
	    !(f->hashes = calloc(n ? n : 1, sizeof *f->hashes))) {
		stream_filter_free(f);
		return -2;
	}
	int rc = 0;
	if (fv.type == 'S') {
		rc = stream_filter_add(f, fv.v.str);
	} else {
		struct amqp_table_iter it;
		struct amqp_value e;
		amqp_array_iter_init(&it, fv.v.table);
		while (rc == 0 && amqp_array_next(&it, &e) == 1)
			rc = stream_filter_add(f, e.v.str);
	}
	if (rc != 0) {
		stream_filter_free(f);
		return rc;
	}
	f->match_unfiltered = has_mu && mu.v.b;
	f->want = (struct sbloom_want){ f->hashes, f->count, f->match_unfiltered };
	*out = f;
	return 0;
}

bool stream_filter_value(const uint8_t *props, size_t props_len, struct amqp_str *value)
{
	struct amqp_basic_props p;
	struct amqp_value v;
	if (props_len < 2 || !(props[0] & 0x20) || /* the headers flag, bit 13 */
	    amqp_props_decode(&p, props, props_len) != 0 ||
	    !amqp_table_get(p.headers, "x-stream-filter-value", &v) || v.type != 'S')
		return false;
	*value = v.v.str;
	return true;
}

uint64_t stream_filter_hash_of(const uint8_t *props, size_t props_len)
{
	struct amqp_str v;
	return stream_filter_value(props, props_len, &v) ? sbloom_hash(v.ptr, v.len) : 0;
}

bool stream_filter_match(const struct stream_filter *f, uint64_t fhash, const uint8_t *props,
			 size_t props_len)
{
	if (!fhash)
		return f->match_unfiltered;
	struct amqp_str v;
	bool got = false;
	for (size_t i = 0; i < f->count; i++) {
		if (f->hashes[i] != fhash)
			continue;
		if (!got && !stream_filter_value(props, props_len, &v))
			return f->match_unfiltered;
		got = true;
		if (v.len == f->values[i].len && memcmp(v.ptr, f->values[i].ptr, v.len) == 0)
			return true;
	}
	return false;
}
