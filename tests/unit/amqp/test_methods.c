/* tests/unit/amqp/test_methods.c: the generated method codec (methods_gen.c + methods.c).
 * Every method in spec.def round-trips with every field set; hand-written golden bytes pin the
 * wire format so that an encoder and decoder that agree on a mistake still fail. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/methods_gen.h"
#include "amqp/reply_codes.h"
#include "amqp/table.h"

#define FIELD(m, fd, type) ((type *)(void *)((uint8_t *)&(m)->u + (fd)->offset))

/* A small valid table used for every table argument: {"x-k": "v", "n": 7 (I)}. */
static const uint8_t sample_table[] = {
	3, 'x', '-', 'k', 'S', 0, 0, 0, 1, 'v',
	1, 'n', 'I', 0, 0, 0, 7,
};

static char str_pool[64][300];

/* Fills every field of method descriptor d with a value that depends on the field's position
 * and `variant` (0: bits alternate, 1: all bits set, 2: all bits clear, empty strings). */
static void fill_method(struct amqp_method *m, const struct amqp_method_desc *d, int variant)
{
	memset(m, 0, sizeof *m);
	m->id = d->id;
	for (unsigned i = 0; i < d->field_count; i++) {
		const struct amqp_field_desc *fd = &d->fields[i];
		char *s = str_pool[i];

		switch (fd->type) {
		case AMQP_FIELD_OCTET:
			*FIELD(m, fd, uint8_t) = (uint8_t)(0xa0 + i);
			break;
		case AMQP_FIELD_SHORT:
			*FIELD(m, fd, uint16_t) = (uint16_t)(0x8100 + i);
			break;
		case AMQP_FIELD_LONG:
			*FIELD(m, fd, uint32_t) = 0x89abcd00u + i;
			break;
		case AMQP_FIELD_LONGLONG:
		case AMQP_FIELD_TIMESTAMP:
			*FIELD(m, fd, uint64_t) = 0xf102030405060700ull + i;
			break;
		case AMQP_FIELD_BIT:
			*FIELD(m, fd, bool) = variant == 1 || (variant == 0 && i % 2 == 0);
			break;
		case AMQP_FIELD_SHORTSTR:
			if (variant == 2) {
				*FIELD(m, fd, struct amqp_str) = (struct amqp_str){ NULL, 0 };
				break;
			}
			snprintf(s, sizeof str_pool[0], "%s-%s", d->name, fd->name);
			*FIELD(m, fd, struct amqp_str) = amqp_str_c(s);
			break;
		case AMQP_FIELD_LONGSTR:
			if (variant == 2) {
				*FIELD(m, fd, struct amqp_str) = (struct amqp_str){ NULL, 0 };
				break;
			}
			memset(s, 'L', 290);
			s[7] = '\0'; /* longstr carries any byte */
			*FIELD(m, fd, struct amqp_str) = (struct amqp_str){ (uint8_t *)s, 290 };
			break;
		case AMQP_FIELD_TABLE:
			*FIELD(m, fd, struct amqp_table) = variant == 2
				? (struct amqp_table){ NULL, 0 }
				: (struct amqp_table){ sample_table, sizeof sample_table };
			break;
		}
	}
}

static void assert_methods_equal(const struct amqp_method *a, const struct amqp_method *b,
				 const struct amqp_method_desc *d)
{
	ck_assert_uint_eq(a->id, b->id);
	for (unsigned i = 0; i < d->field_count; i++) {
		const struct amqp_field_desc *fd = &d->fields[i];
		struct amqp_str sa, sb;
		struct amqp_table ta, tb;

		switch (fd->type) {
		case AMQP_FIELD_OCTET:
			ck_assert_uint_eq(*FIELD(a, fd, uint8_t), *FIELD(b, fd, uint8_t));
			break;
		case AMQP_FIELD_SHORT:
			ck_assert_uint_eq(*FIELD(a, fd, uint16_t), *FIELD(b, fd, uint16_t));
			break;
		case AMQP_FIELD_LONG:
			ck_assert_uint_eq(*FIELD(a, fd, uint32_t), *FIELD(b, fd, uint32_t));
			break;
		case AMQP_FIELD_LONGLONG:
		case AMQP_FIELD_TIMESTAMP:
			ck_assert_uint_eq(*FIELD(a, fd, uint64_t), *FIELD(b, fd, uint64_t));
			break;
		case AMQP_FIELD_BIT:
			ck_assert_msg(*FIELD(a, fd, bool) == *FIELD(b, fd, bool), "%s.%s", d->name,
				      fd->name);
			break;
		case AMQP_FIELD_SHORTSTR:
		case AMQP_FIELD_LONGSTR:
			sa = *FIELD(a, fd, struct amqp_str);
			sb = *FIELD(b, fd, struct amqp_str);
			ck_assert_msg(amqp_str_eq(sa, sb), "%s.%s", d->name, fd->name);
			break;
		case AMQP_FIELD_TABLE:
			ta = *FIELD(a, fd, struct amqp_table);
			tb = *FIELD(b, fd, struct amqp_table);
			ck_assert_uint_eq(ta.len, tb.len);
			ck_assert(ta.len == 0 || memcmp(ta.ptr, tb.ptr, ta.len) == 0);
			break;
		}
	}
}

