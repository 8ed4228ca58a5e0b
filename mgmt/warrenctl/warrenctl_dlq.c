/* warrenctl_dlq: the dead-letter workflow. `inspect` peeks at a queue's messages (ackmode
 * ack_requeue_true, nothing removed) and groups their x-death entries; `replay` moves messages
 * back where x-death says they came from, through the server's dlq-replay endpoint when it has
 * one, else through a client-side get + publish loop bounded by the queue's depth at the start,
 * so a message that dies again during the replay is not moved a second time. */
#include "warrenctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "warrenctl_encoding.h"
#include "warrenctl_format.h"

enum { DLQ_INSPECT_DEFAULT = 10000 };

static const char *const dlq_inspect_cols[] = {
	"queue", "reason", "exchange", "routing_keys", "messages", "deaths", "first_death",
	"last_death",
};

/* /queues/{vhost}/{name} plus an optional suffix, percent-encoded. */
static char *dlq_queue_uri(const struct warrenctl *w, const char *queue, const char *suffix)
{
	char *vh = warrenctl_encoding_url(warrenctl_target_vhost(w));
	char *q = warrenctl_encoding_url(queue);
	char *uri = NULL;

	if (vh && q && (uri = malloc(strlen(vh) + strlen(q) + strlen(suffix) + 16)) != NULL)
		sprintf(uri, "/queues/%s/%s%s", vh, q, suffix);
	free(vh);
	free(q);
	return uri;
}

/* The queue's depth now; prints the API's error (404 for a missing queue) otherwise. */
static int dlq_depth(struct warrenctl *w, const char *queue, long *depth)
{
	char *uri = dlq_queue_uri(w, queue, "");
	json_t *info = NULL;
	int rc = uri ? warrenctl_call(w, "GET", uri, NULL, &info, NULL) : WARRENCTL_EXIT_USAGE;

	*depth = (long)json_integer_value(json_object_get(info, "messages"));
	json_decref(info);
	free(uri);
	return rc;
}

static json_t *dlq_x_death(const json_t *msg)
{
	json_t *props = json_object_get(msg, "properties");

	return json_object_get(json_object_get(props, "headers"), "x-death");
}

/* x-death times are AMQP timestamps; RabbitMQ's API renders them as seconds since the epoch. */
static json_t *dlq_time_text(const json_t *t)
{
	char buf[64];
	time_t secs;
	struct tm tm;

	if (!json_is_integer(t))
		return t ? json_deep_copy(t) : json_null();
	secs = (time_t)json_integer_value(t);
	if (!gmtime_r(&secs, &tm))
		return json_null();
	strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
	return json_string(buf);
}

static bool dlq_time_before(const json_t *a, const json_t *b)
{
	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) < json_number_value(b);
	if (json_is_string(a) && json_is_string(b))
		return strcmp(json_string_value(a), json_string_value(b)) < 0;
	return !b && a;
}

/* Adds one x-death entry to its (queue, reason, exchange) group. */
static void dlq_group_add(json_t *groups, const json_t *entry)
{
	const char *queue = json_string_value(json_object_get(entry, "queue"));
	const char *reason = json_string_value(json_object_get(entry, "reason"));
	const char *exchange = json_string_value(json_object_get(entry, "exchange"));
	json_t *when = json_object_get(entry, "time"), *g;
	char key[1024];
	char *rks = warrenctl_encoding_cell(json_object_get(entry, "routing-keys"));

	snprintf(key, sizeof key, "%s\n%s\n%s", queue ? queue : "", reason ? reason : "",
		 exchange ? exchange : "");
	if (!(g = json_object_get(groups, key))) {
		g = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "queue", queue ? queue : "",
			      "reason", reason ? reason : "", "exchange", exchange ? exchange : "",
			      "routing_keys", rks ? rks : "", "messages", (json_int_t)0, "deaths",
			      (json_int_t)0);
		json_object_set_new(groups, key, g);
	}
	free(rks);
	json_object_set_new(g, "messages",
			    json_integer(json_integer_value(json_object_get(g, "messages")) + 1));
	json_object_set_new(g, "deaths",
			    json_integer(json_integer_value(json_object_get(g, "deaths")) +
					 json_integer_value(json_object_get(entry, "count"))));
	if (when && (!json_object_get(g, "first") ||
		     dlq_time_before(when, json_object_get(g, "first"))))
		json_object_set(g, "first", when);
	if (when && (!json_object_get(g, "last") ||
		     dlq_time_before(json_object_get(g, "last"), when)))
		json_object_set(g, "last", when);
}

