/* tests/unit/broker/queue/test_queue.c: broker/queue/queue.c (what every queue has, whatever
 * its kind) and broker/queue/queue_type.c (the registry of kinds), on a real broker, vhost and
 * queues (tests/support/fixture.c): the kinds by x-queue-type name and the vhost default, the
 * quorum declare rule, every kind implementing every operation; the effective settings taken
 * from the arguments; the dispatch loop (one pass per loop turn, consumer priorities,
 * round-robin within a priority, prefetch, no-ack, single active consumer, redelivery); and
 * the lifecycle (delete, settling after a delete, auto-delete, x-expires).
 *
 * Consumers here are owned by the small owner below, through struct consumer_ops: it stands
 * where a channel stands (recording each delivery, holding its message and a queue ref until
 * the test settles it, as net/channel.c does), so the queue's own choices can be read off
 * directly. The queue itself is the real one. */
#include "broker/queue/queue.h"

#include <check.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/core/broker.h"
#include "broker/exchange/exchange.h"
#include "broker/queue/classic/classic.h"
#include "broker/queue/consumer.h"
#include "broker/queue/message.h"
#include "broker/queue/queue_type.h"
#include "broker/queue/quorum/quorum.h"
#include "broker/queue/stream/stream.h"
#include "broker/vhost/vhost.h"
#include "tests/support/argtable.h"
#include "tests/support/fixture.h"

static struct fixture *f;
static struct queue *dlq; /* bound to the fanout exchange "dlx" */
static uint64_t live_before;
static char err[256];

/* ---- the owner of the consumers ---- */

struct delivery {
	struct consumer *c; /* NULL once the consumer is gone */
	struct queue *q;
	struct qentry e;
	uint32_t delivery_count;
	char body[32];
	bool held; /* the delivery's message and queue refs are still the owner's */
};

#define MAX_DELIVERIES 256
static struct delivery deliveries[MAX_DELIVERIES];
static int delivery_total;
static bool owner_blocked; /* the owner takes nothing more (flow, back-pressure) */
static int cancelled_total;

static bool owner_can_take(const struct consumer *c)
{
	(void)c;
	return !owner_blocked;
}

static int owner_deliver(struct consumer *c, struct queue *q, const struct qentry *e,
			 uint32_t delivery_count)
{
	ck_assert_int_lt(delivery_total, MAX_DELIVERIES);
	struct delivery *d = &deliveries[delivery_total++];
	d->c = c;
	d->q = q;
	d->e = *e;
	d->delivery_count = delivery_count;
	snprintf(d->body, sizeof d->body, "%.*s", (int)e->msg->body_len,
		 (const char *)e->msg->body);
	d->held = !c->no_ack;
	if (d->held) { /* what channel_track records */
		c->unacked++;
		queue_ref(q);
		q->unacked_count++;
	}
	return 0;
}

static void owner_cancelled(struct consumer *c)
{
	for (int i = 0; i < delivery_total; i++)
		if (deliveries[i].c == c)
			deliveries[i].c = NULL;
	cancelled_total++;
	consumer_free(c);
}

static const struct consumer_ops owner_ops = {
	.can_take = owner_can_take,
	.deliver = owner_deliver,
	.cancelled = owner_cancelled,
};

static struct consumer *consume(struct queue *q, const char *tag, uint16_t prefetch,
				int32_t priority, bool no_ack)
{
	struct consumer *c = consumer_new(&owner_ops, NULL, q, amqp_str_c(tag), no_ack, false,
					  prefetch, priority);
	ck_assert_ptr_nonnull(c);
	return c;
}

/* basic.ack / nack / reject of delivery i, as channel_settle_slot does it. */
static void settle(int i, enum queue_settle how)
{
	struct delivery *d = &deliveries[i];
	ck_assert(d->held);
	d->held = false;
	if (d->c)
		d->c->unacked--;
	queue_settled(d->q);
	queue_settle(d->q, d->e.msg, d->e.seq, d->delivery_count, how);
	queue_schedule_dispatch(d->q);
	queue_unref(d->q);
}

