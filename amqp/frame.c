/* amqp/frame.c: the protocol header check and the frame envelope. conn.c hands raw input bytes
 * here first; the payload of a decoded frame goes to the assembler (channels > 0) or to the
 * handshake code (channel 0). No I/O, no allocation: payloads borrow the caller's bytes. */
#include "frame.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "wire.h"

const uint8_t amqp_heartbeat_frame[AMQP_FRAME_OVERHEAD] = {
	AMQP_FRAME_HEARTBEAT, 0, 0, 0, 0, 0, 0, AMQP_FRAME_END,
};

int amqp_protocol_header_check(const uint8_t *p, size_t len)
{
	size_t n = len < AMQP_PROTOCOL_HEADER_SIZE ? len : AMQP_PROTOCOL_HEADER_SIZE;

	if (memcmp(p, AMQP_PROTOCOL_HEADER, n) != 0)
		return -1;
	return n == AMQP_PROTOCOL_HEADER_SIZE ? 1 : 0;
}

static bool frame_type_is_known(uint8_t type)
{
	return type == AMQP_FRAME_METHOD || type == AMQP_FRAME_HEADER || type == AMQP_FRAME_BODY ||
	       type == AMQP_FRAME_HEARTBEAT;
}

ssize_t amqp_frame_decode(struct amqp_frame *f, const uint8_t *p, size_t len, uint32_t frame_max,
			  enum amqp_frame_error *err)
{
	size_t total;

	*err = AMQP_FRAME_ERR_NONE;
	if (len < AMQP_FRAME_HEADER_SIZE)
		return 0;
	f->type = p[0];
	f->channel = amqp_get_u16(p + 1);
	f->size = amqp_get_u32(p + 3);
	f->payload = NULL;
	/* frame_max counts the header and end octet; a frame_max below 8 allows no payload. */
	if (frame_max != 0 && (frame_max < AMQP_FRAME_OVERHEAD ||
			       f->size > frame_max - AMQP_FRAME_OVERHEAD)) {
		*err = AMQP_FRAME_ERR_TOO_LARGE;
		return -1;
	}
#if SIZE_MAX <= UINT32_MAX
	if (f->size > SIZE_MAX - AMQP_FRAME_OVERHEAD) { /* 32-bit size_t: total would wrap */
		*err = AMQP_FRAME_ERR_TOO_LARGE;
		return -1;
	}
#endif
	total = AMQP_FRAME_OVERHEAD + (size_t)f->size;
	if (len < total)
		return 0;
	f->payload = p + AMQP_FRAME_HEADER_SIZE;
	/* RabbitMQ checks the end octet before it looks at the type. */
	if (p[total - 1] != AMQP_FRAME_END) {
		*err = AMQP_FRAME_ERR_BAD_END;
		return -1;
	}
	if (!frame_type_is_known(f->type)) {
		*err = AMQP_FRAME_ERR_BAD_TYPE;
		return -1;
	}
	return (ssize_t)total;
}

void amqp_frame_header_encode(uint8_t *out, uint8_t type, uint16_t channel, uint32_t size)
{
	out[0] = type;
	amqp_put_u16(out + 1, channel);
	amqp_put_u32(out + 3, size);
}
