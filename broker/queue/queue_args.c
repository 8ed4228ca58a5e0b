/* broker/queue/queue_args.c: x-argument rules. Reasons are RabbitMQ's Erlang terms, verbatim, since
 * clients and tests match on them. */
#include "broker/queue/queue_args.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "broker/queue/queue_type.h"

/* RabbitMQ 3.10's order (rabbit_amqqueue:declare_args/0), which decides the argument a 406 names
 * when several are bad or inequivalent; then x-queue-master-locator and Warren's own. */
static const char *const queue_args_known[] = {
	"x-expires", "x-message-ttl", "x-dead-letter-exchange", "x-dead-letter-routing-key",
	"x-max-length", "x-max-length-bytes", "x-max-in-memory-length", "x-max-in-memory-bytes",
	"x-max-priority", "x-overflow", "x-queue-mode", "x-queue-version",
	"x-single-active-consumer", "x-queue-type", "x-queue-master-locator", "x-delivery-limit",
	"x-consumer-timeout", "x-dead-letter-strategy", "x-max-age",
	"x-stream-max-segment-size-bytes", "x-queue-leader-locator",
};

static bool value_is_int(const struct amqp_value *v)
{
	int64_t i;
	return amqp_value_as_int(v, &i) && v->type != 'T';
}

enum int_rule { INT_NON_NEG, INT_POSITIVE, INT_PRIORITY };

static int check_int(const struct amqp_value *v, enum int_rule rule, char *reason, size_t cap)
{
	int64_t i;
	if (!value_is_int(v) || !amqp_value_as_int(v, &i)) {
		snprintf(reason, cap, "\"expected integer, got %s\"", amqp_value_type_name(v->type));
		return -1;
	}
	if (i < 0) {
		snprintf(reason, cap, "{value_negative,%lld}", (long long)i);
		return -1;
	}
	if (rule == INT_POSITIVE && i == 0) {
		snprintf(reason, cap, "{value_zero,0}");
		return -1;
	}
	if (rule == INT_PRIORITY && i > 255) {
		snprintf(reason, cap, "{max_value_exceeded,%lld}", (long long)i);
		return -1;
	}
	return 0;
}

static bool str_in(struct amqp_str s, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (amqp_str_eq_c(s, set[i]))
			return true;
	return false;
}

