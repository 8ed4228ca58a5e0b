/* protocol-tests: starts the broker (or uses WARREN_TEST_ADDR), runs every suite, stops it.
 * A broker that crashes, leaks under ASan or exits non-zero on SIGTERM fails the run even when
 * every test passed.
 */
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "suites.h"

int main(void)
{
	SRunner *sr;
	int failed;

	if (harness_start() != 0)
		return EXIT_FAILURE;
	sr = srunner_create(suites_handshake());
	srunner_add_suite(sr, suites_frames());
	srunner_add_suite(sr, suites_channels());
	srunner_add_suite(sr, suites_robustness());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (harness_stop() != 0) {
		fprintf(stderr, "protocol-tests: the broker did not shut down cleanly\n");
		failed++;
	}
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
