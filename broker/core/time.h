/* broker/core/time.h: the clocks the broker reads. Deadlines (TTL, timers, heartbeats) use the
 * monotonic clock, which never jumps; what is shown or stored for people (connected_at,
 * x-death times, delayed messages' due times) uses the wall clock. */
#ifndef BROKER_CORE_TIME_H
#define BROKER_CORE_TIME_H

#include <stdint.h>

/* Milliseconds on the monotonic clock (an arbitrary origin). */
uint64_t time_now_ms(void);
/* Milliseconds since the Unix epoch. */
uint64_t time_wall_ms(void);

#endif
