/* tests/unit/broker/test_config.c: broker/config.c, the warren.conf parser (rabbitmq.conf's format
 * and key names). */
#include "broker/core/config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct config cfg;
static char err[512];

static void setup(void)
{
	config_init_defaults(&cfg);
	err[0] = 0;
}

static void teardown(void)
{
	config_free(&cfg);
}

static int set(const char *key, const char *value)
{
	err[0] = 0;
	return config_set(&cfg, key, value, err, sizeof err);
}

static int load(const char *text)
{
	err[0] = 0;
	return config_load_string(&cfg, text, "warren.conf", err, sizeof err);
}

/* Writes text to a fresh temporary file; returns its path (static buffer). */
static const char *write_temp(const char *text)
{
	static char path[64];
	snprintf(path, sizeof path, "/tmp/warren-test-config-XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	size_t len = strlen(text);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

START_TEST(defaults_match_rabbitmq_and_the_brief)
{
	ck_assert_str_eq(cfg.bind, "127.0.0.1");
	ck_assert_int_eq(cfg.port, 5672);
	ck_assert_int_eq(cfg.tls_port, 0);
	ck_assert_ptr_null(cfg.tls_bind);
	ck_assert_int_eq(cfg.mgmt_port, 15672);
	ck_assert_str_eq(cfg.mgmt_bind, "127.0.0.1");
	ck_assert_int_eq(cfg.prometheus_port, 0);
	ck_assert_uint_eq(cfg.tcp_backlog, 128);
	ck_assert(cfg.tcp_nodelay);
	ck_assert_str_eq(cfg.data_dir, "./data");
	ck_assert_str_eq(cfg.default_user, "guest");
	ck_assert_str_eq(cfg.default_pass, "guest");
	ck_assert_str_eq(cfg.default_vhost, "/");
	ck_assert_str_eq(cfg.default_perm_configure, ".*");
	ck_assert_str_eq(cfg.default_perm_read, ".*");
	ck_assert_str_eq(cfg.default_perm_write, ".*");
	ck_assert(cfg.loopback_users_guest);
	ck_assert_double_eq(cfg.vm_memory_high_watermark_relative, 0.4);
	ck_assert_uint_eq(cfg.vm_memory_high_watermark_absolute, 0);
	ck_assert_uint_eq(cfg.memory_monitor_interval, 2500);
	ck_assert_uint_eq(cfg.disk_free_limit_absolute, 50000000);
	ck_assert_double_eq(cfg.disk_free_limit_relative, 0);
	ck_assert_uint_eq(cfg.heartbeat, 60);
	ck_assert_uint_eq(cfg.frame_max, 131072);
	ck_assert_uint_eq(cfg.channel_max, 2047);
	ck_assert_uint_eq(cfg.max_connections, CONFIG_UNLIMITED);
	ck_assert_uint_eq(cfg.max_message_size, 134217728);
	ck_assert_uint_eq(cfg.msg_store_file_size_limit, 67108864);
	ck_assert_uint_eq(cfg.handshake_timeout, 10000);
	ck_assert_uint_eq(cfg.ssl_handshake_timeout, 5000);
	ck_assert_uint_eq(cfg.consumer_timeout, 1800000);
	ck_assert_uint_eq(cfg.collect_statistics_interval, 5000);
	ck_assert_str_eq(cfg.log_level, "info");
	ck_assert(cfg.log_console);
	ck_assert_ptr_null(cfg.ssl_certfile);
	ck_assert_ptr_null(cfg.ssl_keyfile);
	ck_assert_ptr_null(cfg.ssl_cacertfile);
	ck_assert_str_eq(cfg.ssl_verify, "verify_none");
	ck_assert(!cfg.ssl_fail_if_no_peer_cert);
	ck_assert_uint_eq(cfg.ssl_versions, 0);
}
END_TEST

START_TEST(every_key_sets_its_field)
{
	ck_assert_int_eq(set("listeners.tcp.default", "5673"), 0);
	ck_assert_int_eq(cfg.port, 5673);
	ck_assert_str_eq(cfg.bind, "127.0.0.1");
	ck_assert_int_eq(set("listeners.ssl.default", "5671"), 0);
	ck_assert_int_eq(cfg.tls_port, 5671);
	ck_assert_int_eq(set("management.tcp.port", "15673"), 0);
	ck_assert_int_eq(cfg.mgmt_port, 15673);
	ck_assert_int_eq(set("management.tcp.ip", "0.0.0.0"), 0);
	ck_assert_str_eq(cfg.mgmt_bind, "0.0.0.0");
	ck_assert_int_eq(set("prometheus.tcp.port", "15692"), 0);
	ck_assert_int_eq(cfg.prometheus_port, 15692);
	ck_assert_int_eq(set("prometheus.tcp.ip", "::1"), 0);
	ck_assert_str_eq(cfg.prometheus_bind, "::1");
	ck_assert_int_eq(set("tcp_listen_options.backlog", "4096"), 0);
	ck_assert_uint_eq(cfg.tcp_backlog, 4096);
	ck_assert_int_eq(set("tcp_listen_options.nodelay", "false"), 0);
	ck_assert(!cfg.tcp_nodelay);
	ck_assert_int_eq(set("handshake_timeout", "2000"), 0);
	ck_assert_uint_eq(cfg.handshake_timeout, 2000);
	ck_assert_int_eq(set("ssl_handshake_timeout", "3000"), 0);
	ck_assert_uint_eq(cfg.ssl_handshake_timeout, 3000);
	ck_assert_int_eq(set("data_dir", "/var/lib/warren"), 0);
	ck_assert_str_eq(cfg.data_dir, "/var/lib/warren");
	ck_assert_int_eq(set("default_user", "admin"), 0);
	ck_assert_str_eq(cfg.default_user, "admin");
	ck_assert_int_eq(set("default_pass", "s3cr3t"), 0);
	ck_assert_str_eq(cfg.default_pass, "s3cr3t");
	ck_assert_int_eq(set("default_vhost", "prod"), 0);
	ck_assert_str_eq(cfg.default_vhost, "prod");
	ck_assert_int_eq(set("default_permissions.configure", "^amq\\.gen.*"), 0);
	ck_assert_str_eq(cfg.default_perm_configure, "^amq\\.gen.*");
	ck_assert_int_eq(set("default_permissions.read", "r.*"), 0);
	ck_assert_str_eq(cfg.default_perm_read, "r.*");
	ck_assert_int_eq(set("default_permissions.write", "w.*"), 0);
	ck_assert_str_eq(cfg.default_perm_write, "w.*");
	ck_assert_int_eq(set("loopback_users.guest", "false"), 0);
	ck_assert(!cfg.loopback_users_guest);
	ck_assert_int_eq(set("memory_monitor_interval", "1000"), 0);
	ck_assert_uint_eq(cfg.memory_monitor_interval, 1000);
	ck_assert_int_eq(set("heartbeat", "0"), 0);
	ck_assert_uint_eq(cfg.heartbeat, 0);
	ck_assert_int_eq(set("frame_max", "8192"), 0);
	ck_assert_uint_eq(cfg.frame_max, 8192);
	ck_assert_int_eq(set("channel_max", "100"), 0);
	ck_assert_uint_eq(cfg.channel_max, 100);
	ck_assert_int_eq(set("connection_max", "500"), 0);
	ck_assert_uint_eq(cfg.max_connections, 500);
	ck_assert_int_eq(set("max_message_size", "1048576"), 0);
	ck_assert_uint_eq(cfg.max_message_size, 1048576);
	ck_assert_int_eq(set("msg_store_file_size_limit", "4096"), 0);
	ck_assert_uint_eq(cfg.msg_store_file_size_limit, 4096);
	ck_assert_int_eq(set("consumer_timeout", "60000"), 0);
	ck_assert_uint_eq(cfg.consumer_timeout, 60000);
	ck_assert_int_eq(set("collect_statistics_interval", "10000"), 0);
	ck_assert_uint_eq(cfg.collect_statistics_interval, 10000);
	ck_assert_int_eq(set("log.console", "false"), 0);
	ck_assert(!cfg.log_console);
	ck_assert_int_eq(set("log.console.level", "debug"), 0);
	ck_assert_str_eq(cfg.log_level, "debug");
	ck_assert_int_eq(set("ssl_options.certfile", "/etc/warren/cert.pem"), 0);
	ck_assert_str_eq(cfg.ssl_certfile, "/etc/warren/cert.pem");
	ck_assert_int_eq(set("ssl_options.keyfile", "/etc/warren/key.pem"), 0);
	ck_assert_str_eq(cfg.ssl_keyfile, "/etc/warren/key.pem");
	ck_assert_int_eq(set("ssl_options.cacertfile", "/etc/warren/ca.pem"), 0);
	ck_assert_str_eq(cfg.ssl_cacertfile, "/etc/warren/ca.pem");
	ck_assert_int_eq(set("ssl_options.verify", "verify_peer"), 0);
	ck_assert_str_eq(cfg.ssl_verify, "verify_peer");
	ck_assert_int_eq(set("ssl_options.fail_if_no_peer_cert", "true"), 0);
	ck_assert(cfg.ssl_fail_if_no_peer_cert);
	ck_assert_int_eq(set("ssl_options.versions.1", "tlsv1.3"), 0);
	ck_assert_int_eq(set("ssl_options.versions.2", "tlsv1.2"), 0);
	ck_assert_uint_eq(cfg.ssl_versions, CONFIG_TLS_1_2 | CONFIG_TLS_1_3);
	ck_assert_int_eq(set("vm_memory_high_watermark.relative", "0.6"), 0);
	ck_assert_double_eq(cfg.vm_memory_high_watermark_relative, 0.6);
	ck_assert_double_eq(cfg.vm_memory_paging_ratio, 0.5);
	ck_assert_int_eq(set("vm_memory_high_watermark_paging_ratio", "0.75"), 0);
	ck_assert_double_eq(cfg.vm_memory_paging_ratio, 0.75);
	ck_assert_int_eq(set("vm_memory_high_watermark_paging_ratio", "1.5"), -1);
	ck_assert_int_eq(set("disk_free_limit.absolute", "1GB"), 0);
	ck_assert_uint_eq(cfg.disk_free_limit_absolute, 1000000000);
}
END_TEST

START_TEST(a_listener_may_name_an_interface)
{
	ck_assert_int_eq(set("listeners.tcp.default", "0.0.0.0:5674"), 0);
	ck_assert_str_eq(cfg.bind, "0.0.0.0");
	ck_assert_int_eq(cfg.port, 5674);
	ck_assert_int_eq(set("listeners.tcp.default", "::1:5675"), 0);
	ck_assert_str_eq(cfg.bind, "::1");
	ck_assert_int_eq(cfg.port, 5675);
	ck_assert_int_eq(set("listeners.tcp.default", "[::]:5676"), 0);
	ck_assert_str_eq(cfg.bind, "::");
	ck_assert_int_eq(set("listeners.ssl.default", "127.0.0.2:5671"), 0);
	ck_assert_str_eq(cfg.tls_bind, "127.0.0.2");
	ck_assert_int_eq(cfg.tls_port, 5671);
	ck_assert_int_eq(set("listeners.ssl.default", "5672"), 0);
	ck_assert_ptr_null(cfg.tls_bind);
}
END_TEST

START_TEST(listeners_and_loopback_users_accept_none)
{
	ck_assert_int_eq(set("listeners.tcp", "none"), 0);
	ck_assert_int_eq(cfg.port, 0);
	set("listeners.ssl.default", "5671");
	ck_assert_int_eq(set("listeners.ssl", "none"), 0);
	ck_assert_int_eq(cfg.tls_port, 0);
	ck_assert_int_eq(set("loopback_users", "none"), 0);
	ck_assert(!cfg.loopback_users_guest);
	ck_assert_int_eq(set("listeners.tcp", "all"), -1);
	ck_assert_str_eq(err, "invalid value 'all' for key 'listeners.tcp': expected none");
}
END_TEST

START_TEST(infinity_means_no_limit_for_connection_max_and_no_handshake_timeout)
{
	set("connection_max", "10");
	ck_assert_int_eq(set("connection_max", "infinity"), 0);
	ck_assert_uint_eq(cfg.max_connections, CONFIG_UNLIMITED);
	ck_assert_int_eq(set("connection_max", "0"), 0); /* RabbitMQ: no connections at all */
	ck_assert_uint_eq(cfg.max_connections, 0);
	ck_assert_int_eq(set("handshake_timeout", "infinity"), 0);
	ck_assert_uint_eq(cfg.handshake_timeout, 0);
	ck_assert_int_eq(set("handshake_timeout", "0"), -1);
}
END_TEST

START_TEST(memory_sizes_take_rabbitmq_unit_suffixes)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} ok[] = {
		{ "1024", 1024 }, { "0", 0 }, { "01MB", 1000000 },
		{ "1k", 1024 }, { "1K", 1024 }, { "1kiB", 1024 }, { "1KiB", 1024 },
		{ "1kib", 1024 }, { "1KIB", 1024 },
		{ "1kB", 1000 }, { "1KB", 1000 }, { "1kb", 1000 }, { "1Kb", 1000 },
		{ "2m", 2097152 }, { "2M", 2097152 }, { "2MiB", 2097152 }, { "2mib", 2097152 },
		{ "2MIB", 2097152 },
		{ "2MB", 2000000 }, { "2mb", 2000000 }, { "2Mb", 2000000 },
		{ "1g", 1073741824 }, { "1G", 1073741824 }, { "1GiB", 1073741824 },
		{ "1gib", 1073741824 }, { "1GIB", 1073741824 },
		{ "1GB", 1000000000 }, { "1gb", 1000000000 }, { "1Gb", 1000000000 },
		{ "16GiB", 17179869184ull },
	};
	static const char *const bad[] = {
		"", "1T", "1TB", "1.5GB", " 1GB", "1 GB", "-1", "1b", "1B", "1mB", "1gB", "1Mib",
		"GB", "1GBB", "99999999999999999999", "18446744073709551615GB",
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		uint64_t v = 12345;
		ck_assert_msg(config_parse_memory(ok[i].text, &v) == 0, "'%s' rejected",
			      ok[i].text);
		ck_assert_msg(v == ok[i].bytes, "'%s' gave %llu", ok[i].text,
			      (unsigned long long)v);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint64_t v = 12345;
		ck_assert_msg(config_parse_memory(bad[i], &v) == -1, "'%s' accepted", bad[i]);
		ck_assert_uint_eq(v, 12345);
	}
}
END_TEST

