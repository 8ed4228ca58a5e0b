/* mgmt/api/mgmt_list.c: list replies as RabbitMQ shapes them: ?sort= and sort_reverse, ?page= and
 * page_size (the paged object), ?name= with a page (a case-insensitive substring, or a regular
 * expression with use_regex=true), ?columns= (dotted names become nested objects). Lists are
 * sorted by vhost then name by default; for that order only the items of the requested page are
 * rendered, which keeps a page of 10,000 queues cheap.
 *
 * A regular expression is a client's program run over every name on the loop, so it is
 * bounded: at most MGMT_REGEX_LEN_MAX bytes, no back-references and at most MGMT_REGEX_SIZE_MAX
 * atoms once bounded repetitions are copied out (glibc's matcher takes seconds per name for
 * "(a*)*\\1b" or "(a{1,255}){1,255}b"), and matching stops with a 400 after
 * MGMT_REGEX_BUDGET_MS. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/core/broker.h"
#include "broker/core/time.h"
#include "broker/vhost/vhost.h"
#include "mgmt/api/mgmt_internal.h"

#define MGMT_PAGE_SIZE_DEFAULT 100
#define MGMT_PAGE_SIZE_MAX 500
#define MGMT_REGEX_LEN_MAX 256
#define MGMT_REGEX_SIZE_MAX 512
#define MGMT_REGEX_DEPTH_MAX 32
#define MGMT_REGEX_BUDGET_MS 250

void mgmt_items_add(struct mgmt_items *it, const char *vhost, const char *name, size_t name_len,
		    void *obj)
{
	if (it->count == it->cap) {
		size_t cap = it->cap ? it->cap * 2 : 64;
		struct mgmt_item *v = realloc(it->v, cap * sizeof *v);
		if (!v)
			return;
		it->v = v;
		it->cap = cap;
	}
	it->v[it->count++] = (struct mgmt_item){ vhost ? vhost : "", name, name_len, obj };
}

void mgmt_items_free(struct mgmt_items *it)
{
	free(it->v);
	it->v = NULL;
	it->count = it->cap = 0;
}

static int mgmt_item_cmp(const void *a, const void *b)
{
	const struct mgmt_item *x = a, *y = b;
	int c = strcmp(x->vhost, y->vhost);
	if (c)
		return c;
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	c = memcmp(x->name, y->name, n);
	if (c)
		return c;
	return x->name_len < y->name_len ? -1 : x->name_len > y->name_len;
}

static int mgmt_item_cmp_name(const void *a, const void *b)
{
	const struct mgmt_item *x = a, *y = b;
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = memcmp(x->name, y->name, n);
	if (c)
		return c;
	c = x->name_len < y->name_len ? -1 : x->name_len > y->name_len;
	return c ? c : strcmp(x->vhost, y->vhost);
}

/* Skips a bracket expression starting at p ('['); returns its closing ']' or NULL. */
static const char *mgmt_regex_bracket_end(const char *p)
{
	p++;
	if (*p == '^')
		p++;
	if (*p == ']')
		p++; /* a leading ']' is literal */
	for (; *p && *p != ']'; p++) {
		if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
			char close = p[1];
			for (p += 2; *p && !(*p == close && p[1] == ']'); p++)
				;
			if (!*p)
				return NULL;
			p++;
		}
	}
	return *p ? p : NULL;
}

/* Why an extended regular expression is refused before it is compiled, or NULL. Its size is
 * counted in atoms as glibc expands it: x{m,n} is n copies of x, nested ones multiply. */