static uint8_t buf[4096];

START_TEST(every_method_round_trips_with_every_field_set)
{
	for (int variant = 0; variant < 3; variant++) {
		for (size_t k = 0; k < AMQP_METHOD_COUNT; k++) {
			const struct amqp_method_desc *d = &amqp_method_descs[k];
			struct amqp_method in, out;
			ssize_t n;

			fill_method(&in, d, variant);
			n = amqp_method_encode(&in, buf, sizeof buf);
			ck_assert_msg(n >= 4, "%s", d->name);
			ck_assert_int_eq(amqp_method_decode(&out, buf, (size_t)n), AMQP_DECODE_OK);
			assert_methods_equal(&in, &out, d);
		}
	}
}
END_TEST

START_TEST(every_method_truncated_at_every_length_is_malformed)
{
	for (size_t k = 0; k < AMQP_METHOD_COUNT; k++) {
		const struct amqp_method_desc *d = &amqp_method_descs[k];
		struct amqp_method in, out;
		ssize_t n;

		fill_method(&in, d, 0);
		n = amqp_method_encode(&in, buf, sizeof buf);
		ck_assert_int_ge(n, 4);
		for (size_t len = 0; len < (size_t)n; len++) {
			/* copy so that ASan sees reads past the shortened end */
			uint8_t *copy = malloc(len ? len : 1);
			memcpy(copy, buf, len);
			ck_assert_msg(amqp_method_decode(&out, copy, len) == AMQP_DECODE_MALFORMED,
				      "%s truncated to %zu of %zd", d->name, len, n);
			free(copy);
		}
	}
}
END_TEST

START_TEST(every_method_with_a_trailing_byte_is_malformed)
{
	for (size_t k = 0; k < AMQP_METHOD_COUNT; k++) {
		const struct amqp_method_desc *d = &amqp_method_descs[k];
		struct amqp_method in, out;
		ssize_t n;

		fill_method(&in, d, 1);
		n = amqp_method_encode(&in, buf, sizeof buf);
		buf[n] = 0;
		ck_assert_msg(amqp_method_decode(&out, buf, (size_t)n + 1) == AMQP_DECODE_MALFORMED,
			      "%s", d->name);
	}
}
END_TEST

START_TEST(encode_fails_when_the_buffer_is_too_small_at_every_size)
{
	for (size_t k = 0; k < AMQP_METHOD_COUNT; k++) {
		const struct amqp_method_desc *d = &amqp_method_descs[k];
		struct amqp_method in;
		ssize_t n;

		fill_method(&in, d, 0);
		n = amqp_method_encode(&in, buf, sizeof buf);
		for (size_t cap = 0; cap < (size_t)n; cap++) {
			uint8_t *small = malloc(cap ? cap : 1);
			ck_assert_int_eq(amqp_method_encode(&in, small, cap), -1);
			free(small);
		}
	}
}
END_TEST

START_TEST(encode_rejects_a_shortstr_longer_than_255)
{
	static char big[256];
	struct amqp_method m = { .id = AMQP_QUEUE_DECLARE };

	memset(big, 'q', sizeof big);
	m.u.queue_declare.queue = (struct amqp_str){ (uint8_t *)big, 256 };
	ck_assert_int_eq(amqp_method_encode(&m, buf, sizeof buf), -1);
	m.u.queue_declare.queue.len = 255;
	ck_assert_int_eq(amqp_method_encode(&m, buf, sizeof buf), 4 + 2 + 256 + 1 + 4);
}
END_TEST

