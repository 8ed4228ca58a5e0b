/* warrenctl_help: --help and `help <topic>` texts. The name=value synopses come from the verb
 * tables in warrenctl_verbs.c, so they cannot drift from what the parser accepts. */
#include "warrenctl.h"

#include <stdio.h>
#include <string.h>

static const char help_options[] =
	"Usage: warrenctl [options] subcommand [name=value ...]\n"
	"\n"
	"Administer Warren (or RabbitMQ) through the management HTTP API, with rabbitmqadmin's\n"
	"(v1) command syntax.\n"
	"\n"
	"Options (anywhere on the line):\n"
	"  -c, --config FILE        config file [default: ~/.warrenctl.conf]\n"
	"  -N, --node NODE          section of the config file [default: default]\n"
	"  -H, --host HOST          connect to host HOST [default: localhost]\n"
	"  -P, --port PORT          connect to port PORT [default: 15672]\n"
	"  -u, --username USERNAME  [default: guest]\n"
	"  -p, --password PASSWORD  [default: guest]\n"
	"  -V, --vhost VHOST        [default: all vhosts for list, '/' for declare]\n"
	"  -U, --base-uri URI       http://user:pass@host:port\n"
	"      --path-prefix PATH   URI path before /api\n"
	"  -f, --format FORMAT      table, tsv, json, raw_json, pretty_json, long, kvp, bash\n"
	"                           [default: table]\n"
	"  -S, --sort KEY           sort listings by KEY;  -R, --sort-reverse\n"
	"  -d, --depth N            nesting shown when no column is named [default: 1]\n"
	"  -t, --request-timeout S  [default: 120]\n"
	"  -q, --quiet              no status messages or table headers\n"
	"      --version            print the version\n"
	"  -h, --help               this text; `warrenctl SUBCOMMAND --help` for one subcommand\n"
	"\n"
	"Environment: WARRENCTL_HOST, WARRENCTL_PORT, WARRENCTL_USERNAME, WARRENCTL_PASSWORD,\n"
	"WARRENCTL_VHOST, WARRENCTL_FORMAT, WARRENCTL_CONFIG, WARRENCTL_NODE. Flags beat the\n"
	"environment, which beats the config file.\n"
	"\n"
	"Exit status: 0 ok, 1 the API answered with an error, 2 usage error,\n"
	"3 server unreachable.\n"
	"\n"
	"More help:\n"
	"  warrenctl help subcommands   every subcommand\n"
	"  warrenctl help config        the configuration file\n"
	"  warrenctl help SUBCOMMAND    list, show, declare, delete, close, purge, publish, get,\n"
	"                               export, import, dlq, stream, shovel\n";

static const char help_config[] =
	"Configuration file (rabbitmqadmin's ini format)\n"
	"\n"
	"  warrenctl reads ~/.warrenctl.conf, or the file given with -c FILE, and uses the\n"
	"  section named with -N NODE (default: [default]). Keys: hostname, port, username,\n"
	"  password, vhost, declare_vhost, path_prefix, format, request_timeout, depth; other\n"
	"  keys are ignored. A missing -c file or -N section is a usage error (exit 2).\n"
	"\n"
	"  [default]\n"
	"  hostname = localhost\n"
	"  port = 15672\n"
	"  username = guest\n"
	"  password = guest\n"
	"\n"
	"  [staging]\n"
	"  hostname = 10.0.0.7\n"
	"  vhost = orders\n"
	"\n"
	"  warrenctl -c warrenctl.conf -N staging list queues\n";

static const char help_shovel[] =
	"Dynamic shovels (what rabbitmqctl shovel_status, delete_shovel and restart_shovel do)\n"
	"\n"
	"  shovel list                       every shovel (of -V VHOST): name, state, URIs,\n"
	"                                    and the reason of a terminated one\n"
	"  shovel status name=N              one shovel\n"
	"  shovel declare name=N src-uri=URI dest-uri=URI (src-queue=Q | src-exchange=X\n"
	"         [src-exchange-key=K]) [dest-queue=Q | dest-exchange=X [dest-exchange-key=K]]\n"
	"         [ack-mode=on-confirm|on-publish|no-ack] [prefetch-count=N]\n"
	"         [src-delete-after=never|queue-length|N] [reconnect-delay=S]\n"
	"         [add-forward-headers=true] [dest-add-timestamp-header=true]\n"
	"                                    PUT /api/parameters/shovel/V/N; a value that reads as\n"
	"                                    JSON is sent as JSON; src-uri=... twice is a list\n"
	"  shovel delete name=N              DELETE /api/parameters/shovel/V/N\n"
	"  shovel restart name=N             DELETE /api/shovels/vhost/V/N/restart\n";