static bool dlq_json_format(const struct warrenctl *w)
{
	return strstr(w->format, "json") != NULL;
}

static int dlq_inspect(struct warrenctl *w, const char *queue)
{
	struct warrenctl_format_opts o = { 0 };
	json_t *msgs = NULL, *groups = json_object(), *rows = json_array(), *m, *e, *g;
	char *uri = NULL, body[128];
	long depth, without = 0;
	const char *key;
	size_t i, k;
	int rc;

	/* The API's message counts lag behind (RabbitMQ emits stats every 5 s), so read up to
	 * --limit, or at least DLQ_INSPECT_DEFAULT; get stops at the end of the queue anyway. */
	if ((rc = dlq_depth(w, queue, &depth)) != 0)
		goto out;
	if (depth < DLQ_INSPECT_DEFAULT)
		depth = DLQ_INSPECT_DEFAULT;
	if (w->limit > 0)
		depth = w->limit;
	{
		snprintf(body, sizeof body, "{\"count\":%ld,\"ackmode\":\"ack_requeue_true\","
					    "\"encoding\":\"auto\",\"truncate\":64}", depth);
		if (!(uri = dlq_queue_uri(w, queue, "/get")))
			goto out;
		if ((rc = warrenctl_call(w, "POST", uri, body, &msgs, NULL)) != 0)
			goto out;
	}
	json_array_foreach(msgs, i, m) {
		json_t *xd = dlq_x_death(m);
		if (json_array_size(xd) == 0)
			without++;
		json_array_foreach(xd, k, e)
			dlq_group_add(groups, e);
	}
	json_object_foreach(groups, key, g) {
		json_object_set_new(g, "first_death", dlq_time_text(json_object_get(g, "first")));
		json_object_set_new(g, "last_death", dlq_time_text(json_object_get(g, "last")));
		json_object_del(g, "first");
		json_object_del(g, "last");
		json_array_append(rows, g);
	}
	o.format = w->format;
	o.depth = w->depth;
	o.verbose = w->verbose;
	o.sort = w->sort;
	o.sort_reverse = w->sort_reverse;
	warrenctl_format_print(rows, NULL, dlq_inspect_cols, 8, &o);
	if (w->verbose && !dlq_json_format(w))
		printf("%zu message%s inspected in '%s', %ld without x-death\n",
		       json_array_size(msgs), json_array_size(msgs) == 1 ? "" : "s", queue,
		       without);
out:
	free(uri);
	json_decref(rows);
	json_decref(groups);
	json_decref(msgs);
	return rc;
}

