/* One Check suite per area of the protocol; main.c runs them all against one broker. */
#ifndef WARREN_TESTS_PROTOCOL_SUITES_H
#define WARREN_TESTS_PROTOCOL_SUITES_H

#include <check.h>

/* Generous per-test limit: the slowest test waits for heartbeats to time out. */
#define SUITES_TEST_TIMEOUT 60

Suite *suites_handshake(void);
Suite *suites_frames(void);
Suite *suites_channels(void);
Suite *suites_robustness(void);

#endif
