/* tests/fuzz/fuzz_frame.c: amqp_protocol_header_check and amqp_frame_decode over arbitrary
 * bytes. The first byte picks the frame_max (none, the 4096 minimum, RabbitMQ's 131072). */
#include <stddef.h>
#include <stdint.h>

#include "amqp/frame.h"
#include "broker/core/bug.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t frame_maxes[] = { 0, AMQP_FRAME_MIN_SIZE, 131072, 8 };
	uint32_t frame_max;

	if (size == 0)
		return 0;
	frame_max = frame_maxes[data[0] & 3];
	data++;
	size--;
	(void)amqp_protocol_header_check(data, size < 8 ? size : 8);
	while (size > 0) {
		struct amqp_frame f;
		enum amqp_frame_error err;
		ssize_t n = amqp_frame_decode(&f, data, size, frame_max, &err);

		if (n <= 0) {
			WARREN_CHECK(n == 0 || err != AMQP_FRAME_ERR_NONE);
			break;
		}
		WARREN_CHECK((size_t)n <= size);
		WARREN_CHECK((size_t)n == AMQP_FRAME_OVERHEAD + (size_t)f.size);
		WARREN_CHECK(f.payload == data + AMQP_FRAME_HEADER_SIZE);
		WARREN_CHECK(frame_max == 0 || f.size <= frame_max - AMQP_FRAME_OVERHEAD);
		data += n;
		size -= (size_t)n;
	}
	return 0;
}