START_TEST(absolute_memory_and_disk_limits_take_units)
{
	ck_assert_int_eq(set("vm_memory_high_watermark.absolute", "2GB"), 0);
	ck_assert_uint_eq(cfg.vm_memory_high_watermark_absolute, 2000000000);
	ck_assert_int_eq(set("vm_memory_high_watermark.absolute", "1073741824"), 0);
	ck_assert_uint_eq(cfg.vm_memory_high_watermark_absolute, 1073741824);
	ck_assert_int_eq(set("disk_free_limit.absolute", "50MB"), 0);
	ck_assert_uint_eq(cfg.disk_free_limit_absolute, 50000000);
	ck_assert_int_eq(set("disk_free_limit.absolute", "1GiB"), 0);
	ck_assert_uint_eq(cfg.disk_free_limit_absolute, 1073741824);
	ck_assert_int_eq(set("disk_free_limit.absolute", "lots"), -1);
	ck_assert_uint_eq(cfg.disk_free_limit_absolute, 1073741824);
}
END_TEST

START_TEST(a_relative_limit_wins_over_an_absolute_one_in_either_order)
{
	ck_assert_int_eq(load("vm_memory_high_watermark.absolute = 1GB\n"
			      "vm_memory_high_watermark.relative = 0.5\n"
			      "disk_free_limit.relative = 1.5\n"
			      "disk_free_limit.absolute = 2GB\n"), 0);
	ck_assert_double_eq(cfg.vm_memory_high_watermark_relative, 0.5);
	ck_assert_uint_eq(cfg.vm_memory_high_watermark_absolute, 0);
	ck_assert_double_eq(cfg.disk_free_limit_relative, 1.5);
	ck_assert_uint_eq(cfg.disk_free_limit_absolute, 0);
}
END_TEST

