/* warrenctl_shovel: dynamic shovels, the verbs rabbitmqctl has for them (shovel_status,
 * delete_shovel, restart_shovel) plus declaring one, over the management API:
 *   shovel list                      GET /api/shovels[/{vhost}]
 *   shovel status name=N             GET /api/shovels/vhost/{vhost}/{name}
 *   shovel declare name=N KEY=VALUE  PUT /api/parameters/shovel/{vhost}/{name} {"value": {...}}
 *   shovel delete name=N             DELETE /api/parameters/shovel/{vhost}/{name}
 *   shovel restart name=N            DELETE /api/shovels/vhost/{vhost}/{name}/restart
 * declare takes the shovel's own keys (src-uri=..., dest-queue=..., ack-mode=...): a value that
 * reads as JSON (a number, true/false, a list, an object) is sent as that, anything else as a
 * string, so prefetch-count=100 is the number and src-uri=amqp://h a string. */
#include "warrenctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warrenctl_encoding.h"
#include "warrenctl_format.h"

static const char *const shovel_cols[] = { "name", "vhost", "state", "src_uri", "dest_uri",
					   "reason" };

/* The name=N argument among args[1..] (the others are the shovel's keys). */
static const char *shovel_name_arg(const struct warrenctl *w)
{
	for (int i = 1; i < w->arg_count; i++)
		if (strncmp(w->args[i], "name=", 5) == 0)
			return w->args[i] + 5;
	return NULL;
}

/* prefix + "/" + vhost + "/" + name + suffix, percent-encoded; NULL out of memory. */
static char *shovel_uri(const struct warrenctl *w, const char *prefix, const char *name,
			const char *suffix)
{
	char *vh = warrenctl_encoding_url(warrenctl_target_vhost(w));
	char *n = warrenctl_encoding_url(name);
	char *uri = NULL;
	if (vh && n && (uri = malloc(strlen(prefix) + strlen(vh) + strlen(n) + strlen(suffix) + 4)))
		sprintf(uri, "%s/%s/%s%s", prefix, vh, n, suffix);
	free(vh);
	free(n);
	return uri;
}

static int shovel_print(struct warrenctl *w, const char *uri)
{
	json_t *items = NULL;
	char *raw = NULL;
	int rc = warrenctl_call(w, "GET", uri, NULL, &items, &raw);
	if (rc == 0) {
		struct warrenctl_format_opts o = { w->format, w->depth, w->verbose, NULL, w->sort,
						   w->sort_reverse };
		bool cols = w->depth == 1 && !strstr(w->format, "json");
		warrenctl_format_print(items, raw, shovel_cols, cols ? 6 : 0, &o);
	}
	json_decref(items);
	free(raw);
	return rc;
}

static int shovel_declare(struct warrenctl *w, const char *name)
{
	json_t *value = json_object(), *body = json_object();
	int rc = 0;
	for (int i = 1; i < w->arg_count && rc == 0; i++) {
		const char *eq = strchr(w->args[i], '=');
		if (!eq) {
			rc = warrenctl_usage_error("shovel", "argument \"%s\" is not in the name=value "
							     "format", w->args[i]);
			break;
		}
		if (strncmp(w->args[i], "name=", 5) == 0)
			continue;
		char key[128];
		snprintf(key, sizeof key, "%.*s", (int)(eq - w->args[i]), w->args[i]);
		json_error_t err;
		json_t *v = json_loads(eq + 1, JSON_DECODE_ANY, &err);
		if (!v || json_is_string(v) || json_is_null(v)) {
			json_decref(v);
			v = json_string(eq + 1);
		}
		if (json_is_array(json_object_get(value, key)))
			json_array_append_new(json_object_get(value, key), v);
		else if (json_object_get(value, key)) /* a key given twice: a list (src-uri) */
			json_object_set_new(value, key,
					    json_pack("[Oo]", json_object_get(value, key), v));
		else
			json_object_set_new(value, key, v);
	}
	json_object_set_new(body, "value", value);
	char *uri = rc ? NULL : shovel_uri(w, "/parameters/shovel", name, "");
	char *text = rc ? NULL : json_dumps(body, JSON_COMPACT);
	if (rc == 0 && (!uri || !text))
		rc = WARRENCTL_EXIT_UNREACHABLE;
	if (rc == 0)
		rc = warrenctl_call(w, "PUT", uri, text, NULL, NULL);
	if (rc == 0 && w->verbose)
		printf("shovel declared\n");
	free(uri);
	free(text);
	json_decref(body);
	return rc;
}

int warrenctl_shovel_run(struct warrenctl *w)
{
	const char *action = w->arg_count ? w->args[0] : NULL;
	const char *name = shovel_name_arg(w);
	char *uri = NULL;
	int rc;

	if (!action)
		return warrenctl_usage_error("shovel", "shovel needs an action: list, status, "
						       "declare, delete or restart");
	if (strcmp(action, "list") == 0) {
		char *vh = w->vhost ? warrenctl_encoding_url(w->vhost) : NULL;
		char path[1024];
		snprintf(path, sizeof path, "/shovels%s%s", vh ? "/" : "", vh ? vh : "");
		free(vh);
		return shovel_print(w, path);
	}
	if (!name)
		return warrenctl_usage_error("shovel", "shovel %s needs name=...", action);
	if (strcmp(action, "declare") == 0)
		return shovel_declare(w, name);
	if (strcmp(action, "status") == 0) {
		if (!(uri = shovel_uri(w, "/shovels/vhost", name, "")))
			return WARRENCTL_EXIT_UNREACHABLE;
		rc = shovel_print(w, uri);
	} else if (strcmp(action, "delete") == 0 || strcmp(action, "restart") == 0) {
		bool restart = action[0] == 'r';
		uri = restart ? shovel_uri(w, "/shovels/vhost", name, "/restart") :
				shovel_uri(w, "/parameters/shovel", name, "");
		if (!uri)
			return WARRENCTL_EXIT_UNREACHABLE;
		rc = warrenctl_call(w, "DELETE", uri, NULL, NULL, NULL);
		if (rc == 0 && w->verbose)
			printf("shovel %s\n", restart ? "restarted" : "deleted");
	} else {
		return warrenctl_usage_error("shovel", "unknown shovel action '%s'", action);
	}
	free(uri);
	return rc;
}
