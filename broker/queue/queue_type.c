/* broker/queue/queue_type.c: the kinds of queue Warren has, by the names x-queue-type uses. */
#include "broker/queue/queue_type.h"

#include <stdio.h>
#include <string.h>

#include "broker/queue/classic/classic.h"
#include "broker/queue/quorum/quorum.h"
#include "broker/queue/stream/stream.h"

static const struct queue_type *const queue_types[] = { &queue_type_classic, &queue_type_quorum,
							 &queue_type_stream };

const struct queue_type *queue_type_find(struct amqp_str name)
{
	for (size_t i = 0; i < sizeof queue_types / sizeof queue_types[0]; i++)
		if (amqp_str_eq_c(name, queue_types[i]->name))
			return queue_types[i];
	return NULL;
}

const struct queue_type *queue_type_of(struct amqp_table args, const char *vhost_default)
{
	struct amqp_value v;
	if (amqp_table_get(args, "x-queue-type", &v)) {
		if (v.type != 'S')
			return NULL;
		return queue_type_find(v.v.str);
	}
	if (vhost_default && strcmp(vhost_default, "undefined") != 0)
		return queue_type_find(amqp_str_c(vhost_default));
	return &queue_type_classic;
}

const struct queue_type *queue_type_check(const struct queue_declare *d, const char *vhost_default,
					  char *err, size_t errlen)
{
	const struct queue_type *t = queue_type_of(d->args, vhost_default);
	if (!t) { /* only a vhost default naming a kind Warren lacks gets here */
		snprintf(err, errlen,
			 "invalid arg 'x-queue-type' for queue '%.*s' in vhost '%s': "
			 "\"unsupported queue type '%s'\"",
			 AMQP_STR_ARGS(d->name), d->vhost, vhost_default ? vhost_default : "");
		return NULL;
	}
	return t->validate(d, err, errlen) == 0 ? t : NULL;
}
