/* protocol-tests: starts the broker (or uses WARREN_TEST_ADDR), runs every suite, stops it.
 * A broker that crashes, leaks under ASan or exits non-zero on SIGTERM fails the run even when
 * every test passed.
 *
 * PROTOCOL_PROFILE=zero-limits starts the broker with channel_max = 0 and frame_max = 0 and runs
 * only the suite about those settings (against RabbitMQ: a node started with the same two
 * settings, `conformance/rabbitmq.sh start channel_max=0 frame_max=0`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "suites.h"

int main(void)
{
	static const char *const zero_limits[] = { "--set", "channel_max=0", "--set",
						   "frame_max=0", NULL };
	const char *profile = getenv("PROTOCOL_PROFILE");
	bool zero = profile && strcmp(profile, "zero-limits") == 0;
	SRunner *sr;
	int failed;

	if (profile && profile[0] && !zero) {
		fprintf(stderr, "protocol-tests: unknown PROTOCOL_PROFILE '%s'\n", profile);
		return EXIT_FAILURE;
	}
	if (harness_start(zero ? zero_limits : NULL) != 0)
		return EXIT_FAILURE;
	if (zero) {
		sr = srunner_create(suites_zero_limits());
	} else {
		sr = srunner_create(suites_handshake());
		srunner_add_suite(sr, suites_frames());
		srunner_add_suite(sr, suites_channels());
		srunner_add_suite(sr, suites_bindings());
		srunner_add_suite(sr, suites_robustness());
	}
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (harness_stop() != 0) {
		fprintf(stderr, "protocol-tests: the broker did not shut down cleanly\n");
		failed++;
	}
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
