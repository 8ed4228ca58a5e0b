/* warrenctl: entry point. Parses rabbitmqadmin-style options (anywhere on the line, as Python's
 * optparse allows), resolves the connection settings (flags > WARRENCTL_* environment > config
 * file section > defaults), then hands the positional words to the verb or dlq code. Also owns
 * warrenctl_call(), the one place an HTTP status becomes an error line and an exit code. */
#include "warrenctl.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "warrenctl_format.h"
#include "warrenctl_http.h"

#ifndef WARREN_VERSION
#define WARREN_VERSION "0.0.0"
#endif

int warrenctl_usage_error(const char *help_topic, const char *fmt, ...)
{
	va_list ap;

	fputs("warrenctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (help_topic)
		fprintf(stderr, " (see 'warrenctl help %s')\n", help_topic);
	else
		fputs(" (see 'warrenctl --help')\n", stderr);
	return WARRENCTL_EXIT_USAGE;
}

const char *warrenctl_target_vhost(const struct warrenctl *w)
{
	return w->vhost ? w->vhost : w->declare_vhost;
}

static void warrenctl_set(char **slot, const char *value)
{
	free(*slot);
	*slot = value ? strdup(value) : NULL;
}

/* The API's reason on one line: "reason", else "error", else the body's text. */
static void warrenctl_print_http_error(const char *method, const char *path,
				       const struct warrenctl_http_reply *r)
{
	json_t *doc = r->body ? json_loads(r->body, JSON_DECODE_ANY, NULL) : NULL;
	const char *reason = json_string_value(json_object_get(doc, "reason"));
	char *line;

	if (!reason)
		reason = json_string_value(json_object_get(doc, "error"));
	if (!reason)
		reason = r->body ? r->body : "";
	line = strdup(reason);
	if (line) {
		for (char *p = line; *p; p++)
			if (*p == '\n' || *p == '\r' || *p == '\t')
				*p = ' ';
		for (size_t n = strlen(line); n > 0 && isspace((unsigned char)line[n - 1]); n--)
			line[n - 1] = '\0';
	}
	fprintf(stderr, "warrenctl: HTTP %d %s: %s (%s /api%s)\n", r->status,
		r->phrase ? r->phrase : "", line && line[0] ? line : "(no reason given)", method,
		path);
	free(line);
	json_decref(doc);
}

static int warrenctl_open(struct warrenctl *w)
{
	char *end;
	long port;

	if (w->http)
		return 0;
	errno = 0;
	port = strtol(w->port, &end, 10);
	if (errno || *end || port < 1 || port > 65535)
		return warrenctl_usage_error(NULL, "bad port '%s'", w->port);
	w->http = warrenctl_http_new(w->host, (unsigned)port, w->username, w->password,
				     w->path_prefix, w->timeout);
	if (!w->http) {
		fputs("warrenctl: out of memory\n", stderr);
		return WARRENCTL_EXIT_UNREACHABLE;
	}
	return 0;
}

static int warrenctl_request(struct warrenctl *w, const char *method, const char *path,
			     const char *body, const int *quiet, int *status, json_t **out,
			     char **raw_out)
{
	struct warrenctl_http_reply r;
	json_error_t err;
	int rc;

	if (status)
		*status = 0;
	if (out)
		*out = NULL;
	if (raw_out)
		*raw_out = NULL;
	if ((rc = warrenctl_open(w)) != 0)
		return rc;
	if (warrenctl_http_send(w->http, method, path, body, &r) != 0) {
		fprintf(stderr, "warrenctl: cannot reach the management API at %s:%u: %s\n",
			warrenctl_http_host(w->http), warrenctl_http_port(w->http),
			warrenctl_http_unreachable_reason(w->http, &r));
		rc = WARRENCTL_EXIT_UNREACHABLE;
		goto out;
	}
	if (status)
		*status = r.status;
	if (r.status < 200 || r.status >= 300) {
		for (; quiet && *quiet; quiet++)
			if (*quiet == r.status)
				goto out;
		warrenctl_print_http_error(method, path, &r);
		rc = WARRENCTL_EXIT_HTTP;
		goto out;
	}
	if (out) {
		if (r.body_len == 0) {
			*out = json_null();
		} else if (!(*out = json_loads(r.body, JSON_DECODE_ANY, &err))) {
			fprintf(stderr, "warrenctl: the API sent invalid JSON (%s) for %s /api%s\n",
				err.text, method, path);
			rc = WARRENCTL_EXIT_HTTP;
			goto out;
		}
	}
	if (raw_out) {
		*raw_out = r.body;
		r.body = NULL;
	}
out:
	warrenctl_http_reply_clear(&r);
	return rc;
}

int warrenctl_call(struct warrenctl *w, const char *method, const char *path, const char *body,
		   json_t **out, char **raw_out)
{
	return warrenctl_request(w, method, path, body, NULL, NULL, out, raw_out);
}

int warrenctl_try(struct warrenctl *w, const char *method, const char *path, const char *body,
		  const int *quiet, int *status, json_t **out)
{
	return warrenctl_request(w, method, path, body, quiet, status, out, NULL);
}

/* ---- configuration file: rabbitmqadmin's ini format ([section], key = value) ---- */

static char *warrenctl_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static void warrenctl_config_apply(struct warrenctl *w, const char *key, const char *value)
{
	if (strcmp(key, "hostname") == 0 || strcmp(key, "host") == 0)
		warrenctl_set(&w->host, value);
	else if (strcmp(key, "port") == 0)
		warrenctl_set(&w->port, value);
	else if (strcmp(key, "username") == 0 || strcmp(key, "user") == 0)
		warrenctl_set(&w->username, value);
	else if (strcmp(key, "password") == 0)
		warrenctl_set(&w->password, value);
	else if (strcmp(key, "vhost") == 0)
		warrenctl_set(&w->vhost, value);
	else if (strcmp(key, "declare_vhost") == 0)
		warrenctl_set(&w->declare_vhost, value);
	else if (strcmp(key, "path_prefix") == 0)
		warrenctl_set(&w->path_prefix, value);
	else if (strcmp(key, "format") == 0)
		warrenctl_set(&w->format, value);
	else if (strcmp(key, "request_timeout") == 0)
		w->timeout = atoi(value);
	else if (strcmp(key, "depth") == 0)
		w->depth = atoi(value);
	/* Other keys (ssl_*, ...) are ignored, as rabbitmqadmin ignores unused ones. */
}

/* Returns 0, or WARRENCTL_EXIT_USAGE when the file or an explicitly named section is missing. */
static int warrenctl_config_load(struct warrenctl *w, const char *path, bool explicit_file,
				 const char *node, bool explicit_node)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	bool in_section = false, found = false;

	if (!f) {
		if (explicit_file)
			return warrenctl_usage_error("config", "could not read config file '%s'",
						     path);
		return 0;
	}
	while (fgets(line, sizeof line, f)) {
		char *s = warrenctl_trim(line), *eq, *hash;
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');
			if (close)
				*close = '\0';
			in_section = strcmp(warrenctl_trim(s + 1), node) == 0;
			found |= in_section;
			continue;
		}
		if (!in_section || !(eq = strpbrk(s, "=:")))
			continue;
		*eq = '\0';
		/* "vhost = / # comment", as in rabbitmqadmin's own example file */
		for (hash = eq + 1; (hash = strpbrk(hash, "#;")) != NULL; hash++) {
			if (isspace((unsigned char)hash[-1])) {
				*hash = '\0';
				break;
			}
		}
		warrenctl_config_apply(w, warrenctl_trim(s), warrenctl_trim(eq + 1));
	}
	fclose(f);
	if (!found && explicit_node)
		return warrenctl_usage_error("config", "no section '%s' in config file '%s'", node,
					     path);
	return 0;
}