/* Which consumer got each delivery from first, as "tag:body" joined with ",". */
static const char *deliveries_from(int first)
{
	static char out[1024];
	size_t n = 0;
	out[0] = '\0';
	for (int i = first; i < delivery_total; i++) {
		struct delivery *d = &deliveries[i];
		n += (size_t)snprintf(out + n, sizeof out - n, "%s%s:%s", n ? "," : "",
				      d->c ? (const char *)d->c->tag.ptr : "-", d->body);
		ck_assert_uint_lt(n, sizeof out);
	}
	return out;
}

/* ---- fixture ---- */

static void setup(void)
{
	f = fixture_new();
	struct exchange *dlx =
		fixture_exchange(f->v, "dlx", "fanout", false, (struct amqp_table){ 0 });
	dlq = fixture_queue(f->v, "dlq", (struct amqp_table){ 0 });
	ck_assert_int_eq(exchange_bind(dlx, dlq, NULL, AMQP_STR_LIT(""), (struct amqp_table){ 0 },
				       err, sizeof err),
			 0);
	live_before = f->b->message_live_count;
	memset(deliveries, 0, sizeof deliveries);
	delivery_total = 0;
	owner_blocked = false;
	cancelled_total = 0;
}

static void teardown(void)
{
	for (int i = 0; i < delivery_total; i++)
		ck_assert_msg(!deliveries[i].held, "delivery %d left unsettled", i);
	fixture_free(f);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
}

static struct queue *declare(const char *name, struct argtable *a)
{
	struct queue *q = fixture_queue(f->v, name, a ? argtable_get(a) : (struct amqp_table){ 0 });
	if (a)
		argtable_free(a);
	return q;
}

static void publish(struct queue *q, const char *body)
{
	struct message *m = fixture_message(f, "", (const char *)q->name.ptr, NULL, body);
	ck_assert_int_eq(queue_push(q, m), QUEUE_PUSHED);
	message_unref(m);
}

static void publish_n(struct queue *q, int n)
{
	for (int i = 0; i < n; i++) {
		char body[16];
		snprintf(body, sizeof body, "m%d", i);
		publish(q, body);
	}
}

static void assert_no_message_alive(void)
{
	ck_assert_uint_eq(f->b->message_live_count, live_before);
}

/* ---- the kinds (queue_type.c) ---- */

static struct amqp_table type_args(struct argtable *a, const char *type)
{
	argtable_init(a);
	if (type)
		argtable_str(a, "x-queue-type", type);
	return argtable_get(a);
}

START_TEST(the_registry_finds_each_kind_by_its_x_queue_type_name)
{
	ck_assert_ptr_eq(queue_type_find(AMQP_STR_LIT("classic")), &queue_type_classic);
	ck_assert_ptr_eq(queue_type_find(AMQP_STR_LIT("quorum")), &queue_type_quorum);
	ck_assert_ptr_eq(queue_type_find(AMQP_STR_LIT("stream")), &queue_type_stream);
	ck_assert_str_eq(queue_type_classic.name, "classic");
	ck_assert_str_eq(queue_type_quorum.name, "quorum");
	ck_assert_str_eq(queue_type_stream.name, "stream");
}
END_TEST

