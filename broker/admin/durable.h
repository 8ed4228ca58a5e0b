/* broker/admin/durable.h: the broker's side of durability: opening the store at start-up
 * (definitions, then every persistent message back into its queue or delayed exchange), the
 * per-turn group sync, and sync completions turned into publisher confirms. */
#ifndef BROKER_ADMIN_DURABLE_H
#define BROKER_ADMIN_DURABLE_H

#include <stdbool.h>
#include <stdint.h>

struct broker;

/* Opens the store under cfg->data_dir, imports the saved definitions and replays persistent
 * messages into their queues. Everything comes back or nothing starts: 0, or -1 after a log
 * line naming what could not be loaded. */
int durable_open(struct broker *b);
/* Everything up to store ticket `ticket` is durable (ok) or failed: publisher confirms waiting
 * for it go out as acks (or nacks). The store's synced callback calls it, or, on a replicating
 * leader, b->synced_gate once the in-sync followers hold the ticket's records too. */
void durable_synced(struct broker *b, uint64_t ticket, bool ok);

#endif