static const char *mgmt_regex_refusal(const char *p)
{
	uint64_t size[MGMT_REGEX_DEPTH_MAX + 1] = { 0 }; /* per open group */
	uint64_t last = 0; /* the atom a repetition applies to */
	int depth = 0;

	if (strlen(p) > MGMT_REGEX_LEN_MAX)
		return "the expression is longer than 256 bytes";
	for (; *p; p++) {
		switch (*p) {
		case '\\':
			if (p[1] >= '1' && p[1] <= '9')
				return "back-references are not supported";
			if (p[1])
				p++;
			last = 1;
			break;
		case '[': {
			const char *end = mgmt_regex_bracket_end(p);
			if (!end)
				return NULL; /* regcomp refuses it */
			p = end;
			last = 1;
			break;
		}
		case '(':
			if (depth == MGMT_REGEX_DEPTH_MAX)
				return "the expression nests too deeply";
			size[++depth] = 0;
			last = 0;
			continue;
		case ')':
			last = depth ? size[depth--] + 1 : 1;
			break;
		case '|':
		case '*':
		case '+':
		case '?':
			size[depth]++;
			if (*p == '|')
				last = 0;
			continue;
		case '{': {
			char *end;
			unsigned long m = strtoul(p + 1, &end, 10), n = m;
			if (*end == ',')
				n = end[1] == '}' ? m + 1 : strtoul(end + 1, &end, 10);
			else if (*end != '}')
				return NULL; /* regcomp decides */
			end = strchr(p, '}');
			if (!end)
				return NULL;
			p = end;
			n = n > m ? n : m;
			if (n > MGMT_REGEX_SIZE_MAX)
				n = MGMT_REGEX_SIZE_MAX + 1;
			size[depth] += last * (n ? n - 1 : 0); /* copies beyond the one counted */
			last *= n ? n : 1;
			if (size[depth] > MGMT_REGEX_SIZE_MAX)
				return "the expression is too complex";
			continue;
		}
		default:
			last = 1;
			break;
		}
		size[depth] += last;
		if (size[depth] > MGMT_REGEX_SIZE_MAX)
			return "the expression is too complex";
	}
	return NULL;
}

static json_t *mgmt_json_path(json_t *obj, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof buf, "%s", path);
	json_t *cur = obj;
	for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok && cur;
	     tok = strtok_r(NULL, ".", &save))
		cur = json_is_object(cur) ? json_object_get(cur, tok) : NULL;
	return cur;
}

static int mgmt_json_cmp(json_t *a, json_t *b)
{
	if (!a || !b)
		return (a != NULL) - (b != NULL);
	if (json_is_number(a) && json_is_number(b)) {
		double x = json_number_value(a), y = json_number_value(b);
		return (x > y) - (x < y);
	}
	if (json_is_string(a) && json_is_string(b))
		return strcmp(json_string_value(a), json_string_value(b));
	if (json_is_boolean(a) && json_is_boolean(b))
		return json_is_true(a) - json_is_true(b);
	return (int)json_typeof(a) - (int)json_typeof(b);
}

struct mgmt_rendered {
	json_t *obj;
	json_t *key;
	size_t index; /* vhost/name order, the tiebreak */
	bool reverse;
};

static int mgmt_rendered_cmp(const void *a, const void *b)
{
	const struct mgmt_rendered *x = a, *y = b;
	int c = mgmt_json_cmp(x->key, y->key);
	if (x->reverse)
		c = -c;
	return c ? c : (x->index > y->index) - (x->index < y->index);
}

static json_t *mgmt_project(json_t *obj, const char *columns)
{
	json_t *out = json_object();
	char *cols = strdup(columns);
	if (!cols)
		return out;
	for (char *save = NULL, *col = strtok_r(cols, ",", &save); col;
	     col = strtok_r(NULL, ",", &save)) {
		json_t *v = mgmt_json_path(obj, col);
		if (!v)
			continue;
		/* "a.b.c": nest objects along the way */
		json_t *dst = out;
		char *dot, *part = col;
		while ((dot = strchr(part, '.')) != NULL) {
			*dot = '\0';
			json_t *next = json_object_get(dst, part);
			if (!json_is_object(next)) {
				next = json_object();
				json_object_set_new(dst, part, next);
			}
			dst = next;
			part = dot + 1;
		}
		json_object_set(dst, part, v);
	}
	free(cols);
	return out;
}

static json_t *mgmt_apply_columns(struct mgmt_req *r, json_t *obj)
{
	const char *columns = mgmt_query(r, "columns");
	if (!columns || !*columns || !obj)
		return obj;
	json_t *p = mgmt_project(obj, columns);
	json_decref(obj);
	return p;
}

