/*
 * libssfm.c: the client side of the control protocol (proto.h), over a
 * blocking Unix socket with poll() deadlines on CLOCK_MONOTONIC.
 *
 * Only ssfm_* symbols leave the library (-export-symbols-regex); the proto_*
 * functions compiled in with it stay internal.
 */
#include "ssfm.h"
#include "proto.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SSFM_RUN_DIR "/run/ssfm"
#define SSFM_DEFAULT_TIMEOUT_MS 30000

struct ssfm_client {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int timeout_ms;
	char *buf;
	size_t len, cap;
	char errmsg[512];
	char active[PROTO_HOST_MAX + 1];
	bool has_active;
	int64_t err_version;
};

const char *ssfm_strerror(int code)
{
	switch (code) {
	case SSFM_OK: return "success";
	case SSFM_ENOTACTIVE: return "not active";
	case SSFM_ECONFLICT: return "version conflict";
	case SSFM_ENOTFOUND: return "not found";
	case SSFM_EINVAL: return "invalid request";
	case SSFM_ETOOLARGE: return "too large";
	case SSFM_EFENCED: return "fenced by a newer active";
	case SSFM_EUNAVAILABLE: return "unavailable";
	case SSFM_EDENIED: return "permission denied";
	case SSFM_ETIMEDOUT: return "timed out";
	case SSFM_EINTERNAL: return "internal daemon error";
	case SSFM_ECONNECT: return "cannot connect to the daemon";
	case SSFM_EIO: return "connection to the daemon failed";
	case SSFM_EPROTO: return "protocol error";
	case SSFM_ENOMEM: return "out of memory";
	}
	return "unknown error";
}

const char *ssfm_errmsg(const ssfm_client *c)
{
	return c ? c->errmsg : "no client";
}

const char *ssfm_error_active_host(const ssfm_client *c)
{
	return c && c->has_active ? c->active : NULL;
}

int64_t ssfm_error_version(const ssfm_client *c)
{
	return c ? c->err_version : -1;
}

void ssfm_set_timeout(ssfm_client *c, int timeout_ms)
{
	c->timeout_ms = timeout_ms < 0 ? 0 : timeout_ms;
}

static __attribute__((format(printf, 3, 4)))
int ssfm_fail(ssfm_client *c, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
	va_end(ap);
	return code;
}

static void ssfm_reset_error(ssfm_client *c)
{
	c->errmsg[0] = '\0';
	c->has_active = false;
	c->active[0] = '\0';
	c->err_version = -1;
}

static void ssfm_disconnect(ssfm_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
}

static uint64_t ssfm_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The only *.sock in the run folder, for hosts with one group. */
static int ssfm_find_socket(char *out, size_t len)
{
	DIR *d = opendir(SSFM_RUN_DIR);
	struct dirent *e;
	int found = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		if (n > 5 && strcmp(e->d_name + n - 5, ".sock") == 0) {
			if (found++ == 0)
				snprintf(out, len, "%s/%s", SSFM_RUN_DIR, e->d_name);
		}
	}
	closedir(d);
	return found;
}

/*
 * A blocking connect() to a Unix socket whose listen queue is full waits
 * with no limit, as long as the daemon does not accept: a stopped
 * (SIGSTOP, frozen) daemon would hang its clients forever.  So connect
 * without blocking, where a full queue is EAGAIN, and try again until the
 * client's timeout (0: none) has passed.
 */
#define SSFM_CONNECT_RETRY_MS 10

static int ssfm_open_fd(ssfm_client *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t deadline = c->timeout_ms > 0 ? ssfm_now_ms() + (uint64_t)c->timeout_ms : 0;
	int e;

	memcpy(sa.sun_path, c->path, sizeof(sa.sun_path));
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		return ssfm_fail(c, SSFM_ECONNECT, "socket: %s", strerror(errno));
	while (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = errno;
		if (e == EINTR)
			continue;
		if (e != EAGAIN) {
			ssfm_disconnect(c);
			return ssfm_fail(c, SSFM_ECONNECT, "cannot connect to %s: %s%s", c->path,
			    strerror(e), e == ENOENT || e == ECONNREFUSED ? " (is ssfmd running?)" : "");
		}
		if (deadline != 0 && ssfm_now_ms() >= deadline) {
			ssfm_disconnect(c);
			return ssfm_fail(c, SSFM_ETIMEDOUT,
			    "cannot connect to %s: its queue stayed full for %d ms (is ssfmd stopped?)",
			    c->path, c->timeout_ms);
		}
		poll(NULL, 0, SSFM_CONNECT_RETRY_MS);
	}
	/* Replies are read with poll and a deadline; writes block as before. */
	if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		e = errno;
		ssfm_disconnect(c);
		return ssfm_fail(c, SSFM_ECONNECT, "%s: fcntl: %s", c->path, strerror(e));
	}
	return SSFM_OK;
}