static int check_one(struct amqp_str key, const struct amqp_value *v, struct amqp_table args,
		     char *reason, size_t cap, bool *layout_type)
{
	static const char *const overflow[] = { "drop-head", "reject-publish", "reject-publish-dlx" };
	static const char *const modes[] = { "default", "lazy" };
	struct amqp_value dlx;
	int64_t i;

	*layout_type = false;
	if (amqp_str_eq_c(key, "x-message-ttl") || amqp_str_eq_c(key, "x-max-length") ||
	    amqp_str_eq_c(key, "x-max-length-bytes") || amqp_str_eq_c(key, "x-delivery-limit") ||
	    amqp_str_eq_c(key, "x-max-in-memory-length") ||
	    amqp_str_eq_c(key, "x-max-in-memory-bytes") || amqp_str_eq_c(key, "x-consumer-timeout") ||
	    amqp_str_eq_c(key, "x-stream-max-segment-size-bytes"))
		return check_int(v, INT_NON_NEG, reason, cap);
	if (amqp_str_eq_c(key, "x-queue-leader-locator")) {
		static const char *const loc[] = { "client-local", "balanced", "random",
						   "least-leaders" };
		if (v->type != 'S' || !str_in(v->v.str, loc, 4)) {
			snprintf(reason, cap, "invalid_queue_locator_arg");
			return -1;
		}
		return 0;
	}
	if (amqp_str_eq_c(key, "x-dead-letter-strategy")) {
		static const char *const st[] = { "at-most-once", "at-least-once" };
		if (v->type != 'S' || !str_in(v->v.str, st, 2)) {
			snprintf(reason, cap, "invalid_dlx_strategy");
			return -1;
		}
		return 0;
	}
	if (amqp_str_eq_c(key, "x-expires"))
		return check_int(v, INT_POSITIVE, reason, cap);
	if (amqp_str_eq_c(key, "x-max-priority"))
		return check_int(v, INT_PRIORITY, reason, cap);
	if (amqp_str_eq_c(key, "x-overflow")) {
		if (v->type != 'S') {
			snprintf(reason, cap, "{unacceptable_type,%s}", amqp_value_type_name(v->type));
			return -1;
		}
		if (!str_in(v->v.str, overflow, 3)) {
			snprintf(reason, cap, "invalid_overflow");
			return -1;
		}
		return 0;
	}
	if (amqp_str_eq_c(key, "x-queue-type")) {
		if (v->type != 'S' || !queue_type_find(v->v.str)) {
			if (v->type == 'S')
				snprintf(reason, cap, "\"unsupported queue type '%.*s'\"",
					 AMQP_STR_ARGS(v->v.str));
			else
				snprintf(reason, cap, "{unacceptable_type,%s}",
					 amqp_value_type_name(v->type));
			return -1;
		}
		return 0;
	}
	if (amqp_str_eq_c(key, "x-queue-mode")) {
		if (v->type != 'S' || !str_in(v->v.str, modes, 2)) {
			if (v->type == 'S')
				snprintf(reason, cap, "\"unsupported queue mode '%.*s'\"",
					 AMQP_STR_ARGS(v->v.str));
			else
				snprintf(reason, cap, "{unacceptable_type,%s}",
					 amqp_value_type_name(v->type));
			return -1;
		}
		return 0;
	}
	if (amqp_str_eq_c(key, "x-queue-version")) {
		/* check_queue_version: a non-negative integer first, then 1 or 2 */
		if (check_int(v, INT_NON_NEG, reason, cap) != 0)
			return -1;
		amqp_value_as_int(v, &i);
		if (i != 1 && i != 2) {
			snprintf(reason, cap, "\"unsupported queue version '%lld'\"", (long long)i);
			return -1;
		}
		return 0;
	}
	if (amqp_str_eq_c(key, "x-single-active-consumer")) {
		if (v->type != 't') {
			snprintf(reason, cap, "{unacceptable_type,%s}", amqp_value_type_name(v->type));
			return -1;
		}
		return 0;
	}
	if (amqp_str_eq_c(key, "x-dead-letter-exchange")) {
		if (v->type != 'S') {
			*layout_type = true;
			snprintf(reason, cap, "%s", amqp_value_type_name(v->type));
			return -1;
		}
		return 0;
	}
	if (amqp_str_eq_c(key, "x-dead-letter-routing-key")) {
		if (v->type != 'S') {
			snprintf(reason, cap, "{unacceptable_type,%s}", amqp_value_type_name(v->type));
			return -1;
		}
		if (!amqp_table_get(args, "x-dead-letter-exchange", &dlx)) {
			snprintf(reason, cap, "routing_key_but_no_dlx_defined");
			return -1;
		}
		return 0;
	}
	return 0;
}

int queue_args_validate(struct amqp_table args, struct amqp_str queue, const char *vhost, char *err,
			size_t errlen)
{
	char reason[160];
	bool layout_type;

	/* RabbitMQ checks the dead-letter exchange's type in the channel, before the queue type,
	 * and the queue type before declare_args/0; checking those two again in the list is
	 * harmless. Unknown arguments are not checked. */
	for (size_t k = 0; k < 2 + sizeof queue_args_known / sizeof queue_args_known[0]; k++) {
		const char *name = k == 0 ? "x-dead-letter-exchange" :
				   k == 1 ? "x-queue-type" :
					    queue_args_known[k - 2];
		struct amqp_value v;
		if (!amqp_table_get(args, name, &v) ||
		    check_one(amqp_str_c(name), &v, args, reason, sizeof reason, &layout_type) == 0)
			continue;
		if (layout_type)
			snprintf(err, errlen, "invalid type '%s' for arg '%s' in queue '%.*s' in vhost '%s'",
				 reason, name, AMQP_STR_ARGS(queue), vhost);
		else
			snprintf(err, errlen, "invalid arg '%s' for queue '%.*s' in vhost '%s': %s",
				 name, AMQP_STR_ARGS(queue), vhost, reason);
		return -1;
	}
	return 0;
}