/* ---- command line ---- */

struct warrenctl_flags {
	const char *config, *node, *host, *port, *vhost, *username, *password, *format, *sort,
		*path_prefix, *timeout, *depth, *limit, *base_uri;
	bool quiet, sort_reverse, help, version, to_original;
};

static const struct {
	char short_name;
	const char *long_name;
	size_t offset; /* of the const char * in struct warrenctl_flags */
} warrenctl_valued[] = {
	{ 'c', "config", offsetof(struct warrenctl_flags, config) },
	{ 'N', "node", offsetof(struct warrenctl_flags, node) },
	{ 'H', "host", offsetof(struct warrenctl_flags, host) },
	{ 'P', "port", offsetof(struct warrenctl_flags, port) },
	{ 'V', "vhost", offsetof(struct warrenctl_flags, vhost) },
	{ 'u', "username", offsetof(struct warrenctl_flags, username) },
	{ 'p', "password", offsetof(struct warrenctl_flags, password) },
	{ 'f', "format", offsetof(struct warrenctl_flags, format) },
	{ 'S', "sort", offsetof(struct warrenctl_flags, sort) },
	{ 't', "request-timeout", offsetof(struct warrenctl_flags, timeout) },
	{ 'd', "depth", offsetof(struct warrenctl_flags, depth) },
	{ 'U', "base-uri", offsetof(struct warrenctl_flags, base_uri) },
	{ 0, "path-prefix", offsetof(struct warrenctl_flags, path_prefix) },
	{ 0, "limit", offsetof(struct warrenctl_flags, limit) },
};

