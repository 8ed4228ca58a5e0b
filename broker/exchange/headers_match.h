/* broker/exchange/headers_match.h: the headers exchange's matching rule, as RabbitMQ 3.10 applies it.
 * A binding's arguments hold `x-match` (all, any, all-with-x, any-with-x; all when absent) and
 * the pairs to compare with a message's headers. Under all/any every `x-` key is ignored; under
 * the -with-x modes only `x-match` is. A pair whose binding value is void (V) only asks that the
 * header be present. Values compare as RabbitMQ's Erlang terms do: integers of every width and
 * timestamps by value, integers equal to floats of the same value, longstr equal to byte arrays
 * with the same bytes, nested tables and arrays byte for byte (types and key order count). */
#ifndef BROKER_HEADERS_MATCH_H
#define BROKER_HEADERS_MATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "amqp/table.h"

enum headers_match_mode {
	HEADERS_MATCH_ALL,
	HEADERS_MATCH_ANY,
	HEADERS_MATCH_ALL_WITH_X,
	HEADERS_MATCH_ANY_WITH_X,
};

/* A buffer this big always holds the error text whole. */
#define HEADERS_MATCH_ERR_MAX 256

/* Parses x-match from binding arguments. 0 ok (HEADERS_MATCH_ALL when absent); -1 when x-match
 * is present but not one of the four longstrs. err then holds the 406 text after the
 * "PRECONDITION_FAILED - " that channel_fail() puts in front: "Invalid x-match field value
 * <<\"bogus\">>; expected all, any, all-with-x, or any-with-x", or for another type "Invalid
 * x-match field type signedint (value 1); expected longstr". A text that would make the reply
 * pass 255 bytes is cut as RabbitMQ cuts it (252 bytes of the whole reply, then "..."), so
 * channel_fail(ch, AMQP_PRECONDITION_FAILED, "%s", err) sends RabbitMQ's exact reply text. */
int headers_match_mode_parse(struct amqp_table binding_args, enum headers_match_mode *mode,
			     char *err, size_t errlen);

/* Formats that text for a rejected x-match value into buf. Returns its length (at most
 * 233: 255 less the prefix), like snprintf when buf is short. */
int headers_match_format_error(const struct amqp_value *xmatch, char *buf, size_t cap);

/* Does a message with these headers (an empty table when it has none) match the binding? */
bool headers_match(enum headers_match_mode mode, struct amqp_table binding_args,
		   struct amqp_table msg_headers);

#endif
