/* mgmt/api/mgmt.h: the RabbitMQ-compatible management HTTP API and Prometheus metrics, served by
 * libevent's evhttp on the broker's own event loop. */
#ifndef MGMT_MGMT_H
#define MGMT_MGMT_H

#include <stddef.h>

struct broker;
struct mgmt;

/* Listens on cfg->mgmt_port (and cfg->prometheus_port when non-zero) and starts the statistics
 * timer. NULL with err filled when a port cannot be bound. */
struct mgmt *mgmt_start(struct broker *b, char *err, size_t errlen);
void mgmt_free(struct mgmt *m);

#endif