START_TEST(frame_max_takes_cuttlefish_bytesize_suffixes)
{
	ck_assert_int_eq(set("frame_max", "128KB"), 0);
	ck_assert_uint_eq(cfg.frame_max, 131072);
	ck_assert_int_eq(set("frame_max", "1mb"), 0);
	ck_assert_uint_eq(cfg.frame_max, 1048576);
	ck_assert_int_eq(set("frame_max", "0"), 0);
	ck_assert_uint_eq(cfg.frame_max, 0);
	ck_assert_int_eq(set("frame_max", "4095"), -1);
	ck_assert_int_eq(set("frame_max", "4GB"), -1);
	ck_assert_int_eq(set("frame_max", "1k"), -1);
	ck_assert_uint_eq(cfg.frame_max, 0);
}
END_TEST

START_TEST(bad_numbers_are_rejected_and_leave_the_setting_alone)
{
	static const struct {
		const char *key, *value;
	} bad[] = {
		{ "listeners.tcp.default", "-1" },
		{ "listeners.tcp.default", "65536" },
		{ "listeners.tcp.default", "five" },
		{ "listeners.tcp.default", "1.2.3.4:" },
		{ "listeners.tcp.default", ":5672" },
		{ "listeners.tcp.default", "1.2.3.4:99999" },
		{ "management.tcp.port", "-15672" },
		{ "management.tcp.port", "0x10" },
		{ "heartbeat", "65536" },
		{ "heartbeat", "60s" },
		{ "heartbeat", " 60" },
		{ "heartbeat", "6 0" },
		{ "channel_max", "70000" },
		{ "max_message_size", "0" },
		{ "max_message_size", "536870913" },
		{ "msg_store_file_size_limit", "4095" },
		{ "msg_store_file_size_limit", "1073741825" },
		{ "consumer_timeout", "0" },
		{ "connection_max", "-1" },
		{ "connection_max", "unlimited" },
		{ "vm_memory_high_watermark.relative", "-0.1" },
		{ "vm_memory_high_watermark.relative", "forty" },
		{ "vm_memory_high_watermark.relative", "nan" },
		{ "vm_memory_high_watermark.relative", "inf" },
		{ "vm_memory_high_watermark.relative", "0.4x" },
		{ "tcp_listen_options.backlog", "0" },
		{ "loopback_users.guest", "yes" },
		{ "loopback_users.guest", "True" },
		{ "log.console.level", "verbose" },
		{ "ssl_options.verify", "verify_maybe" },
		{ "ssl_options.versions.1", "sslv3" },
		{ "heartbeat", "" },
	};
	struct config before;
	memcpy(&before, &cfg, sizeof before);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(set(bad[i].key, bad[i].value) == -1, "%s = '%s' accepted", bad[i].key,
			      bad[i].value);
		ck_assert_msg(strstr(err, bad[i].key) != NULL, "error '%s' does not name the key",
			      err);
		ck_assert_msg(memcmp(&before, &cfg, sizeof cfg) == 0, "%s = '%s' changed config",
			      bad[i].key, bad[i].value);
	}
}
END_TEST

