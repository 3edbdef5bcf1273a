/*
 * t_libssfm.c: the client library (src/libssfm.c) against a fake daemon in
 * this process: the real control socket server (src/control.c) with a
 * dispatcher that keeps a small sorted table in memory.  A unit test of the
 * client: what each call sends, how each reply and error maps to the API.
 */
#include "control.h"
#include "ssfm.h"
#include "tap.h"
#include "testutil.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum fake_mode { FAKE_ACTIVE, FAKE_STANDBY, FAKE_SILENT, FAKE_GARBAGE };

struct entry {
	char *key;
	char *value;
	uint64_t version;
};

struct fake {
	struct control *ctl;
	pthread_t thread;
	atomic_bool stop;
	atomic_int mode;
	struct entry *table;
	size_t n, cap;
	uint64_t seq;
	char last_reqid[64];
};

static struct fake fake;

static size_t fake_find(const char *key, bool *found)
{
	size_t lo = 0, hi = fake.n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(fake.table[mid].key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < fake.n && strcmp(fake.table[lo].key, key) == 0;
	return lo;
}

static char *fake_write(struct proto_request *req)
{
	bool found;
	size_t at = fake_find(req->key, &found);
	uint64_t current = found ? fake.table[at].version : 0;

	if (fake.mode == FAKE_STANDBY)
		return proto_reply_error(PROTO_E_NOT_ACTIVE, "this host is a standby", "hostb", -1);
	if (req->expect >= 0 && (uint64_t)req->expect != current)
		return proto_reply_error(PROTO_E_CONFLICT, "version differs", NULL, (int64_t)current);
	if (req->op == PROTO_OP_DEL) {
		if (!found)
			return proto_reply_error(PROTO_E_NOT_FOUND, "no such key", NULL, -1);
		free(fake.table[at].key);
		free(fake.table[at].value);
		memmove(&fake.table[at], &fake.table[at + 1], (fake.n - at - 1) * sizeof(struct entry));
		fake.n--;
		return proto_reply_ok(json_pack("{s:I}", "version", (json_int_t)++fake.seq));
	}
	if (req->id)
		snprintf(fake.last_reqid, sizeof(fake.last_reqid), "%s", req->id);
	if (!found) {
		if (fake.n == fake.cap) {
			fake.cap = fake.cap ? fake.cap * 2 : 64;
			fake.table = realloc(fake.table, fake.cap * sizeof(struct entry));
		}
		memmove(&fake.table[at + 1], &fake.table[at], (fake.n - at) * sizeof(struct entry));
		fake.table[at].key = strdup(req->key);
		fake.table[at].value = NULL;
		fake.n++;
	}
	free(fake.table[at].value);
	fake.table[at].value = strdup(req->value);
	fake.table[at].version = ++fake.seq;
	return proto_reply_ok(json_pack("{s:I}", "version", (json_int_t)fake.seq));
}

static char *fake_list(struct proto_request *req)
{
	bool found;
	size_t at = req->start ? fake_find(req->start, &found) : 0;
	json_t *items = json_array();
	size_t plen = req->prefix ? strlen(req->prefix) : 0;
	json_t *reply = json_object();

	for (; at < fake.n; at++) {
		if (plen && strncmp(fake.table[at].key, req->prefix, plen) != 0) {
			if (strcmp(fake.table[at].key, req->prefix) > 0)
				break;
			continue;
		}
		if (json_array_size(items) == req->limit) {
			json_object_set_new(reply, "next", json_string(fake.table[at].key));
			break;
		}
		json_array_append_new(items, json_pack("{s:s, s:o, s:I}", "key", fake.table[at].key,
		    "value", json_loads(fake.table[at].value, JSON_DECODE_ANY, NULL),
		    "version", (json_int_t)fake.table[at].version));
	}
	json_object_set_new(reply, "items", items);
	return proto_reply_ok(reply);
}

/* Dump pages of at most 1000 keys (whatever the client asks), from the
 * table as it is (the fake keeps no cut: the test does not write meanwhile). */
static char *fake_dump(struct proto_request *req)
{
	size_t at = req->cut < 0 ? 0 : (size_t)req->from;
	json_t *items = json_array();
	json_t *reply = json_pack("{s:I}", "cut", (json_int_t)7);

	if (req->cut < 0)
		json_object_update_new(reply, json_pack("{s:s, s:I, s:I, s:s, s:I}", "group", "fake",
		    "seq", (json_int_t)fake.seq, "epoch", (json_int_t)3, "digest", "00000000000000ab",
		    "count", (json_int_t)fake.n));
	for (; at < fake.n; at++) {
		if (json_array_size(items) == 1000 || json_array_size(items) == req->limit) {
			json_object_set_new(reply, "next", json_integer((json_int_t)at));
			break;
		}
		json_array_append_new(items, json_pack("[s, I, s]", fake.table[at].key,
		    (json_int_t)fake.table[at].version, fake.table[at].value));
	}
	json_object_set_new(reply, "items", items);
	return proto_reply_ok(reply);
}

static void fake_dispatch(void *arg, uint64_t id, const struct control_peer *peer,
    struct proto_request *req)
{
	struct control *ctl = fake.ctl;
	char *line = NULL;
	bool found;

	switch (fake.mode) {
	case FAKE_SILENT:
		proto_request_free(req);
		return;     /* never answered (ended when the client goes) */
	case FAKE_GARBAGE:
		control_reply(ctl, id, strdup("this is not json\n"));
		proto_request_free(req);
		return;
	default:
		break;
	}
	switch (req->op) {
	case PROTO_OP_PUT:
	case PROTO_OP_DEL:
		line = fake_write(req);
		break;
	case PROTO_OP_GET: {
		size_t at = fake_find(req->key, &found);
		line = found ? proto_reply_ok(json_pack("{s:o, s:I}", "value",
		    json_loads(fake.table[at].value, JSON_DECODE_ANY, NULL),
		    "version", (json_int_t)fake.table[at].version))
		    : proto_reply_error(PROTO_E_NOT_FOUND, "no such key", NULL, -1);
		break;
	}
	case PROTO_OP_LIST:
		line = fake_list(req);
		break;
	case PROTO_OP_WATCH:
		/* Replays the table as puts after from, then a seal, then ends. */
		control_stream(ctl, id, proto_reply_ok(json_pack("{s:I}", "seq", (json_int_t)fake.seq)));
		for (size_t i = 0; i < fake.n; i++)
			if ((int64_t)fake.table[i].version > req->from)
				control_stream(ctl, id, proto_event_put(fake.table[i].version, 3,
				    fake.table[i].key, strlen(fake.table[i].key), fake.table[i].value,
				    strlen(fake.table[i].value)));
		control_stream(ctl, id, proto_event_seal(fake.seq + 1, 4, "hostb"));
		line = proto_event_end("shutdown");
		break;
	case PROTO_OP_STATUS:
		line = proto_reply_ok(json_pack("{s:{s:s, s:s, s:I}}", "status", "role",
		    fake.mode == FAKE_STANDBY ? "STANDBY" : "ACTIVE", "host", "hosta",
		    "applied_seq", (json_int_t)fake.seq));
		break;
	case PROTO_OP_PROMOTE:
		line = req->wait && req->timeout_ms == 1
		    ? proto_reply_error(PROTO_E_TIMEOUT, "not active after 1 ms", NULL, -1)
		    : proto_reply_ok(json_pack("{s:s}", "role", "ACTIVE"));
		break;
	case PROTO_OP_DEMOTE:
		line = proto_reply_ok(json_pack("{s:s}", "role", "STANDBY"));
		break;
	case PROTO_OP_SNAPSHOT:
		line = proto_reply_ok(json_pack("{s:I}", "seq", (json_int_t)fake.seq));
		break;
	case PROTO_OP_DUMP:
		line = fake_dump(req);
		break;
	}
	control_reply(ctl, id, line);
	proto_request_free(req);
}

struct dumped {
	bool ordered, header_first, values_ok;
	int headers;
	uint64_t count, stop_after;
	char last[64];
};

static int dump_cb(void *arg, const struct ssfm_dump_info *info, const char *key,
    const char *value, uint64_t version)
{
	struct dumped *d = arg;

	(void)info;
	if (key == NULL) {
		d->headers++;
		d->header_first = d->count == 0;
		d->values_ok = true;
		return 0;
	}
	if (d->count > 0 && strcmp(d->last, key) >= 0)
		d->ordered = false;
	snprintf(d->last, sizeof(d->last), "%s", key);
	if (strcmp(value, "true") != 0 || version == 0)
		d->values_ok = false;
	d->count++;
	return d->stop_after && d->count >= d->stop_after;
}

static void *fake_loop(void *arg)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN };

	epoll_ctl(ep, EPOLL_CTL_ADD, control_fd(fake.ctl), &ev);
	while (!atomic_load(&fake.stop)) {
		struct epoll_event got;
		if (epoll_wait(ep, &got, 1, 50) > 0)
			control_handle_events(fake.ctl);
	}
	close(ep);
	return NULL;
}

