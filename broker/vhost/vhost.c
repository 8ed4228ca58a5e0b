/* broker/vhost/vhost.c: a vhost as a registry: its exchanges and queues by name, its policies,
 * limits and metadata. What lives in it is created and deleted by the layers that own those
 * objects (admin_vhost_create declares the predeclared exchanges; admin_vhost_destroy empties
 * it before vhost_free). */
#include "broker/vhost/vhost.h"

#include <stdlib.h>
#include <string.h>

#include "broker/auth/limits.h"
#include "broker/core/broker.h"
#include "broker/core/bug.h"
#include "broker/vhost/policy.h"

static void vhost_tags_free(char **tags, size_t count)
{
	for (size_t i = 0; tags && i < count; i++)
		free(tags[i]);
	free(tags);
}

struct vhost *vhost_new(struct broker *b, const char *name)
{
	struct vhost *v = calloc(1, sizeof *v);
	if (!v)
		return NULL;
	v->broker = b;
	v->name = strdup(name);
	v->description = strdup("");
	strmap_init(&v->exchanges);
	strmap_init(&v->queues);
	list_init(&v->policies);
	list_init(&v->operator_policies);
	if (!v->name || !v->description || strmap_put(&b->vhosts, name, strlen(name), v) != 0) {
		if (v->name)
			strmap_del(&b->vhosts, name, strlen(name));
		vhost_free(v);
		return NULL;
	}
	return v;
}

void vhost_free(struct vhost *v)
{
	if (!v)
		return;
	BUG_ON(v->queues.count || v->exchanges.count); /* admin_vhost_destroy empties it */
	policy_free_all(v);
	strmap_clear(&v->queues);
	strmap_clear(&v->exchanges);
	vhost_tags_free(v->tags, v->tag_count);
	free(v->description);
	free(v->default_queue_type);
	free(v->name);
	free(v);
}

int vhost_set_metadata(struct vhost *v, const char *description, const char *const *tags,
		       size_t tag_count, const char *default_queue_type)
{
	char *desc = strdup(description ? description : "");
	if (v->default_queue_type)
		default_queue_type = NULL; /* set once */
	char *dqt = default_queue_type ? strdup(default_queue_type) : NULL;
	char **t = tag_count ? calloc(tag_count, sizeof *t) : NULL;
	bool oom = !desc || (default_queue_type && !dqt) || (tag_count && !t);
	for (size_t i = 0; i < tag_count && !oom; i++)
		oom = !(t[i] = strdup(tags[i]));
	if (oom) {
		free(desc);
		free(dqt);
		vhost_tags_free(t, tag_count);
		return -1;
	}
	free(v->description);
	v->description = desc;
	vhost_tags_free(v->tags, v->tag_count);
	v->tags = t;
	v->tag_count = tag_count;
	if (dqt)
		v->default_queue_type = dqt;
	return 0;
}

struct exchange *vhost_exchange_find(const struct vhost *v, struct amqp_str name)
{
	return strmap_get(&v->exchanges, name.ptr, name.len);
}

struct queue *vhost_queue_find(const struct vhost *v, struct amqp_str name)
{
	return strmap_get(&v->queues, name.ptr, name.len);
}

bool vhost_queue_limit_reached(const struct vhost *v, int64_t *limit)
{
	return limit_reached(&v->limits[LIMITS_VHOST_MAX_QUEUES], v->queues.count, limit);
}