START_TEST(error_messages_say_what_was_expected)
{
	ck_assert_int_eq(set("heartbeat", "abc"), -1);
	ck_assert_str_eq(err, "invalid value 'abc' for key 'heartbeat': expected an integer in "
			      "0..65535");
	ck_assert_int_eq(set("log.console.level", "loud"), -1);
	ck_assert_str_eq(err, "invalid value 'loud' for key 'log.console.level': expected one of "
			      "debug, info, notice, warning, error, critical, alert, emergency, "
			      "none");
	ck_assert_int_eq(set("listeners.tcp.default", "-1"), -1);
	ck_assert_str_eq(err, "invalid value '-1' for key 'listeners.tcp.default': expected a port "
			      "in 0..65535 or IP:PORT");
}
END_TEST

START_TEST(integers_may_carry_a_plus_sign_and_leading_zeros_as_in_cuttlefish)
{
	ck_assert_int_eq(set("heartbeat", "+30"), 0);
	ck_assert_uint_eq(cfg.heartbeat, 30);
	ck_assert_int_eq(set("heartbeat", "007"), 0);
	ck_assert_uint_eq(cfg.heartbeat, 7);
}
END_TEST

START_TEST(an_unknown_key_is_an_error_naming_it)
{
	ck_assert_int_eq(set("foo.bar", "1"), -1);
	ck_assert_str_eq(err, "unknown key 'foo.bar'");
	ck_assert_int_eq(set("listeners.tcp.other", "5673"), -1);
	ck_assert_int_eq(set("ssl_options.versions.", "tlsv1.2"), -1);
	ck_assert_int_eq(set("Heartbeat", "1"), -1); /* keys are case-sensitive */
}
END_TEST

