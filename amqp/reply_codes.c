/* amqp/reply_codes.c: names of the AMQP 0-9-1 reply codes, as the spec and RabbitMQ's reply
 * texts spell them ("NOT_FOUND - no queue 'q'"). */
#include "reply_codes.h"

#include <stddef.h>

const char *amqp_reply_code_name(int code)
{
	switch (code) {
	case AMQP_REPLY_SUCCESS:
		return "REPLY_SUCCESS";
	case AMQP_CONTENT_TOO_LARGE:
		return "CONTENT_TOO_LARGE";
	case AMQP_NO_ROUTE:
		return "NO_ROUTE";
	case AMQP_NO_CONSUMERS:
		return "NO_CONSUMERS";
	case AMQP_CONNECTION_FORCED:
		return "CONNECTION_FORCED";
	case AMQP_INVALID_PATH:
		return "INVALID_PATH";
	case AMQP_ACCESS_REFUSED:
		return "ACCESS_REFUSED";
	case AMQP_NOT_FOUND:
		return "NOT_FOUND";
	case AMQP_RESOURCE_LOCKED:
		return "RESOURCE_LOCKED";
	case AMQP_PRECONDITION_FAILED:
		return "PRECONDITION_FAILED";
	case AMQP_FRAME_ERROR:
		return "FRAME_ERROR";
	case AMQP_SYNTAX_ERROR:
		return "SYNTAX_ERROR";
	case AMQP_COMMAND_INVALID:
		return "COMMAND_INVALID";
	case AMQP_CHANNEL_ERROR:
		return "CHANNEL_ERROR";
	case AMQP_UNEXPECTED_FRAME:
		return "UNEXPECTED_FRAME";
	case AMQP_RESOURCE_ERROR:
		return "RESOURCE_ERROR";
	case AMQP_NOT_ALLOWED:
		return "NOT_ALLOWED";
	case AMQP_NOT_IMPLEMENTED:
		return "NOT_IMPLEMENTED";
	case AMQP_INTERNAL_ERROR:
		return "INTERNAL_ERROR";
	default:
		return "UNKNOWN";
	}
}
