/* broker/net/channel_table.c: the open-addressing table of a connection's channels (see the header
 * for why it is a hash table). Grows when it would pass half full, shrinks when it falls under an
 * eighth, so a burst of thousands of channels does not pin its memory once they close. */
#include "broker/net/channel_table.h"

#include <stdlib.h>

#define CHANNEL_TABLE_MIN_BITS 3 /* 8 slots, 128 bytes */

void channel_table_init(struct channel_table *t, uint64_t seed)
{
	*t = (struct channel_table){ 0 };
	/* Odd, and with high bits set, so that neighbouring numbers land far apart. */
	t->mult = (uint32_t)(seed >> 16) | 0x80000001u;
}

void channel_table_free(struct channel_table *t)
{
	free(t->slots);
	t->slots = NULL;
	t->mask = 0;
	t->count = 0;
}

static uint32_t channel_table_home(const struct channel_table *t, uint16_t id)
{
	return ((uint32_t)id * t->mult) >> t->shift;
}

/* Rebuilds the table with 2^bits slots. -1 when out of memory (the table is unchanged). */
static int channel_table_resize(struct channel_table *t, unsigned bits)
{
	uint32_t cap = 1u << bits;
	struct channel_table_slot *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return -1;
	struct channel_table old = *t;
	t->slots = slots;
	t->mask = cap - 1;
	t->shift = (uint8_t)(32 - bits);
	if (old.slots) {
		for (uint32_t i = 0; i <= old.mask; i++) {
			if (!old.slots[i].ch)
				continue;
			uint32_t j = channel_table_home(t, old.slots[i].id);
			while (slots[j].ch)
				j = (j + 1) & t->mask;
			slots[j] = old.slots[i];
		}
		free(old.slots);
	}
	return 0;
}

static unsigned channel_table_bits(const struct channel_table *t)
{
	return t->slots ? 32u - t->shift : 0;
}

int channel_table_put(struct channel_table *t, uint16_t id, struct channel *ch)
{
	unsigned bits = channel_table_bits(t);
	if (!t->slots || (t->count + 1) * 2 > t->mask + 1) {
		unsigned want = bits ? bits + 1 : CHANNEL_TABLE_MIN_BITS;
		if (channel_table_resize(t, want) != 0)
			return -1;
	}
	uint32_t i = channel_table_home(t, id);
	while (t->slots[i].ch)
		i = (i + 1) & t->mask;
	t->slots[i] = (struct channel_table_slot){ ch, id };
	t->count++;
	return 0;
}

struct channel *channel_table_remove(struct channel_table *t, uint16_t id)
{
	if (!t->slots)
		return NULL;
	uint32_t i = channel_table_home(t, id);
	while (t->slots[i].ch && t->slots[i].id != id)
		i = (i + 1) & t->mask;
	struct channel *ch = t->slots[i].ch;
	if (!ch)
		return NULL;
	/* Backward-shift deletion: move up every later entry of the run that may sit at i, so
	 * lookups never need tombstones. */
	uint32_t hole = i;
	for (uint32_t j = (i + 1) & t->mask; t->slots[j].ch; j = (j + 1) & t->mask) {
		uint32_t home = channel_table_home(t, t->slots[j].id);
		/* The entry at j may move to the hole when its home is not in (hole, j]. */
		if (((j - home) & t->mask) >= ((j - hole) & t->mask)) {
			t->slots[hole] = t->slots[j];
			hole = j;
		}
	}
	t->slots[hole] = (struct channel_table_slot){ 0 };
	t->count--;
	unsigned bits = channel_table_bits(t);
	if (bits > CHANNEL_TABLE_MIN_BITS && (uint64_t)t->count * 8 < (uint64_t)t->mask + 1)
		(void)channel_table_resize(t, bits - 1); /* out of memory keeps the larger table */
	return ch;
}