START_TEST(encode_rejects_an_unknown_method)
{
	struct amqp_method m = { .id = AMQP_METHOD_ID(99, 10) };

	ck_assert_int_eq(amqp_method_encode(&m, buf, sizeof buf), -1);
}
END_TEST

START_TEST(unknown_class_or_method_is_reported_with_its_id)
{
	static const uint8_t unknown_class[] = { 0, 99, 0, 10, 1, 2, 3 };
	static const uint8_t unknown_method[] = { 0, 60, 0, 41 };
	struct amqp_method m;

	ck_assert_int_eq(amqp_method_decode(&m, unknown_class, sizeof unknown_class),
			 AMQP_DECODE_UNKNOWN);
	ck_assert_uint_eq(m.id, AMQP_METHOD_ID(99, 10));
	ck_assert_int_eq(amqp_method_decode(&m, unknown_method, sizeof unknown_method),
			 AMQP_DECODE_UNKNOWN);
	ck_assert_uint_eq(AMQP_METHOD_CLASS(m.id), 60);
	ck_assert_uint_eq(AMQP_METHOD_INDEX(m.id), 41);
}
END_TEST

START_TEST(payload_shorter_than_the_ids_is_malformed)
{
	static const uint8_t three[] = { 0, 60, 0 };
	struct amqp_method m;

	ck_assert_int_eq(amqp_method_decode(&m, three, 0), AMQP_DECODE_MALFORMED);
	ck_assert_int_eq(amqp_method_decode(&m, three, 3), AMQP_DECODE_MALFORMED);
}
END_TEST

/* connection.start-ok as pika 1.2.0 sends it, written out byte by byte. */
static const uint8_t pika_start_ok[] = {
	0x00, 0x0a, 0x00, 0x0b, /* class 10, method 11 */
	0x00, 0x00, 0x00, 0xfe, /* client-properties: 254 bytes */
	7, 'p', 'r', 'o', 'd', 'u', 'c', 't', 'S', 0x00, 0x00, 0x00, 26,
	'P', 'i', 'k', 'a', ' ', 'P', 'y', 't', 'h', 'o', 'n', ' ', 'C', 'l', 'i', 'e', 'n', 't',
	' ', 'L', 'i', 'b', 'r', 'a', 'r', 'y',
	8, 'p', 'l', 'a', 't', 'f', 'o', 'r', 'm', 'S', 0x00, 0x00, 0x00, 13,
	'P', 'y', 't', 'h', 'o', 'n', ' ', '3', '.', '1', '1', '.', '2',
	12, 'c', 'a', 'p', 'a', 'b', 'i', 'l', 'i', 't', 'i', 'e', 's', 'F', 0x00, 0x00, 0x00, 111,
	28, 'a', 'u', 't', 'h', 'e', 'n', 't', 'i', 'c', 'a', 't', 'i', 'o', 'n', '_', 'f', 'a',
	'i', 'l', 'u', 'r', 'e', '_', 'c', 'l', 'o', 's', 'e', 't', 1,
	10, 'b', 'a', 's', 'i', 'c', '.', 'n', 'a', 'c', 'k', 't', 1,
	18, 'c', 'o', 'n', 'n', 'e', 'c', 't', 'i', 'o', 'n', '.', 'b', 'l', 'o', 'c', 'k', 'e',
	'd', 't', 1,
	22, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r', '_', 'c', 'a', 'n', 'c', 'e', 'l', '_', 'n',
	'o', 't', 'i', 'f', 'y', 't', 1,
	18, 'p', 'u', 'b', 'l', 'i', 's', 'h', 'e', 'r', '_', 'c', 'o', 'n', 'f', 'i', 'r', 'm',
	's', 't', 1,
	11, 'i', 'n', 'f', 'o', 'r', 'm', 'a', 't', 'i', 'o', 'n', 'S', 0x00, 0x00, 0x00, 24,
	'S', 'e', 'e', ' ', 'h', 't', 't', 'p', ':', '/', '/', 'p', 'i', 'k', 'a', '.', 'r', 't',
	'f', 'd', '.', 'o', 'r', 'g',
	7, 'v', 'e', 'r', 's', 'i', 'o', 'n', 'S', 0x00, 0x00, 0x00, 5, '1', '.', '2', '.', '0',
	5, 'P', 'L', 'A', 'I', 'N', /* mechanism */
	0x00, 0x00, 0x00, 12, 0, 'g', 'u', 'e', 's', 't', 0, 'g', 'u', 'e', 's', 't', /* response */
	5, 'e', 'n', '_', 'U', 'S', /* locale */
};

