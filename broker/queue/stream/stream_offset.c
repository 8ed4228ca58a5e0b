/* broker/queue/stream/stream_offset.c: parsing x-max-age and x-stream-offset. RabbitMQ 3.10
 * crashes the connection (541) on values it cannot parse; Warren answers with the usual 406
 * "invalid arg" text instead. */
#include "broker/queue/stream/stream_offset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/core/time.h"

int64_t stream_duration_ms(struct amqp_str s)
{
	return time_duration_ms((const char *)s.ptr, s.len);
}

int stream_offset_parse(struct amqp_table args, uint64_t now_ms, struct stream_offset *out,
			char *err, size_t errlen)
{
	struct amqp_value v;
	int64_t i;
	out->kind = STREAM_OFFSET_NEXT;
	out->value = 0;
	if (!amqp_table_get(args, "x-stream-offset", &v))
		return 0;
	if (v.type == 'T') {
		out->kind = STREAM_OFFSET_TIMESTAMP;
		out->value = (int64_t)(v.v.u > (uint64_t)INT64_MAX / 1000 ? INT64_MAX / 1000 :
									     v.v.u) * 1000;
		return 0;
	}
	if (amqp_value_as_int(&v, &i)) {
		out->kind = i < 0 ? STREAM_OFFSET_FIRST : STREAM_OFFSET_ABSOLUTE;
		out->value = i < 0 ? 0 : i;
		return 0;
	}
	if (v.type == 'S') {
		if (amqp_str_eq_c(v.v.str, "first")) {
			out->kind = STREAM_OFFSET_FIRST;
			return 0;
		}
		if (amqp_str_eq_c(v.v.str, "last")) {
			out->kind = STREAM_OFFSET_LAST;
			return 0;
		}
		if (amqp_str_eq_c(v.v.str, "next")) {
			out->kind = STREAM_OFFSET_NEXT;
			return 0;
		}
		int64_t ms = stream_duration_ms(v.v.str);
		if (ms > 0) {
			out->kind = STREAM_OFFSET_TIMESTAMP;
			out->value = (uint64_t)ms > now_ms ? 0 : (int64_t)(now_ms - (uint64_t)ms);
			return 0;
		}
		snprintf(err, errlen,
			 "\"expected first, last, next, an offset, a timestamp or an interval "
			 "such as 10m, got '%.*s'\"",
			 AMQP_STR_ARGS(v.v.str));
		return -1;
	}
	snprintf(err, errlen, "{unacceptable_type,%s}", amqp_value_type_name(v.type));
	return -1;
}

int stream_offset_from_text(const char *text, uint64_t now_ms, struct stream_offset *out,
			    char *err, size_t errlen)
{
	char *end;
	long long n = strtoll(text, &end, 10);
	if (*text && *end == '\0') {
		out->kind = n < 0 ? STREAM_OFFSET_FIRST : STREAM_OFFSET_ABSOLUTE;
		out->value = n < 0 ? 0 : n;
		return 0;
	}
	if (*text == '@') { /* @<seconds since the epoch> */
		n = strtoll(text + 1, &end, 10);
		if (text[1] && *end == '\0' && n >= 0) {
			out->kind = STREAM_OFFSET_TIMESTAMP;
			out->value = n * 1000;
			return 0;
		}
	}
	size_t len = strlen(text);
	if (len > 255) {
		snprintf(err, errlen, "offset too long");
		return -1;
	}
	/* as a consumer would give it: a one-entry table x-stream-offset = text */
	uint8_t tbl[1 + 15 + 1 + 4 + 255];
	size_t k = 0;
	tbl[k++] = 15;
	memcpy(tbl + k, "x-stream-offset", 15);
	k += 15;
	tbl[k++] = 'S';
	tbl[k++] = 0;
	tbl[k++] = 0;
	tbl[k++] = 0;
	tbl[k++] = (uint8_t)len;
	memcpy(tbl + k, text, len);
	k += len;
	return stream_offset_parse((struct amqp_table){ tbl, (uint32_t)k }, now_ms, out, err,
				   errlen);
}