void mgmt_object_reply(struct mgmt_req *r, json_t *obj)
{
	mgmt_reply_json(r, 200, mgmt_apply_columns(r, obj));
}

static bool mgmt_parse_pos(const char *s, long *out)
{
	char *end;
	if (!s || !*s)
		return false;
	long v = strtol(s, &end, 10);
	if (*end || v < 0 || v > 1000000000L)
		return false;
	*out = v;
	return true;
}

void mgmt_list_reply(struct mgmt_req *r, struct mgmt_items *items, mgmt_render_fn render)
{
	const char *page_s = mgmt_query(r, "page"), *size_s = mgmt_query(r, "page_size");
	const char *name = mgmt_query(r, "name"), *sort = mgmt_query(r, "sort");
	bool reverse = mgmt_query_true(r, "sort_reverse");
	bool use_regex = mgmt_query_true(r, "use_regex");
	long page = 0, page_size = MGMT_PAGE_SIZE_DEFAULT;
	struct mgmt_rendered *rendered = NULL;
	regex_t re;
	bool have_re = false;
	size_t total = items->count, kept = 0;
	json_t *arr = NULL;

	if (page_s) {
		if (!mgmt_parse_pos(page_s, &page) || (size_s && !mgmt_parse_pos(size_s, &page_size))) {
			mgmt_reply_bad(r, "Pagination parameters are invalid");
			goto out;
		}
		if (page < 1 || page_size < 1 || page_size > MGMT_PAGE_SIZE_MAX) {
			mgmt_reply_error(r, 400, "invalid_pagination_parameters",
					 "Invalid pagination parameters: page number %ld, page size "
					 "%ld",
					 page, page_size);
			goto out;
		}
	}
	/* As RabbitMQ, name filters only a paged list, and ignores case. */
	if (page_s && name && *name) {
		if (use_regex) {
			const char *why = mgmt_regex_refusal(name);
			if (why) {
				mgmt_reply_bad(r, "Pagination parameters are invalid: %s", why);
				goto out;
			}
			if (regcomp(&re, name, REG_EXTENDED | REG_NOSUB | REG_ICASE) != 0) {
				mgmt_reply_bad(r, "Pagination parameters are invalid");
				goto out;
			}
			have_re = true;
		}
		char buf[1024];
		uint64_t deadline = time_now_ms() + MGMT_REGEX_BUDGET_MS;
		for (size_t i = 0; i < items->count; i++) {
			struct mgmt_item *it = &items->v[i];
			size_t n = it->name_len < sizeof buf - 1 ? it->name_len : sizeof buf - 1;
			memcpy(buf, it->name, n);
			buf[n] = '\0';
			bool match = have_re ? regexec(&re, buf, 0, NULL, 0) == 0 :
					       strcasestr(buf, name) != NULL;
			if (match)
				items->v[kept++] = *it;
			if (have_re && time_now_ms() > deadline) {
				mgmt_reply_bad(r, "Pagination parameters are invalid: matching the "
						  "expression took more than %d ms",
					       MGMT_REGEX_BUDGET_MS);
				goto out;
			}
		}
		items->count = kept;
	}
	size_t n = items->count;
	bool cheap = !sort || !*sort || strcmp(sort, "name") == 0 || strcmp(sort, "vhost") == 0;
	if (cheap) {
		if (n > 1) /* items->v is NULL when the list is empty */
			qsort(items->v, n, sizeof *items->v,
			      sort && strcmp(sort, "name") == 0 ? mgmt_item_cmp_name :
								  mgmt_item_cmp);
		if (reverse)
			for (size_t i = 0; i < n / 2; i++) {
				struct mgmt_item t = items->v[i];
				items->v[i] = items->v[n - 1 - i];
				items->v[n - 1 - i] = t;
			}
	} else {
		rendered = calloc(n ? n : 1, sizeof *rendered);
		if (!rendered) {
			mgmt_reply_error(r, 500, "internal_error", "out of memory");
			goto out;
		}
		if (n > 1)
			qsort(items->v, n, sizeof *items->v, mgmt_item_cmp);
		for (size_t i = 0; i < n; i++) {
			rendered[i].obj = render(r, items->v[i].obj);
			rendered[i].key = mgmt_json_path(rendered[i].obj, sort);
			rendered[i].index = i;
			rendered[i].reverse = reverse;
		}
		qsort(rendered, n, sizeof *rendered, mgmt_rendered_cmp);
	}
	size_t from = 0, to = n;
	if (page_s) {
		size_t page_count = (n + (size_t)page_size - 1) / (size_t)page_size;
		if ((size_t)page > page_count && !(page == 1 && n == 0)) {
			mgmt_reply_error(r, 400, "page_out_of_range",
					 "Page out of range, page: %ld page size: %ld, len: %zu", page,
					 page_size, n);
			goto out;
		}
		from = (size_t)(page - 1) * (size_t)page_size;
		to = from + (size_t)page_size < n ? from + (size_t)page_size : n;
	}
	arr = json_array();
	for (size_t i = from; i < to; i++) {
		json_t *o;
		if (rendered) {
			o = rendered[i].obj;
			rendered[i].obj = NULL;
		} else {
			o = render(r, items->v[i].obj);
		}
		if (o)
			json_array_append_new(arr, mgmt_apply_columns(r, o));
	}
	if (page_s) {
		json_t *p = json_object();
		json_object_set_new(p, "filtered_count", json_integer((json_int_t)n));
		json_object_set_new(p, "item_count", json_integer((json_int_t)json_array_size(arr)));
		json_object_set_new(p, "items", arr);
		json_object_set_new(p, "page", json_integer(page));
		json_object_set_new(p, "page_count",
				    json_integer((json_int_t)((n + (size_t)page_size - 1) /
							      (size_t)page_size)));
		json_object_set_new(p, "page_size", json_integer(page_size));
		json_object_set_new(p, "total_count", json_integer((json_int_t)total));
		arr = p;
	}
	mgmt_reply_json(r, 200, arr);
out:
	if (rendered)
		for (size_t i = 0; i < items->count; i++)
			json_decref(rendered[i].obj);
	free(rendered);
	if (have_re)
		regfree(&re);
	mgmt_items_free(items);
}

