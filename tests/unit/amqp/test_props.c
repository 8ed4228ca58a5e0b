/* tests/unit/amqp/test_props.c: the content header and basic's properties (amqp/props.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/props.h"

/* A header as pika sends it for properties content_type="text/plain", delivery_mode=2,
 * headers={"a": 1 (I)}, body size 5; written by hand. */
static const uint8_t pika_header[] = {
	0, 60, 0, 0,                   /* class basic, weight 0 */
	0, 0, 0, 0, 0, 0, 0, 5,        /* body size */
	0xb0, 0x00,                    /* content-type | headers | delivery-mode */
	10, 't', 'e', 'x', 't', '/', 'p', 'l', 'a', 'i', 'n',
	0, 0, 0, 7, 1, 'a', 'I', 0, 0, 0, 1,
	2,
};

static const uint8_t headers_table[] = { 1, 'h', 'S', 0, 0, 0, 2, 'h', 'i' };

static void fill_all(struct amqp_basic_props *p)
{
	memset(p, 0, sizeof *p);
	p->flags = 0xfffc;
	p->content_type = AMQP_STR_LIT("application/json");
	p->content_encoding = AMQP_STR_LIT("gzip");
	p->headers = (struct amqp_table){ headers_table, sizeof headers_table };
	p->delivery_mode = 2;
	p->priority = 9;
	p->correlation_id = AMQP_STR_LIT("corr");
	p->reply_to = AMQP_STR_LIT("amq.rabbitmq.reply-to");
	p->expiration = AMQP_STR_LIT("60000");
	p->message_id = AMQP_STR_LIT("m-1");
	p->timestamp = 1700000000;
	p->type = AMQP_STR_LIT("t");
	p->user_id = AMQP_STR_LIT("guest");
	p->app_id = AMQP_STR_LIT("app");
	p->cluster_id = AMQP_STR_LIT("c");
}

START_TEST(pika_content_header_decodes_field_by_field)
{
	struct amqp_content_header h;
	struct amqp_basic_props p;
	struct amqp_value v;

	ck_assert_int_eq(amqp_content_header_decode(&h, pika_header, sizeof pika_header), 0);
	ck_assert_uint_eq(h.class_id, 60);
	ck_assert_uint_eq(h.weight, 0);
	ck_assert_uint_eq(h.body_size, 5);
	ck_assert_ptr_eq(h.props, pika_header + 12);
	ck_assert_uint_eq(h.props_len, sizeof pika_header - 12);
	ck_assert_int_eq(amqp_props_decode(&p, h.props, h.props_len), 0);
	ck_assert_uint_eq(p.flags, AMQP_PROP_CONTENT_TYPE | AMQP_PROP_HEADERS |
				   AMQP_PROP_DELIVERY_MODE);
	ck_assert(amqp_str_eq_c(p.content_type, "text/plain"));
	ck_assert_uint_eq(p.delivery_mode, 2);
	ck_assert(amqp_table_get(p.headers, "a", &v));
	ck_assert_int_eq(v.v.i, 1);
}
END_TEST

START_TEST(all_fourteen_properties_round_trip)
{
	struct amqp_basic_props in, out;
	struct amqp_buf b;

	fill_all(&in);
	amqp_buf_init(&b);
	amqp_props_encode(&in, &b);
	ck_assert(!b.oom);
	ck_assert_int_eq(amqp_props_decode(&out, b.data, b.len), 0);
	ck_assert_uint_eq(out.flags, 0xfffc);
	ck_assert(amqp_str_eq(out.content_type, in.content_type));
	ck_assert(amqp_str_eq(out.content_encoding, in.content_encoding));
	ck_assert_uint_eq(out.headers.len, sizeof headers_table);
	ck_assert_int_eq(memcmp(out.headers.ptr, headers_table, sizeof headers_table), 0);
	ck_assert_uint_eq(out.delivery_mode, 2);
	ck_assert_uint_eq(out.priority, 9);
	ck_assert(amqp_str_eq(out.correlation_id, in.correlation_id));
	ck_assert(amqp_str_eq(out.reply_to, in.reply_to));
	ck_assert(amqp_str_eq(out.expiration, in.expiration));
	ck_assert(amqp_str_eq(out.message_id, in.message_id));
	ck_assert_uint_eq(out.timestamp, 1700000000);
	ck_assert(amqp_str_eq(out.type, in.type));
	ck_assert(amqp_str_eq(out.user_id, in.user_id));
	ck_assert(amqp_str_eq(out.app_id, in.app_id));
	ck_assert(amqp_str_eq(out.cluster_id, in.cluster_id));
	amqp_buf_free(&b);
}
END_TEST

