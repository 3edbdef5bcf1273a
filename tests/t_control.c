/*
 * t_control.c: the control socket server (src/control.c) with an echo
 * dispatcher and a minimal event loop in a thread of its own.
 *
 * Proves: the socket is 0660; malformed and oversized requests get errors
 * and leave the connection usable; pipelined requests are answered in
 * order, also when a reply comes from another thread; 500 connections are
 * served; connections past max_connections get "unavailable"; a client that
 * never reads neither blocks others nor grows memory without bound (its
 * stream ends with "overflow"); a vanished client's request is ended; a
 * second server on the same path refuses; a stale socket is replaced; a
 * file that is not a socket is left alone; writes from a peer outside the
 * socket group are denied.
 */
#include "control.h"
#include "tap.h"
#include "testutil.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

struct server {
	struct control *ctl;
	pthread_t thread;
	atomic_bool stop;
	atomic_int ended;
	atomic_int dispatched;
};

struct async_reply {
	struct control *ctl;
	uint64_t id;
	char *line;
};

static void *async_reply_thread(void *arg)
{
	struct async_reply *a = arg;

	tu_sleep_ms(5);
	control_reply(a->ctl, a->id, a->line);
	free(a);
	return NULL;
}

static void echo_dispatch(void *arg, uint64_t id, const struct control_peer *peer,
    struct proto_request *req)
{
	struct server *srv = arg;
	struct control *ctl = srv->ctl;

	atomic_fetch_add(&srv->dispatched, 1);
	switch (req->op) {
	case PROTO_OP_PUT: {
		/* Answered later by another thread, like the store's committer. */
		struct async_reply *a = malloc(sizeof(*a));
		pthread_t t;
		a->ctl = ctl;
		a->id = id;
		a->line = proto_reply_ok(json_pack("{s:s, s:I}", "key", req->key, "version", (json_int_t)1));
		pthread_create(&t, NULL, async_reply_thread, a);
		pthread_detach(t);
		break;
	}
	case PROTO_OP_WATCH: {
		/* from = number of 1 KiB events to send. */
		char value[1100];
		memset(value, 'v', sizeof(value));
		value[0] = '"';
		snprintf(value + 1020, 10, "\"");
		control_stream(ctl, id, proto_reply_ok(json_pack("{s:I}", "seq", (json_int_t)0)));
		for (int64_t i = 0; i < req->from; i++)
			control_stream(ctl, id, proto_event_put((uint64_t)i + 1, 1, "k", 1, value, strlen(value)));
		control_reply(ctl, id, proto_event_end("done"));
		break;
	}
	case PROTO_OP_STATUS:
		control_reply(ctl, id, proto_reply_ok(json_pack("{s:b, s:i}", "may_write",
		    peer->may_write, "uid", (int)peer->uid)));
		break;
	default:
		control_reply(ctl, id, proto_reply_ok(json_pack("{s:s, s:s?}", "op",
		    proto_op_name(req->op), "key", req->key)));
		break;
	}
	proto_request_free(req);
}

static void echo_ended(void *arg, uint64_t id)
{
	struct server *srv = arg;

	atomic_fetch_add(&srv->ended, 1);
}

static void *loop_thread(void *arg)
{
	struct server *srv = arg;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN };

	epoll_ctl(ep, EPOLL_CTL_ADD, control_fd(srv->ctl), &ev);
	while (!atomic_load(&srv->stop)) {
		struct epoll_event got;
		if (epoll_wait(ep, &got, 1, 50) > 0)
			control_handle_events(srv->ctl);
	}
	close(ep);
	return NULL;
}

static int server_start(struct server *srv, const char *path, unsigned max_conns,
    size_t limit, char *why, size_t why_len)
{
	struct control_options opt = {
		.path = path, .max_connections = max_conns, .output_limit = limit,
		.dispatch = echo_dispatch, .ended = echo_ended, .arg = srv,
	};

	memset(srv, 0, sizeof(*srv));
	int rc = control_open(&opt, &srv->ctl, why, why_len);
	if (rc == 0)
		pthread_create(&srv->thread, NULL, loop_thread, srv);
	return rc;
}

