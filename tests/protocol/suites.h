/* One Check suite per area of the protocol; main.c runs them all against one broker. */
#ifndef WARREN_TESTS_PROTOCOL_SUITES_H
#define WARREN_TESTS_PROTOCOL_SUITES_H

#include <check.h>

/* Generous per-test limit: the slowest test waits for heartbeats to time out. */
#define SUITES_TEST_TIMEOUT 60

Suite *suites_handshake(void);
Suite *suites_frames(void);
Suite *suites_channels(void);
Suite *suites_bindings(void);
Suite *suites_robustness(void);
/* Only with PROTOCOL_PROFILE=zero-limits (a broker with channel_max = 0, frame_max = 0). */
Suite *suites_zero_limits(void);

#endif