static const struct {
	char short_name;
	const char *long_name;
	size_t offset; /* of the bool */
} warrenctl_switches[] = {
	{ 'q', "quiet", offsetof(struct warrenctl_flags, quiet) },
	{ 'R', "sort-reverse", offsetof(struct warrenctl_flags, sort_reverse) },
	{ 'h', "help", offsetof(struct warrenctl_flags, help) },
	{ 0, "version", offsetof(struct warrenctl_flags, version) },
	{ 0, "to-original", offsetof(struct warrenctl_flags, to_original) },
};

#define WARRENCTL_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* One option at argv[*i]; advances *i past its value. Returns 0 or the usage exit code. */
static int warrenctl_parse_option(struct warrenctl_flags *fl, int argc, char **argv, int *i)
{
	const char *arg = argv[*i], *inline_value = NULL;
	char name[64];
	bool is_long = arg[1] == '-';

	if (is_long) {
		const char *eq = strchr(arg + 2, '=');
		size_t n = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
		if (n >= sizeof name)
			n = sizeof name - 1;
		memcpy(name, arg + 2, n);
		name[n] = '\0';
		inline_value = eq ? eq + 1 : NULL;
	} else {
		name[0] = arg[1];
		name[1] = '\0';
		inline_value = arg[2] ? arg + 2 : NULL;
	}
	for (size_t k = 0; k < WARRENCTL_COUNT(warrenctl_switches); k++) {
		bool hit = is_long ? strcmp(name, warrenctl_switches[k].long_name) == 0
				   : warrenctl_switches[k].short_name &&
					     name[0] == warrenctl_switches[k].short_name;
		if (!hit)
			continue;
		if (inline_value)
			return warrenctl_usage_error(NULL, "option %s takes no value", arg);
		*(bool *)((char *)fl + warrenctl_switches[k].offset) = true;
		return 0;
	}
	for (size_t k = 0; k < WARRENCTL_COUNT(warrenctl_valued); k++) {
		bool hit = is_long ? strcmp(name, warrenctl_valued[k].long_name) == 0
				   : warrenctl_valued[k].short_name &&
					     name[0] == warrenctl_valued[k].short_name;
		if (!hit)
			continue;
		if (!inline_value) {
			if (*i + 1 >= argc)
				return warrenctl_usage_error(NULL, "option %s needs a value", arg);
			inline_value = argv[++*i];
		}
		*(const char **)((char *)fl + warrenctl_valued[k].offset) = inline_value;
		return 0;
	}
	if (!is_long && strcmp(name, "s") == 0)
		return warrenctl_usage_error(NULL, "HTTPS (-s) is not supported by warrenctl");
	return warrenctl_usage_error(NULL, "unknown option '%s'", arg);
}

/* http://user:pass@host:port/ -> the four settings, as rabbitmqadmin's --base-uri. */
static int warrenctl_apply_base_uri(struct warrenctl *w, const char *uri)
{
	char buf[512], *s, *at, *slash, *colon;

	if (strncmp(uri, "http://", 7) != 0)
		return warrenctl_usage_error(NULL, "--base-uri must start with http://");
	snprintf(buf, sizeof buf, "%s", uri + 7);
	s = buf;
	if ((slash = strchr(s, '/')) != NULL)
		*slash = '\0';
	if ((at = strrchr(s, '@')) != NULL) {
		*at = '\0';
		if ((colon = strchr(s, ':')) != NULL) {
			*colon = '\0';
			warrenctl_set(&w->password, colon + 1);
		}
		warrenctl_set(&w->username, s);
		s = at + 1;
	}
	if ((colon = strrchr(s, ':')) != NULL) {
		*colon = '\0';
		warrenctl_set(&w->port, colon + 1);
	}
	if (*s)
		warrenctl_set(&w->host, s);
	return 0;
}

static void warrenctl_env(char **slot, const char *name)
{
	const char *v = getenv(name);

	if (v && *v)
		warrenctl_set(slot, v);
}

