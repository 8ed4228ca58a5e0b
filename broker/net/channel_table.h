/* broker/net/channel_table.h: a connection's open channels by number. Every frame looks its channel
 * up here, and a client may use any number from 1 to 65535 (RabbitMQ limits how many channels
 * are open, not which numbers), so this is an open-addressing hash table sized to the number of
 * open channels, not to the largest number: channel 65535 costs one slot, not a 512 KiB array.
 *
 * Linear probing, at most half full, with backward-shift deletion (no tombstones). The slot of
 * a number comes from a multiplier chosen at random per table, so a client cannot pick numbers
 * that pile up in one run of slots: a lookup is one multiply and, almost always, one probe. */
#ifndef BROKER_CHANNEL_TABLE_H
#define BROKER_CHANNEL_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct channel;

struct channel_table_slot {
	struct channel *ch; /* NULL: empty */
	uint16_t id;
};

struct channel_table {
	struct channel_table_slot *slots; /* NULL until the first channel */
	uint32_t mask;                    /* capacity - 1 (capacity a power of two) */
	uint32_t count;
	uint8_t shift;                    /* 32 - log2(capacity) */
	uint32_t mult;                    /* odd; the hash is (id * mult) >> shift */
};

/* seed: any random bits (the connection's broker supplies them). */
void channel_table_init(struct channel_table *t, uint64_t seed);
/* Frees the slots, not the channels. */
void channel_table_free(struct channel_table *t);

/* The channel with this number, or NULL. Lends it. */
static inline struct channel *channel_table_find(const struct channel_table *t, uint16_t id)
{
	if (!t->slots)
		return NULL;
	uint32_t i = ((uint32_t)id * t->mult) >> t->shift;
	for (;;) {
		const struct channel_table_slot *s = &t->slots[i];
		if (!s->ch || s->id == id)
			return s->ch;
		i = (i + 1) & t->mask;
	}
}

/* Adds ch under id (which must not be present). 0, or -1 when out of memory (the table is
 * unchanged). */
int channel_table_put(struct channel_table *t, uint16_t id, struct channel *ch);
/* Removes id; returns its channel, or NULL when it was not there. */
struct channel *channel_table_remove(struct channel_table *t, uint16_t id);

#endif
