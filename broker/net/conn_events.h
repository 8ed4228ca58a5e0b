/* broker/net/conn_events.h: events of connections and channels for the event exchange
 * (core/event.h); each costs one test while nobody is bound to amq.rabbitmq.event. */
#ifndef BROKER_NET_CONN_EVENTS_H
#define BROKER_NET_CONN_EVENTS_H

struct conn;
struct channel;

/* A login: error NULL when it succeeded, else why it did not. */
void conn_event_auth(struct conn *c, const char *user, const char *mechanism, const char *error);
/* The connection opened its vhost. */
void conn_event_created(struct conn *c);
/* The connection stops being usable (closed, failed or dropped). */
void conn_event_closed(struct conn *c);
void channel_event_created(struct channel *ch);
void channel_event_closed(struct channel *ch);

#endif
