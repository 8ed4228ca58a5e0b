// Conformance scenarios driven by amqp091-go 1.5 (see harness.go for running them).
package main

import (
	"bytes"
	"context"
	"errors"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

const defaultRefused = "ACCESS_REFUSED - operation not permitted on the default exchange"

func publish(t *T, ch *amqp.Channel, exchange, key string, body []byte) {
	err := ch.PublishWithContext(context.Background(), exchange, key, false, false,
		amqp.Publishing{Body: body})
	t.Check(err, "publish")
}

// getOne polls basic.get until a message arrives (a publish is asynchronous).
func getOne(t *T, ch *amqp.Channel, queue string) amqp.Delivery {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		m, ok, err := ch.Get(queue, true)
		t.Check(err, "basic.get")
		if ok {
			return m
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no message in %s after 5 s", queue)
	return amqp.Delivery{}
}

func init() {
	register("connection.start names a product and the nine capabilities", func(t *T) {
		c := t.Dial()
		if p, _ := c.Properties["product"].(string); p == "" {
			t.Fatalf("no product in %v", c.Properties)
		}
		caps, _ := c.Properties["capabilities"].(amqp.Table)
		for _, name := range []string{"publisher_confirms", "exchange_exchange_bindings",
			"basic.nack", "consumer_cancel_notify", "connection.blocked", "consumer_priorities",
			"authentication_failure_close", "per_consumer_qos", "direct_reply_to"} {
			if v, _ := caps[name].(bool); !v {
				t.Fatalf("capability %s missing in %v", name, caps)
			}
		}
	})

	register("a message published and fetched with basic.get keeps its body and properties", func(t *T) {
		c := t.Dial()
		ch := t.Channel(c)
		q, err := ch.QueueDeclare("", false, true, true, false, nil)
		t.Check(err, "queue.declare")
		err = ch.PublishWithContext(context.Background(), "", q.Name, false, false, amqp.Publishing{
			ContentType: "text/plain", CorrelationId: "c-1", Headers: amqp.Table{"k": int32(7)},
			Body: []byte("hello from go"),
		})
		t.Check(err, "publish")
		m := getOne(t, ch, q.Name)
		if string(m.Body) != "hello from go" || m.ContentType != "text/plain" ||
			m.CorrelationId != "c-1" || m.Headers["k"] != int32(7) {
			t.Fatalf("got %q %q %q %v", m.Body, m.ContentType, m.CorrelationId, m.Headers)
		}
	})

	// Clean-up code unbinds what it bound, often after the queue or exchange has gone.
	register("queue.unbind after the queue and the exchange were deleted answers unbind-ok", func(t *T) {
		c := t.Dial()
		ch := t.Channel(c)
		x, qn := unique("x"), unique("q")
		t.Check(ch.ExchangeDeclare(x, "direct", false, true, false, false, nil), "exchange.declare")
		_, err := ch.QueueDeclare(qn, false, false, true, false, nil)
		t.Check(err, "queue.declare")
		t.Check(ch.QueueBind(qn, "k", x, false, nil), "queue.bind")
		_, err = ch.QueueDelete(qn, false, false, false)
		t.Check(err, "queue.delete")
		t.Check(ch.QueueUnbind(qn, "k", x, nil), "queue.unbind of a deleted queue")
		t.Check(ch.ExchangeDelete(x, false, false), "exchange.delete")
		t.Check(ch.QueueUnbind(qn, "k", x, nil), "queue.unbind of a deleted queue and exchange")
		t.Check(ch.QueueUnbind(unique("never"), "k", "amq.direct", nil), "queue.unbind of a queue that never was")
		_, err = ch.QueueDeclare("", false, true, true, false, nil)
		t.Check(err, "the channel is still open")
	})

	register("exchange.unbind of a missing source or destination answers unbind-ok", func(t *T) {
		c := t.Dial()
		ch := t.Channel(c)
		x := unique("x")
		t.Check(ch.ExchangeDeclare(x, "fanout", false, true, false, false, nil), "exchange.declare")
		t.Check(ch.ExchangeBind(x, "k", "amq.direct", false, nil), "exchange.bind")
		t.Check(ch.ExchangeUnbind(x, "k", "amq.direct", false, nil), "exchange.unbind")
		t.Check(ch.ExchangeUnbind(unique("gone"), "k", x, false, nil), "missing destination")
		t.Check(ch.ExchangeUnbind(x, "k", unique("gone"), false, nil), "missing source")
		t.Check(ch.ExchangeDelete(x, false, false), "exchange.delete")
	})

	register("queue.unbind from the default exchange is still 403 when the queue is missing", func(t *T) {
		c := t.Dial()
		ch := t.Channel(c)
		err := ch.QueueUnbind(unique("gone"), "k", "", nil)
		t.ExpectCode(err, 403, defaultRefused, "queue.unbind")
	})

	register("a passive declare of the default exchange is 403", func(t *T) {
		c := t.Dial()
		ch := t.Channel(c)
		err := ch.ExchangeDeclarePassive("", "direct", true, false, false, false, nil)
		t.ExpectCode(err, 403, defaultRefused, "exchange.declare passive ''")
		ch = t.Channel(c)
		t.Check(ch.ExchangeDeclarePassive("amq.direct", "direct", true, false, false, false, nil),
			"passive amq.direct")
	})

	// A publish to a missing exchange fails asynchronously; `defer ch.Close()` then sends
	// channel.close while the broker's channel.close is on its way. The connection and its
	// other channels must survive (they died with 504 "expected 'channel.open'").
	register("closing a channel while the broker closes it keeps the connection and its other channels", func(t *T) {
		c := t.Dial()
		other := t.Channel(c)
		q, err := other.QueueDeclare("", false, true, true, false, nil)
		t.Check(err, "queue.declare")
		for i := 0; i < 3; i++ {
			ch := t.Channel(c)
			publish(t, ch, unique("missing"), "k", []byte("lost"))
			err := ch.Close()
			var e *amqp.Error
			// 404 when the broker's close arrives while Close waits; amqp091-go's own
			// ErrClosed when it lands first.
			if err != nil && (!errors.As(err, &e) || (e.Code != 404 && e != amqp.ErrClosed)) {
				t.Fatalf("close: %v", err)
			}
			publish(t, other, "", q.Name, []byte("still here"))
			if m := getOne(t, other, q.Name); string(m.Body) != "still here" {
				t.Fatalf("got %q", m.Body)
			}
		}
		if c.IsClosed() {
			t.Fatalf("the connection was closed")
		}
	})

	// channel_max = 0 and frame_max = 0 on the broker: "no limit", as in RabbitMQ.
	registerProfile("zero-limits", "tune offers channel_max 0 and frame_max 0, so a client asking for 65535 channels may open 3000", func(t *T) {
		c := t.DialConfig(amqp.Config{ChannelMax: 65535})
		if c.Config.ChannelMax != 65535 || c.Config.FrameSize != 0 {
			t.Fatalf("negotiated channel_max %d frame size %d", c.Config.ChannelMax, c.Config.FrameSize)
		}
		chans := make([]*amqp.Channel, 0, 3000)
		for i := 0; i < 3000; i++ {
			chans = append(chans, t.Channel(c))
		}
		_, err := chans[2999].QueueDeclare("", false, true, true, false, nil)
		t.Check(err, "queue.declare on the 3000th channel")
	})

	registerProfile("zero-limits", "with frame_max 0 a 1 MiB body goes out as one frame and comes back whole", func(t *T) {
		c := t.Dial()
		ch := t.Channel(c)
		q, err := ch.QueueDeclare("", false, true, true, false, nil)
		t.Check(err, "queue.declare")
		body := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
		publish(t, ch, "", q.Name, body)
		if m := getOne(t, ch, q.Name); !bytes.Equal(m.Body, body) {
			t.Fatalf("got %d bytes back", len(m.Body))
		}
	})
}
