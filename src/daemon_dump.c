/*
 * daemon_dump.c: the dump request (proto.h): the whole state at one
 * sequence number, read a page at a time from a consistent cut.
 *
 * The cut (store_cut_take) holds references to every record: writers wait
 * only while they are copied, and go on at once; the cut's records stay
 * as they were at its sequence number however long the client takes.  A
 * cut lives until its last page is read, or until it has been idle for
 * PROTO_DUMP_IDLE_S (a client that went away), and at most PROTO_DUMP_CUTS
 * live at once: each pins the values that writers replace meanwhile.
 *
 * Pages are written by hand rather than through jansson: a value is sent
 * as a JSON string holding its stored text byte for byte (the digest is
 * over those bytes, so a backup restored from them is exact), and a page of
 * ten thousand keys is built without a JSON tree per key.  Everything here
 * runs on the event loop's thread.
 */
#include "daemon.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* A page ends after this many bytes of items (and at least one item). */
#define DAEMON_DUMP_PAGE_BYTES (1024u * 1024u)

struct daemon_dump_cut {
	uint64_t id;
	struct store_cut *cut;
	size_t count;
	uint64_t seq;
	uint64_t used_ms;                 /* CLOCK_MONOTONIC of the last page */
	struct daemon_dump_cut *next;
};

struct daemon_dump_buf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void daemon_dump_reserve(struct daemon_dump_buf *b, size_t more)
{
	if (b->failed || b->len + more + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 65536;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (p == NULL) {
		b->failed = true;
		return;
	}
	b->p = p;
	b->cap = cap;
}

static void daemon_dump_add(struct daemon_dump_buf *b, const char *s, size_t len)
{
	daemon_dump_reserve(b, len);
	if (b->failed)
		return;
	memcpy(b->p + b->len, s, len);
	b->len += len;
	b->p[b->len] = '\0';
}

static void daemon_dump_addf(struct daemon_dump_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void daemon_dump_addf(struct daemon_dump_buf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->failed = true;
		return;
	}
	daemon_dump_add(b, tmp, (size_t)n);
}

/* s as a JSON string.  Keys and values are valid UTF-8 (the store checked
 * them), so only quotes, backslashes and control characters need escapes. */
static void daemon_dump_string(struct daemon_dump_buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	daemon_dump_reserve(b, len * 2 + 2);
	daemon_dump_add(b, "\"", 1);
	size_t run = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		daemon_dump_add(b, s + run, i - run);
		run = i + 1;
		char esc[7] = { '\\', 0 };
		size_t n = 2;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		}
		daemon_dump_add(b, esc, n);
	}
	daemon_dump_add(b, s + run, len - run);
	daemon_dump_add(b, "\"", 1);
}

static void daemon_dump_release(struct daemon_dump_cut **pp)
{
	struct daemon_dump_cut *c = *pp;

	*pp = c->next;
	store_cut_free(c->cut);
	free(c);
}

void daemon_dump_tick(struct daemon *d, uint64_t now)
{
	for (struct daemon_dump_cut **pp = &d->dump_cuts; *pp != NULL;) {
		if (now - (*pp)->used_ms >= PROTO_DUMP_IDLE_S * 1000u) {
			log_info("dump cut %" PRIu64 " at seq %" PRIu64 " idle for %u s: released",
			    (*pp)->id, (*pp)->seq, PROTO_DUMP_IDLE_S);
			daemon_dump_release(pp);
		} else {
			pp = &(*pp)->next;
		}
	}
}

void daemon_dump_free(struct daemon *d)
{
	while (d->dump_cuts != NULL)
		daemon_dump_release(&d->dump_cuts);
}

/* A new cut, or NULL with the error already sent. */
static struct daemon_dump_cut *daemon_dump_take(struct daemon *d, uint64_t id,
    struct store_cut_info *info)
{
	struct store_error err = { 0, "" };
	unsigned live = 0;

