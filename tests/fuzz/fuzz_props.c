/* tests/fuzz/fuzz_props.c: amqp_content_header_decode + amqp_props_decode over an arbitrary
 * content header payload. Properties that decode must re-encode to the same bytes (the unused
 * flag bit 1 aside) and decode again. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "amqp/props.h"
#include "broker/core/bug.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct amqp_content_header h;
	struct amqp_basic_props p, again;
	struct amqp_buf b;

	if (amqp_content_header_decode(&h, data, size) != 0)
		return 0;
	if (amqp_props_decode(&p, h.props, h.props_len) != 0)
		return 0;
	amqp_buf_init(&b);
	amqp_props_encode(&p, &b);
	WARREN_CHECK(!b.oom && b.len == h.props_len);
	WARREN_CHECK(memcmp(b.data + 2, h.props + 2, b.len - 2) == 0);
	WARREN_CHECK(amqp_props_decode(&again, b.data, b.len) == 0);
	WARREN_CHECK(again.flags == (p.flags & 0xfffc));
	amqp_buf_reset(&b);
	amqp_content_header_encode(&b, h.body_size, h.props, h.props_len);
	WARREN_CHECK(b.len == size);
	amqp_buf_free(&b);
	return 0;
}
