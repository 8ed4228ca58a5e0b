/* amqp/reply_codes.h: AMQP 0-9-1 reply codes. Channel errors close the channel; connection
 * errors close the connection (see docs/protocol-notes.md). */
#ifndef AMQP_REPLY_CODES_H
#define AMQP_REPLY_CODES_H

enum amqp_reply_code {
	AMQP_REPLY_SUCCESS = 200,
	AMQP_CONTENT_TOO_LARGE = 311,
	AMQP_NO_ROUTE = 312,
	AMQP_NO_CONSUMERS = 313,
	AMQP_CONNECTION_FORCED = 320,
	AMQP_INVALID_PATH = 402,
};

enum amqp_chan_error {
	AMQP_ACCESS_REFUSED = 403,
	AMQP_NOT_FOUND = 404,
	AMQP_RESOURCE_LOCKED = 405,
	AMQP_PRECONDITION_FAILED = 406,
};

enum amqp_conn_error {
	AMQP_FRAME_ERROR = 501,
	AMQP_SYNTAX_ERROR = 502,
	AMQP_COMMAND_INVALID = 503,
	AMQP_CHANNEL_ERROR = 504,
	AMQP_UNEXPECTED_FRAME = 505,
	AMQP_RESOURCE_ERROR = 506,
	AMQP_NOT_ALLOWED = 530,
	AMQP_NOT_IMPLEMENTED = 540,
	AMQP_INTERNAL_ERROR = 541,
};

/* "NOT_FOUND", "PRECONDITION_FAILED", ...; "UNKNOWN" for others. */
const char *amqp_reply_code_name(int code);

#endif
