/* tests/fuzz/fuzz_assembler.c: a byte stream cut into frames by amqp_frame_decode and fed to
 * one channel's assembler, as channel.c does. After an error the assembler starts over (the
 * real connection would close). Checks that body chunks never exceed the declared size. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "amqp/assembler.h"
#include "amqp/frame.h"
#include "broker/core/bug.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct amqp_assembler a;
	struct amqp_asm_out out;
	uint64_t declared = 0, received = 0;

	amqp_assembler_init(&a);
	while (size > 0) {
		struct amqp_frame f;
		enum amqp_frame_error err;
		ssize_t n = amqp_frame_decode(&f, data, size, 131072, &err);

		if (n <= 0)
			break;
		data += n;
		size -= (size_t)n;
		if (f.type == AMQP_FRAME_HEARTBEAT)
			continue; /* never fed to the assembler */
		switch (amqp_assembler_feed(&a, &f, &out)) {
		case AMQP_ASM_ERROR:
			WARREN_CHECK(out.error_code >= 501 && out.error_code <= 541);
			char text[256];
			WARREN_CHECK(amqp_asm_error_format(&out, text, sizeof text) == text &&
				     memchr(text, '\0', sizeof text) != NULL);
			WARREN_CHECK(a.state == AMQP_ASM_EXPECT_METHOD);
			declared = received = 0;
			break;
		case AMQP_ASM_METHOD:
			WARREN_CHECK(!amqp_method_has_content(out.method.id));
			break;
		case AMQP_ASM_CONTENT_METHOD:
			WARREN_CHECK(amqp_method_has_content(out.method.id));
			WARREN_CHECK(a.state == AMQP_ASM_EXPECT_HEADER);
			break;
		case AMQP_ASM_HEADER:
			declared = out.header.body_size;
			received = 0;
			WARREN_CHECK(out.complete == (declared == 0));
			break;
		case AMQP_ASM_BODY:
			received += out.body_len;
			WARREN_CHECK(received <= declared);
			WARREN_CHECK(out.complete == (received == declared));
			break;
		}
	}
	return 0;
}
