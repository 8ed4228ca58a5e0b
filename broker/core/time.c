/* broker/core/time.c: monotonic and wall-clock milliseconds, and RabbitMQ's durations. */
#include "broker/core/time.h"

#include <time.h>

uint64_t time_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t time_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int64_t time_duration_ms(const char *s, size_t len)
{
	static const struct {
		char unit;
		int64_t ms;
	} units[] = {
		{ 'Y', 365LL * 86400000 }, { 'M', 30LL * 86400000 }, { 'D', 86400000 },
		{ 'h', 3600000 },          { 'm', 60000 },           { 's', 1000 },
	};
	int64_t n = 0;
	size_t i = 0;
	if (len < 2)
		return -1;
	for (; i + 1 < len; i++) {
		if (s[i] < '0' || s[i] > '9' || n > INT64_MAX / 10 / 86400000 / 365)
			return -1;
		n = n * 10 + (s[i] - '0');
	}
	if (n <= 0)
		return -1;
	for (size_t u = 0; u < sizeof units / sizeof units[0]; u++)
		if (s[i] == units[u].unit)
			return n * units[u].ms;
	return -1;
}