START_TEST(a_file_error_names_the_file_line_and_key)
{
	ck_assert_int_eq(load("# Warren\n"
			      "\n"
			      "heartbeat = 30\n"
			      "   \n"
			      "channel_max = 10\n"
			      "# foo.bar = 1 is commented out\n"
			      "foo.bar = 2\n"
			      "frame_max = 8192\n"), -1);
	ck_assert_str_eq(err, "warren.conf:7: unknown key 'foo.bar'");
	ck_assert_uint_eq(cfg.heartbeat, 30); /* lines before the error stay applied */
	ck_assert_uint_eq(cfg.frame_max, 131072);

	ck_assert_int_eq(load("heartbeat = 30\nlisteners.tcp.default = -5\n"), -1);
	ck_assert_str_eq(err, "warren.conf:2: invalid value '-5' for key 'listeners.tcp.default': "
			      "expected a port in 0..65535 or IP:PORT");
}
END_TEST

START_TEST(comments_blank_lines_and_whitespace_are_skipped)
{
	ck_assert_int_eq(load("# comment\n"
			      "  # indented comment\n"
			      "\t\n"
			      "\n"
			      "heartbeat=15\n"
			      "  channel_max   =\t 64  \n"
			      "default_user = bob # trailing comment, as cuttlefish does\n"
			      "default_pass = p#ss\n"
			      "data_dir = /srv/warren data\r\n"
			      "log.console.level = warning"), 0);
	ck_assert_uint_eq(cfg.heartbeat, 15);
	ck_assert_uint_eq(cfg.channel_max, 64);
	ck_assert_str_eq(cfg.default_user, "bob");
	ck_assert_str_eq(cfg.default_pass, "p"); /* '#' starts a comment even inside a value */
	ck_assert_str_eq(cfg.data_dir, "/srv/warren data");
	ck_assert_str_eq(cfg.log_level, "warning");
}
END_TEST