int ssfm_connect(const char *path, ssfm_client **out)
{
	ssfm_client *c = calloc(1, sizeof(*c));
	char found[sizeof(SSFM_RUN_DIR) + 1 + 256 + 1];

	*out = NULL;
	if (c == NULL)
		return SSFM_ENOMEM;
	c->fd = -1;
	c->timeout_ms = SSFM_DEFAULT_TIMEOUT_MS;
	c->err_version = -1;
	*out = c;
	if (path == NULL || path[0] == '\0')
		path = getenv("SSFM_SOCKET");
	if (path == NULL || path[0] == '\0') {
		const char *group = getenv("SSFM_GROUP");
		if (group && group[0]) {
			snprintf(found, sizeof(found), "%s/%s.sock", SSFM_RUN_DIR, group);
		} else {
			int n = ssfm_find_socket(found, sizeof(found));
			if (n != 1)
				return ssfm_fail(c, SSFM_ECONNECT,
				    n == 0 ? "no socket given, SSFM_SOCKET and SSFM_GROUP unset, and no *.sock in %s"
				    : "no socket given, SSFM_SOCKET and SSFM_GROUP unset, and several *.sock in %s",
				    SSFM_RUN_DIR);
		}
		path = found;
	}
	if (strlen(path) >= sizeof(c->path))
		return ssfm_fail(c, SSFM_ECONNECT, "socket path too long: %s", path);
	strcpy(c->path, path);
	return ssfm_open_fd(c);
}

void ssfm_close(ssfm_client *c)
{
	if (c == NULL)
		return;
	ssfm_disconnect(c);
	free(c->buf);
	free(c);
}

static int ssfm_send(ssfm_client *c, char *line)
{
	if (line == NULL)
		return ssfm_fail(c, SSFM_ENOMEM, "out of memory encoding the request");
	if (c->fd < 0) {
		int rc = ssfm_open_fd(c);
		if (rc < 0) {
			free(line);
			return rc;
		}
	}
	size_t len = strlen(line), off = 0;
	while (off < len) {
		ssize_t n = send(c->fd, line + off, len - off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free(line);
			ssfm_disconnect(c);
			return ssfm_fail(c, SSFM_EIO, "sending to %s: %s", c->path, strerror(e));
		}
		off += (size_t)n;
	}
	free(line);
	return SSFM_OK;
}

/*
 * Reads one line into *line (points into the buffer; valid until the next
 * read) within timeout_ms (0: none).  The line is NUL-terminated in place.
 */
static int ssfm_read_line(ssfm_client *c, int timeout_ms, char **line, size_t *line_len)
{
	uint64_t deadline = timeout_ms > 0 ? ssfm_now_ms() + (uint64_t)timeout_ms : 0;
	size_t scanned = 0;

	/* Drop the line handed out last time (kept until now). */
	for (;;) {
		char *nl = c->len > scanned ? memchr(c->buf + scanned, '\n', c->len - scanned) : NULL;
		if (nl) {
			*nl = '\0';
			*line = c->buf;
			*line_len = (size_t)(nl - c->buf);
			return SSFM_OK;
		}
		scanned = c->len;
		if (c->len > PROTO_REPLY_MAX) {
			ssfm_disconnect(c);
			return ssfm_fail(c, SSFM_EPROTO, "reply from %s longer than %u bytes",
			    c->path, PROTO_REPLY_MAX);
		}
		int wait = -1;
		if (deadline) {
			uint64_t now = ssfm_now_ms();
			if (now >= deadline) {
				ssfm_disconnect(c);
				return ssfm_fail(c, SSFM_ETIMEDOUT, "no reply from %s within %d ms",
				    c->path, timeout_ms);
			}
			wait = (int)(deadline - now);
		}
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		int pr = poll(&pfd, 1, wait);
		if (pr < 0 && errno != EINTR) {
			int e = errno;
			ssfm_disconnect(c);
			return ssfm_fail(c, SSFM_EIO, "poll: %s", strerror(e));
		}
		if (pr <= 0)
			continue;
		if (c->cap - c->len < 65536) {
			size_t cap = c->cap ? c->cap * 2 : 131072;
			char *grown = realloc(c->buf, cap);
			if (grown == NULL) {
				ssfm_disconnect(c);
				return ssfm_fail(c, SSFM_ENOMEM, "out of memory reading a reply");
			}
			c->buf = grown;
			c->cap = cap;
		}
		ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : 0;
			ssfm_disconnect(c);
			return ssfm_fail(c, SSFM_EIO, "connection to %s %s%s", c->path,
			    e ? "failed: " : "closed by the daemon", e ? strerror(e) : "");
		}
		c->len += (size_t)n;
	}
}