static int warrenctl_configure(struct warrenctl *w, const struct warrenctl_flags *fl)
{
	const char *home = getenv("HOME");
	const char *config = fl->config ? fl->config : getenv("WARRENCTL_CONFIG");
	const char *node = fl->node ? fl->node : getenv("WARRENCTL_NODE");
	char path[1024];
	int rc;

	warrenctl_set(&w->host, "localhost");
	warrenctl_set(&w->port, "15672");
	warrenctl_set(&w->username, "guest");
	warrenctl_set(&w->password, "guest");
	warrenctl_set(&w->declare_vhost, "/");
	warrenctl_set(&w->path_prefix, "");
	warrenctl_set(&w->format, "table");
	w->timeout = 120;
	w->depth = 1;
	w->verbose = true;

	if (config && *config) {
		rc = warrenctl_config_load(w, config, true, node ? node : "default", node != NULL);
	} else if (home) {
		snprintf(path, sizeof path, "%s/.warrenctl.conf", home);
		rc = warrenctl_config_load(w, path, false, node ? node : "default", node != NULL);
	} else {
		rc = 0;
	}
	if (rc != 0)
		return rc;

	warrenctl_env(&w->host, "WARRENCTL_HOST");
	warrenctl_env(&w->port, "WARRENCTL_PORT");
	warrenctl_env(&w->username, "WARRENCTL_USER");
	warrenctl_env(&w->username, "WARRENCTL_USERNAME");
	warrenctl_env(&w->password, "WARRENCTL_PASS");
	warrenctl_env(&w->password, "WARRENCTL_PASSWORD");
	warrenctl_env(&w->vhost, "WARRENCTL_VHOST");
	warrenctl_env(&w->format, "WARRENCTL_FORMAT");

	if (fl->base_uri && (rc = warrenctl_apply_base_uri(w, fl->base_uri)) != 0)
		return rc;
	if (fl->host)
		warrenctl_set(&w->host, fl->host);
	if (fl->port)
		warrenctl_set(&w->port, fl->port);
	if (fl->username)
		warrenctl_set(&w->username, fl->username);
	if (fl->password)
		warrenctl_set(&w->password, fl->password);
	if (fl->vhost)
		warrenctl_set(&w->vhost, fl->vhost);
	if (fl->format)
		warrenctl_set(&w->format, fl->format);
	if (fl->path_prefix)
		warrenctl_set(&w->path_prefix, fl->path_prefix);
	if (fl->sort)
		warrenctl_set(&w->sort, fl->sort);
	if (fl->timeout && (w->timeout = atoi(fl->timeout)) <= 0)
		return warrenctl_usage_error(NULL, "bad request timeout '%s'", fl->timeout);
	if (fl->depth && (w->depth = atoi(fl->depth)) <= 0)
		return warrenctl_usage_error(NULL, "bad depth '%s'", fl->depth);
	if (fl->limit) {
		char *end;
		w->limit = strtol(fl->limit, &end, 10);
		if (*end || w->limit <= 0)
			return warrenctl_usage_error("dlq", "bad --limit '%s'", fl->limit);
	}
	w->verbose = !fl->quiet;
	w->sort_reverse = fl->sort_reverse;
	w->to_original = fl->to_original;
	if (!warrenctl_format_is_known(w->format))
		return warrenctl_usage_error(NULL, "format '%s' not recognised", w->format);
	return 0;
}

static void warrenctl_free(struct warrenctl *w)
{
	warrenctl_http_free(w->http);
	free(w->host);
	free(w->port);
	free(w->username);
	free(w->password);
	free(w->vhost);
	free(w->declare_vhost);
	free(w->path_prefix);
	free(w->format);
	free(w->sort);
	free(w->args);
}

int main(int argc, char **argv)
{
	struct warrenctl w = { 0 };
	struct warrenctl_flags fl = { 0 };
	char **words = calloc((size_t)argc + 1, sizeof *words);
	int word_count = 0, rc = WARRENCTL_EXIT_OK;
	bool options_done = false;
	const char *verb;

	if (!words)
		return WARRENCTL_EXIT_UNREACHABLE;
	for (int i = 1; i < argc; i++) {
		if (!options_done && strcmp(argv[i], "--") == 0)
			options_done = true;
		else if (!options_done && argv[i][0] == '-' && argv[i][1] != '\0')
			rc = warrenctl_parse_option(&fl, argc, argv, &i);
		else
			words[word_count++] = argv[i];
		if (rc != 0)
			goto out;
	}
	if (fl.version) {
		printf("warrenctl %s\n", WARREN_VERSION);
		goto out;
	}
	if (fl.help || word_count == 0) {
		if (!fl.help) {
			rc = warrenctl_usage_error(NULL, "no subcommand given");
			goto out;
		}
		if (word_count == 0 || !warrenctl_help_print(words[0]))
			warrenctl_help_print(NULL);
		goto out;
	}
	verb = words[0];
	if (strcmp(verb, "help") == 0) {
		if (word_count > 2) {
			rc = warrenctl_usage_error("help", "help takes at most one topic");
		} else if (!warrenctl_help_print(word_count == 2 ? words[1] : NULL)) {
			rc = warrenctl_usage_error("subcommands", "no help topic '%s'", words[1]);
		}
		goto out;
	}
	if ((rc = warrenctl_configure(&w, &fl)) != 0)
		goto out;
	w.args = words;
	words = NULL;
	w.args++;
	w.arg_count = word_count - 1;
	if (strcmp(verb, "dlq") == 0)
		rc = warrenctl_dlq_run(&w);
	else if (strcmp(verb, "shovel") == 0)
		rc = warrenctl_shovel_run(&w);
	else
		rc = warrenctl_verbs_run(&w, verb);
	w.args--;
out:
	free(words);
	warrenctl_free(&w);
	return rc;
}