static void server_stop(struct server *srv)
{
	atomic_store(&srv->stop, true);
	pthread_join(srv->thread, NULL);
	control_close(srv->ctl);
}

/* ---- client side --------------------------------------------------------- */

struct client {
	int fd;
	char *buf;
	size_t len, cap;
};

static int client_open(struct client *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(c, 0, sizeof(*c));
	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

static void client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	c->fd = -1;
	c->buf = NULL;
}

static int client_send(struct client *c, const char *text, size_t len)
{
	while (len > 0) {
		ssize_t n = send(c->fd, text, len, MSG_NOSIGNAL);
		if (n < 0)
			return -1;
		text += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One line (malloc'd, without "\n"), or NULL on timeout or EOF. */
static char *client_line(struct client *c, int timeout_ms)
{
	uint64_t deadline = tu_now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		char *nl = c->buf ? memchr(c->buf, '\n', c->len) : NULL;
		if (nl) {
			size_t n = (size_t)(nl - c->buf);
			char *line = strndup(c->buf, n);
			memmove(c->buf, nl + 1, c->len - n - 1);
			c->len -= n + 1;
			return line;
		}
		uint64_t now = tu_now_ms();
		if (now >= deadline)
			return NULL;
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		if (poll(&pfd, 1, (int)(deadline - now)) <= 0)
			continue;
		if (c->cap - c->len < 65536) {
			c->cap = c->cap ? c->cap * 2 : 131072;
			c->buf = realloc(c->buf, c->cap);
		}
		ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (n <= 0)
			return NULL;
		c->len += (size_t)n;
	}
}

static bool line_has(const char *line, const char *text)
{
	return line && strstr(line, text);
}

static int ended_at_least(void *arg)
{
	struct server *srv = arg;
	return atomic_load(&srv->ended) >= 1;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_basics(const char *path, struct server *srv)
{
	struct client c;
	struct stat st;
	char *line;

	ok(stat(path, &st) == 0 && S_ISSOCK(st.st_mode), "socket file exists");
	is_int(st.st_mode & 07777, 0660, "socket mode is 0660");

	if (client_open(&c, path) < 0)
		tap_bail("connect %s: %s", path, strerror(errno));
	client_send(&c, "{\"op\":\"get\",\"key\":\"a\"}\n", strlen("{\"op\":\"get\",\"key\":\"a\"}\n"));
	line = client_line(&c, 5000);
	ok(line_has(line, "\"ok\":true") && line_has(line, "\"key\":\"a\""), "get answered: %s", line);
	free(line);

	client_send(&c, "this is not json\n", strlen("this is not json\n"));
	line = client_line(&c, 5000);
	ok(line_has(line, "\"code\":\"invalid\"") && line_has(line, "not valid JSON"),
	    "malformed request: invalid with the reason: %s", line);
	free(line);
	client_send(&c, "{\"op\":\"get\",\"key\":\"a\",\"zap\":1}\n", strlen("{\"op\":\"get\",\"key\":\"a\",\"zap\":1}\n"));
	line = client_line(&c, 5000);
	ok(line_has(line, "unknown field \\\"zap\\\""), "extra field named in the error: %s", line);
	free(line);

	/* 3 MiB without a newline, then the newline, then a good request. */
	size_t big = 3u * 1024 * 1024;
	char *junk = malloc(big);
	memset(junk, 'x', big);
	client_send(&c, junk, big);
	client_send(&c, "\n{\"op\":\"get\",\"key\":\"after\"}\n", strlen("\n{\"op\":\"get\",\"key\":\"after\"}\n"));
	line = client_line(&c, 10000);
	ok(line_has(line, "\"code\":\"too_large\""), "oversized request: too_large: %.200s", line);
	free(line);
	line = client_line(&c, 10000);
	ok(line_has(line, "\"key\":\"after\""), "connection usable after an oversized request: %.200s", line);
	free(line);

	/* An oversized request that is valid JSON with a newline at once. */
	size_t n = PROTO_LINE_MAX + 100;
	memcpy(junk, "{\"op\":\"get\",\"key\":\"", 19);
	memset(junk + 19, 'k', n - 19);
	memcpy(junk + n - 3, "\"}\n", 3);
	client_send(&c, junk, n);
	client_send(&c, "{\"op\":\"get\",\"key\":\"again\"}\n", strlen("{\"op\":\"get\",\"key\":\"again\"}\n"));
	line = client_line(&c, 10000);
	ok(line_has(line, "too_large"), "oversized line with newline: too_large");
	free(line);
	line = client_line(&c, 10000);
	ok(line_has(line, "\"key\":\"again\""), "and the next request is served");
	free(line);
	free(junk);

	/* Pipelined: an async put between two gets keeps the order. */
	const char *three = "{\"op\":\"get\",\"key\":\"1\"}\n{\"op\":\"put\",\"key\":\"2\",\"value\":2}\n{\"op\":\"get\",\"key\":\"3\"}\n";
	client_send(&c, three, strlen(three));
	bool order = true;
	for (int i = 1; i <= 3; i++) {
		char want[32];
		snprintf(want, sizeof(want), "\"key\":\"%d\"", i);
		line = client_line(&c, 5000);
		if (!line_has(line, want))
			order = false, tap_diag("reply %d: %s", i, line ? line : "(none)");
		free(line);
	}
	ok(order, "pipelined replies come in request order (one from another thread)");

	client_send(&c, "{\"op\":\"status\"}\n", strlen("{\"op\":\"status\"}\n"));
	line = client_line(&c, 5000);
	ok(line_has(line, "\"may_write\":true"), "root may write: %s", line);
	free(line);
	client_close(&c);
	(void)srv;
}

/* Bit-flipped and truncated requests: one reply each, connection kept. */
static void test_garbage(const char *path)
{
	static const char *const valid[] = {
		"{\"op\":\"put\",\"key\":\"k\",\"value\":{\"a\":[1,2,{\"b\":null}]},\"expect\":3,\"id\":\"r\"}",
		"{\"op\":\"list\",\"prefix\":\"p\",\"start\":\"p1\",\"limit\":5}",
		"{\"op\":\"watch\",\"from\":1}",
		"{\"op\":\"promote\",\"wait\":true,\"timeout\":10}",
	};
	unsigned seed = 4242;
	struct client c;
	int replies = 0, sane = 0, total = 400;
	char line[256];

	client_open(&c, path);
	for (int i = 0; i < total; i++) {
		const char *v = valid[i % 4];
		size_t len = strlen(v);
		memcpy(line, v, len + 1);
		if (i % 5 == 0)
			len = (size_t)rand_r(&seed) % len;      /* truncated */
		int flips = 1 + rand_r(&seed) % 4;
		for (int f = 0; f < flips && len > 0; f++)
			line[rand_r(&seed) % len] ^= (char)(1 << (rand_r(&seed) % 8));
		for (size_t j = 0; j < len; j++)
			if (line[j] == '\n')
				line[j] = ' ';
		line[len] = '\n';
		client_send(&c, line, len + 1);
		char *reply = client_line(&c, 5000);
		if (reply)
			replies++;
		/* A flip may leave a valid request (a watch streams until its end). */
		if (line_has(reply, "\"code\":\"invalid\"") || line_has(reply, "\"ok\":true") ||
		    line_has(reply, "\"code\":\"too_large\""))
			sane++;
		else
			tap_diag("request %.*s got %s", (int)len, line, reply ? reply : "(nothing)");
		if (line_has(reply, "\"ok\":true") && line_has(reply, "\"seq\"")) {
			while (reply && !line_has(reply, "\"end\"")) {
				free(reply);
				reply = client_line(&c, 5000);
			}
		}
		free(reply);
	}
	is_int(replies, total, "%d damaged requests get one reply each", total);
	is_int(sane, total, "each an error (invalid) or, where the damage left a valid request, its answer");
	client_send(&c, "{\"op\":\"get\",\"key\":\"still\"}\n", strlen("{\"op\":\"get\",\"key\":\"still\"}\n"));
	char *reply = client_line(&c, 5000);
	ok(line_has(reply, "\"key\":\"still\""), "and the connection still serves");
	free(reply);
	client_close(&c);
}

static void test_denied(const char *path)
{
	struct passwd *nobody = getpwnam("nobody");
	int status;

	if (geteuid() != 0 || nobody == NULL) {
		/* Unprivileged, every peer is the daemon's own user: nothing
		 * to deny, and a check that cannot run must not pass. */
		ok(0, "denied: this check needs root (run make check as root, as scripts/run-tests does) and a 'nobody' user");
		return;
	}
	/* Credentials are taken at connect(): let nobody connect for the
	 * moment of this check. */
	char dir[256];
	struct stat dst;
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	stat(dir, &dst);
	chmod(dir, 0711);
	chmod(path, 0666);
	pid_t pid = fork();
	if (pid == 0) {
		struct client c;
		if (setgroups(0, NULL) < 0 || setgid(nobody->pw_gid) < 0 || setuid(nobody->pw_uid) < 0)
			_exit(2);
		if (client_open(&c, path) < 0)
			_exit(3);
		client_send(&c, "{\"op\":\"put\",\"key\":\"k\",\"value\":1}\n{\"op\":\"get\",\"key\":\"k\"}\n", strlen("{\"op\":\"put\",\"key\":\"k\",\"value\":1}\n{\"op\":\"get\",\"key\":\"k\"}\n"));
		char *l1 = client_line(&c, 5000);
		char *l2 = client_line(&c, 5000);
		int rc = line_has(l1, "\"code\":\"denied\"") ? 0 : 4;
		if (rc == 0 && !line_has(l2, "\"ok\":true"))
			rc = 5;
		_exit(rc);
	}
	waitpid(pid, &status, 0);
	chmod(path, 0660);
	chmod(dir, dst.st_mode & 07777);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "a peer outside the group is denied writes and may still read (child status %d)",
	    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* In a child with these credentials: connect, put; 0 ok, 10 denied. */
static int child_put(const char *path, uid_t uid, gid_t gid, const gid_t *groups, int ngroups)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		struct client c;
		if (setgroups((size_t)ngroups, groups) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
			_exit(2);
		if (client_open(&c, path) < 0)
			_exit(3);
		client_send(&c, "{\"op\":\"put\",\"key\":\"g\",\"value\":1}\n", strlen("{\"op\":\"put\",\"key\":\"g\",\"value\":1}\n"));
		char *line = client_line(&c, 5000);
		_exit(line_has(line, "\"ok\":true") ? 0 : line_has(line, "\"code\":\"denied\"") ? 10 : 4);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void test_group(const char *dir)
{
	struct passwd *nobody = getpwnam("nobody");
	/* getgrnam returns static storage: keep the numbers at once. */
	struct group *ng = getgrnam("nogroup");
	gid_t group_gid = ng ? ng->gr_gid : 0;
	struct group *other = getgrnam("daemon");
	gid_t other_gid = other ? other->gr_gid : 0;
	struct server srv;
	char path[256], why[512];
	struct stat st, dst;

	if (geteuid() != 0 || nobody == NULL || ng == NULL || other == NULL) {
		ok(0, "socket_group: this check needs root and the Debian base accounts nobody, nogroup and daemon");
		return;
	}
	snprintf(path, sizeof(path), "%s/grp.sock", dir);
	struct control_options opt = {
		.path = path, .group = "nogroup", .max_connections = 8,
		.dispatch = echo_dispatch, .ended = echo_ended, .arg = &srv,
	};
	memset(&srv, 0, sizeof(srv));
	if (control_open(&opt, &srv.ctl, why, sizeof(why)) < 0)
		tap_bail("control_open with a group: %s", why);
	pthread_create(&srv.thread, NULL, loop_thread, &srv);
	ok(stat(path, &st) == 0 && st.st_gid == group_gid && (st.st_mode & 07777) == 0660,
	    "the socket belongs to socket_group, mode 0660");
	stat(dir, &dst);
	chmod(dir, 0711);
	is_int(child_put(path, nobody->pw_uid, other_gid, &group_gid, 1), 0,
	    "a member through its supplementary groups (/proc/PID/status) may write");
	is_int(child_put(path, nobody->pw_uid, group_gid, NULL, 0), 0,
	    "a member through its primary group may write");
	chmod(path, 0666);
	is_int(child_put(path, nobody->pw_uid, other_gid, NULL, 0), 10,
	    "a peer outside the group is denied");
	chmod(dir, dst.st_mode & 07777);
	server_stop(&srv);

	opt.group = "no-such-group-ssfm";
	struct control *ctl = NULL;
	is_int(control_open(&opt, &ctl, why, sizeof(why)), -ENOENT, "an unknown socket_group is refused");
	ok(strstr(why, "no-such-group-ssfm") != NULL, "naming it: %s", why);
}

static void test_many(const char *path, struct server *srv)
{
	enum { N = 500 };
	static struct client cs[N];
	int opened = 0, answered = 0;

	for (int i = 0; i < N; i++)
		if (client_open(&cs[i], path) == 0)
			opened++;
	is_int(opened, N, "%d connections open", N);
	for (int i = 0; i < N; i++)
		if (cs[i].fd >= 0)
			client_send(&cs[i], "{\"op\":\"get\",\"key\":\"m\"}\n", strlen("{\"op\":\"get\",\"key\":\"m\"}\n"));
	for (int i = 0; i < N; i++) {
		char *line = cs[i].fd >= 0 ? client_line(&cs[i], 10000) : NULL;
		if (line_has(line, "\"key\":\"m\""))
			answered++;
		free(line);
	}
	is_int(answered, N, "all %d answered", N);
	for (int i = 0; i < N; i++)
		client_close(&cs[i]);
	(void)srv;
}

static void test_slow_client(const char *path, struct server *srv)
{
	struct client slow, fast, gone;
	char *line;

	client_open(&slow, path);
	client_open(&fast, path);
	atomic_store(&srv->ended, 0);
	/* 4000 events of 1 KiB against a 1 MiB bound; never read. */
	client_send(&slow, "{\"op\":\"watch\",\"from\":4000}\n", strlen("{\"op\":\"watch\",\"from\":4000}\n"));
	uint64_t t0 = tu_now_ms();
	client_send(&fast, "{\"op\":\"get\",\"key\":\"f\"}\n", strlen("{\"op\":\"get\",\"key\":\"f\"}\n"));
	line = client_line(&fast, 5000);
	ok(line_has(line, "\"key\":\"f\""), "another client is served while one does not read");
	tap_diag("answered in %llu ms", (unsigned long long)(tu_now_ms() - t0));
	free(line);
	ok(tu_wait_until(ended_at_least, srv, 5000, 10), "the overflowing stream was ended (dispatcher told)");
	int events = 0;
	bool overflow = false;
	while ((line = client_line(&slow, 5000)) != NULL) {
		if (line_has(line, "\"event\""))
			events++;
		if (line_has(line, "\"reason\":\"overflow\""))
			overflow = true;
		bool end = line_has(line, "\"end\"");
		free(line);
		if (end)
			break;
	}
	ok(overflow, "the slow client finds an overflow end line");
	ok(events > 0 && events < 4000, "after some of its events (%d)", events);
	client_send(&slow, "{\"op\":\"get\",\"key\":\"s\"}\n", strlen("{\"op\":\"get\",\"key\":\"s\"}\n"));
	line = client_line(&slow, 5000);
	ok(line_has(line, "\"key\":\"s\""), "and can send requests again");
	free(line);

	/* A small stream completes with its own end line. */
	client_send(&fast, "{\"op\":\"watch\",\"from\":3}\n", strlen("{\"op\":\"watch\",\"from\":3}\n"));
	int got = 0;
	bool done = false;
	while ((line = client_line(&fast, 5000)) != NULL) {
		got++;
		done = line_has(line, "\"reason\":\"done\"");
		free(line);
		if (done)
			break;
	}
	ok(done && got == 5, "a stream: ok line, 3 events, end line (%d lines)", got);

	/* A client that sends a watch and vanishes. */
	atomic_store(&srv->ended, 0);
	client_open(&gone, path);
	client_send(&gone, "{\"op\":\"watch\",\"from\":4000}\n", strlen("{\"op\":\"watch\",\"from\":4000}\n"));
	tu_sleep_ms(20);
	client_close(&gone);
	ok(tu_wait_until(ended_at_least, srv, 5000, 10), "a vanished client's stream is ended");
	client_close(&slow);
	client_close(&fast);
}

static void test_limits(const char *dir)
{
	struct server srv, other;
	char path[256], why[512];
	struct client cs[4];

	snprintf(path, sizeof(path), "%s/max.sock", dir);
	if (server_start(&srv, path, 3, 0, why, sizeof(why)) < 0)
		tap_bail("%s", why);
	for (int i = 0; i < 3; i++) {
		client_open(&cs[i], path);
		client_send(&cs[i], "{\"op\":\"status\"}\n", strlen("{\"op\":\"status\"}\n"));
		free(client_line(&cs[i], 5000));
	}
	client_open(&cs[3], path);
	char *line = client_line(&cs[3], 5000);
	ok(line_has(line, "\"code\":\"unavailable\""), "connection past max_connections: unavailable: %s", line);
	free(line);
	line = client_line(&cs[3], 2000);
	ok(line == NULL, "and closed");
	for (int i = 0; i < 4; i++)
		client_close(&cs[i]);

	int rc = server_start(&other, path, 3, 0, why, sizeof(why));
	is_int(rc, -EADDRINUSE, "a second server on the same path refuses");
	ok(strstr(why, "another daemon answers") && strstr(why, path), "saying so, with the path: %s", why);
	server_stop(&srv);
	ok(!tu_file_exists(path), "control_close removes the socket");

	/* A stale socket: bound, then its owner went away. */
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		tap_bail("socket path too long: %s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	ok(tu_file_exists(path), "stale socket file in place");
	rc = server_start(&srv, path, 3, 0, why, sizeof(why));
	is_int(rc, 0, "a stale socket is replaced (%s)", rc ? why : "ok");
	if (rc == 0) {
		client_open(&cs[0], path);
		client_send(&cs[0], "{\"op\":\"status\"}\n", strlen("{\"op\":\"status\"}\n"));
		line = client_line(&cs[0], 5000);
		ok(line_has(line, "\"ok\":true"), "and the new server answers");
		free(line);
		client_close(&cs[0]);
		server_stop(&srv);
	}

	snprintf(path, sizeof(path), "%s/regular", dir);
	tu_write_file(path, "keep me\n", 8);
	rc = server_start(&srv, path, 3, 0, why, sizeof(why));
	is_int(rc, -EEXIST, "a regular file at the path is refused");
	ok(tu_file_exists(path), "and left alone (%s)", why);

	snprintf(path, sizeof(path), "%s/%0120d", dir, 0);
	rc = server_start(&srv, path, 3, 0, why, sizeof(why));
	is_int(rc, -ENAMETOOLONG, "a path too long for sun_path is refused");
}

int main(void)
{
	const char *dir = tu_tmpdir("control");
	struct server srv;
	char path[256], why[512];

	snprintf(path, sizeof(path), "%s/c.sock", dir);
	if (server_start(&srv, path, 600, 1024 * 1024, why, sizeof(why)) < 0)
		tap_bail("control_open: %s", why);
	test_basics(path, &srv);
	test_garbage(path);
	test_denied(path);
	test_many(path, &srv);
	test_slow_client(path, &srv);
	server_stop(&srv);
	test_limits(dir);
	test_group(dir);
	return tap_done();
}