START_TEST(a_name_that_is_not_a_kind_is_not_found)
{
	static const char *const names[] = { "bogus", "", "Classic", "classic ", "quorumx",
					     "class", "streams", "mqtt" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		ck_assert_msg(queue_type_find(amqp_str_c(names[i])) == NULL, "'%s' found",
			      names[i]);
}
END_TEST

START_TEST(x_queue_type_decides_the_kind_and_the_vhost_default_applies_only_without_it)
{
	struct argtable a;
	ck_assert_ptr_eq(queue_type_of(type_args(&a, NULL), NULL), &queue_type_classic);
	ck_assert_ptr_eq(queue_type_of(type_args(&a, NULL), "undefined"), &queue_type_classic);
	ck_assert_ptr_eq(queue_type_of(type_args(&a, NULL), "quorum"), &queue_type_quorum);
	ck_assert_ptr_eq(queue_type_of(type_args(&a, NULL), "stream"), &queue_type_stream);
	ck_assert_ptr_eq(queue_type_of(type_args(&a, NULL), "bogus"), NULL);
	argtable_free(&a);
	ck_assert_ptr_eq(queue_type_of(type_args(&a, "classic"), "quorum"), &queue_type_classic);
	argtable_free(&a);
	ck_assert_ptr_eq(queue_type_of(type_args(&a, "quorum"), NULL), &queue_type_quorum);
	argtable_free(&a);
	ck_assert_ptr_eq(queue_type_of(type_args(&a, "bogus"), "classic"), NULL);
	argtable_free(&a);
	argtable_init(&a);
	argtable_int(&a, "x-queue-type", 'I', 1); /* not a string: no kind */
	ck_assert_ptr_eq(queue_type_of(argtable_get(&a), NULL), NULL);
	argtable_free(&a);
}
END_TEST

START_TEST(a_vhost_default_naming_no_kind_refuses_the_declare_with_a_precondition_text)
{
	struct argtable a;
	struct queue_declare d = { .name = AMQP_STR_LIT("q"), .vhost = "vh", .durable = true };
	d.args = type_args(&a, NULL);
	ck_assert_ptr_null(queue_type_check(&d, "bogus", err, sizeof err));
	ck_assert_str_eq(err, "invalid arg 'x-queue-type' for queue 'q' in vhost 'vh': "
			      "\"unsupported queue type 'bogus'\"");
	ck_assert_ptr_eq(queue_type_check(&d, NULL, err, sizeof err), &queue_type_classic);
	argtable_free(&a);
}
END_TEST

START_TEST(quorum_refuses_exclusive_then_non_durable_then_auto_delete)
{
	/* RabbitMQ 3.10 names the first property it meets, in this order. */
	struct argtable a;
	struct queue_declare d = { .name = AMQP_STR_LIT("qq"), .vhost = "/" };
	d.args = type_args(&a, "quorum");
	d.exclusive = d.auto_delete = true;
	ck_assert_ptr_null(queue_type_check(&d, NULL, err, sizeof err));
	ck_assert_str_eq(err, "invalid property 'exclusive-owner' for queue 'qq' in vhost '/'");
	d.exclusive = false;
	ck_assert_ptr_null(queue_type_check(&d, NULL, err, sizeof err));
	ck_assert_str_eq(err, "invalid property 'non-durable' for queue 'qq' in vhost '/'");
	d.durable = true;
	ck_assert_ptr_null(queue_type_check(&d, NULL, err, sizeof err));
	ck_assert_str_eq(err, "invalid property 'auto-delete' for queue 'qq' in vhost '/'");
	d.auto_delete = false;
	ck_assert_ptr_eq(queue_type_check(&d, NULL, err, sizeof err), &queue_type_quorum);
	/* the same declare as a classic queue may be anything */
	argtable_free(&a);
	d.args = type_args(&a, "classic");
	d.durable = false;
	d.exclusive = d.auto_delete = true;
	ck_assert_ptr_eq(queue_type_check(&d, NULL, err, sizeof err), &queue_type_classic);
	argtable_free(&a);
}
END_TEST

START_TEST(every_kind_implements_every_operation)
{
	const struct queue_type *kinds[] = { &queue_type_classic, &queue_type_quorum,
					     &queue_type_stream };
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		const struct queue_type *t = kinds[i];
		ck_assert(t->name != NULL);
		ck_assert(t->validate != NULL);
		ck_assert(t->init != NULL);
		ck_assert(t->destroy != NULL);
		ck_assert(t->apply != NULL);
		ck_assert(t->push != NULL);
		ck_assert(t->take != NULL);
		ck_assert(t->taken != NULL);
		ck_assert(t->untake != NULL);
		ck_assert(t->settle != NULL);
		ck_assert(t->purge != NULL);
		ck_assert(t->drop != NULL);
		ck_assert(t->expire != NULL);
		ck_assert(t->page_out != NULL);
		ck_assert(t->memory != NULL);
	}
}
END_TEST