static const char help_dlq[] =
	"Dead-letter queues\n"
	"\n"
	"  dlq inspect QUEUE [--limit N]\n"
	"      Reads up to N messages (default: all) with ackmode=ack_requeue_true, so nothing is\n"
	"      removed, and summarises their x-death headers: one row per source queue, reason\n"
	"      and exchange, with the number of messages, total deaths and the first and last\n"
	"      death times. Accepts -f like list.\n"
	"  dlq replay QUEUE [--to-original] [--limit N]\n"
	"      Moves messages out of QUEUE, each exactly once. Default: back to the queue they\n"
	"      died in (default exchange, routing key = that queue). --to-original: to the\n"
	"      exchange and routing keys recorded in x-death. Uses\n"
	"      POST /api/queues/V/Q/dlq-replay when the server has it, otherwise a get +\n"
	"      publish loop (see docs/cli.md for what that loop can and cannot guarantee).\n";

static const char help_stream[] =
	"Streams (Warren)\n"
	"\n"
	"  stream read name=STREAM [offset=first] [count=10] [encoding=auto] [truncate=N]\n"
	"      Reads COUNT messages of STREAM from OFFSET without a consumer and without\n"
	"      changing anything (what kafka-console-consumer --from-beginning is for). OFFSET:\n"
	"      first, last (the start of the newest chunk), next, an offset number, an interval\n"
	"      back from now (10m, 2h, 7D), or @SECONDS since the epoch. Accepts -f like list.\n";

static const struct {
	const char *topic;
	const char *text;
} help_simple[] = {
	{ "show", "  show overview [<column>...]\n" },
	{ "export", "  export FILE     write the definitions (of -V VHOST, or all) to FILE ('-' = "
		    "stdout)\n" },
	{ "import", "  import FILE     upload definitions from FILE ('-' = stdin) to the server "
		    "(of -V VHOST, or all)\n" },
	{ "help", "  help [subcommands|config|SUBCOMMAND]\n" },
};

static const char help_publish_note[] =
	"\n  Without payload=..., the payload is read from standard input.";
static const char help_delete_note[] =
	"\n  delete binding without properties_key=...: warrenctl looks the key up\n"
	"  (matching routing_key=... when given), else uses ~.";

static const char *const help_verbs[] = {
	"declare", "delete", "close", "purge", "publish", "get", "list", NULL,
};

static void help_subcommands(void)
{
	puts("Usage: warrenctl [options] subcommand\n\nDisplay\n=======");
	warrenctl_verbs_usage("list");
	fputs(help_simple[0].text, stdout);
	puts("\nObject manipulation\n===================");
	for (int i = 0; i < 4; i++)
		warrenctl_verbs_usage(help_verbs[i]);
	puts("\nBroker definitions\n==================");
	fputs(help_simple[1].text, stdout);
	fputs(help_simple[2].text, stdout);
	puts("\nPublishing and consuming\n========================");
	warrenctl_verbs_usage("publish");
	warrenctl_verbs_usage("get");
	puts("\n  * If payload is not given on publish, standard input is used.\n"
	     "  * If payload_file is given on get, the payload is written there; count must be 1.");
	puts("\nDead letters\n============");
	puts("  dlq inspect QUEUE [--limit N]\n  dlq replay QUEUE [--to-original] [--limit N]");
	puts("\nStreams\n=======");
	warrenctl_verbs_usage("stream");
	puts("\nShovels\n=======");
	puts("  shovel list | status name=N | declare name=N KEY=VALUE... | delete name=N |\n"
	     "  restart name=N                    (warrenctl help shovel)");
}

bool warrenctl_help_print(const char *topic)
{
	if (!topic) {
		fputs(help_options, stdout);
		return true;
	}
	if (strcmp(topic, "subcommands") == 0) {
		help_subcommands();
		return true;
	}
	if (strcmp(topic, "config") == 0) {
		fputs(help_config, stdout);
		return true;
	}
	if (strcmp(topic, "dlq") == 0) {
		fputs(help_dlq, stdout);
		return true;
	}
	if (strcmp(topic, "stream") == 0) {
		fputs(help_stream, stdout);
		return true;
	}
	if (strcmp(topic, "shovel") == 0) {
		fputs(help_shovel, stdout);
		return true;
	}
	for (size_t i = 0; i < sizeof help_simple / sizeof help_simple[0]; i++) {
		if (strcmp(topic, help_simple[i].topic) == 0) {
			fputs(help_simple[i].text, stdout);
			return true;
		}
	}
	for (int i = 0; help_verbs[i]; i++) {
		if (strcmp(topic, help_verbs[i]) == 0) {
			warrenctl_verbs_usage(topic);
			if (strcmp(topic, "publish") == 0)
				puts(help_publish_note);
			if (strcmp(topic, "delete") == 0)
				puts(help_delete_note);
			return true;
		}
	}
	return false;
}