START_TEST(quotes_are_part_of_the_value_as_in_rabbitmq)
{
	ck_assert_int_eq(load("default_user = \"bob\"\n"), 0);
	ck_assert_str_eq(cfg.default_user, "\"bob\"");
}
END_TEST

START_TEST(malformed_lines_are_errors)
{
	ck_assert_int_eq(load("heartbeat 30\n"), -1);
	ck_assert_str_eq(err, "warren.conf:1: expected 'key = value', got 'heartbeat 30'");
	ck_assert_int_eq(load("\nheartbeat =\n"), -1);
	ck_assert_str_eq(err, "warren.conf:2: missing value for key 'heartbeat'");
	ck_assert_int_eq(load("heart beat = 1\n"), -1);
	ck_assert_str_eq(err, "warren.conf:1: malformed key 'heart beat'");
	ck_assert_int_eq(load(" = 1\n"), -1);
	ck_assert_str_eq(err, "warren.conf:1: malformed key ''");
}
END_TEST

START_TEST(a_later_line_overrides_an_earlier_one)
{
	ck_assert_int_eq(load("heartbeat = 10\nheartbeat = 20\n"), 0);
	ck_assert_uint_eq(cfg.heartbeat, 20);
}
END_TEST

START_TEST(load_file_reads_a_real_file)
{
	const char *path = write_temp("listeners.tcp.default = 0.0.0.0:5680\n"
				      "management.tcp.port = 0\n"
				      "vm_memory_high_watermark.absolute = 512MiB\n");
	ck_assert_int_eq(config_load_file(&cfg, path, err, sizeof err), 0);
	ck_assert_str_eq(cfg.bind, "0.0.0.0");
	ck_assert_int_eq(cfg.port, 5680);
	ck_assert_int_eq(cfg.mgmt_port, 0);
	ck_assert_uint_eq(cfg.vm_memory_high_watermark_absolute, 536870912);
	unlink(path);

	path = write_temp("heartbeat = 1\n\nbogus.key = 3\n");
	ck_assert_int_eq(config_load_file(&cfg, path, err, sizeof err), -1);
	char want[128];
	snprintf(want, sizeof want, "%s:3: unknown key 'bogus.key'", path);
	ck_assert_str_eq(err, want);
	unlink(path);
}
END_TEST

START_TEST(load_file_reports_a_missing_file)
{
	ck_assert_int_eq(config_load_file(&cfg, "/nonexistent/warren.conf", err, sizeof err), -1);
	ck_assert_str_eq(err, "/nonexistent/warren.conf: No such file or directory");
}
END_TEST

START_TEST(load_file_handles_very_long_lines)
{
	size_t n = 100000;
	char *text = malloc(n + 64);
	strcpy(text, "default_pass = ");
	memset(text + strlen(text), 'x', n);
	strcpy(text + 15 + n, "\n");
	const char *path = write_temp(text);
	ck_assert_int_eq(config_load_file(&cfg, path, err, sizeof err), 0);
	ck_assert_uint_eq(strlen(cfg.default_pass), n);
	unlink(path);
	free(text);
}
END_TEST

START_TEST(set_arg_splits_key_and_value_at_the_first_equals)
{
	ck_assert_int_eq(config_set_arg(&cfg, "default_pass=a=b", err, sizeof err), 0);
	ck_assert_str_eq(cfg.default_pass, "a=b");
	ck_assert_int_eq(config_set_arg(&cfg, " heartbeat = 5 ", err, sizeof err), 0);
	ck_assert_uint_eq(cfg.heartbeat, 5);
	ck_assert_int_eq(config_set_arg(&cfg, "heartbeat", err, sizeof err), -1);
	ck_assert_str_eq(err, "expected KEY=VALUE, got 'heartbeat'");
	ck_assert_int_eq(config_set_arg(&cfg, "nope=1", err, sizeof err), -1);
	ck_assert_str_eq(err, "unknown key 'nope'");
}
END_TEST

