/* broker/core/time.h: the clocks the broker reads. Deadlines (TTL, timers, heartbeats) use the
 * monotonic clock, which never jumps; what is shown or stored for people (connected_at,
 * x-death times, delayed messages' due times) uses the wall clock. */
#ifndef BROKER_CORE_TIME_H
#define BROKER_CORE_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Milliseconds on the monotonic clock (an arbitrary origin). */
uint64_t time_now_ms(void);
/* Milliseconds since the Unix epoch. */
uint64_t time_wall_ms(void);
/* A duration in RabbitMQ's form (x-max-age, the max-age policy, interval offsets): a positive
 * integer and one unit of Y M D h m s (a year is 365 days, a month 30). Milliseconds, or -1
 * when s[0..len) is not one. */
int64_t time_duration_ms(const char *s, size_t len);

#endif
