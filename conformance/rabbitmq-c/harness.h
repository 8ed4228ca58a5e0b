/* conformance/rabbitmq-c/harness.h: connection, channel and assertion helpers shared by the
 * rabbitmq-c scenarios (scenarios.c). */
#ifndef CONFORMANCE_RABBITMQ_C_HARNESS_H
#define CONFORMANCE_RABBITMQ_C_HARNESS_H

#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

extern char scenario_url[1024];
extern char scenario_vhost[256];
extern char scenario_user[256];
extern char scenario_failure[2048];
extern int scenario_counter;

#define CHECK(cond, ...)                                                                          \
	do {                                                                                      \
		if (!(cond)) {                                                                    \
			scenario_fail(__VA_ARGS__);                                               \
			goto out;                                                                 \
		}                                                                                 \
	} while (0)

void scenario_fail(const char *fmt, ...);
void scenario_unique(char *buf, size_t len, const char *prefix);
amqp_bytes_t scenario_bytes(const char *s);
bool scenario_bytes_eq(amqp_bytes_t b, const char *s);
void scenario_bytes_str(amqp_bytes_t b, char *buf, size_t len);
amqp_connection_state_t conn_open(void);
void conn_close(amqp_connection_state_t conn);
bool chan_open(amqp_connection_state_t conn, amqp_channel_t ch);
bool reply_is_close(amqp_connection_state_t conn, amqp_rpc_reply_t r, amqp_channel_t ch,
			   bool connection, int code, const char *text);
bool last_is_close(amqp_connection_state_t conn, amqp_channel_t ch, bool connection,
			  int code, const char *text);
amqp_method_number_t wait_method(amqp_connection_state_t conn, int ms, amqp_frame_t *out,
					amqp_message_t *msg);
amqp_bytes_t declare_exclusive(amqp_connection_state_t conn, amqp_channel_t ch);
int publish(amqp_connection_state_t conn, amqp_channel_t ch, const char *x,
		   amqp_bytes_t rk, bool mandatory, bool immediate, const char *body);
bool get_body(amqp_connection_state_t conn, amqp_channel_t ch, amqp_bytes_t q,
		     const char *want, bool no_ack, uint64_t *tag);
bool queue_count(amqp_connection_state_t conn, amqp_channel_t ch, amqp_bytes_t q,
			uint32_t want);

#endif