void mgmt_list_vhost_objects(struct mgmt_req *r, struct vhost *only, size_t map_offset,
			     mgmt_render_fn render)
{
	struct mgmt_items items = { 0 };
	size_t i, j;
	for (struct strmap_entry *ve = strmap_first(&r->b->vhosts, &i); ve;
	     ve = strmap_next(&r->b->vhosts, ve, &i)) {
		struct vhost *v = ve->value;
		if ((only && v != only) || !mgmt_can_see_vhost(r, v->name))
			continue;
		struct strmap *map = (struct strmap *)((char *)v + map_offset);
		for (struct strmap_entry *e = strmap_first(map, &j); e; e = strmap_next(map, e, &j))
			mgmt_items_add(&items, v->name, e->key, e->key_len, e->value);
	}
	mgmt_list_reply(r, &items, render);
}

struct vhost *mgmt_vhost_objects_route(struct mgmt_req *r, size_t map_offset,
				       mgmt_render_fn render)
{
	struct vhost *v = NULL;
	if (r->nseg > 2 && !(v = mgmt_vhost_arg(r, 2)))
		return NULL;
	if (r->nseg > 3)
		return v;
	if (r->method != EVHTTP_REQ_GET)
		mgmt_reply_method_not_allowed(r);
	else
		mgmt_list_vhost_objects(r, v, map_offset, render);
	return NULL;
}

bool mgmt_body_bool(struct mgmt_req *r, json_t *body, const char *key, bool *out)
{
	json_t *v = json_object_get(body, key);
	if (!v)
		return true;
	if (!json_is_boolean(v)) {
		mgmt_reply_bad(r, "'%s' must be a boolean", key);
		return false;
	}
	*out = json_is_true(v);
	return true;
}