START_TEST(the_shipped_example_file_loads_cleanly)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/warren.conf.example", WARREN_SOURCE_ROOT);
	ck_assert_msg(config_load_file(&cfg, path, err, sizeof err) == 0, "%s", err);
}
END_TEST

/* The example is installed as /etc/warren/warren.conf: a line left uncommented must not change
 * anything, so every uncommented line holds the default (data_dir aside: the installed copy
 * points it at /var/lib/warren). */
START_TEST(the_shipped_example_sets_every_key_it_names_to_its_default)
{
	struct config defaults, example;
	char path[4096];
	char **def_strings[] = {
		&defaults.bind, &defaults.tls_bind, &defaults.mgmt_bind, &defaults.prometheus_bind,
		&defaults.default_user, &defaults.default_pass, &defaults.default_vhost,
		&defaults.default_perm_configure, &defaults.default_perm_read,
		&defaults.default_perm_write, &defaults.log_level, &defaults.ssl_certfile,
		&defaults.ssl_keyfile, &defaults.ssl_cacertfile, &defaults.ssl_verify,
		&defaults.mgmt_ssl_certfile, &defaults.mgmt_ssl_keyfile,
		&defaults.mgmt_ssl_cacertfile,
		&defaults.log_file, &defaults.log_file_level, &defaults.log_dir,
		&defaults.load_definitions, &defaults.data_dir,
		&defaults.cluster_etcd_endpoints, &defaults.cluster_etcd_prefix,
		&defaults.cluster_node_name, &defaults.cluster_bind,
		&defaults.cluster_advertised_address, &defaults.cluster_password,
	};
	char **ex_strings[] = {
		&example.bind, &example.tls_bind, &example.mgmt_bind, &example.prometheus_bind,
		&example.default_user, &example.default_pass, &example.default_vhost,
		&example.default_perm_configure, &example.default_perm_read,
		&example.default_perm_write, &example.log_level, &example.ssl_certfile,
		&example.ssl_keyfile, &example.ssl_cacertfile, &example.ssl_verify,
		&example.mgmt_ssl_certfile, &example.mgmt_ssl_keyfile, &example.mgmt_ssl_cacertfile,
		&example.log_file, &example.log_file_level, &example.log_dir,
		&example.load_definitions, &example.data_dir,
		&example.cluster_etcd_endpoints, &example.cluster_etcd_prefix,
		&example.cluster_node_name, &example.cluster_bind,
		&example.cluster_advertised_address, &example.cluster_password,
	};

	config_init_defaults(&defaults);
	config_init_defaults(&example);
	snprintf(path, sizeof path, "%s/warren.conf.example", WARREN_SOURCE_ROOT);
	ck_assert_msg(config_load_file(&example, path, err, sizeof err) == 0, "%s", err);
	ck_assert_str_eq(example.data_dir, "./data");
	for (size_t i = 0; i < sizeof def_strings / sizeof def_strings[0]; i++) {
		const char *d = *def_strings[i], *e = *ex_strings[i];
		ck_assert_msg((!d && !e) || (d && e && strcmp(d, e) == 0),
			      "string %zu: '%s' vs '%s'", i, d ? d : "(null)", e ? e : "(null)");
		/* same text: make the pointers equal too, so memcmp compares the rest */
		free(*ex_strings[i]);
		*ex_strings[i] = *def_strings[i];
	}
	/* which of a relative/absolute pair a file named is bookkeeping, not a setting */
	example.vm_memory_relative_given = defaults.vm_memory_relative_given;
	example.disk_free_relative_given = defaults.disk_free_relative_given;
	ck_assert_msg(memcmp(&defaults, &example, sizeof defaults) == 0,
		      "an uncommented line of warren.conf.example is not the default");
	config_free(&defaults);
}
END_TEST