	for (struct daemon_dump_cut *c = d->dump_cuts; c != NULL; c = c->next)
		live++;
	if (live >= PROTO_DUMP_CUTS) {
		char msg[160];
		snprintf(msg, sizeof(msg), "%u dumps are already being read from %s; try again when one ends",
		    live, d->cfg->host);
		control_reply_error(d->ctl, id, PROTO_E_UNAVAILABLE, msg, NULL, -1);
		return NULL;
	}
	struct daemon_dump_cut *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		control_reply_error(d->ctl, id, PROTO_E_INTERNAL, "out of memory", NULL, -1);
		return NULL;
	}
	uint64_t t0 = daemon_now_ms();
	int rc = store_cut_take(d->st, &c->cut, info, &err);
	if (rc < 0) {
		free(c);
		log_warnx("dump: %s", err.msg);
		control_reply_error(d->ctl, id, rc == -STORE_EDIGEST ? PROTO_E_UNAVAILABLE :
		    PROTO_E_INTERNAL, err.msg, NULL, -1);
		return NULL;
	}
	c->id = ++d->dump_next_id;
	c->count = store_cut_count(c->cut);
	c->seq = info->seq;
	c->next = d->dump_cuts;
	d->dump_cuts = c;
	log_info("dump cut %" PRIu64 ": %zu keys at seq %" PRIu64 ", taken in %" PRIu64 " ms", c->id,
	    c->count, c->seq, daemon_now_ms() - t0);
	return c;
}

void daemon_dump_request(struct daemon *d, uint64_t id, const struct proto_request *req)
{
	struct daemon_dump_buf b = { NULL, 0, 0, false };
	struct store_cut_info info;
	struct daemon_dump_cut *c, **pp = NULL;
	size_t from = 0;

	if (req->cut < 0) {
		c = daemon_dump_take(d, id, &info);
		if (c == NULL)
			return;
		pp = &d->dump_cuts;
	} else {
		for (pp = &d->dump_cuts; *pp != NULL && (*pp)->id != (uint64_t)req->cut;)
			pp = &(*pp)->next;
		c = *pp;
		if (c == NULL) {
			char msg[128];
			snprintf(msg, sizeof(msg), "dump cut %" PRId64 " is not kept (read to its end, or idle for %u s)",
			    req->cut, PROTO_DUMP_IDLE_S);
			control_reply_error(d->ctl, id, PROTO_E_NOT_FOUND, msg, NULL, -1);
			return;
		}
		if ((uint64_t)req->from > c->count) {
			char msg[128];
			snprintf(msg, sizeof(msg), "dump cut %" PRId64 " holds %zu keys: from %" PRId64 " is past its end",
			    req->cut, c->count, req->from);
			control_reply_error(d->ctl, id, PROTO_E_INVALID, msg, NULL, -1);
			return;
		}
		from = (size_t)req->from;
	}
	c->used_ms = daemon_now_ms();

	daemon_dump_addf(&b, "{\"ok\":true,\"cut\":%" PRIu64, c->id);
	if (req->cut < 0) {
		daemon_dump_add(&b, ",\"group\":", 9);
		daemon_dump_string(&b, info.group, strlen(info.group));
		daemon_dump_addf(&b, ",\"seq\":%" PRIu64 ",\"epoch\":%" PRIu64 ",\"digest\":\"%016" PRIx64
		    "\",\"count\":%zu", info.seq, info.epoch, info.digest, c->count);
	}
	daemon_dump_add(&b, ",\"items\":[", 10);
	size_t i = from, start_len = 0;
	for (; i < c->count && i - from < req->limit; i++) {
		const char *key, *value;
		size_t key_len, value_len;
		uint64_t version;

		if (i > from && b.len - start_len >= DAEMON_DUMP_PAGE_BYTES)
			break;
		if (i == from)
			start_len = b.len;
		store_cut_entry(c->cut, i, &key, &key_len, &value, &value_len, &version);
		daemon_dump_add(&b, i > from ? ",[" : "[", i > from ? 2 : 1);
		daemon_dump_string(&b, key, key_len);
		daemon_dump_addf(&b, ",%" PRIu64 ",", version);
		daemon_dump_string(&b, value, value_len);
		daemon_dump_add(&b, "]", 1);
	}
	daemon_dump_add(&b, "]", 1);
	if (i < c->count)
		daemon_dump_addf(&b, ",\"next\":%zu", i);
	daemon_dump_add(&b, "}\n", 2);
	if (i >= c->count)
		daemon_dump_release(pp);    /* read to its end */
	if (b.failed) {
		free(b.p);
		control_reply_error(d->ctl, id, PROTO_E_INTERNAL, "out of memory building a dump page",
		    NULL, -1);
		return;
	}
	control_reply(d->ctl, id, b.p);
}