START_TEST(pika_connection_start_ok_decodes_field_by_field)
{
	struct amqp_method m;
	struct amqp_value v, cap;
	const struct amqp_connection_start_ok *s = &m.u.connection_start_ok;

	ck_assert_uint_eq(sizeof pika_start_ok, 4 + 286);
	ck_assert_int_eq(amqp_method_decode(&m, pika_start_ok, sizeof pika_start_ok),
			 AMQP_DECODE_OK);
	ck_assert_uint_eq(m.id, AMQP_CONNECTION_START_OK);
	ck_assert_uint_eq(s->client_properties.len, 254);
	ck_assert_uint_eq(amqp_table_count(s->client_properties), 5);
	ck_assert(amqp_table_get(s->client_properties, "product", &v));
	ck_assert(amqp_str_eq_c(v.v.str, "Pika Python Client Library"));
	ck_assert(amqp_table_get(s->client_properties, "capabilities", &v));
	ck_assert_uint_eq(v.type, 'F');
	ck_assert(amqp_table_get(v.v.table, "publisher_confirms", &cap));
	ck_assert_uint_eq(cap.type, 't');
	ck_assert(cap.v.b);
	ck_assert(amqp_str_eq_c(s->mechanism, "PLAIN"));
	ck_assert_uint_eq(s->response.len, 12);
	ck_assert_int_eq(memcmp(s->response.ptr, "\0guest\0guest", 12), 0);
	ck_assert(amqp_str_eq_c(s->locale, "en_US"));
}
END_TEST

START_TEST(pika_connection_start_ok_reencodes_to_the_same_bytes)
{
	struct amqp_method m;

	ck_assert_int_eq(amqp_method_decode(&m, pika_start_ok, sizeof pika_start_ok),
			 AMQP_DECODE_OK);
	ck_assert_int_eq(amqp_method_encode(&m, buf, sizeof buf), (ssize_t)sizeof pika_start_ok);
	ck_assert_int_eq(memcmp(buf, pika_start_ok, sizeof pika_start_ok), 0);
}
END_TEST

START_TEST(basic_publish_encodes_to_hand_written_bytes)
{
	static const uint8_t want[] = {
		0, 60, 0, 40,       /* basic.publish */
		0, 0,               /* ticket */
		3, 'e', 'x', '1',   /* exchange */
		2, 'r', 'k',        /* routing-key */
		0x01,               /* mandatory=1 (bit 0), immediate=0 (bit 1) */
	};
	struct amqp_method m = { .id = AMQP_BASIC_PUBLISH };

	m.u.basic_publish.exchange = AMQP_STR_LIT("ex1");
	m.u.basic_publish.routing_key = AMQP_STR_LIT("rk");
	m.u.basic_publish.mandatory = true;
	ck_assert_int_eq(amqp_method_encode(&m, buf, sizeof buf), (ssize_t)sizeof want);
	ck_assert_int_eq(memcmp(buf, want, sizeof want), 0);
}
END_TEST

START_TEST(queue_declare_packs_its_five_bits_into_one_octet)
{
	static const uint8_t frame[] = {
		0, 50, 0, 10, 0, 0, 1, 'q',
		0x1a,       /* passive=0 durable=1 exclusive=0 auto_delete=1 nowait=1 */
		0, 0, 0, 0, /* arguments: empty table */
	};
	struct amqp_method m;
	const struct amqp_queue_declare *q = &m.u.queue_declare;

	ck_assert_int_eq(amqp_method_decode(&m, frame, sizeof frame), AMQP_DECODE_OK);
	ck_assert(amqp_str_eq_c(q->queue, "q"));
	ck_assert(!q->passive);
	ck_assert(q->durable);
	ck_assert(!q->exclusive);
	ck_assert(q->auto_delete);
	ck_assert(q->nowait);
	ck_assert_uint_eq(q->arguments.len, 0);
}
END_TEST

