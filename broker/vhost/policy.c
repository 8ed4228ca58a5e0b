/* broker/vhost/policy.c: per-vhost policies. A policy's definition is parsed once into struct
 * policy_def; queues and exchanges look up their effective policy when a policy changes or
 * they are declared (queue_apply_policy / exchange_apply_policy), never per message. */
#include "broker/vhost/policy.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/core/broker.h"
#include "broker/core/time.h"
#include "broker/vhost/vhost.h"

static void policy_def_free(struct policy_def *d)
{
	free(d->overflow);
	free(d->dead_letter_exchange);
	free(d->dead_letter_routing_key);
	free(d->alternate_exchange);
	free(d->queue_mode);
	free(d->max_age);
}

static void policy_free(struct policy *p)
{
	if (!p)
		return;
	list_remove(&p->link);
	regfree(&p->re);
	policy_def_free(&p->def);
	free(p->name);
	free(p->pattern);
	free(p->definition_json);
	free(p);
}

const char *policy_apply_to_name(enum policy_apply_to a)
{
	switch (a) {
	case POLICY_APPLY_QUEUES:
		return "queues";
	case POLICY_APPLY_CLASSIC_QUEUES:
		return "classic_queues";
	case POLICY_APPLY_QUORUM_QUEUES:
		return "quorum_queues";
	case POLICY_APPLY_EXCHANGES:
		return "exchanges";
	default:
		return "all";
	}
}