START_TEST(a_queue_is_made_of_the_kind_its_arguments_name_and_registered_in_its_vhost)
{
	struct argtable a;
	struct queue *q = queue_new(f->v, AMQP_STR_LIT("qq"), true, false, false, NULL,
				    type_args(&a, "quorum"));
	argtable_free(&a);
	ck_assert_ptr_nonnull(q);
	ck_assert_ptr_eq(q->type, &queue_type_quorum);
	ck_assert_ptr_nonnull(q->priv);
	ck_assert_ptr_eq(vhost_queue_find(f->v, AMQP_STR_LIT("qq")), q);
	struct queue *c = declare("plain", NULL);
	ck_assert_ptr_eq(c->type, &queue_type_classic);
	ck_assert_ptr_eq(vhost_queue_find(f->v, AMQP_STR_LIT("plain")), c);
}
END_TEST

START_TEST(a_queue_of_a_kind_warren_does_not_have_is_not_made)
{
	struct argtable a;
	size_t before = f->v->queues.count;
	struct queue *q = queue_new(f->v, AMQP_STR_LIT("s"), true, false, false, NULL,
				    type_args(&a, "bogus"));
	argtable_free(&a);
	ck_assert_ptr_null(q);
	ck_assert_ptr_null(vhost_queue_find(f->v, AMQP_STR_LIT("s")));
	ck_assert_uint_eq(f->v->queues.count, before);
}
END_TEST

/* ---- settings ---- */

START_TEST(the_effective_settings_come_from_the_arguments)
{
	struct argtable a;
	argtable_init(&a);
	argtable_int(&a, "x-message-ttl", 'I', 1500);
	argtable_int(&a, "x-expires", 'l', 60000);
	argtable_int(&a, "x-max-length", 's', 7);
	argtable_int(&a, "x-max-length-bytes", 'I', 4096);
	argtable_str(&a, "x-overflow", "reject-publish-dlx");
	argtable_str(&a, "x-dead-letter-exchange", "dlx");
	argtable_str(&a, "x-dead-letter-routing-key", "dead");
	argtable_int(&a, "x-max-priority", 'b', 10);
	argtable_bool(&a, "x-single-active-consumer", true);
	struct queue *q = declare("set", &a);
	ck_assert_int_eq(q->lim.message_ttl, 1500);
	ck_assert_int_eq(q->lim.expires, 60000);
	ck_assert_int_eq(q->lim.max_length, 7);
	ck_assert_int_eq(q->lim.max_length_bytes, 4096);
	ck_assert_int_eq(q->lim.overflow, QUEUE_REJECT_PUBLISH_DLX);
	ck_assert_str_eq(q->lim.dlx, "dlx");
	ck_assert_str_eq(q->lim.dlrk, "dead");
	ck_assert_uint_eq(q->lim.max_priority, 10);
	ck_assert(q->lim.single_active);
	ck_assert_int_eq(q->lim.delivery_limit, -1);

	struct queue *plain = declare("plain", NULL);
	ck_assert_int_eq(plain->lim.message_ttl, -1);
	ck_assert_int_eq(plain->lim.expires, -1);
	ck_assert_int_eq(plain->lim.max_length, -1);
	ck_assert_int_eq(plain->lim.max_length_bytes, -1);
	ck_assert_int_eq(plain->lim.overflow, QUEUE_DROP_HEAD);
	ck_assert_ptr_null(plain->lim.dlx);
	ck_assert_ptr_null(plain->lim.dlrk);
	ck_assert_uint_eq(plain->lim.max_priority, 0);
	ck_assert(!plain->lim.single_active);

	argtable_init(&a);
	argtable_str(&a, "x-overflow", "reject-publish");
	ck_assert_int_eq(declare("rp", &a)->lim.overflow, QUEUE_REJECT_PUBLISH);
	argtable_init(&a);
	argtable_str(&a, "x-overflow", "drop-head");
	ck_assert_int_eq(declare("dh", &a)->lim.overflow, QUEUE_DROP_HEAD);
}
END_TEST

