/* broker/net/channel_stats.h: what one channel published to each exchange, for the management
 * API's per-channel "incoming" of an exchange (RabbitMQ's channel_exchange_stats: publish,
 * confirm, drop_unroutable, return_unroutable). A publish finds its entry with one comparison
 * (the channel's last exchange) and allocates only when the channel meets a new exchange. */
#ifndef BROKER_CHANNEL_STATS_H
#define BROKER_CHANNEL_STATS_H

#include <stdbool.h>
#include <stdint.h>

struct exchange;

/* Exchanges remembered per channel; past this, the oldest entry gives way. */
#define CHANNEL_STATS_MAX 64

struct channel_xstat {
	const struct exchange *x; /* identity only, never dereferenced: it may be gone */
	uint64_t x_serial;        /* x->serial: a new exchange at the same address differs */
	uint64_t publish, confirm, drop_unroutable, return_unroutable;
};

struct channel_stats {
	struct channel_xstat *v;
	uint32_t count, cap;
	uint32_t last;  /* index of the entry the last publish used */
	uint32_t evict; /* next entry to give way when full */
	uint64_t publish_total;
};

/* Counts one publish to x: confirmed (an ack is owed for it), dropped (unroutable, not
 * mandatory) or returned (unroutable, mandatory). Out of memory: not counted. */
void channel_stats_publish(struct channel_stats *s, const struct exchange *x, bool confirmed,
			   bool dropped, bool returned);
/* The counts for x (a live exchange), or NULL when the channel never published to it. */
const struct channel_xstat *channel_stats_find(const struct channel_stats *s,
					       const struct exchange *x);
void channel_stats_free(struct channel_stats *s);

#endif