START_TEST(basic_deliver_bit_between_strings_takes_its_own_octet)
{
	static const uint8_t frame[] = {
		0, 60, 0, 60,
		4, 'c', 't', 'a', 'g',
		0, 0, 0, 0, 0, 0, 1, 0x02, /* delivery-tag 258 */
		0x01,                      /* redelivered */
		0,                         /* exchange "" */
		1, 'k',
	};
	struct amqp_method m;

	ck_assert_int_eq(amqp_method_decode(&m, frame, sizeof frame), AMQP_DECODE_OK);
	ck_assert(amqp_str_eq_c(m.u.basic_deliver.consumer_tag, "ctag"));
	ck_assert_uint_eq(m.u.basic_deliver.delivery_tag, 258);
	ck_assert(m.u.basic_deliver.redelivered);
	ck_assert_uint_eq(m.u.basic_deliver.exchange.len, 0);
	ck_assert(amqp_str_eq_c(m.u.basic_deliver.routing_key, "k"));
}
END_TEST

START_TEST(connection_tune_decodes_hand_written_bytes)
{
	static const uint8_t frame[] = {
		0, 10, 0, 30, 0x07, 0xff, 0x00, 0x02, 0x00, 0x00, 0x00, 0x3c,
	};
	struct amqp_method m;

	ck_assert_int_eq(amqp_method_decode(&m, frame, sizeof frame), AMQP_DECODE_OK);
	ck_assert_uint_eq(m.u.connection_tune.channel_max, 2047);
	ck_assert_uint_eq(m.u.connection_tune.frame_max, 131072);
	ck_assert_uint_eq(m.u.connection_tune.heartbeat, 60);
}
END_TEST

START_TEST(string_length_past_the_end_is_malformed)
{
	static const uint8_t shortstr[] = { 0, 50, 0, 10, 0, 0, 200, 'q', 0, 0, 0, 0, 0 };
	static const uint8_t longstr[] = { 0, 10, 0, 21, 0xff, 0xff, 0xff, 0xff, 'x' };
	static const uint8_t table[] = { 0, 50, 0, 10, 0, 0, 0, 0, 0x80, 0, 0, 0 };
	struct amqp_method m;

	ck_assert_int_eq(amqp_method_decode(&m, shortstr, sizeof shortstr), AMQP_DECODE_MALFORMED);
	ck_assert_int_eq(amqp_method_decode(&m, longstr, sizeof longstr), AMQP_DECODE_MALFORMED);
	ck_assert_int_eq(amqp_method_decode(&m, table, sizeof table), AMQP_DECODE_MALFORMED);
}
END_TEST

START_TEST(malformed_table_argument_makes_the_method_malformed)
{
	static const uint8_t bad_type[] = {
		0, 50, 0, 10, 0, 0, 1, 'q', 0,
		0, 0, 0, 3, 1, 'k', 'Z', /* arguments: key "k", type 'Z' */
	};
	struct amqp_method m;

	ck_assert_int_eq(amqp_method_decode(&m, bad_type, sizeof bad_type), AMQP_DECODE_MALFORMED);
}
END_TEST

START_TEST(names_and_content_flags_follow_the_spec)
{
	ck_assert_str_eq(amqp_method_name(AMQP_BASIC_PUBLISH), "basic.publish");
	ck_assert_str_eq(amqp_method_name(AMQP_CONNECTION_START_OK), "connection.start-ok");
	ck_assert_str_eq(amqp_method_name(AMQP_BASIC_RECOVER_ASYNC), "basic.recover-async");
	ck_assert_ptr_null(amqp_method_name(AMQP_METHOD_ID(60, 41)));
	ck_assert(amqp_method_has_content(AMQP_BASIC_PUBLISH));
	ck_assert(amqp_method_has_content(AMQP_BASIC_RETURN));
	ck_assert(amqp_method_has_content(AMQP_BASIC_DELIVER));
	ck_assert(amqp_method_has_content(AMQP_BASIC_GET_OK));
	ck_assert(!amqp_method_has_content(AMQP_BASIC_GET));
	ck_assert(!amqp_method_has_content(AMQP_METHOD_ID(99, 1)));
	for (size_t k = 0; k < AMQP_METHOD_COUNT; k++) {
		uint32_t id = amqp_method_descs[k].id;
		bool content = id == AMQP_BASIC_PUBLISH || id == AMQP_BASIC_RETURN ||
			       id == AMQP_BASIC_DELIVER || id == AMQP_BASIC_GET_OK;
		ck_assert(amqp_method_is_known(id));
		ck_assert(amqp_method_has_content(id) == content);
		ck_assert_ptr_eq(amqp_method_desc_find(id), &amqp_method_descs[k]);
	}
}
END_TEST