/* ---- dispatch ---- */

START_TEST(nothing_is_delivered_until_the_dispatch_task_runs_and_then_all_in_order)
{
	struct queue *q = declare("work", NULL);
	consume(q, "c", 0, 0, false);
	publish_n(q, 3);
	ck_assert_int_eq(delivery_total, 0); /* one pass per loop turn, not one per publish */
	broker_run_deferred(f->b);
	ck_assert_str_eq(deliveries_from(0), "c:m0,c:m1,c:m2");
	ck_assert_uint_eq(q->ready_count, 0);
	ck_assert_uint_eq(q->stat_delivered, 3);
	for (int i = 0; i < 3; i++)
		settle(i, QUEUE_SETTLE_ACK);
	ck_assert_uint_eq(q->unacked_count, 0);
	assert_no_message_alive();
}
END_TEST

START_TEST(consumers_of_one_priority_take_turns)
{
	struct queue *q = declare("work", NULL);
	consume(q, "a", 0, 0, false);
	consume(q, "b", 0, 0, false);
	consume(q, "c", 0, 0, false);
	publish_n(q, 7);
	broker_run_deferred(f->b);
	ck_assert_str_eq(deliveries_from(0), "a:m0,b:m1,c:m2,a:m3,b:m4,c:m5,a:m6");
	publish_n(q, 2); /* the turn goes on where it stopped */
	broker_run_deferred(f->b);
	ck_assert_str_eq(deliveries_from(7), "b:m0,c:m1");
	for (int i = 0; i < delivery_total; i++)
		settle(i, QUEUE_SETTLE_ACK);
	assert_no_message_alive();
}
END_TEST

START_TEST(a_higher_priority_consumer_is_served_until_its_prefetch_is_full)
{
	/* RabbitMQ 3.10.8: prefetch 2 each, 6 messages: priority 10 got 2, priority 1 got 2, and
	 * 2 stayed ready (rabbitmq-semantics.md section 4). */
	struct queue *q = declare("work", NULL);
	consume(q, "low", 2, 1, false);
	consume(q, "high", 2, 10, false);
	publish_n(q, 6);
	broker_run_deferred(f->b);
	ck_assert_str_eq(deliveries_from(0), "high:m0,high:m1,low:m2,low:m3");
	ck_assert_uint_eq(q->ready_count, 2);
	settle(2, QUEUE_SETTLE_ACK); /* low has room again, high has none */
	broker_run_deferred(f->b);
	ck_assert_str_eq(deliveries_from(4), "low:m4");
	settle(0, QUEUE_SETTLE_ACK); /* high first again */
	broker_run_deferred(f->b);
	ck_assert_str_eq(deliveries_from(5), "high:m5");
	for (int i = 0; i < delivery_total; i++)
		if (deliveries[i].held)
			settle(i, QUEUE_SETTLE_ACK);
	assert_no_message_alive();
}
END_TEST

START_TEST(a_consumer_at_its_prefetch_gets_more_only_after_it_settles)
{
	struct queue *q = declare("work", NULL);
	struct consumer *c = consume(q, "c", 1, 0, false);
	publish_n(q, 3);
	broker_run_deferred(f->b);
	ck_assert_int_eq(delivery_total, 1);
	ck_assert_uint_eq(c->unacked, 1);
	ck_assert(!consumer_can_take(c));
	broker_run_deferred(f->b);
	ck_assert_int_eq(delivery_total, 1);
	settle(0, QUEUE_SETTLE_ACK);
	broker_run_deferred(f->b);
	ck_assert_str_eq(deliveries_from(0), "c:m0,c:m1");
	settle(1, QUEUE_SETTLE_ACK);
	broker_run_deferred(f->b);
	settle(2, QUEUE_SETTLE_ACK);
	ck_assert_str_eq(deliveries_from(0), "c:m0,c:m1,c:m2");
	assert_no_message_alive();
}
END_TEST