START_TEST(config_free_is_safe_twice)
{
	config_free(&cfg);
	config_free(&cfg);
	config_free(NULL);
}
END_TEST
START_TEST(management_ssl_keys_set_the_https_listener)
{
	ck_assert_int_eq(cfg.mgmt_tls_port, 0);
	ck_assert_ptr_null(cfg.mgmt_ssl_certfile);
	ck_assert_int_eq(load("management.ssl.port = 15671\n"
			      "management.ssl.certfile = /etc/warren/mgmt.pem\n"
			      "management.ssl.keyfile = /etc/warren/mgmt.key\n"
			      "management.ssl.cacertfile = /etc/warren/ca.pem\n"),
			 0);
	ck_assert_int_eq(cfg.mgmt_tls_port, 15671);
	ck_assert_str_eq(cfg.mgmt_ssl_certfile, "/etc/warren/mgmt.pem");
	ck_assert_str_eq(cfg.mgmt_ssl_keyfile, "/etc/warren/mgmt.key");
	ck_assert_str_eq(cfg.mgmt_ssl_cacertfile, "/etc/warren/ca.pem");
	ck_assert_int_eq(set("management.ssl.port", "70000"), -1);
	ck_assert_int_eq(cfg.mgmt_tls_port, 15671);
}
END_TEST

START_TEST(log_file_dir_levels_and_load_definitions_take_rabbitmq_keys)
{
	ck_assert_ptr_null(cfg.log_file);
	ck_assert_str_eq(cfg.log_file_level, "info");
	ck_assert_ptr_null(cfg.log_dir);
	ck_assert_ptr_null(cfg.load_definitions);
	ck_assert_int_eq(load("log.dir = /var/log/warren\n"
			      "log.file = warren.log\n"
			      "log.file.level = debug\n"
			      "load_definitions = /etc/warren/definitions.json\n"),
			 0);
	ck_assert_str_eq(cfg.log_dir, "/var/log/warren");
	ck_assert_str_eq(cfg.log_file, "warren.log");
	ck_assert_str_eq(cfg.log_file_level, "debug");
	ck_assert_str_eq(cfg.load_definitions, "/etc/warren/definitions.json");
	/* log.file = false turns the file off, as in rabbitmq.conf */
	ck_assert_int_eq(set("log.file", "false"), 0);
	ck_assert_ptr_null(cfg.log_file);
	ck_assert_int_eq(set("log.file.level", "loud"), -1);
	ck_assert_str_eq(err, "invalid value 'loud' for key 'log.file.level': expected one of "
			      "debug, info, notice, warning, error, critical, alert, "
			      "emergency, none");
	ck_assert_str_eq(cfg.log_file_level, "debug");
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, defaults_match_rabbitmq_and_the_brief);
	tcase_add_test(tc, every_key_sets_its_field);
	tcase_add_test(tc, a_listener_may_name_an_interface);
	tcase_add_test(tc, listeners_and_loopback_users_accept_none);
	tcase_add_test(tc, infinity_means_no_limit_for_connection_max_and_no_handshake_timeout);
	tcase_add_test(tc, memory_sizes_take_rabbitmq_unit_suffixes);
	tcase_add_test(tc, absolute_memory_and_disk_limits_take_units);
	tcase_add_test(tc, a_relative_limit_wins_over_an_absolute_one_in_either_order);
	tcase_add_test(tc, frame_max_takes_cuttlefish_bytesize_suffixes);
	tcase_add_test(tc, bad_numbers_are_rejected_and_leave_the_setting_alone);
	tcase_add_test(tc, error_messages_say_what_was_expected);
	tcase_add_test(tc, integers_may_carry_a_plus_sign_and_leading_zeros_as_in_cuttlefish);
	tcase_add_test(tc, an_unknown_key_is_an_error_naming_it);
	tcase_add_test(tc, a_file_error_names_the_file_line_and_key);
	tcase_add_test(tc, comments_blank_lines_and_whitespace_are_skipped);
	tcase_add_test(tc, quotes_are_part_of_the_value_as_in_rabbitmq);
	tcase_add_test(tc, malformed_lines_are_errors);
	tcase_add_test(tc, a_later_line_overrides_an_earlier_one);
	tcase_add_test(tc, load_file_reads_a_real_file);
	tcase_add_test(tc, load_file_reports_a_missing_file);
	tcase_add_test(tc, load_file_handles_very_long_lines);
	tcase_add_test(tc, set_arg_splits_key_and_value_at_the_first_equals);
	tcase_add_test(tc, the_shipped_example_file_loads_cleanly);
	tcase_add_test(tc, the_shipped_example_sets_every_key_it_names_to_its_default);
	tcase_add_test(tc, config_free_is_safe_twice);
	tcase_add_test(tc, management_ssl_keys_set_the_https_listener);
	tcase_add_test(tc, log_file_dir_levels_and_load_definitions_take_rabbitmq_keys);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