/* Forgets the line returned by the last ssfm_read_line. */
static void ssfm_consume(ssfm_client *c, size_t line_len)
{
	size_t used = line_len + 1;

	memmove(c->buf, c->buf + used, c->len - used);
	c->len -= used;
}

static int ssfm_code(enum proto_code code)
{
	switch (code) {
	case PROTO_OK: return SSFM_OK;
	case PROTO_E_NOT_ACTIVE: return SSFM_ENOTACTIVE;
	case PROTO_E_CONFLICT: return SSFM_ECONFLICT;
	case PROTO_E_NOT_FOUND: return SSFM_ENOTFOUND;
	case PROTO_E_INVALID: return SSFM_EINVAL;
	case PROTO_E_TOO_LARGE: return SSFM_ETOOLARGE;
	case PROTO_E_FENCED: return SSFM_EFENCED;
	case PROTO_E_UNAVAILABLE: return SSFM_EUNAVAILABLE;
	case PROTO_E_DENIED: return SSFM_EDENIED;
	case PROTO_E_TIMEOUT: return SSFM_ETIMEDOUT;
	case PROTO_E_INTERNAL: return SSFM_EINTERNAL;
	}
	return SSFM_EINTERNAL;
}

/* Reads one reply line and parses it; an error reply becomes the return
 * code with errmsg, active host and version set.  On SSFM_OK, *rep must be
 * freed with proto_reply_free. */
static int ssfm_read_reply(ssfm_client *c, int timeout_ms, struct proto_reply *rep)
{
	char *line = NULL, why[256];
	size_t len = 0;

	int rc = ssfm_read_line(c, timeout_ms, &line, &len);
	if (rc < 0)
		return rc;
	rc = proto_parse_reply(line, len, rep, why, sizeof(why));
	ssfm_consume(c, len);
	if (rc < 0) {
		ssfm_disconnect(c);
		return ssfm_fail(c, SSFM_EPROTO, "from %s: %s", c->path, why);
	}
	if (rep->ok)
		return SSFM_OK;
	int code = ssfm_code(rep->code);
	ssfm_fail(c, code, "%s", rep->message ? rep->message : ssfm_strerror(code));
	if (rep->active) {
		snprintf(c->active, sizeof(c->active), "%s", rep->active);
		c->has_active = true;
	}
	c->err_version = rep->version;
	proto_reply_free(rep);
	return code;
}

/* Sends req and reads its reply (*rep to free on SSFM_OK). */
static int ssfm_call(ssfm_client *c, const struct proto_request *req, int timeout_ms,
    struct proto_reply *rep)
{
	ssfm_reset_error(c);
	int rc = ssfm_send(c, proto_encode_request(req));
	if (rc < 0)
		return rc;
	return ssfm_read_reply(c, timeout_ms, rep);
}

static int ssfm_reply_u64(ssfm_client *c, struct proto_reply *rep, const char *field,
    uint64_t *out)
{
	json_t *v = json_object_get(rep->root, field);

	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		proto_reply_free(rep);
		ssfm_disconnect(c);
		return ssfm_fail(c, SSFM_EPROTO, "reply from %s lacks \"%s\"", c->path, field);
	}
	if (out)
		*out = (uint64_t)json_integer_value(v);
	return SSFM_OK;
}

static int ssfm_check_key(ssfm_client *c, const char *key)
{
	if (key == NULL || key[0] == '\0')
		return ssfm_fail(c, SSFM_EINVAL, "the key is empty");
	return SSFM_OK;
}

static int ssfm_write(ssfm_client *c, enum proto_op op, const char *key, const char *json,
    int64_t expect, const char *reqid, uint64_t *version)
{
	struct proto_request req;
	struct proto_reply rep;

	ssfm_reset_error(c);
	int rc = ssfm_check_key(c, key);
	if (rc < 0)
		return rc;
	if (expect < SSFM_ANY_VERSION)
		return ssfm_fail(c, SSFM_EINVAL, "expect %lld is not a version", (long long)expect);
	proto_request_init(&req, op);
	req.key = key;
	req.value = (char *)json;
	req.expect = expect;
	req.id = reqid;
	if (op == PROTO_OP_PUT) {
		json_error_t jerr;
		json_t *v = json ? json_loads(json, JSON_DECODE_ANY, &jerr) : NULL;
		if (v == NULL)
			return ssfm_fail(c, SSFM_EINVAL, "value for %s is not JSON: %s", key,
			    json ? jerr.text : "NULL");
		json_decref(v);
	}
	rc = ssfm_call(c, &req, c->timeout_ms, &rep);
	if (rc < 0)
		return rc;
	rc = ssfm_reply_u64(c, &rep, "version", version);
	if (rc == SSFM_OK)
		proto_reply_free(&rep);
	return rc;
}