START_TEST(an_owner_that_cannot_take_more_is_passed_over_until_it_can)
{
	struct queue *q = declare("work", NULL);
	consume(q, "c", 0, 0, false);
	owner_blocked = true;
	publish_n(q, 2);
	broker_run_deferred(f->b);
	ck_assert_int_eq(delivery_total, 0);
	ck_assert(!queue_has_ready_consumer(q));
	owner_blocked = false;
	ck_assert(queue_has_ready_consumer(q));
	queue_schedule_dispatch(q); /* what the owner does when it can take again */
	broker_run_deferred(f->b);
	ck_assert_str_eq(deliveries_from(0), "c:m0,c:m1");
	settle(0, QUEUE_SETTLE_ACK);
	settle(1, QUEUE_SETTLE_ACK);
	assert_no_message_alive();
}
END_TEST

START_TEST(a_no_ack_delivery_is_settled_and_freed_as_it_leaves)
{
	struct queue *q = declare("work", NULL);
	consume(q, "c", 1, 0, true); /* a prefetch does not hold back a no-ack consumer */
	publish_n(q, 3);
	broker_run_deferred(f->b);
	ck_assert_str_eq(deliveries_from(0), "c:m0,c:m1,c:m2");
	ck_assert_uint_eq(q->ready_count, 0);
	ck_assert_uint_eq(q->unacked_count, 0);
	assert_no_message_alive();
}
END_TEST

START_TEST(only_the_single_active_consumer_receives_until_it_goes)
{
	/* RabbitMQ 3.10.8: only the first registered consumer received; when it went, the next
	 * one took over (rabbitmq-semantics.md section 6). */
	struct argtable a;
	argtable_init(&a);
	argtable_bool(&a, "x-single-active-consumer", true);
	struct queue *q = declare("sac", &a);
	struct consumer *first = consume(q, "first", 0, 0, false);
	struct consumer *second = consume(q, "second", 0, 5, false); /* priority does not matter */
	ck_assert(queue_consumer_is_active(q, first));
	ck_assert(!queue_consumer_is_active(q, second));
	publish_n(q, 2);
	broker_run_deferred(f->b);
	ck_assert_str_eq(deliveries_from(0), "first:m0,first:m1");
	settle(0, QUEUE_SETTLE_ACK);
	settle(1, QUEUE_SETTLE_REQUEUE);
	for (int i = 0; i < delivery_total; i++)
		if (deliveries[i].c == first)
			deliveries[i].c = NULL;
	consumer_free(first); /* basic.cancel */
	ck_assert(queue_consumer_is_active(q, second));
	broker_run_deferred(f->b);
	ck_assert_str_eq(deliveries_from(2), "second:m1");
	settle(2, QUEUE_SETTLE_ACK);
	assert_no_message_alive();
}
END_TEST

START_TEST(a_requeued_delivery_is_dispatched_again_as_redelivered_with_its_count)
{
	struct queue *q = declare("work", NULL);
	consume(q, "c", 1, 0, false);
	publish_n(q, 2);
	broker_run_deferred(f->b);
	ck_assert(!deliveries[0].e.redelivered);
	ck_assert_uint_eq(deliveries[0].delivery_count, 1);
	settle(0, QUEUE_SETTLE_REQUEUE);
	broker_run_deferred(f->b);
	ck_assert_str_eq(deliveries_from(1), "c:m0"); /* ahead of m1 again */
	ck_assert(deliveries[1].e.redelivered);
	ck_assert_uint_eq(deliveries[1].delivery_count, 2);
	ck_assert_uint_eq(f->b->stats.redelivered, 1);
	settle(1, QUEUE_SETTLE_ACK);
	broker_run_deferred(f->b);
	ck_assert_str_eq(deliveries_from(2), "c:m1");
	ck_assert(!deliveries[2].e.redelivered);
	settle(2, QUEUE_SETTLE_ACK);
	assert_no_message_alive();
}
END_TEST

