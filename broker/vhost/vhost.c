/* broker/vhost/vhost.c: vhost creation with RabbitMQ's predeclared exchanges, lookups, metadata,
 * teardown. */
#include "broker/vhost/vhost.h"

#include <stdlib.h>
#include <string.h>

#include "broker/core/broker.h"
#include "broker/exchange/exchange.h"
#include "broker/vhost/policy.h"
#include "broker/queue/queue.h"

static void vhost_tags_free(char **tags, size_t count)
{
	for (size_t i = 0; tags && i < count; i++)
		free(tags[i]);
	free(tags);
}

struct vhost *vhost_new(struct broker *b, const char *name)
{
	static const struct {
		const char *name;
		const struct exchange_type *type;
		bool internal;
	} predeclared[] = {
		{ "", &exchange_type_direct, false },
		{ "amq.direct", &exchange_type_direct, false },
		{ "amq.fanout", &exchange_type_fanout, false },
		{ "amq.topic", &exchange_type_topic, false },
		{ "amq.headers", &exchange_type_headers, false },
		{ "amq.match", &exchange_type_headers, false },
		{ "amq.rabbitmq.trace", &exchange_type_topic, true },
	};
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
	if (!v->name || !v->description || strmap_put(&b->vhosts, name, strlen(name), v) != 0)
		goto fail;
	for (size_t i = 0; i < sizeof predeclared / sizeof predeclared[0]; i++) {
		struct exchange *x = exchange_new(v, amqp_str_c(predeclared[i].name),
						  predeclared[i].type, true, false,
						  predeclared[i].internal, (struct amqp_table){ 0 });
		if (!x)
			goto fail;
		if (i == 0) {
			x->is_default = true;
			v->default_exchange = x;
		}
	}
	return v;
fail:
	if (v->name)
		strmap_del(&b->vhosts, name, strlen(name));
	vhost_free(v);
	return NULL;
}

void vhost_free(struct vhost *v)
{
	size_t i;
	struct strmap_entry *e;
	if (!v)
		return;
	/* Queues first: deleting them removes their bindings from the exchanges. */
	while ((e = strmap_first(&v->queues, &i)) != NULL) {
		struct queue *q = e->value;
		queue_delete(q);
	}
	while ((e = strmap_first(&v->exchanges, &i)) != NULL)
		exchange_delete(e->value);
	policy_free_all(v);
	strmap_clear(&v->queues);
	strmap_clear(&v->exchanges);
	vhost_tags_free(v->tags, v->tag_count);
	free(v->description);
	free(v->default_queue_type);
	free(v->name);
	free(v);
}

bool vhost_queue_type_is_valid(const char *name)
{
	return name && (strcmp(name, "classic") == 0 || strcmp(name, "quorum") == 0 ||
			strcmp(name, "stream") == 0);
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