int ssfm_put(ssfm_client *c, const char *key, const char *json,
    int64_t expect, const char *reqid, uint64_t *version)
{
	return ssfm_write(c, PROTO_OP_PUT, key, json, expect, reqid, version);
}

int ssfm_del(ssfm_client *c, const char *key, int64_t expect,
    const char *reqid, uint64_t *version)
{
	return ssfm_write(c, PROTO_OP_DEL, key, NULL, expect, reqid, version);
}

static char *ssfm_json_text(const json_t *v)
{
	return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

int ssfm_get(ssfm_client *c, const char *key, char **value, uint64_t *version)
{
	struct proto_request req;
	struct proto_reply rep;

	ssfm_reset_error(c);
	int rc = ssfm_check_key(c, key);
	if (rc < 0)
		return rc;
	proto_request_init(&req, PROTO_OP_GET);
	req.key = key;
	rc = ssfm_call(c, &req, c->timeout_ms, &rep);
	if (rc < 0)
		return rc;
	rc = ssfm_reply_u64(c, &rep, "version", version);
	if (rc < 0)
		return rc;
	json_t *v = json_object_get(rep.root, "value");
	if (v == NULL) {
		proto_reply_free(&rep);
		ssfm_disconnect(c);
		return ssfm_fail(c, SSFM_EPROTO, "get reply from %s lacks \"value\"", c->path);
	}
	if (value) {
		*value = ssfm_json_text(v);
		if (*value == NULL)
			rc = ssfm_fail(c, SSFM_ENOMEM, "out of memory");
	}
	proto_reply_free(&rep);
	return rc;
}

long ssfm_list(ssfm_client *c, const char *prefix, const char *start,
    size_t limit, ssfm_list_fn fn, void *arg)
{
	struct proto_request req;
	struct proto_reply rep;
	char *next_start = start ? strdup(start) : NULL;
	long count = 0;
	int rc = SSFM_OK;

	ssfm_reset_error(c);
	if (start && next_start == NULL)
		return ssfm_fail(c, SSFM_ENOMEM, "out of memory");
	for (;;) {
		proto_request_init(&req, PROTO_OP_LIST);
		req.prefix = prefix;
		req.start = next_start;
		size_t want = PROTO_LIST_DEFAULT;
		if (limit && limit - (size_t)count < want)
			want = limit - (size_t)count;
		req.limit = want;
		rc = ssfm_call(c, &req, c->timeout_ms, &rep);
		if (rc < 0)
			break;
		json_t *items = json_object_get(rep.root, "items");
		json_t *next = json_object_get(rep.root, "next");
		if (!json_is_array(items) || (next && !json_is_string(next))) {
			proto_reply_free(&rep);
			ssfm_disconnect(c);
			rc = ssfm_fail(c, SSFM_EPROTO, "list reply from %s is malformed", c->path);
			break;
		}
		size_t i;
		json_t *item;
		bool stop = false;
		json_array_foreach(items, i, item) {
			const char *key;
			json_t *value;
			json_int_t version;
			if (json_unpack(item, "{s:s, s:o, s:I}", "key", &key, "value", &value,
			    "version", &version) != 0) {
				rc = ssfm_fail(c, SSFM_EPROTO, "list item from %s is malformed", c->path);
				stop = true;
				break;
			}
			char *text = ssfm_json_text(value);
			if (text == NULL) {
				rc = ssfm_fail(c, SSFM_ENOMEM, "out of memory");
				stop = true;
				break;
			}
			count++;
			int r = fn ? fn(arg, key, text, (uint64_t)version) : 0;
			free(text);
			if (r != 0 || (limit && (size_t)count >= limit)) {
				stop = true;
				break;
			}
		}
		free(next_start);
		next_start = NULL;
		if (!stop && next) {
			next_start = strdup(json_string_value(next));
			if (next_start == NULL)
				rc = ssfm_fail(c, SSFM_ENOMEM, "out of memory");
		}
		proto_reply_free(&rep);
		if (rc < 0 || next_start == NULL)
			break;
	}
	free(next_start);
	return rc < 0 ? rc : count;
}

int ssfm_watch(ssfm_client *c, int64_t from, const char *prefix,
    ssfm_watch_fn fn, void *arg)
{
	struct proto_request req;
	struct proto_reply rep;

	proto_request_init(&req, PROTO_OP_WATCH);
	req.from = from < 0 ? -1 : from;
	req.prefix = prefix;
	int rc = ssfm_call(c, &req, c->timeout_ms, &rep);
	if (rc < 0)
		return rc;
	proto_reply_free(&rep);
	for (;;) {
		rc = ssfm_read_reply(c, 0, &rep);
		if (rc < 0)
			return rc;
		if (rep.is_end) {
			json_t *reason = json_object_get(rep.root, "reason");
			rc = ssfm_fail(c, SSFM_EUNAVAILABLE, "watch ended: %s",
			    json_is_string(reason) ? json_string_value(reason) : "no reason given");
			proto_reply_free(&rep);
			return rc;
		}
		struct ssfm_event ev = { 0 };
		const char *kind = NULL;
		json_int_t seq = 0, epoch = 0;
		json_t *value = NULL;
		if (!rep.is_event || json_unpack(rep.root, "{s:s, s:I, s:I, s?:s, s?:o, s?:s}",
		    "event", &kind, "seq", &seq, "epoch", &epoch, "key", &ev.key,
		    "value", &value, "host", &ev.host) != 0) {
			proto_reply_free(&rep);
			ssfm_disconnect(c);
			return ssfm_fail(c, SSFM_EPROTO, "watch line from %s is malformed", c->path);
		}
		ev.kind = strcmp(kind, "put") == 0 ? SSFM_EVENT_PUT :
		    strcmp(kind, "del") == 0 ? SSFM_EVENT_DEL :
		    strcmp(kind, "seal") == 0 ? SSFM_EVENT_SEAL : 0;
		ev.seq = (uint64_t)seq;
		ev.epoch = (uint64_t)epoch;
		char *text = NULL;
		if (value) {
			text = ssfm_json_text(value);
			if (text == NULL) {
				proto_reply_free(&rep);
				ssfm_disconnect(c);
				return ssfm_fail(c, SSFM_ENOMEM, "out of memory");
			}
			ev.value = text;
		}
		/* Unknown event kinds from a newer daemon are skipped. */
		int stop = ev.kind ? fn(arg, &ev) : 0;
		free(text);
		proto_reply_free(&rep);
		if (stop) {
			/* The stream goes on at the daemon: only closing ends it. */
			ssfm_disconnect(c);
			return SSFM_OK;
		}
	}
}

int ssfm_status(ssfm_client *c, char **json)
{
	struct proto_request req;
	struct proto_reply rep;

	proto_request_init(&req, PROTO_OP_STATUS);
	int rc = ssfm_call(c, &req, c->timeout_ms, &rep);
	if (rc < 0)
		return rc;
	json_t *st = json_object_get(rep.root, "status");
	if (!json_is_object(st)) {
		proto_reply_free(&rep);
		ssfm_disconnect(c);
		return ssfm_fail(c, SSFM_EPROTO, "status reply from %s lacks \"status\"", c->path);
	}
	if (json) {
		*json = json_dumps(st, JSON_COMPACT);
		if (*json == NULL)
			rc = ssfm_fail(c, SSFM_ENOMEM, "out of memory");
	}
	proto_reply_free(&rep);
	return rc;
}

int ssfm_promote(ssfm_client *c, int wait, int timeout_ms)
{
	struct proto_request req;
	struct proto_reply rep;

	proto_request_init(&req, PROTO_OP_PROMOTE);
	req.wait = wait != 0;
	if (timeout_ms > 0)
		req.timeout_ms = timeout_ms;
	/* The daemon answers a waiting promote when done: give it the
	 * requested time and the usual reply time on top. */
	int reply_timeout = c->timeout_ms;
	if (wait && reply_timeout > 0)
		reply_timeout = timeout_ms > 0 ? reply_timeout + timeout_ms : 0;
	int rc = ssfm_call(c, &req, reply_timeout, &rep);
	if (rc == SSFM_OK)
		proto_reply_free(&rep);
	return rc;
}

int ssfm_demote(ssfm_client *c)
{
	struct proto_request req;
	struct proto_reply rep;

	proto_request_init(&req, PROTO_OP_DEMOTE);
	int rc = ssfm_call(c, &req, c->timeout_ms, &rep);
	if (rc == SSFM_OK)
		proto_reply_free(&rep);
	return rc;
}

int ssfm_snapshot(ssfm_client *c, uint64_t *seq)
{
	struct proto_request req;
	struct proto_reply rep;

	proto_request_init(&req, PROTO_OP_SNAPSHOT);
	int rc = ssfm_call(c, &req, c->timeout_ms, &rep);
	if (rc < 0)
		return rc;
	rc = ssfm_reply_u64(c, &rep, "seq", seq);
	if (rc == SSFM_OK)
		proto_reply_free(&rep);
	return rc;
}

/* ---- dump ---------------------------------------------------------------
 *
 * A dump is read a page at a time (proto.h): up to 10000 items of
 * [KEY,VERSION,VALUE_TEXT], a megabyte or so per page.  The items are
 * parsed here by hand, into two buffers reused for every item, rather than
 * into a jansson tree of four allocations per key (which made the client
 * the slowest part of a dump); the page's other fields ("ok", "cut", the
 * header, "next") are read with jansson from the line with the items left
 * out.  The next page is asked for as soon as "next" is known, before the
 * items are decoded, so the daemon builds it meanwhile.
 */

struct ssfm_dump_state {
	ssfm_client *c;
	struct ssfm_dump_info *info;
	ssfm_dump_fn fn;
	void *arg;
	uint64_t count;
	char *key, *value;
	size_t key_cap, value_cap;
};

static const char *ssfm_dump_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static int ssfm_dump_hex4(const char *p, const char *end, unsigned *out)
{
	unsigned v = 0;

	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char ch = p[i];
		v <<= 4;
		if (ch >= '0' && ch <= '9')
			v |= (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			v |= (unsigned)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			v |= (unsigned)(ch - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* The JSON string at *pp decoded into *buf (NUL-terminated; a decoded NUL
 * is refused: neither keys nor value texts hold one).  0 or -1. */
static int ssfm_dump_string(const char **pp, const char *end, char **buf, size_t *cap)
{
	const char *p = *pp;
	size_t n = 0;

	if (p >= end || *p++ != '"')
		return -1;
	for (;;) {
		if (n + 8 > *cap) {
			size_t grown_cap = *cap ? *cap * 2 : 4096;
			char *grown = realloc(*buf, grown_cap);
			if (grown == NULL)
				return -1;
			*buf = grown;
			*cap = grown_cap;
		}
		if (p >= end)
			return -1;
		unsigned char ch = (unsigned char)*p++;
		if (ch == '"')
			break;
		if (ch < 0x20)
			return -1;
		if (ch != '\\') {
			(*buf)[n++] = (char)ch;
			continue;
		}
		if (p >= end)
			return -1;
		unsigned u;
		switch (*p++) {
		case '"': (*buf)[n++] = '"'; continue;
		case '\\': (*buf)[n++] = '\\'; continue;
		case '/': (*buf)[n++] = '/'; continue;
		case 'b': (*buf)[n++] = '\b'; continue;
		case 'f': (*buf)[n++] = '\f'; continue;
		case 'n': (*buf)[n++] = '\n'; continue;
		case 'r': (*buf)[n++] = '\r'; continue;
		case 't': (*buf)[n++] = '\t'; continue;
		case 'u':
			if (ssfm_dump_hex4(p, end, &u) < 0)
				return -1;
			p += 4;
			break;
		default:
			return -1;
		}
		if (u >= 0xD800 && u <= 0xDBFF) {
			unsigned lo;
			if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
			    ssfm_dump_hex4(p + 2, end, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
				return -1;
			p += 6;
			u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
		} else if (u == 0 || (u >= 0xDC00 && u <= 0xDFFF)) {
			return -1;
		}
		if (u < 0x80) {
			(*buf)[n++] = (char)u;
		} else if (u < 0x800) {
			(*buf)[n++] = (char)(0xC0 | (u >> 6));
			(*buf)[n++] = (char)(0x80 | (u & 0x3F));
		} else if (u < 0x10000) {
			(*buf)[n++] = (char)(0xE0 | (u >> 12));
			(*buf)[n++] = (char)(0x80 | ((u >> 6) & 0x3F));
			(*buf)[n++] = (char)(0x80 | (u & 0x3F));
		} else {
			(*buf)[n++] = (char)(0xF0 | (u >> 18));
			(*buf)[n++] = (char)(0x80 | ((u >> 12) & 0x3F));
			(*buf)[n++] = (char)(0x80 | ((u >> 6) & 0x3F));
			(*buf)[n++] = (char)(0x80 | (u & 0x3F));
		}
	}
	(*buf)[n] = '\0';
	*pp = p;
	return 0;
}

static int ssfm_dump_u64(const char **pp, const char *end, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;

	if (p >= end || *p < '0' || *p > '9' || (*p == '0' && p + 1 < end && p[1] >= '0' &&
	    p[1] <= '9'))
		return -1;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*out = v;
	*pp = p;
	return 0;
}

/*
 * The items of a page, from just after "items":[ up to its closing ],
 * each passed to fn.  Returns the position after the ], or NULL: *stop set
 * when fn stopped, else the page is malformed (or out of memory: *nomem).
 */
static const char *ssfm_dump_items(struct ssfm_dump_state *ds, const char *p,
    const char *end, bool *stop, bool *nomem)
{
	p = ssfm_dump_ws(p, end);
	if (p < end && *p == ']')
		return p + 1;
	for (;;) {
		uint64_t version;
		p = ssfm_dump_ws(p, end);
		if (p >= end || *p++ != '[')
			return NULL;
		p = ssfm_dump_ws(p, end);
		if (ssfm_dump_string(&p, end, &ds->key, &ds->key_cap) < 0) {
			*nomem = ds->key == NULL;
			return NULL;
		}
		p = ssfm_dump_ws(p, end);
		if (p >= end || *p++ != ',')
			return NULL;
		p = ssfm_dump_ws(p, end);
		if (ssfm_dump_u64(&p, end, &version) < 0 || version == 0)
			return NULL;
		p = ssfm_dump_ws(p, end);
		if (p >= end || *p++ != ',')
			return NULL;
		p = ssfm_dump_ws(p, end);
		if (ssfm_dump_string(&p, end, &ds->value, &ds->value_cap) < 0) {
			*nomem = ds->value == NULL;
			return NULL;
		}
		p = ssfm_dump_ws(p, end);
		if (p >= end || *p++ != ']')
			return NULL;
		ds->count++;
		if (ds->fn && ds->fn(ds->arg, ds->info, ds->key, ds->value, version) != 0) {
			*stop = true;
			return NULL;
		}
		p = ssfm_dump_ws(p, end);
		if (p < end && *p == ']')
			return p + 1;
		if (p >= end || *p++ != ',')
			return NULL;
	}
}

/* The end of the items array whose contents start at p: just after its
 * closing ], found by brackets and strings alone; NULL if it has none. */
static const char *ssfm_dump_skip(const char *p, const char *end)
{
	int depth = 1;

	for (; p < end; p++) {
		if (*p == '"') {
			for (p++; p < end && *p != '"'; p++)
				if (*p == '\\')
					p++;
		} else if (*p == '[') {
			depth++;
		} else if (*p == ']' && --depth == 0) {
			return p + 1;
		}
	}
	return NULL;
}

static int ssfm_dump_request(ssfm_client *c, int64_t cut, uint64_t from)
{
	struct proto_request req;

	proto_request_init(&req, PROTO_OP_DUMP);
	req.limit = PROTO_LIST_MAX;
	if (cut >= 0) {
		req.cut = cut;
		req.from = (int64_t)from;
	}
	return ssfm_send(c, proto_encode_request(&req));
}

/* The first page's header into ds->info and *cut.  0 or an ssfm code. */
static int ssfm_dump_header(struct ssfm_dump_state *ds, json_t *head, int64_t *cut)
{
	struct ssfm_dump_info *info = ds->info;
	json_int_t c = 0, seq = 0, epoch = 0, keys = 0;
	const char *group = NULL, *digest = NULL;
	char *end;

	if (json_unpack(head, "{s:I, s:s, s:I, s:I, s:s, s:I}", "cut", &c, "group", &group,
	    "seq", &seq, "epoch", &epoch, "digest", &digest, "count", &keys) != 0 ||
	    c < 0 || seq < 0 || epoch < 0 || keys < 0 || strlen(group) >= sizeof(info->group) ||
	    strlen(digest) != 16)
		return ssfm_fail(ds->c, SSFM_EPROTO, "dump reply from %s is malformed", ds->c->path);
	snprintf(info->group, sizeof(info->group), "%s", group);
	info->seq = (uint64_t)seq;
	info->epoch = (uint64_t)epoch;
	info->keys = (uint64_t)keys;
	info->digest = strtoull(digest, &end, 16);
	if (*end != '\0' || digest[0] == '-' || digest[0] == '+')
		return ssfm_fail(ds->c, SSFM_EPROTO, "dump reply from %s: digest \"%s\" is not hex",
		    ds->c->path, digest);
	*cut = c;
	return SSFM_OK;
}

/*
 * Reads one page and hands its items to fn.  *next: the index of the next
 * page (0: this was the last), which has already been asked for.  Returns
 * SSFM_OK, 1 when fn stopped, or an ssfm code.
 */
static int ssfm_dump_page(struct ssfm_dump_state *ds, bool first, int64_t *cut, uint64_t *next)
{
	static const char marker[] = "\"items\":[";
	ssfm_client *c = ds->c;
	struct proto_reply rep;
	char *line = NULL, why[256];
	size_t len = 0;
	int rc = ssfm_read_line(c, c->timeout_ms, &line, &len);

	if (rc < 0)
		return rc;
	char *items = memmem(line, len, marker, sizeof(marker) - 1);
	if (items == NULL) {
		/* An error reply (or nonsense): the usual path says which. */
		rc = proto_parse_reply(line, len, &rep, why, sizeof(why));
		ssfm_consume(c, len);
		if (rc < 0)
			return ssfm_fail(c, SSFM_EPROTO, "from %s: %s", c->path, why);
		if (rep.ok) {
			proto_reply_free(&rep);
			return ssfm_fail(c, SSFM_EPROTO, "dump reply from %s has no items", c->path);
		}
		rc = ssfm_code(rep.code);
		ssfm_fail(c, rc, "%s", rep.message ? rep.message : ssfm_strerror(rc));
		proto_reply_free(&rep);
		return rc;
	}
	/* The page without its items, whatever the order of its fields:
	 * "ok", "cut", the first page's header, "next". */
	const char *first_item = items + sizeof(marker) - 1;
	const char *after = ssfm_dump_skip(first_item, line + len);
	if (after == NULL)
		return ssfm_fail(c, SSFM_EPROTO, "dump page from %s: the items do not end", c->path);
	size_t before = (size_t)(first_item - line), rest = (size_t)(line + len - after);
	char *frame = malloc(before + 1 + rest);
	if (frame == NULL)
		return ssfm_fail(c, SSFM_ENOMEM, "out of memory");
	memcpy(frame, line, before);
	frame[before] = ']';
	memcpy(frame + before + 1, after, rest);
	json_t *head = json_loadb(frame, before + 1 + rest, 0, NULL);
	free(frame);
	json_t *nx = json_object_get(head, "next");
	if (!json_is_true(json_object_get(head, "ok")) ||
	    (nx != NULL && (!json_is_integer(nx) || json_integer_value(nx) <= 0)) ||
	    (!first && json_integer_value(json_object_get(head, "cut")) != *cut)) {
		json_decref(head);
		return ssfm_fail(c, SSFM_EPROTO, "dump reply from %s is malformed", c->path);
	}
	*next = nx ? (uint64_t)json_integer_value(nx) : 0;
	if (first)
		rc = ssfm_dump_header(ds, head, cut);
	json_decref(head);
	if (rc != SSFM_OK)
		return rc;
	/* Ask for the next page now: the daemon builds it meanwhile. */
	if (*next > 0 && (rc = ssfm_dump_request(c, *cut, *next)) < 0)
		return rc;
	if (first && ds->fn && ds->fn(ds->arg, ds->info, NULL, NULL, 0) != 0)
		return 1;
	bool stop = false, nomem = false;
	const char *p = ssfm_dump_items(ds, first_item, after, &stop, &nomem);
	if (p == NULL || p != after)
		return stop ? 1 : nomem ? ssfm_fail(c, SSFM_ENOMEM, "out of memory") :
		    ssfm_fail(c, SSFM_EPROTO, "dump page from %s: item %llu is malformed", c->path,
		    (unsigned long long)ds->count + 1);
	ssfm_consume(c, len);
	return SSFM_OK;
}

long long ssfm_dump(ssfm_client *c, struct ssfm_dump_info *info, ssfm_dump_fn fn,
    void *arg)
{
	struct ssfm_dump_info mine;
	struct ssfm_dump_state ds = { c, info ? info : &mine, fn, arg, 0, NULL, NULL, 0, 0 };
	int64_t cut = -1;
	uint64_t next = 0;
	int rc;

	memset(ds.info, 0, sizeof(*ds.info));
	ssfm_reset_error(c);
	rc = ssfm_dump_request(c, -1, 0);
	for (bool first = true; rc == SSFM_OK; first = false) {
		rc = ssfm_dump_page(&ds, first, &cut, &next);
		if (rc != SSFM_OK || next == 0)
			break;
	}
	free(ds.key);
	free(ds.value);
	if (rc != SSFM_OK) {
		/* A page left unread (fn stopped, or a failure) must not be taken
		 * for the reply of a later call: start afresh.  The daemon drops
		 * the cut when it idles out. */
		ssfm_disconnect(c);
		return rc < 0 ? rc : (long long)ds.count;
	}
	if (ds.count != ds.info->keys)
		return ssfm_fail(c, SSFM_EPROTO, "dump from %s: %llu keys received, the cut holds %llu",
		    c->path, (unsigned long long)ds.count, (unsigned long long)ds.info->keys);
	return (long long)ds.count;
}
