/* amqp/wire.h: big-endian cursor helpers shared by every decoder and encoder in amqp/.
 * Callers check remaining length before calling a getter; these never bound-check. */
#ifndef AMQP_WIRE_H
#define AMQP_WIRE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline uint16_t amqp_get_u16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t amqp_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t amqp_get_u64(const uint8_t *p)
{
	return (uint64_t)amqp_get_u32(p) << 32 | amqp_get_u32(p + 4);
}

static inline void amqp_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void amqp_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void amqp_put_u64(uint8_t *p, uint64_t v)
{
	amqp_put_u32(p, (uint32_t)(v >> 32));
	amqp_put_u32(p + 4, (uint32_t)v);
}

/* A byte string borrowed from a frame or owned elsewhere; never NUL-terminated. */
struct amqp_str {
	const uint8_t *ptr;
	uint32_t len;
};

#define AMQP_STR_ARGS(s) (int)(s).len, (const char *)(s).ptr
#define AMQP_STR_LIT(lit) ((struct amqp_str){ (const uint8_t *)(lit), sizeof(lit) - 1 })

static inline struct amqp_str amqp_str_c(const char *s)
{
	return (struct amqp_str){ (const uint8_t *)s, (uint32_t)strlen(s) };
}

static inline int amqp_str_eq(struct amqp_str a, struct amqp_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static inline int amqp_str_eq_c(struct amqp_str a, const char *s)
{
	return amqp_str_eq(a, amqp_str_c(s));
}

/* Copies src (borrowed from a frame, say) into *dst, owned and NUL-terminated, for keeping.
 * 0, or -1 out of memory with *dst unchanged. */
static inline int amqp_str_dup(struct amqp_str *dst, struct amqp_str src)
{
	uint8_t *p = malloc((size_t)src.len + 1);
	if (!p)
		return -1;
	if (src.len)
		memcpy(p, src.ptr, src.len);
	p[src.len] = '\0';
	*dst = (struct amqp_str){ p, src.len };
	return 0;
}

/* Frees what amqp_str_dup made and empties s. */
static inline void amqp_str_free(struct amqp_str *s)
{
	free((void *)s->ptr);
	*s = (struct amqp_str){ 0 };
}

#endif