/* Publishes one fetched message; *routed tells whether any queue took it. */
static int dlq_publish(struct warrenctl *w, const json_t *msg, const char *exchange,
		       const char *routing_key, const json_t *cc, bool *routed)
{
	json_t *props = json_object_get(msg, "properties"), *body, *reply = NULL;
	char *vh = warrenctl_encoding_url(warrenctl_target_vhost(w));
	char *x = warrenctl_encoding_url(exchange[0] ? exchange : "amq.default");
	char *uri = NULL, *text = NULL;
	int rc = WARRENCTL_EXIT_UNREACHABLE;

	/* The API shows "no properties" as [], but publish wants an object. */
	props = json_is_object(props) ? json_deep_copy(props) : json_object();
	if (cc) {
		json_t *headers = json_object_get(props, "headers");
		if (!json_is_object(headers)) {
			headers = json_object();
			json_object_set_new(props, "headers", headers);
		}
		json_object_set(headers, "CC", (json_t *)cc);
	}
	body = json_pack("{s:o, s:s, s:O, s:O}", "properties", props, "routing_key", routing_key,
			 "payload", json_object_get(msg, "payload"), "payload_encoding",
			 json_object_get(msg, "payload_encoding"));
	*routed = false;
	if (!vh || !x || !body || !(text = json_dumps(body, JSON_COMPACT)))
		goto out;
	if (!(uri = malloc(strlen(vh) + strlen(x) + 32)))
		goto out;
	sprintf(uri, "/exchanges/%s/%s/publish", vh, x);
	if ((rc = warrenctl_call(w, "POST", uri, text, &reply, NULL)) == 0)
		*routed = json_is_true(json_object_get(reply, "routed"));
out:
	json_decref(reply);
	json_decref(body);
	free(text);
	free(uri);
	free(vh);
	free(x);
	return rc;
}

struct dlq_tally {
	long moved, kept, unroutable;
};

/* Where x-death[0] (the most recent death) says the message belongs. */
static void dlq_target(const struct warrenctl *w, const json_t *death, const char **exchange,
		       const char **routing_key, json_t **cc)
{
	json_t *rks = json_object_get(death, "routing-keys");

	*cc = NULL;
	if (!w->to_original) {
		*exchange = "";
		*routing_key = json_string_value(json_object_get(death, "queue"));
		return;
	}
	*exchange = json_string_value(json_object_get(death, "exchange"));
	*routing_key = json_string_value(json_array_get(rks, 0));
	if (json_array_size(rks) > 1) { /* sender-selected CC keys, as first published */
		*cc = json_array();
		for (size_t i = 1; i < json_array_size(rks); i++)
			json_array_append(*cc, json_array_get(rks, i));
	}
}

/* One message: fetch (removing it), publish to its target, or put it back at the tail. */
static int dlq_replay_one(struct warrenctl *w, const char *queue, const char *get_uri,
			  struct dlq_tally *t, bool *empty, long *remaining)
{
	static const char get_body[] =
		"{\"count\":1,\"ackmode\":\"ack_requeue_false\",\"encoding\":\"base64\"}";
	json_t *msgs = NULL, *msg, *death, *cc = NULL;
	const char *exchange = NULL, *rk = NULL;
	bool routed = false;
	int rc;

	*empty = false;
	if ((rc = warrenctl_call(w, "POST", get_uri, get_body, &msgs, NULL)) != 0)
		return rc;
	if (!(msg = json_array_get(msgs, 0))) {
		*empty = true;
		goto out;
	}
	*remaining = (long)json_integer_value(json_object_get(msg, "message_count"));
	death = json_array_get(dlq_x_death(msg), 0);
	if (death)
		dlq_target(w, death, &exchange, &rk, &cc);
	if (death && exchange && rk) {
		rc = dlq_publish(w, msg, exchange, rk, cc, &routed);
		if (rc == 0 && routed) {
			t->moved++;
			goto out;
		}
		if (rc == 0)
			t->unroutable++;
	} else {
		t->kept++;
	}
	/* Not moved: put it back at the tail of the dead-letter queue itself. */
	if (dlq_publish(w, msg, "", queue, NULL, &routed) != 0 || !routed) {
		char *lost = json_dumps(msg, JSON_COMPACT);
		fprintf(stderr, "warrenctl: could not put a message back into '%s'; its content "
				"follows so it can be republished by hand:\n%s\n", queue,
			lost ? lost : "(out of memory)");
		free(lost);
		rc = rc ? rc : WARRENCTL_EXIT_HTTP;
	}
out:
	json_decref(cc);
	json_decref(msgs);
	return rc;
}

