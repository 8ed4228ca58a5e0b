/* broker/systemd.h: the service manager's notification protocol (sd_notify(3)) without
 * libsystemd: newline-separated VAR=VALUE assignments in one datagram to the AF_UNIX socket
 * named by $NOTIFY_SOCKET. READY=1 once every listener accepts, RELOADING=1 / READY=1 around a
 * SIGHUP reload, STOPPING=1 at shutdown, WATCHDOG=1 keep-alives from the event loop. Without
 * $NOTIFY_SOCKET (not started by systemd, or Type= is not notify) every call does nothing. */
#ifndef BROKER_SYSTEMD_H
#define BROKER_SYSTEMD_H

#include <stdint.h>

/* Sends state ("READY=1\nSTATUS=..."). 1 sent, 0 no socket to send to, -1 failed (errno). */
int systemd_notify(const char *state);
/* printf-style systemd_notify. */
int systemd_notifyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The watchdog timeout systemd expects keep-alives within ($WATCHDOG_USEC, when $WATCHDOG_PID
 * is unset or this process), in microseconds; 0 when there is no watchdog. */
uint64_t systemd_watchdog_usec(void);

#endif