START_TEST(rabbitmq_extensions_have_their_ids)
{
	ck_assert_uint_eq(AMQP_BASIC_NACK, AMQP_METHOD_ID(60, 120));
	ck_assert_uint_eq(AMQP_EXCHANGE_BIND, AMQP_METHOD_ID(40, 30));
	ck_assert_uint_eq(AMQP_EXCHANGE_BIND_OK, AMQP_METHOD_ID(40, 31));
	ck_assert_uint_eq(AMQP_EXCHANGE_UNBIND, AMQP_METHOD_ID(40, 40));
	ck_assert_uint_eq(AMQP_EXCHANGE_UNBIND_OK, AMQP_METHOD_ID(40, 51));
	ck_assert_uint_eq(AMQP_CONNECTION_BLOCKED, AMQP_METHOD_ID(10, 60));
	ck_assert_uint_eq(AMQP_CONNECTION_UNBLOCKED, AMQP_METHOD_ID(10, 61));
	ck_assert_uint_eq(AMQP_CONNECTION_UPDATE_SECRET, AMQP_METHOD_ID(10, 70));
	ck_assert_uint_eq(AMQP_CONNECTION_UPDATE_SECRET_OK, AMQP_METHOD_ID(10, 71));
	ck_assert_uint_eq(AMQP_CONFIRM_SELECT, AMQP_METHOD_ID(85, 10));
	ck_assert_uint_eq(AMQP_CONFIRM_SELECT_OK, AMQP_METHOD_ID(85, 11));
	ck_assert_uint_eq(AMQP_TX_ROLLBACK_OK, AMQP_METHOD_ID(90, 31));
	ck_assert_int_eq(AMQP_CLASS_CONFIRM, 85);
	ck_assert_int_eq(AMQP_CLASS_TX, 90);
}
END_TEST

START_TEST(reply_codes_have_their_names)
{
	ck_assert_str_eq(amqp_reply_code_name(404), "NOT_FOUND");
	ck_assert_str_eq(amqp_reply_code_name(AMQP_PRECONDITION_FAILED), "PRECONDITION_FAILED");
	ck_assert_str_eq(amqp_reply_code_name(AMQP_UNEXPECTED_FRAME), "UNEXPECTED_FRAME");
	ck_assert_str_eq(amqp_reply_code_name(AMQP_NOT_IMPLEMENTED), "NOT_IMPLEMENTED");
	ck_assert_str_eq(amqp_reply_code_name(AMQP_NO_ROUTE), "NO_ROUTE");
	ck_assert_str_eq(amqp_reply_code_name(999), "UNKNOWN");
}
END_TEST

static Suite *methods_suite(void)
{
	Suite *s = suite_create("amqp_methods");
	TCase *tc = tcase_create("methods");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, every_method_round_trips_with_every_field_set);
	tcase_add_test(tc, every_method_truncated_at_every_length_is_malformed);
	tcase_add_test(tc, every_method_with_a_trailing_byte_is_malformed);
	tcase_add_test(tc, encode_fails_when_the_buffer_is_too_small_at_every_size);
	tcase_add_test(tc, encode_rejects_a_shortstr_longer_than_255);
	tcase_add_test(tc, encode_rejects_an_unknown_method);
	tcase_add_test(tc, unknown_class_or_method_is_reported_with_its_id);
	tcase_add_test(tc, payload_shorter_than_the_ids_is_malformed);
	tcase_add_test(tc, pika_connection_start_ok_decodes_field_by_field);
	tcase_add_test(tc, pika_connection_start_ok_reencodes_to_the_same_bytes);
	tcase_add_test(tc, basic_publish_encodes_to_hand_written_bytes);
	tcase_add_test(tc, queue_declare_packs_its_five_bits_into_one_octet);
	tcase_add_test(tc, basic_deliver_bit_between_strings_takes_its_own_octet);
	tcase_add_test(tc, connection_tune_decodes_hand_written_bytes);
	tcase_add_test(tc, string_length_past_the_end_is_malformed);
	tcase_add_test(tc, malformed_table_argument_makes_the_method_malformed);
	tcase_add_test(tc, names_and_content_flags_follow_the_spec);
	tcase_add_test(tc, rabbitmq_extensions_have_their_ids);
	tcase_add_test(tc, reply_codes_have_their_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(methods_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