/* ---- lifecycle ---- */

START_TEST(deleting_a_queue_cancels_consumers_frees_messages_and_unregisters_it)
{
	struct queue *q = declare("gone", NULL);
	consume(q, "a", 1, 0, false);
	consume(q, "b", 1, 0, false);
	publish_n(q, 5);
	broker_run_deferred(f->b); /* two out, three ready */
	uint64_t deleted = f->b->stats.queues_deleted;
	ck_assert_uint_eq(queue_delete(q), 3);
	ck_assert_int_eq(cancelled_total, 2);
	ck_assert_ptr_null(vhost_queue_find(f->v, AMQP_STR_LIT("gone")));
	ck_assert_uint_eq(f->b->stats.queues_deleted, deleted + 1);
	ck_assert_uint_eq(f->b->message_live_count, live_before + 2); /* the two deliveries */
	ck_assert_uint_eq(queue_delete(q), 0); /* still held by the deliveries: a no-op */
	settle(0, QUEUE_SETTLE_ACK);
	settle(1, QUEUE_SETTLE_ACK); /* the last ref: the queue is freed here */
	assert_no_message_alive();
}
END_TEST

START_TEST(a_delivery_requeued_after_its_queue_was_deleted_is_freed)
{
	struct queue *q = declare("gone", NULL);
	consume(q, "c", 0, 0, false);
	publish_n(q, 1);
	broker_run_deferred(f->b);
	queue_delete(q);
	settle(0, QUEUE_SETTLE_REQUEUE);
	assert_no_message_alive();
}
END_TEST

START_TEST(a_delivery_rejected_after_its_queue_was_deleted_is_not_dead_lettered)
{
	/* RabbitMQ 3.10.8 (a private node): basic.get without ack, the queue deleted from another
	 * connection, then basic.reject requeue=false: nothing reached the DLX. Dead-lettering is
	 * the queue's, and the queue is gone. */
	struct argtable a;
	argtable_init(&a);
	argtable_str(&a, "x-dead-letter-exchange", "dlx");
	struct queue *q = declare("gone", &a);
	consume(q, "c", 0, 0, false);
	publish_n(q, 1);
	broker_run_deferred(f->b);
	queue_delete(q);
	uint64_t dead = f->b->stats.dead_lettered;
	settle(0, QUEUE_SETTLE_REJECT);
	ck_assert_uint_eq(f->b->stats.dead_lettered, dead);
	ck_assert_uint_eq(queue_ready_count(dlq), 0);
	assert_no_message_alive();
}
END_TEST

START_TEST(an_auto_delete_queue_goes_with_its_last_consumer_but_not_before_it_had_one)
{
	struct queue *q = queue_new(f->v, AMQP_STR_LIT("auto"), false, false, true, NULL,
				    (struct amqp_table){ 0 });
	ck_assert_ptr_nonnull(q);
	queue_check_auto_delete(q); /* never had a consumer: stays (RabbitMQ) */
	ck_assert_ptr_eq(vhost_queue_find(f->v, AMQP_STR_LIT("auto")), q);
	struct consumer *a = consume(q, "a", 0, 0, false);
	struct consumer *b = consume(q, "b", 0, 0, false);
	consumer_free(a);
	queue_check_auto_delete(q);
	ck_assert_ptr_eq(vhost_queue_find(f->v, AMQP_STR_LIT("auto")), q);
	consumer_free(b);
	queue_check_auto_delete(q);
	ck_assert_ptr_null(vhost_queue_find(f->v, AMQP_STR_LIT("auto")));
}
END_TEST

static struct queue *expiring(const char *name, int64_t ms)
{
	struct argtable a;
	argtable_init(&a);
	argtable_int(&a, "x-expires", 'I', ms);
	return declare(name, &a);
}

