/* broker/admin/admin_json.c: AMQP field tables and strings as the management API and definitions
 * write them in JSON, and JSON arguments back into table entries. Strings become valid UTF-8
 * JSON whatever bytes AMQP allowed in them. */
#include "broker/admin/admin.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/props.h"
#include "amqp/table.h"

static int put_json_value(struct amqp_buf *out, json_t *v, int depth, char *err, size_t errlen);

static int put_json_table(struct amqp_buf *out, json_t *obj, int depth, char *err, size_t errlen)
{
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v)
	{
		if (strlen(k) > 255) {
			snprintf(err, errlen, "argument name too long");
			return -1;
		}
		amqp_buf_put_shortstr(out, amqp_str_c(k));
		if (put_json_value(out, v, depth + 1, err, errlen) != 0)
			return -1;
	}
	return 0;
}

static int put_json_value(struct amqp_buf *out, json_t *v, int depth, char *err, size_t errlen)
{
	if (depth >= AMQP_TABLE_MAX_DEPTH) {
		snprintf(err, errlen, "arguments nested too deeply");
		return -1;
	}
	switch (json_typeof(v)) {
	case JSON_STRING:
		amqp_buf_put_value_longstr(out, (struct amqp_str){
			(const uint8_t *)json_string_value(v), (uint32_t)json_string_length(v) });
		return 0;
	case JSON_INTEGER:
		amqp_buf_put_value_long(out, json_integer_value(v));
		return 0;
	case JSON_REAL: {
		double d = json_real_value(v);
		uint64_t bits;
		memcpy(&bits, &d, sizeof bits);
		amqp_buf_put_u8(out, 'd');
		amqp_buf_put_u64(out, bits);
		return 0;
	}
	case JSON_TRUE:
	case JSON_FALSE:
		amqp_buf_put_value_bool(out, json_is_true(v));
		return 0;
	case JSON_NULL:
		amqp_buf_put_u8(out, 'V');
		return 0;
	case JSON_OBJECT: {
		amqp_buf_put_u8(out, 'F');
		size_t at = amqp_buf_table_begin(out);
		if (put_json_table(out, v, depth, err, errlen) != 0)
			return -1;
		amqp_buf_table_end(out, at);
		return 0;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *item;
		amqp_buf_put_u8(out, 'A');
		size_t at = amqp_buf_table_begin(out);
		json_array_foreach(v, i, item)
		{
			if (put_json_value(out, item, depth + 1, err, errlen) != 0)
				return -1;
		}
		amqp_buf_table_end(out, at);
		return 0;
	}
	}
	snprintf(err, errlen, "unsupported argument value");
	return -1;
}

int admin_table_from_json(json_t *obj, struct amqp_buf *out, char *err, size_t errlen)
{
	if (!obj || json_is_null(obj))
		return 0;
	if (!json_is_object(obj)) {
		snprintf(err, errlen, "arguments must be an object");
		return -1;
	}
	if (put_json_table(out, obj, 0, err, errlen) != 0)
		return -1;
	if (out->oom) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static json_t *value_to_json(const struct amqp_value *v);

/* Length of the valid UTF-8 sequence at p (1..4), or 0. */
static size_t utf8_seq_len(const uint8_t *p, size_t left)
{
	size_t n = p[0] < 0x80 ? 1 : (p[0] & 0xE0) == 0xC0 ? 2 : (p[0] & 0xF0) == 0xE0 ? 3 :
					(p[0] & 0xF8) == 0xF0 ? 4 : 0;
	if (n == 0 || n > left || (n == 2 && p[0] < 0xC2))
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xC0) != 0x80)
			return 0;
	if ((n == 3 && p[0] == 0xE0 && p[1] < 0xA0) || (n == 3 && p[0] == 0xED && p[1] >= 0xA0) ||
	    (n == 4 && p[0] == 0xF0 && p[1] < 0x90) || (n == 4 && (p[0] > 0xF4 || (p[0] == 0xF4 && p[1] >= 0x90))))
		return 0;
	return n;
}

/* JSON strings must be UTF-8 without NUL: AMQP strings may be any bytes. Invalid bytes and
 * NUL become U+FFFD, so the JSON (and the definitions file written from it) stays valid. */
