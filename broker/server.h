/* broker/server.h: the broker's lifecycle, for main.c and tests: creating it from the
 * configuration (the default vhost and user), the listeners and signals, the one-second tick
 * (resource alarms, paging, consumer acknowledgement timeouts), and a clean shutdown. */
#ifndef BROKER_SERVER_H
#define BROKER_SERVER_H

struct broker;
struct config;
struct event_base;
struct log;

/* Creates the broker with its default vhost and user, logging to lg (the program's; NULL:
 * plain stderr). NULL on failure (logged). */
struct broker *server_new(struct event_base *base, const struct config *cfg, struct log *lg);
void server_free(struct broker *b);
/* Opens the listeners and installs signal handlers and the tick. 0 or -1 (logged). */
int server_start(struct broker *b);
/* Closes every connection with 320 CONNECTION_FORCED and stops the loop once they are flushed. */
void server_shutdown(struct broker *b);
/* Re-evaluates the memory and disk alarms (also run once a second). */
void server_check_alarms(struct broker *b);

#endif