START_TEST(an_unused_queue_with_x_expires_is_deleted_when_its_timer_fires)
{
	struct queue *q = expiring("temp", 10);
	publish_n(q, 2); /* messages do not keep it */
	ck_assert_uint_ne(q->expires_timer.due_ms, 0);
	sleep_ms(30);
	ck_assert_int_ge(event_base_loop(f->base, EVLOOP_NONBLOCK), 0);
	ck_assert_ptr_null(vhost_queue_find(f->v, AMQP_STR_LIT("temp")));
	assert_no_message_alive();
}
END_TEST

START_TEST(a_consumer_or_a_basic_get_counts_as_use_for_x_expires)
{
	struct queue *q = expiring("temp", 60000);
	uint64_t first = q->expires_timer.due_ms;
	ck_assert_uint_ne(first, 0);
	sleep_ms(5);
	struct qentry e;
	ck_assert(!queue_get(q, &e)); /* even an empty get is use */
	ck_assert_uint_gt(q->expires_timer.due_ms, first);
	struct consumer *c = consume(q, "c", 0, 0, false);
	ck_assert_uint_eq(q->expires_timer.due_ms, 0); /* no expiry while consumed */
	consumer_free(c);
	ck_assert_uint_gt(q->expires_timer.due_ms, first); /* re-armed from now */
	ck_assert_ptr_eq(vhost_queue_find(f->v, AMQP_STR_LIT("temp")), q);
}
END_TEST

static Suite *queue_suite(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("kinds");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, the_registry_finds_each_kind_by_its_x_queue_type_name);
	tcase_add_test(tc, a_name_that_is_not_a_kind_is_not_found);
	tcase_add_test(tc,
		       x_queue_type_decides_the_kind_and_the_vhost_default_applies_only_without_it);
	tcase_add_test(tc,
		       a_vhost_default_naming_no_kind_refuses_the_declare_with_a_precondition_text);
	tcase_add_test(tc, quorum_refuses_exclusive_then_non_durable_then_auto_delete);
	tcase_add_test(tc, every_kind_implements_every_operation);
	tcase_add_test(tc,
		       a_queue_is_made_of_the_kind_its_arguments_name_and_registered_in_its_vhost);
	tcase_add_test(tc, a_queue_of_a_kind_warren_does_not_have_is_not_made);
	tcase_add_test(tc, the_effective_settings_come_from_the_arguments);
	suite_add_tcase(s, tc);

	tc = tcase_create("dispatch");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, nothing_is_delivered_until_the_dispatch_task_runs_and_then_all_in_order);
	tcase_add_test(tc, consumers_of_one_priority_take_turns);
	tcase_add_test(tc, a_higher_priority_consumer_is_served_until_its_prefetch_is_full);
	tcase_add_test(tc, a_consumer_at_its_prefetch_gets_more_only_after_it_settles);
	tcase_add_test(tc, an_owner_that_cannot_take_more_is_passed_over_until_it_can);
	tcase_add_test(tc, a_no_ack_delivery_is_settled_and_freed_as_it_leaves);
	tcase_add_test(tc, only_the_single_active_consumer_receives_until_it_goes);
	tcase_add_test(tc, a_requeued_delivery_is_dispatched_again_as_redelivered_with_its_count);
	suite_add_tcase(s, tc);

	tc = tcase_create("lifecycle");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, deleting_a_queue_cancels_consumers_frees_messages_and_unregisters_it);
	tcase_add_test(tc, a_delivery_requeued_after_its_queue_was_deleted_is_freed);
	tcase_add_test(tc, a_delivery_rejected_after_its_queue_was_deleted_is_not_dead_lettered);
	tcase_add_test(tc,
		       an_auto_delete_queue_goes_with_its_last_consumer_but_not_before_it_had_one);
	tcase_add_test(tc, an_unused_queue_with_x_expires_is_deleted_when_its_timer_fires);
	tcase_add_test(tc, a_consumer_or_a_basic_get_counts_as_use_for_x_expires);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(queue_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