START_TEST(each_property_alone_round_trips)
{
	struct amqp_basic_props all, in, out;
	struct amqp_buf b;

	fill_all(&all);
	amqp_buf_init(&b);
	for (int bit = 2; bit < 16; bit++) {
		in = all;
		in.flags = (uint16_t)(1u << bit);
		amqp_buf_reset(&b);
		amqp_props_encode(&in, &b);
		ck_assert_int_eq(amqp_props_decode(&out, b.data, b.len), 0);
		ck_assert_uint_eq(out.flags, in.flags);
		/* re-encoding what was decoded gives the same bytes */
		struct amqp_buf again;
		amqp_buf_init(&again);
		amqp_props_encode(&out, &again);
		ck_assert_uint_eq(again.len, b.len);
		ck_assert_int_eq(memcmp(again.data, b.data, b.len), 0);
		amqp_buf_free(&again);
	}
	amqp_buf_free(&b);
}
END_TEST

START_TEST(no_properties_is_just_the_flags)
{
	static const uint8_t none[] = { 0, 0 };
	struct amqp_basic_props p;

	ck_assert_int_eq(amqp_props_decode(&p, none, sizeof none), 0);
	ck_assert_uint_eq(p.flags, 0);
}
END_TEST

START_TEST(continuation_flag_is_rejected)
{
	static const uint8_t cont[] = { 0, 1, 0, 0 };
	struct amqp_basic_props p;

	ck_assert_int_eq(amqp_props_decode(&p, cont, sizeof cont), -1);
}
END_TEST

START_TEST(truncated_properties_are_rejected_at_every_length)
{
	struct amqp_basic_props in, out;
	struct amqp_buf b;

	fill_all(&in);
	amqp_buf_init(&b);
	amqp_props_encode(&in, &b);
	for (size_t len = 0; len < b.len; len++) {
		uint8_t *copy = malloc(len ? len : 1);
		memcpy(copy, b.data, len);
		ck_assert_msg(amqp_props_decode(&out, copy, len) == -1, "%zu bytes", len);
		free(copy);
	}
	amqp_buf_free(&b);
}
END_TEST

START_TEST(trailing_bytes_after_the_properties_are_rejected)
{
	static const uint8_t trailing[] = { 0x10, 0x00, 2, 0xff };
	struct amqp_basic_props p;

	ck_assert_int_eq(amqp_props_decode(&p, trailing, sizeof trailing - 1), 0);
	ck_assert_int_eq(amqp_props_decode(&p, trailing, sizeof trailing), -1);
}
END_TEST

START_TEST(malformed_headers_table_is_rejected)
{
	static const uint8_t bad_type[] = { 0x20, 0x00, 0, 0, 0, 3, 1, 'k', 'Z' };
	static const uint8_t past_end[] = { 0x20, 0x00, 0, 0, 0, 9, 1, 'k', 'V' };
	struct amqp_basic_props p;

	ck_assert_int_eq(amqp_props_decode(&p, bad_type, sizeof bad_type), -1);
	ck_assert_int_eq(amqp_props_decode(&p, past_end, sizeof past_end), -1);
}
END_TEST

START_TEST(content_header_shorter_than_fourteen_bytes_is_rejected)
{
	struct amqp_content_header h;

	for (size_t len = 0; len < 14; len++)
		ck_assert_int_eq(amqp_content_header_decode(&h, pika_header, len), -1);
	ck_assert_int_eq(amqp_content_header_decode(&h, pika_header, 14), 0);
}
END_TEST

START_TEST(content_header_encodes_to_hand_written_bytes)
{
	static const uint8_t want[] = {
		0, 60, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0x10, 0x00, 1,
	};
	static const uint8_t props[] = { 0x10, 0x00, 1 };
	struct amqp_buf b;

	amqp_buf_init(&b);
	amqp_content_header_encode(&b, 0x100000002ull, props, sizeof props);
	ck_assert_uint_eq(b.len, sizeof want);
	ck_assert_int_eq(memcmp(b.data, want, sizeof want), 0);
	amqp_buf_free(&b);
}
END_TEST

static Suite *props_suite(void)
{
	Suite *s = suite_create("amqp_props");
	TCase *tc = tcase_create("props");

	tcase_add_test(tc, pika_content_header_decodes_field_by_field);
	tcase_add_test(tc, all_fourteen_properties_round_trip);
	tcase_add_test(tc, each_property_alone_round_trips);
	tcase_add_test(tc, no_properties_is_just_the_flags);
	tcase_add_test(tc, continuation_flag_is_rejected);
	tcase_add_test(tc, truncated_properties_are_rejected_at_every_length);
	tcase_add_test(tc, trailing_bytes_after_the_properties_are_rejected);
	tcase_add_test(tc, malformed_headers_table_is_rejected);
	tcase_add_test(tc, content_header_shorter_than_fourteen_bytes_is_rejected);
	tcase_add_test(tc, content_header_encodes_to_hand_written_bytes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(props_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