/* Integers of any width form one class, as rabbit_misc:type_class does. */
static bool values_equivalent(const struct amqp_value *a, const struct amqp_value *b)
{
	int64_t x, y;
	if (value_is_int(a) && value_is_int(b) && amqp_value_as_int(a, &x) && amqp_value_as_int(b, &y))
		return x == y;
	return a->type == b->type && amqp_value_equal(a, b);
}

/* x-queue-type: absent means "classic", so the two are equivalent (RabbitMQ 3.10 accepts either
 * on redeclare); any other difference is reported with the values as given. */
static bool queue_args_is_classic(const char *key, bool present, const struct amqp_value *v)
{
	return strcmp(key, "x-queue-type") == 0 &&
	       (!present || (v->type == 'S' && amqp_str_eq_c(v->v.str, "classic")));
}

int queue_args_equivalent(struct amqp_table current, struct amqp_table received,
			  struct amqp_str queue, const char *vhost, char *err, size_t errlen)
{
	for (size_t k = 0; k < sizeof queue_args_known / sizeof queue_args_known[0]; k++) {
		const char *key = queue_args_known[k];
		struct amqp_value cv, rv;
		bool has_c = amqp_table_get(current, key, &cv);
		bool has_r = amqp_table_get(received, key, &rv);
		char cs[128], rs[128];
		if (!has_c && !has_r)
			continue;
		if (has_c && has_r && values_equivalent(&cv, &rv))
			continue;
		if (queue_args_is_classic(key, has_c, &cv) && queue_args_is_classic(key, has_r, &rv))
			continue;
		if (has_c)
			amqp_value_format(&cv, cs, sizeof cs);
		if (has_r)
			amqp_value_format(&rv, rs, sizeof rs);
		int n = snprintf(err, errlen, "inequivalent arg '%s' for queue '%.*s' in vhost '%s': ",
				 key, AMQP_STR_ARGS(queue), vhost);
		if (n < 0 || (size_t)n >= errlen)
			return -1;
		if (has_c && has_r)
			snprintf(err + n, errlen - (size_t)n, "received '%s' but current is '%s'", rs, cs);
		else if (has_c)
			snprintf(err + n, errlen - (size_t)n,
				 "received none but current is the value '%s' of type '%s'", cs,
				 amqp_value_type_name(cv.type));
		else
			snprintf(err + n, errlen - (size_t)n,
				 "received the value '%s' of type '%s' but current is none", rs,
				 amqp_value_type_name(rv.type));
		return -1;
	}
	return 0;
}

int queue_args_refuse(const struct queue_declare *d, const char *const *keys, size_t n,
		      const char *type_name, char *err, size_t errlen)
{
	struct amqp_value v;
	for (size_t i = 0; i < n; i++)
		if (amqp_table_get(d->args, keys[i], &v)) {
			snprintf(err, errlen,
				 "invalid arg '%s' for queue '%.*s' in vhost '%s' of queue type %s",
				 keys[i], AMQP_STR_ARGS(d->name), d->vhost, type_name);
			return -1;
		}
	return 0;
}

int queue_args_replicated_props(const struct queue_declare *d, char *err, size_t errlen)
{
	const char *bad = d->exclusive ? "exclusive-owner" : !d->durable ? "non-durable" :
			  d->auto_delete ? "auto-delete" : NULL;
	if (!bad)
		return 0;
	snprintf(err, errlen, "invalid property '%s' for queue '%.*s' in vhost '%s'", bad,
		 AMQP_STR_ARGS(d->name), d->vhost);
	return -1;
}
