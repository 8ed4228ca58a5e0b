#!/usr/bin/python3
"""Vhost limits, user limits and topic permissions over real sockets, with pika, against Warren
(or RabbitMQ with --rabbitmq AMQP_PORT MGMT_PORT): the codes and texts RabbitMQ 3.10 answers
with, and the management endpoints that set them.
Usage: test_limits.py WARREN_BINARY | test_limits.py --rabbitmq 5673 15673"""
import os

import pika
from pika.exceptions import ChannelClosedByBroker, ConnectionClosedByBroker, ProbableAccessDeniedError

from nettest import check, expect, main

VHOST = "limits-test-%d" % os.getpid()
USER = "limits-user-%d" % os.getpid()


def run(amqp_port, api, is_rabbitmq=False):
    def params():
        return pika.ConnectionParameters("127.0.0.1", amqp_port, VHOST, pika.PlainCredentials(USER, "pw"),
                                         connection_attempts=1)

    def refused_text(fn):
        try:
            fn()
        except (ProbableAccessDeniedError, ConnectionClosedByBroker) as e:
            return str(e)
        raise AssertionError("not refused")

    expect(api.call("PUT", "/vhosts/" + VHOST, {})[0], 201)
    expect(api.call("PUT", "/users/" + USER, {"password": "pw", "tags": ""})[0], 201)
    expect(api.call("PUT", "/permissions/%s/%s" % (VHOST, USER),
                    {"configure": ".*", "write": ".*", "read": ".*"})[0], 201)

    def vhost_connection_limit_refuses_the_next_connection_with_530():
        expect(api.call("PUT", "/vhost-limits/%s/max-connections" % VHOST, {"value": 1})[0], 204)
        c1 = pika.BlockingConnection(params())
        try:
            text = refused_text(lambda: pika.BlockingConnection(params()))
            want = ("(530) \"NOT_ALLOWED - access to vhost '%s' refused for user '%s': connection limit "
                    "(1) is reached\"" % (VHOST, USER))
            assert want in text, text
        finally:
            c1.close()
        expect(api.call("DELETE", "/vhost-limits/%s/max-connections" % VHOST)[0], 204)
        pika.BlockingConnection(params()).close()

    def vhost_queue_limit_fails_a_new_queue_with_406_but_not_a_redeclare():
        expect(api.call("PUT", "/vhost-limits/%s/max-queues" % VHOST, {"value": 1})[0], 204)
        c = pika.BlockingConnection(params())
        try:
            ch = c.channel()
            ch.queue_declare("lq1")
            ch.queue_declare("lq1")
            try:
                ch.queue_declare("lq2")
                raise AssertionError("declared beyond the limit")
            except ChannelClosedByBroker as e:
                expect((e.reply_code, e.reply_text),
                       (406, "PRECONDITION_FAILED - cannot declare queue 'lq2': queue limit in vhost "
                             "'%s' (1) is reached" % VHOST))
            c.channel().queue_delete("lq1")
        finally:
            c.close()
        expect(api.call("DELETE", "/vhost-limits/%s/max-queues" % VHOST)[0], 204)

    def vhost_limits_are_listed_per_vhost():
        api.call("PUT", "/vhost-limits/%s/max-queues" % VHOST, {"value": 7})
        status, body = api.call("GET", "/vhost-limits/" + VHOST)
        expect((status, body), (200, [{"vhost": VHOST, "value": {"max-queues": 7}}]))
        api.call("DELETE", "/vhost-limits/%s/max-queues" % VHOST)
        expect(api.call("GET", "/vhost-limits/" + VHOST), (200, []))

    def user_connection_limit_refuses_the_next_connection_with_530():
        expect(api.call("PUT", "/user-limits/%s/max-connections" % USER, {"value": 1})[0], 204)
        c1 = pika.BlockingConnection(params())
        try:
            text = refused_text(lambda: pika.BlockingConnection(params()))
            want = ("(530) \"NOT_ALLOWED - connection refused for user '%s': user connection limit (1) "
                    "is reached\"" % USER)
            assert want in text, text
        finally:
            c1.close()
        expect(api.call("DELETE", "/user-limits/%s/max-connections" % USER)[0], 204)

    def user_channel_limit_closes_the_connection_with_530():
        expect(api.call("PUT", "/user-limits/%s/max-channels" % USER, {"value": 1})[0], 204)
        expect(api.call("GET", "/user-limits/" + USER),
               (200, [{"user": USER, "value": {"max-channels": 1}}]))
        c = pika.BlockingConnection(params())
        c.channel()
        try:
            c.channel()
            c.channel()  # pika may only notice the close on the next call
            raise AssertionError("second channel opened")
        except ConnectionClosedByBroker as e:
            expect((e.reply_code, e.reply_text),
                   (530, "NOT_ALLOWED - number of channels opened for user '%s' has reached the "
                         "maximum allowed user limit of (1)" % USER))
        expect(api.call("DELETE", "/user-limits/%s/max-channels" % USER)[0], 204)

    def topic_write_permission_refuses_a_publish_with_403():
        expect(api.call("PUT", "/topic-permissions/%s/%s" % (VHOST, USER),
                        {"exchange": "amq.topic", "write": "^a", "read": "^r"})[0], 201)
        c = pika.BlockingConnection(params())
        try:
            ch = c.channel()
            ch.basic_publish("amq.topic", "a.allowed", b"x")
            ch.basic_publish("amq.direct", "denied.x", b"x")  # not a topic exchange
            try:
                ch.basic_publish("amq.topic", "denied.x", b"x")
                ch.queue_declare("", exclusive=True)  # a round trip to see the close
                raise AssertionError("publish allowed")
            except ChannelClosedByBroker as e:
                expect((e.reply_code, e.reply_text),
                       (403, "ACCESS_REFUSED - access to topic 'denied.x' in exchange 'amq.topic' in "
                             "vhost '%s' refused for user '%s'" % (VHOST, USER)))
        finally:
            c.close()

    def topic_read_permission_refuses_a_bind_with_403():
        c = pika.BlockingConnection(params())
        try:
            ch = c.channel()
            q = ch.queue_declare("", exclusive=True).method.queue
            ch.queue_bind(q, "amq.topic", "r.allowed")
            try:
                ch.queue_bind(q, "amq.topic", "nope.x")
                raise AssertionError("bind allowed")
            except ChannelClosedByBroker as e:
                expect((e.reply_code, e.reply_text),
                       (403, "ACCESS_REFUSED - access to topic 'nope.x' in exchange 'amq.topic' in "
                             "vhost '%s' refused for user '%s'" % (VHOST, USER)))
        finally:
            c.close()

    def topic_permissions_are_listed_and_deleted():
        want = [{"user": USER, "vhost": VHOST, "exchange": "amq.topic", "write": "^a", "read": "^r"}]
        expect(api.call("GET", "/topic-permissions/%s/%s" % (VHOST, USER)), (200, want))
        expect(api.call("DELETE", "/topic-permissions/%s/%s" % (VHOST, USER))[0], 204)
        expect(api.call("DELETE", "/topic-permissions/%s/%s" % (VHOST, USER))[0], 404)
        c = pika.BlockingConnection(params())
        ch = c.channel()
        ch.basic_publish("amq.topic", "denied.x", b"x")
        ch.queue_declare("", exclusive=True)
        c.close()

    def topic_read_permission_refuses_an_unbind_with_403():
        api.call("PUT", "/topic-permissions/%s/%s" % (VHOST, USER),
                 {"exchange": "amq.topic", "write": ".*", "read": "^r"})
        c = pika.BlockingConnection(params())
        try:
            ch = c.channel()
            q = ch.queue_declare("", exclusive=True).method.queue
            ch.queue_bind(q, "amq.topic", "r.allowed")
            ch.queue_unbind(q, "amq.topic", "r.allowed")
            try:  # RabbitMQ checks unbind like bind, even for a binding that does not exist
                ch.queue_unbind(q, "amq.topic", "nope.x")
                raise AssertionError("unbind allowed")
            except ChannelClosedByBroker as e:
                expect((e.reply_code, e.reply_text),
                       (403, "ACCESS_REFUSED - access to topic 'nope.x' in exchange 'amq.topic' in "
                             "vhost '%s' refused for user '%s'" % (VHOST, USER)))
            ch = c.channel()
            ch.exchange_declare("tp-dest", "fanout", auto_delete=True)
            ch.exchange_bind("tp-dest", "amq.topic", "r.x")
            ch.exchange_unbind("tp-dest", "amq.topic", "r.x")
            try:
                ch.exchange_unbind("tp-dest", "amq.topic", "nope.y")
                raise AssertionError("exchange.unbind allowed")
            except ChannelClosedByBroker as e:
                expect((e.reply_code, e.reply_text[:48]),
                       (403, "ACCESS_REFUSED - access to topic 'nope.y' in exc"))
            c.channel().exchange_delete("tp-dest")
        finally:
            c.close()
        expect(api.call("DELETE", "/topic-permissions/%s/%s" % (VHOST, USER))[0], 204)

    def topic_permission_variables_expand_to_the_user_and_vhost():
        api.call("PUT", "/topic-permissions/%s/%s" % (VHOST, USER),
                 {"exchange": "amq.topic", "write": "^{username}\\.", "read": "^{vhost}\\."})
        c = pika.BlockingConnection(params())
        try:
            ch = c.channel()
            ch.basic_publish("amq.topic", USER + ".a", b"x")
            q = ch.queue_declare("", exclusive=True).method.queue
            ch.queue_bind(q, "amq.topic", VHOST + ".b")
            try:
                ch.basic_publish("amq.topic", "{username}.a", b"x")
                ch.queue_declare("", exclusive=True)
                raise AssertionError("unexpanded key allowed")
            except ChannelClosedByBroker as e:
                expect(e.reply_code, 403)
            ch = c.channel()
            try:
                ch.queue_bind(q, "amq.topic", "other-vhost.b")
                raise AssertionError("bind allowed")
            except ChannelClosedByBroker as e:
                expect(e.reply_code, 403)
        finally:
            c.close()
        # Listed and exported as written, not expanded.
        expect(api.call("GET", "/topic-permissions/%s/%s" % (VHOST, USER))[1][0]["write"],
               "^{username}\\.")
        expect(api.call("DELETE", "/topic-permissions/%s/%s" % (VHOST, USER))[0], 204)

    def deleting_a_vhost_deletes_its_topic_permissions():
        v2 = VHOST + "-gone"
        expect(api.call("PUT", "/vhosts/" + v2, {})[0], 201)
        tp = {"exchange": "amq.topic", "write": "^w", "read": "^r"}
        expect(api.call("PUT", "/topic-permissions/%s/%s" % (v2, USER), tp)[0], 201)
        expect(api.call("DELETE", "/vhosts/" + v2)[0], 204)
        listed = api.call("GET", "/users/%s/topic-permissions" % USER)[1]
        assert not [p for p in listed if p["vhost"] == v2], listed
        defs = api.call("GET", "/definitions")[1]
        assert not [p for p in defs["topic_permissions"] if p["vhost"] == v2], defs
        expect(api.call("PUT", "/vhosts/" + v2, {})[0], 201)
        expect(api.call("GET", "/topic-permissions/%s/%s" % (v2, USER))[0], 404)
        api.call("DELETE", "/vhosts/" + v2)

    def limits_and_topic_permissions_round_trip_through_definitions():
        api.call("PUT", "/vhost-limits/%s/max-queues" % VHOST, {"value": 3})
        api.call("PUT", "/user-limits/%s/max-channels" % USER, {"value": 4})
        tp = {"user": USER, "vhost": VHOST, "exchange": "amq.topic", "write": "^w", "read": "^r"}
        api.call("PUT", "/topic-permissions/%s/%s" % (VHOST, USER), tp)
        status, defs = api.call("GET", "/definitions")
        expect(status, 200)
        param = {"value": {"max-queues": 3}, "vhost": VHOST, "component": "vhost-limits", "name": "limits"}
        assert param in defs["parameters"], defs["parameters"]
        assert tp in defs["topic_permissions"], defs["topic_permissions"]
        user = [u for u in defs["users"] if u["name"] == USER][0]
        expect(user["limits"], {"max-channels": 4})
        api.call("DELETE", "/vhost-limits/%s/max-queues" % VHOST)
        api.call("DELETE", "/user-limits/%s/max-channels" % USER)
        api.call("DELETE", "/topic-permissions/%s/%s" % (VHOST, USER))
        doc = {"users": [user], "vhosts": [{"name": VHOST}], "parameters": [param], "topic_permissions": [tp]}
        expect(api.call("POST", "/definitions", doc)[0] in (200, 201, 204), True)
        expect(api.call("GET", "/vhost-limits/" + VHOST), (200, [{"vhost": VHOST, "value": {"max-queues": 3}}]))
        expect(api.call("GET", "/user-limits/" + USER), (200, [{"user": USER, "value": {"max-channels": 4}}]))
        expect(api.call("GET", "/topic-permissions/%s/%s" % (VHOST, USER)), (200, [tp]))

    try:
        check("a vhost connection limit refuses the next connection with 530",
              vhost_connection_limit_refuses_the_next_connection_with_530)
        check("a vhost queue limit fails a new queue with 406 but not a redeclare",
              vhost_queue_limit_fails_a_new_queue_with_406_but_not_a_redeclare)
        check("vhost limits are listed per vhost", vhost_limits_are_listed_per_vhost)
        check("a user connection limit refuses the next connection with 530",
              user_connection_limit_refuses_the_next_connection_with_530)
        check("a user channel limit closes the connection with 530",
              user_channel_limit_closes_the_connection_with_530)
        check("a topic write permission refuses a publish with 403",
              topic_write_permission_refuses_a_publish_with_403)
        check("a topic read permission refuses a bind with 403",
              topic_read_permission_refuses_a_bind_with_403)
        check("topic permissions are listed and deleted", topic_permissions_are_listed_and_deleted)
        check("a topic read permission refuses an unbind with 403",
              topic_read_permission_refuses_an_unbind_with_403)
        check("topic permission variables expand to the user and vhost",
              topic_permission_variables_expand_to_the_user_and_vhost)
        check("deleting a vhost deletes its topic permissions",
              deleting_a_vhost_deletes_its_topic_permissions)
        check("limits and topic permissions round-trip through definitions",
              limits_and_topic_permissions_round_trip_through_definitions)
    finally:
        api.call("DELETE", "/vhosts/" + VHOST)
        api.call("DELETE", "/users/" + USER)


if __name__ == "__main__":
    main(run, "warren-limits-")