static void fake_start(const char *path)
{
	struct control_options opt = {
		.path = path, .max_connections = 16, .dispatch = fake_dispatch,
	};
	char why[256];

	atomic_store(&fake.stop, false);
	if (control_open(&opt, &fake.ctl, why, sizeof(why)) < 0)
		tap_bail("fake daemon: %s", why);
	pthread_create(&fake.thread, NULL, fake_loop, NULL);
}

static void fake_stop(void)
{
	atomic_store(&fake.stop, true);
	pthread_join(fake.thread, NULL);
	control_close(fake.ctl);
}

static void fake_free(void)
{
	for (size_t i = 0; i < fake.n; i++) {
		free(fake.table[i].key);
		free(fake.table[i].value);
	}
	free(fake.table);
}

/* ---- callbacks --------------------------------------------------------------- */

struct listed {
	long count;
	long stop_after;
	char last[64];
	bool ordered;
};

static int list_cb(void *arg, const char *key, const char *value, uint64_t version)
{
	struct listed *l = arg;

	if (l->last[0] && strcmp(l->last, key) >= 0)
		l->ordered = false;
	snprintf(l->last, sizeof(l->last), "%s", key);
	l->count++;
	return l->stop_after && l->count >= l->stop_after;
}

struct watched {
	int puts, seals, stop_after;
	char first_key[64];
	char seal_host[64];
};

