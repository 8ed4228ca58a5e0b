/* broker/admin/durable.h: the broker's side of durability: opening the store at start-up
 * (definitions, then every persistent message back into its queue or delayed exchange), the
 * per-turn group sync, and sync completions turned into publisher confirms. */
#ifndef BROKER_ADMIN_DURABLE_H
#define BROKER_ADMIN_DURABLE_H

struct broker;

/* Opens the store under cfg->data_dir, imports the saved definitions and replays persistent
 * messages into their queues. Everything comes back or nothing starts: 0, or -1 after a log
 * line naming what could not be loaded. */
int durable_open(struct broker *b);

#endif