json_t *admin_json_string(const uint8_t *p, size_t len)
{
	json_t *s = memchr(p, 0, len) ? NULL : json_stringn((const char *)p, len);
	if (s)
		return s;
	char *buf = malloc(len * 3 + 1);
	size_t o = 0;
	if (!buf)
		return json_null();
	for (size_t i = 0; i < len;) {
		size_t n = p[i] ? utf8_seq_len(p + i, len - i) : 0;
		if (n) {
			memcpy(buf + o, p + i, n);
			o += n;
			i += n;
		} else {
			memcpy(buf + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
		}
	}
	s = json_stringn(buf, o);
	free(buf);
	return s ? s : json_null();
}

static json_t *array_to_json(struct amqp_table a)
{
	json_t *arr = json_array();
	struct amqp_table_iter it;
	struct amqp_value v;
	amqp_array_iter_init(&it, a);
	while (amqp_array_next(&it, &v) == 1)
		json_array_append_new(arr, value_to_json(&v));
	return arr;
}

static json_t *value_to_json(const struct amqp_value *v)
{
	switch (v->type) {
	case 't':
		return json_boolean(v->v.b);
	case 'b':
	case 's':
	case 'I':
	case 'l':
	case 'L':
		return json_integer(v->v.i);
	case 'B':
	case 'u':
	case 'i':
	case 'T':
		return json_integer((json_int_t)v->v.u);
	case 'f':
		return json_real(v->v.f);
	case 'd':
		return json_real(v->v.d);
	case 'D': {
		double d = v->v.dec.value;
		for (int i = 0; i < v->v.dec.scale; i++)
			d /= 10;
		return json_real(d);
	}
	case 'S':
	case 'x':
		return admin_json_string(v->v.str.ptr, v->v.str.len);
	case 'F':
		return admin_table_to_json(v->v.table);
	case 'A':
		return array_to_json(v->v.table);
	default:
		return json_null();
	}
}

json_t *admin_table_to_json(struct amqp_table t)
{
	json_t *obj = json_object();
	struct amqp_table_iter it;
	struct amqp_str k;
	struct amqp_value v;
	amqp_table_iter_init(&it, t);
	while (amqp_table_next(&it, &k, &v) == 1) {
		json_t *key = admin_json_string(k.ptr, k.len);
		if (json_is_string(key))
			json_object_set_new(obj, json_string_value(key), value_to_json(&v));
		json_decref(key);
	}
	return obj;
}

enum admin_prop_result admin_prop_from_json(struct amqp_basic_props *p, const char *key, json_t *v)
{
	static const struct {
		const char *name;
		uint16_t flag;
		size_t off;
	} strs[] = {
		{ "content_type", AMQP_PROP_CONTENT_TYPE, offsetof(struct amqp_basic_props, content_type) },
		{ "content_encoding", AMQP_PROP_CONTENT_ENCODING,
		  offsetof(struct amqp_basic_props, content_encoding) },
		{ "correlation_id", AMQP_PROP_CORRELATION_ID,
		  offsetof(struct amqp_basic_props, correlation_id) },
		{ "reply_to", AMQP_PROP_REPLY_TO, offsetof(struct amqp_basic_props, reply_to) },
		{ "expiration", AMQP_PROP_EXPIRATION, offsetof(struct amqp_basic_props, expiration) },
		{ "message_id", AMQP_PROP_MESSAGE_ID, offsetof(struct amqp_basic_props, message_id) },
		{ "type", AMQP_PROP_TYPE, offsetof(struct amqp_basic_props, type) },
		{ "user_id", AMQP_PROP_USER_ID, offsetof(struct amqp_basic_props, user_id) },
		{ "app_id", AMQP_PROP_APP_ID, offsetof(struct amqp_basic_props, app_id) },
		{ "cluster_id", AMQP_PROP_CLUSTER_ID, offsetof(struct amqp_basic_props, cluster_id) },
	};
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
		if (strcmp(key, strs[i].name) != 0)
			continue;
		if (!json_is_string(v) || json_string_length(v) > 255)
			return ADMIN_PROP_NOT_STRING;
		*(struct amqp_str *)((char *)p + strs[i].off) = (struct amqp_str){
			(const uint8_t *)json_string_value(v), (uint32_t)json_string_length(v)
		};
		p->flags |= strs[i].flag;
		return ADMIN_PROP_SET;
	}
	bool timestamp = strcmp(key, "timestamp") == 0;
	if (!timestamp && strcmp(key, "delivery_mode") != 0 && strcmp(key, "priority") != 0)
		return ADMIN_PROP_UNKNOWN;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (!timestamp && json_integer_value(v) > 255))
		return ADMIN_PROP_BAD_NUMBER;
	if (timestamp) {
		p->timestamp = (uint64_t)json_integer_value(v);
		p->flags |= AMQP_PROP_TIMESTAMP;
	} else if (key[0] == 'd') {
		p->delivery_mode = (uint8_t)json_integer_value(v);
		p->flags |= AMQP_PROP_DELIVERY_MODE;
	} else {
		p->priority = (uint8_t)json_integer_value(v);
		p->flags |= AMQP_PROP_PRIORITY;
	}
	return ADMIN_PROP_SET;
}