static int watch_cb(void *arg, const struct ssfm_event *ev)
{
	struct watched *w = arg;

	if (ev->kind == SSFM_EVENT_PUT) {
		if (w->puts++ == 0)
			snprintf(w->first_key, sizeof(w->first_key), "%s", ev->key);
	} else if (ev->kind == SSFM_EVENT_SEAL) {
		w->seals++;
		snprintf(w->seal_host, sizeof(w->seal_host), "%s", ev->host);
	}
	return w->stop_after && w->puts >= w->stop_after;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_connect(const char *dir, const char *path)
{
	ssfm_client *c;
	char missing[256];

	snprintf(missing, sizeof(missing), "%s/none.sock", dir);
	is_int(ssfm_connect(missing, &c), SSFM_ECONNECT, "connect to a missing socket: SSFM_ECONNECT");
	ok(c && strstr(ssfm_errmsg(c), missing), "message names the path: %s", ssfm_errmsg(c));
	ssfm_close(c);

	setenv("SSFM_SOCKET", path, 1);
	is_int(ssfm_connect(NULL, &c), SSFM_OK, "connect with SSFM_SOCKET");
	ssfm_close(c);
	unsetenv("SSFM_SOCKET");
	ssfm_close(NULL);
}

static void test_kv(const char *path)
{
	ssfm_client *c;
	uint64_t version = 0;
	char *value = NULL;

	if (ssfm_connect(path, &c) != SSFM_OK)
		tap_bail("connect: %s", ssfm_errmsg(c));
	is_int(ssfm_put(c, "a", "{\"n\": 1}", SSFM_ANY_VERSION, "req-1", &version), SSFM_OK, "put");
	is_int(version, 1, "put returns the new version");
	is_str(fake.last_reqid, "req-1", "the request id reaches the daemon");
	is_int(ssfm_get(c, "a", &value, &version), SSFM_OK, "get");
	is_str(value, "{\"n\":1}", "get returns the value as JSON text");
	is_int(version, 1, "and its version");
	free(value);

	is_int(ssfm_put(c, "a", "2", 5, NULL, &version), SSFM_ECONFLICT, "put with a wrong expect: conflict");
	is_int(ssfm_error_version(c), 1, "the current version is reported");
	ok(strstr(ssfm_errmsg(c), "version differs") != NULL, "with the daemon's message");
	is_int(ssfm_put(c, "a", "2", 0, NULL, NULL), SSFM_ECONFLICT, "expect 0 on an existing key: conflict");
	is_int(ssfm_put(c, "a", "2", 1, NULL, &version), SSFM_OK, "put with the right expect");
	is_int(version, 2, "version 2");
	is_int(ssfm_error_version(c), -1, "a success clears the error");

	is_int(ssfm_put(c, "b", "{oops", SSFM_ANY_VERSION, NULL, NULL), SSFM_EINVAL, "a value that is not JSON: EINVAL");
	ok(strstr(ssfm_errmsg(c), "not JSON") != NULL, "message says so: %s", ssfm_errmsg(c));
	is_int(ssfm_put(c, "", "1", SSFM_ANY_VERSION, NULL, NULL), SSFM_EINVAL, "an empty key: EINVAL");
	is_int(ssfm_put(c, "b", "1", -7, NULL, NULL), SSFM_EINVAL, "expect below -1: EINVAL");

	is_int(ssfm_del(c, "a", SSFM_ANY_VERSION, NULL, &version), SSFM_OK, "del");
	is_int(ssfm_get(c, "a", &value, NULL), SSFM_ENOTFOUND, "get after del: not found");
	is_int(ssfm_del(c, "a", SSFM_ANY_VERSION, NULL, NULL), SSFM_ENOTFOUND, "del of a missing key: not found");

	/* 2500 keys: three pages of 1000. */
	int puts_ok = 0;
	for (int i = 0; i < 2500; i++) {
		char key[32];
		snprintf(key, sizeof(key), "%s/%05d", i % 2 ? "odd" : "even", i);
		if (ssfm_put(c, key, "true", SSFM_ANY_VERSION, NULL, NULL) == SSFM_OK)
			puts_ok++;
	}
	is_int(puts_ok, 2500, "2500 puts over one connection");
	struct listed l = { .ordered = true };
	is_int(ssfm_list(c, NULL, NULL, 0, list_cb, &l), 2500, "list returns every key across pages");
	ok(l.ordered && l.count == 2500, "in byte order, each once");
	memset(&l, 0, sizeof(l));
	l.ordered = true;
	is_int(ssfm_list(c, "odd/", NULL, 0, list_cb, &l), 1250, "list with a prefix");
	memset(&l, 0, sizeof(l));
	is_int(ssfm_list(c, "even/", "even/01000", 10, list_cb, &l), 10, "list with start and limit");
	is_str(l.last, "even/01018", "ends at the tenth key from start");
	memset(&l, 0, sizeof(l));
	l.stop_after = 3;
	is_int(ssfm_list(c, NULL, NULL, 0, list_cb, &l), 3, "the callback stops the listing");

	struct dumped dm = { .ordered = true };
	struct ssfm_dump_info info;
	is_int(ssfm_dump(c, &info, dump_cb, &dm), 2500, "dump returns every key across pages");
	ok(dm.headers == 1 && dm.header_first && dm.ordered && dm.count == 2500,
	    "the header first, then the keys in byte order, each once");
	ok(strcmp(info.group, "fake") == 0 && info.seq == fake.seq && info.epoch == 3 &&
	    info.digest == 0xab && info.keys == 2500, "the dump's group, seq, epoch, digest, count");
	ok(dm.values_ok, "values are the stored text");
	memset(&dm, 0, sizeof(dm));
	dm.stop_after = 1500;
	is_int(ssfm_dump(c, NULL, dump_cb, &dm), 1500, "the callback stops the dump");
	is_int(ssfm_get(c, "odd/00001", NULL, NULL), SSFM_OK, "the client works after a stopped dump");

	char *status = NULL;
	is_int(ssfm_status(c, &status), SSFM_OK, "status");
	ok(status && strstr(status, "\"role\":\"ACTIVE\""), "status JSON: %s", status);
	free(status);
	uint64_t seq = 0;
	is_int(ssfm_snapshot(c, &seq), SSFM_OK, "snapshot");
	ok(seq > 2500, "snapshot seq %llu", (unsigned long long)seq);
	is_int(ssfm_promote(c, 1, 5000), SSFM_OK, "promote --wait");
	is_int(ssfm_promote(c, 1, 1), SSFM_ETIMEDOUT, "promote timing out: SSFM_ETIMEDOUT");
	is_int(ssfm_demote(c), SSFM_OK, "demote");

	atomic_store(&fake.mode, FAKE_STANDBY);
	is_int(ssfm_put(c, "x", "1", SSFM_ANY_VERSION, NULL, NULL), SSFM_ENOTACTIVE, "put on a standby: not active");
	is_str(ssfm_error_active_host(c), "hostb", "the active host is named");
	is_int(ssfm_get(c, "odd/00001", NULL, NULL), SSFM_OK, "reads still work");
	ok(ssfm_error_active_host(c) == NULL, "and clear the active host");
	atomic_store(&fake.mode, FAKE_ACTIVE);
	ssfm_close(c);
}

static void test_watch(const char *path)
{
	ssfm_client *c;
	struct watched w = { 0 };

	ssfm_connect(path, &c);
	int rc = ssfm_watch(c, 0, NULL, watch_cb, &w);
	is_int(rc, SSFM_EUNAVAILABLE, "watch ends when the daemon ends the stream");
	ok(strstr(ssfm_errmsg(c), "shutdown") != NULL, "with the reason: %s", ssfm_errmsg(c));
	is_int(w.puts, 2500, "every put event arrived");
	is_int(w.seals, 1, "and the seal");
	is_str(w.seal_host, "hostb", "the seal names its host");
	char *status = NULL;
	is_int(ssfm_status(c, &status), SSFM_OK, "the connection serves requests after the end");
	free(status);

	memset(&w, 0, sizeof(w));
	w.stop_after = 5;
	is_int(ssfm_watch(c, 0, NULL, watch_cb, &w), SSFM_OK, "the callback stops a watch");
	is_int(w.puts, 5, "after 5 events");
	is_int(ssfm_status(c, &status), SSFM_OK, "the next call reconnects");
	free(status);
	ssfm_close(c);
}

static void test_failures(const char *path)
{
	ssfm_client *c;
	char *status = NULL;

	ssfm_connect(path, &c);
	ssfm_set_timeout(c, 200);
	atomic_store(&fake.mode, FAKE_SILENT);
	is_int(ssfm_status(c, &status), SSFM_ETIMEDOUT, "no reply: SSFM_ETIMEDOUT");
	ok(strstr(ssfm_errmsg(c), "200 ms") != NULL, "message: %s", ssfm_errmsg(c));
	atomic_store(&fake.mode, FAKE_GARBAGE);
	is_int(ssfm_status(c, &status), SSFM_EPROTO, "a reply that is not JSON: SSFM_EPROTO");
	atomic_store(&fake.mode, FAKE_ACTIVE);
	is_int(ssfm_status(c, &status), SSFM_OK, "recovers on the next call");
	free(status);

	fake_stop();
	is_int(ssfm_status(c, &status), SSFM_EIO, "daemon gone: SSFM_EIO");
	is_int(ssfm_status(c, &status), SSFM_ECONNECT, "and cannot reconnect: SSFM_ECONNECT");
	fake_start(path);
	is_int(ssfm_status(c, &status), SSFM_OK, "daemon back: the client reconnects");
	free(status);
	ssfm_close(c);

	const char *seen[20] = { 0 };
	int distinct = 1;
	for (int code = SSFM_ENOMEM; code <= SSFM_OK; code++) {
		const char *s = ssfm_strerror(code);
		for (int i = 0; i < 20; i++)
			if (seen[i] && strcmp(seen[i], s) == 0)
				distinct = 0;
		seen[-code] = s;
	}
	ok(distinct, "every error code has its own text");
	is_str(ssfm_strerror(-999), "unknown error", "unknown codes have a text too");
}

/* A daemon that never accepts (SIGSTOPped): once its listen queue is full,
 * a reconnect must give up at the client's timeout instead of blocking in
 * connect() for ever.  The alarm turns a hang into a failure. */
static void test_queue_full(const char *dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd, conn, extra[64], nextra = 0;
	ssfm_client *c;
	char *status = NULL;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/stopped.sock", dir);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ok(lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(lfd, 0) == 0,
	    "a listener that will stop accepting");
	is_int(ssfm_connect(sa.sun_path, &c), SSFM_OK, "connect while its queue has room");
	conn = accept(lfd, NULL, NULL);
	ok(conn >= 0, "the listener takes that one connection, then no more");
	close(conn);
	while (nextra < 64) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			if (fd >= 0)
				close(fd);
			break;
		}
		extra[nextra++] = fd;
	}
	ok(nextra < 64, "its queue is full after %d more connections", nextra);
	ssfm_set_timeout(c, 300);
	alarm(20);
	is_int(ssfm_status(c, &status), SSFM_EIO, "the accepted connection closed: SSFM_EIO");
	uint64_t t0 = tu_now_ms();
	is_int(ssfm_status(c, &status), SSFM_ETIMEDOUT, "reconnecting to a full queue: SSFM_ETIMEDOUT");
	uint64_t took = tu_now_ms() - t0;
	alarm(0);
	ok(took >= 250 && took < 10000, "it gave up after the 300 ms timeout (%" PRIu64 " ms)", took);
	ok(strstr(ssfm_errmsg(c), "stopped.sock") && strstr(ssfm_errmsg(c), "queue"),
	    "message names the socket and the full queue: %s", ssfm_errmsg(c));
	ssfm_close(c);
	while (nextra > 0)
		close(extra[--nextra]);
	close(lfd);
}

int main(void)
{
	const char *dir = tu_tmpdir("libssfm");
	char path[256];

	snprintf(path, sizeof(path), "%s/fake.sock", dir);
	fake_start(path);
	test_connect(dir, path);
	test_kv(path);
	test_watch(path);
	test_failures(path);
	test_queue_full(dir);
	fake_stop();
	fake_free();
	return tap_done();
}
