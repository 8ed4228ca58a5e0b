/* broker/net/channel_stats.c: per-channel, per-exchange publish counts (see channel_stats.h). */
#include "broker/net/channel_stats.h"

#include <stdlib.h>

#include "broker/exchange/exchange.h"

static bool channel_stats_is(const struct channel_xstat *e, const struct exchange *x)
{
	return e->x == x && e->x_serial == x->serial;
}

static struct channel_xstat *channel_stats_entry(struct channel_stats *s,
						 const struct exchange *x)
{
	if (s->count && channel_stats_is(&s->v[s->last], x))
		return &s->v[s->last];
	for (uint32_t i = 0; i < s->count; i++)
		if (channel_stats_is(&s->v[i], x)) {
			s->last = i;
			return &s->v[i];
		}
	uint32_t i;
	if (s->count < s->cap) {
		i = s->count++;
	} else if (s->cap < CHANNEL_STATS_MAX) {
		uint32_t cap = s->cap ? s->cap * 2 : 4;
		struct channel_xstat *v = realloc(s->v, cap * sizeof *v);
		if (!v)
			return NULL;
		s->v = v;
		s->cap = cap;
		i = s->count++;
	} else {
		i = s->evict;
		s->evict = (s->evict + 1) % s->cap;
	}
	s->v[i] = (struct channel_xstat){ .x = x, .x_serial = x->serial };
	s->last = i;
	return &s->v[i];
}

void channel_stats_publish(struct channel_stats *s, const struct exchange *x, bool confirmed,
			   bool dropped, bool returned)
{
	struct channel_xstat *e = channel_stats_entry(s, x);
	s->publish_total++;
	if (!e)
		return;
	e->publish++;
	e->confirm += confirmed;
	e->drop_unroutable += dropped;
	e->return_unroutable += returned;
}

const struct channel_xstat *channel_stats_find(const struct channel_stats *s,
					       const struct exchange *x)
{
	for (uint32_t i = 0; i < s->count; i++)
		if (channel_stats_is(&s->v[i], x))
			return &s->v[i];
	return NULL;
}

void channel_stats_free(struct channel_stats *s)
{
	free(s->v);
	*s = (struct channel_stats){ 0 };
}