static void dlq_replay_report(const struct warrenctl *w, const char *queue, const char *via,
			      const struct dlq_tally *t)
{
	if (dlq_json_format(w)) {
		printf("{\"moved\":%ld,\"kept\":%ld,\"unroutable\":%ld,\"via\":\"%s\"}\n", t->moved,
		       t->kept, t->unroutable, via);
		return;
	}
	if (!w->verbose)
		return;
	printf("moved %ld message%s from '%s' (%s)\n", t->moved, t->moved == 1 ? "" : "s", queue,
	       via);
	if (t->kept)
		printf("%ld message%s without x-death left in '%s'\n", t->kept,
		       t->kept == 1 ? "" : "s", queue);
	if (t->unroutable)
		printf("%ld message%s could not be routed and went back to '%s'\n", t->unroutable,
		       t->unroutable == 1 ? "" : "s", queue);
}

static const int dlq_no_endpoint[] = { 404, 405, 501, 0 };

static int dlq_replay(struct warrenctl *w, const char *queue)
{
	struct dlq_tally t = { 0, 0, 0 };
	json_t *reply = NULL, *body = json_object();
	char *uri = NULL, *get_uri = NULL, *text = NULL;
	long depth, bound, remaining = 0;
	int rc, status;
	bool empty = false;

	if ((rc = dlq_depth(w, queue, &depth)) != 0) /* a missing queue is a 404 here */
		goto out;
	if (w->limit > 0)
		json_object_set_new(body, "limit", json_integer(w->limit));
	json_object_set_new(body, "to_original", json_boolean(w->to_original));
	if (!(uri = dlq_queue_uri(w, queue, "/dlq-replay")) ||
	    !(get_uri = dlq_queue_uri(w, queue, "/get")) ||
	    !(text = json_dumps(body, JSON_COMPACT)))
		goto out;
	/* 404/405/501: this server has no dlq-replay endpoint (RabbitMQ answers 405). */
	if ((rc = warrenctl_try(w, "POST", uri, text, dlq_no_endpoint, &status, &reply)) != 0)
		goto out;
	if (status >= 200 && status < 300) {
		t.moved = (long)json_integer_value(json_object_get(reply, "moved"));
		t.kept = (long)json_integer_value(json_object_get(reply, "kept"));
		t.unroutable = (long)json_integer_value(json_object_get(reply, "unroutable"));
		dlq_replay_report(w, queue, "server dlq-replay", &t);
		goto out;
	}
	/* Client side: the first get's message_count says how many were queued behind it, which
	 * bounds the loop to the messages present now (stats-based depths lag). */
	if ((rc = dlq_replay_one(w, queue, get_uri, &t, &empty, &remaining)) == 0 && !empty) {
		bound = remaining + 1;
		if (w->limit > 0 && w->limit < bound)
			bound = w->limit;
		for (long i = 1; i < bound && !empty && rc == 0; i++)
			rc = dlq_replay_one(w, queue, get_uri, &t, &empty, &remaining);
	}
	dlq_replay_report(w, queue, "client get+publish", &t);
out:
	free(text);
	json_decref(body);
	json_decref(reply);
	free(uri);
	free(get_uri);
	return rc;
}

int warrenctl_dlq_run(struct warrenctl *w)
{
	if (w->arg_count < 1)
		return warrenctl_usage_error("dlq", "dlq needs 'inspect' or 'replay'");
	if (strcmp(w->args[0], "inspect") != 0 && strcmp(w->args[0], "replay") != 0)
		return warrenctl_usage_error("dlq", "unknown dlq action '%s'", w->args[0]);
	if (w->arg_count != 2)
		return warrenctl_usage_error("dlq", "dlq %s takes exactly one queue name",
					     w->args[0]);
	if (strcmp(w->args[0], "inspect") == 0) {
		if (w->to_original)
			return warrenctl_usage_error("dlq", "--to-original is for dlq replay");
		return dlq_inspect(w, w->args[1]);
	}
	return dlq_replay(w, w->args[1]);
}
