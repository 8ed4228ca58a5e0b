/* tests/fuzz/fuzz_method.c: amqp_method_decode over an arbitrary method frame payload. What
 * decodes must re-encode, decode again to the same method and re-encode to the same bytes;
 * decoded tables must iterate without error. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "amqp/methods_gen.h"
#include "amqp/table.h"
#include "broker/core/bug.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk_table(struct amqp_table t)
{
	struct amqp_table_iter it;
	struct amqp_str key;
	struct amqp_value v;
	char text[64];
	int rc;

	amqp_table_iter_init(&it, t);
	while ((rc = amqp_table_next(&it, &key, &v)) == 1)
		(void)amqp_value_format(&v, text, sizeof text);
	WARREN_CHECK(rc == 0); /* validated during decode */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t once[1 << 17], twice[1 << 17];
	struct amqp_method m, again;
	const struct amqp_method_desc *d;
	ssize_t n1, n2;

	if (amqp_method_decode(&m, data, size) != AMQP_DECODE_OK)
		return 0;
	d = amqp_method_desc_find(m.id);
	WARREN_CHECK(d != NULL);
	WARREN_CHECK(amqp_method_name(m.id) != NULL);
	for (unsigned i = 0; i < d->field_count; i++) {
		if (d->fields[i].type == AMQP_FIELD_TABLE)
			walk_table(*(const struct amqp_table *)(const void *)
					   ((const uint8_t *)&m.u + d->fields[i].offset));
	}
	n1 = amqp_method_encode(&m, once, sizeof once);
	/* only unused bits of a bit octet can differ from the input */
	WARREN_CHECK(n1 == (ssize_t)size);
	WARREN_CHECK(amqp_method_decode(&again, once, (size_t)n1) == AMQP_DECODE_OK);
	n2 = amqp_method_encode(&again, twice, sizeof twice);
	WARREN_CHECK(n2 == n1 && memcmp(once, twice, (size_t)n1) == 0);
	return 0;
}
