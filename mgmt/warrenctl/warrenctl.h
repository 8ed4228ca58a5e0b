/* warrenctl: the admin CLI. It speaks rabbitmqadmin's (v1) command syntax to the management HTTP
 * API, so a script written for rabbitmqadmin works after renaming the program. This header holds
 * the state every command shares: resolved connection settings (flags > environment > config
 * file > defaults), output settings and the positional arguments left after option parsing.
 * Commands print their own one-line error and return one of the exit codes below. */
#ifndef WARRENCTL_H
#define WARRENCTL_H

#include <stdbool.h>

#include <jansson.h>

enum warrenctl_exit {
	WARRENCTL_EXIT_OK = 0,
	WARRENCTL_EXIT_HTTP = 1,	/* the API answered with an error status */
	WARRENCTL_EXIT_USAGE = 2,	/* bad command line; nothing was sent */
	WARRENCTL_EXIT_UNREACHABLE = 3, /* no HTTP answer at all */
};

struct warrenctl_http;

struct warrenctl {
	char *host;
	char *port;
	char *username;
	char *password;
	char *vhost;	     /* NULL: every vhost for list, declare_vhost elsewhere */
	char *declare_vhost; /* "/" unless the config file says otherwise */
	char *path_prefix;
	char *format;
	char *sort;
	int timeout;
	int depth;
	bool verbose;
	bool sort_reverse;
	bool to_original; /* dlq replay --to-original */
	long limit;	  /* dlq --limit; 0 = no limit */
	char **args;	  /* positional arguments after the subcommand word */
	int arg_count;
	struct warrenctl_http *http; /* opened lazily by warrenctl_http_get() */
};

/* Prints "warrenctl: MESSAGE" and a hint on stderr; always returns WARRENCTL_EXIT_USAGE. */
int warrenctl_usage_error(const char *help_topic, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The vhost a declare/delete/publish/get applies to. */
const char *warrenctl_target_vhost(const struct warrenctl *w);

/* Sends one request to /api + path. On success returns 0 and, when out is not NULL, the parsed
 * JSON reply (json null for an empty body). On failure prints one line and returns the exit
 * code. body may be NULL. raw_out, when not NULL, receives the body text (caller frees). */
int warrenctl_call(struct warrenctl *w, const char *method, const char *path, const char *body,
		   json_t **out, char **raw_out);

/* As warrenctl_call, but the statuses in quiet (0-terminated) are not errors: they come back in
 * *status without a message. *out is set only for 2xx. */
int warrenctl_try(struct warrenctl *w, const char *method, const char *path, const char *body,
		  const int *quiet, int *status, json_t **out);

int warrenctl_verbs_run(struct warrenctl *w, const char *verb);
int warrenctl_dlq_run(struct warrenctl *w);
int warrenctl_shovel_run(struct warrenctl *w); /* warrenctl_shovel.c */

/* Prints the name=value synopsis lines of a verb (declare, delete, close, purge, publish, get)
 * to stdout; false when the verb has no table. */
bool warrenctl_verbs_usage(const char *verb);

/* Help text for one topic; false when the topic is unknown. */
bool warrenctl_help_print(const char *topic);

#endif