static int policy_parse_apply_to(const char *s, enum policy_apply_to *out)
{
	static const enum policy_apply_to all[] = { POLICY_APPLY_ALL, POLICY_APPLY_QUEUES,
						    POLICY_APPLY_CLASSIC_QUEUES,
						    POLICY_APPLY_QUORUM_QUEUES,
						    POLICY_APPLY_EXCHANGES };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (strcmp(s ? s : "all", policy_apply_to_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	return -1;
}

static int policy_int(json_t *v, const char *key, bool positive, int64_t *out, char *err,
		      size_t errlen)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (positive && json_integer_value(v) == 0)) {
		snprintf(err, errlen, "Validation failed: %s must be a %s integer", key,
			 positive ? "positive" : "non-negative");
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

static int policy_str(json_t *v, const char *key, const char *const *allowed, char **out,
		      char *err, size_t errlen)
{
	if (!json_is_string(v)) {
		snprintf(err, errlen, "Validation failed: %s must be a string", key);
		return -1;
	}
	const char *s = json_string_value(v);
	if (allowed) {
		bool ok = false;
		for (size_t i = 0; allowed[i]; i++)
			ok = ok || strcmp(s, allowed[i]) == 0;
		if (!ok) {
			snprintf(err, errlen, "Validation failed: %s is not a valid value for %s", s,
				 key);
			return -1;
		}
	}
	*out = strdup(s);
	return *out ? 0 : -1;
}

/* RabbitMQ's texts (rabbit_policies:validate_policy0), the value as Erlang prints it; the
 * management API puts "Validation failed\n\n" before them, as RabbitMQ does. */
static int policy_max_age(json_t *v, char **out, char *err, size_t errlen)
{
	const char *s = json_string_value(v);
	if (!s || time_duration_ms(s, strlen(s)) < 0) {
		char *shown = json_dumps(v, JSON_ENCODE_ANY);
		if (s)
			snprintf(err, errlen, "<<\"%s\">> is not a valid max age", s);
		else
			snprintf(err, errlen, "%s is not a valid max age", shown ? shown : "?");
		free(shown);
		return -1;
	}
	*out = strdup(s);
	return *out ? 0 : -1;
}

static int policy_segment_size(json_t *v, int64_t *out, char *err, size_t errlen)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > 3000000000LL) {
		char *shown = json_dumps(v, JSON_ENCODE_ANY);
		if (json_is_string(v))
			snprintf(err, errlen, "<<\"%s\">> is not a valid segment size",
				 json_string_value(v));
		else
			snprintf(err, errlen, "%s is not a valid segment size", shown ? shown : "?");
		free(shown);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

static int policy_parse_def(const char *json, struct policy_def *d, char *err, size_t errlen)
{
	static const char *const overflow[] = { "drop-head", "reject-publish", "reject-publish-dlx",
						NULL };
	static const char *const modes[] = { "default", "lazy", NULL };
	json_error_t jerr;
	const char *key;
	json_t *v, *root = json_loads(json, 0, &jerr);
	int rc = -1;

	memset(d, 0, sizeof *d);
	d->message_ttl = d->expires = d->max_length = d->max_length_bytes = d->delivery_limit =
		d->consumer_timeout = d->stream_max_segment_size_bytes = -1;
	if (!json_is_object(root)) {
		snprintf(err, errlen, "Validation failed: definition must be a JSON object");
		goto out;
	}
	if (json_object_size(root) == 0) {
		snprintf(err, errlen, "Validation failed: no policy keys in definition");
		goto out;
	}
	json_object_foreach(root, key, v)
	{
		int r;
		if (strcmp(key, "message-ttl") == 0)
			r = policy_int(v, key, false, &d->message_ttl, err, errlen);
		else if (strcmp(key, "expires") == 0)
			r = policy_int(v, key, true, &d->expires, err, errlen);
		else if (strcmp(key, "max-length") == 0)
			r = policy_int(v, key, false, &d->max_length, err, errlen);
		else if (strcmp(key, "max-length-bytes") == 0)
			r = policy_int(v, key, false, &d->max_length_bytes, err, errlen);
		else if (strcmp(key, "delivery-limit") == 0)
			r = policy_int(v, key, false, &d->delivery_limit, err, errlen);
		else if (strcmp(key, "consumer-timeout") == 0)
			r = policy_int(v, key, false, &d->consumer_timeout, err, errlen);
		else if (strcmp(key, "overflow") == 0)
			r = policy_str(v, key, overflow, &d->overflow, err, errlen);
		else if (strcmp(key, "queue-mode") == 0)
			r = policy_str(v, key, modes, &d->queue_mode, err, errlen);
		else if (strcmp(key, "dead-letter-exchange") == 0)
			r = policy_str(v, key, NULL, &d->dead_letter_exchange, err, errlen);
		else if (strcmp(key, "dead-letter-routing-key") == 0)
			r = policy_str(v, key, NULL, &d->dead_letter_routing_key, err, errlen);
		else if (strcmp(key, "alternate-exchange") == 0)
			r = policy_str(v, key, NULL, &d->alternate_exchange, err, errlen);
		else if (strcmp(key, "max-age") == 0)
			r = policy_max_age(v, &d->max_age, err, errlen);
		else if (strcmp(key, "stream-max-segment-size-bytes") == 0)
			r = policy_segment_size(v, &d->stream_max_segment_size_bytes, err, errlen);
		else {
			snprintf(err, errlen, "Validation failed: [{<<\"%s\">>,...}] are not recognised "
				 "policy settings", key);
			r = -1;
		}
		if (r != 0)
			goto out;
	}
	rc = 0;
out:
	json_decref(root);
	if (rc != 0)
		policy_def_free(d);
	return rc;
}

struct policy *policy_find(struct vhost *v, const char *name, bool is_operator)
{
	struct list *head = is_operator ? &v->operator_policies : &v->policies, *pos;
	list_for_each(pos, head)
	{
		struct policy *p = list_entry(pos, struct policy, link);
		if (strcmp(p->name, name) == 0)
			return p;
	}
	return NULL;
}

int policy_set(struct vhost *v, const char *name, const char *pattern, const char *apply_to,
	       int priority, const char *definition_json, bool is_operator, char *err,
	       size_t errlen)
{
	struct policy *p = calloc(1, sizeof *p);
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	list_init(&p->link);
	if (policy_parse_apply_to(apply_to, &p->apply_to) != 0) {
		snprintf(err, errlen, "Validation failed: '%s' is not a valid apply-to value",
			 apply_to ? apply_to : "");
		free(p);
		return -1;
	}
	int rc = regcomp(&p->re, pattern ? pattern : "", REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char msg[128];
		regerror(rc, &p->re, msg, sizeof msg);
		snprintf(err, errlen, "Validation failed: pattern %s: %s", pattern ? pattern : "",
			 msg);
		free(p);
		return -1;
	}
	if (policy_parse_def(definition_json ? definition_json : "", &p->def, err, errlen) != 0) {
		regfree(&p->re);
		free(p);
		return -1;
	}
	p->name = strdup(name);
	p->pattern = strdup(pattern ? pattern : "");
	p->definition_json = strdup(definition_json);
	p->priority = priority;
	p->is_operator = is_operator;
	if (!p->name || !p->pattern || !p->definition_json) {
		policy_free(p);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	policy_free(policy_find(v, name, is_operator));
	/* Highest priority first; equal priorities keep declaration order. */
	struct list *head = is_operator ? &v->operator_policies : &v->policies, *pos;
	list_for_each(pos, head)
	{
		if (list_entry(pos, struct policy, link)->priority < priority)
			break;
	}
	list_insert_before(pos, &p->link);
	return 0;
}

int policy_delete(struct vhost *v, const char *name, bool is_operator)
{
	struct policy *p = policy_find(v, name, is_operator);
	if (!p)
		return -1;
	policy_free(p);
	return 0;
}

static bool policy_applies(const struct policy *p, bool is_queue)
{
	if (is_queue)
		return p->apply_to != POLICY_APPLY_EXCHANGES &&
		       p->apply_to != POLICY_APPLY_QUORUM_QUEUES;
	return p->apply_to == POLICY_APPLY_ALL || p->apply_to == POLICY_APPLY_EXCHANGES;
}

const struct policy *policy_match(struct vhost *v, const char *name, size_t name_len,
				  bool is_queue, bool is_operator)
{
	struct list *head = is_operator ? &v->operator_policies : &v->policies, *pos;
	char buf[256];
	if (list_is_empty(head))
		return NULL;
	size_t len = name_len < sizeof buf ? name_len : sizeof buf - 1;
	memcpy(buf, name, len);
	buf[len] = '\0';
	list_for_each(pos, head)
	{
		struct policy *p = list_entry(pos, struct policy, link);
		/* all len bytes: a NUL inside a name must not end it early */
		regmatch_t whole = { .rm_so = 0, .rm_eo = (regoff_t)len };
		if (policy_applies(p, is_queue) &&
		    regexec(&p->re, buf, 1, &whole, REG_STARTEND) == 0)
			return p;
	}
	return NULL;
}

void policy_free_all(struct vhost *v)
{
	while (!list_is_empty(&v->policies))
		policy_free(list_entry(v->policies.next, struct policy, link));
	while (!list_is_empty(&v->operator_policies))
		policy_free(list_entry(v->operator_policies.next, struct policy, link));
}
