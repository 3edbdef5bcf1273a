/*
 * control.c: the control socket server (control.h).
 *
 * Connections live in a slot table; a request id carries the slot in its
 * low 20 bits and a counter above, so a reply finds its connection in one
 * step and a reply for a request that is over (connection closed and the
 * slot reused) no longer matches.
 */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define CONTROL_SLOT_BITS 20
#define CONTROL_SLOT_MASK ((1u << CONTROL_SLOT_BITS) - 1)
#define CONTROL_READ_CHUNK 65536
#define CONTROL_EV_LISTEN UINT64_MAX
#define CONTROL_EV_WAKE (UINT64_MAX - 1)
#define CONTROL_EV_TIMER (UINT64_MAX - 2)
/* After accept fails for want of descriptors or memory, the listening
 * socket is left alone this long (or until a connection closes): waiting
 * for it again at once would spin, as it stays readable. */
#define CONTROL_ACCEPT_PAUSE_MS 250
/* The same refusal is logged at once, then at most this often, with a count. */
#define CONTROL_LOG_EVERY_MS 10000

struct control_chunk {
	struct control_chunk *next;
	size_t len, off;
	char *data;
};

struct control_conn {
	int fd;
	uint32_t slot;
	struct control_peer peer;
	char *in;
	size_t in_len, in_cap;
	bool discarding;            /* skipping an oversized line */
	uint64_t partial_since;     /* ms: an incomplete request waits since (0: none) */
	bool in_eof;
	bool busy;                  /* a request waits for its reply */
	uint64_t req_id;
	bool streaming;
	struct control_chunk *out_head, *out_tail;
	size_t out_bytes;
	uint32_t events;            /* registered epoll mask */
};

struct control_post {
	struct control_post *next;
	uint64_t id;
	char *line;
	bool final;
};

/* A kind of refusal, logged at once and then at most every CONTROL_LOG_EVERY_MS. */
struct control_refusal {
	uint64_t count;             /* since the last log line */
	uint64_t total;
	uint64_t logged_ms;         /* 0: never logged */
};

struct control {
	int epfd, listen_fd, wake_fd, timer_fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t sock_dev;
	ino_t sock_ino;
	gid_t group_gid;
	bool has_group;
	uid_t own_uid;
	unsigned max_conns, nconns;
	size_t output_limit;
	uint64_t request_timeout_ms;
	uint64_t timer_at;          /* ms the timer fires at (0: disarmed) */
	bool accept_paused;
	uint64_t accept_resume_at;
	struct control_refusal refused_cap, refused_fds, refused_slow, overflowed;
	struct control_conn **slots;
	uint32_t free_hint;
	uint64_t counter;
	control_dispatch_fn dispatch;
	control_ended_fn ended;
	void *arg;
	pthread_mutex_t lock;       /* guards posts */
	struct control_post *posts_head, *posts_tail;
};

bool control_op_writes(enum proto_op op)
{
	return op == PROTO_OP_PUT || op == PROTO_OP_DEL || op == PROTO_OP_PROMOTE ||
	    op == PROTO_OP_DEMOTE || op == PROTO_OP_SNAPSHOT;
}

unsigned control_connections(const struct control *ctl)
{
	return ctl->nconns;
}

int control_fd(const struct control *ctl)
{
	return ctl->epfd;
}

static uint64_t control_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * A refusal is logged at once, then at most every CONTROL_LOG_EVERY_MS
 * with how many there were since: a flood of clients must not flood the
 * log (nor the syslog queue the lease path shares).
 */
static void control_refusal_note(struct control *ctl, struct control_refusal *r,
    const char *what)
{
	uint64_t now = control_now_ms();

	r->count++;
	r->total++;
	if (r->logged_ms != 0 && now - r->logged_ms < CONTROL_LOG_EVERY_MS)
		return;
	if (r->total == 1)
		log_warnx("control socket %s: %s", ctl->path, what);
	else
		log_warnx("control socket %s: %s (%llu times since the last report, %llu in all)",
		    ctl->path, what, (unsigned long long)r->count, (unsigned long long)r->total);
	r->count = 0;
	r->logged_ms = now;
}

/* Arms the timer at `at` (CLOCK_MONOTONIC ms) unless it fires sooner. */
static void control_timer_arm(struct control *ctl, uint64_t at)
{
	struct itimerspec its;

	if (ctl->timer_at != 0 && ctl->timer_at <= at)
		return;
	ctl->timer_at = at;
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = (time_t)(at / 1000);
	its.it_value.tv_nsec = (long)(at % 1000) * 1000000L;
	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	timerfd_settime(ctl->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/*
 * Room for max_connections: a soft RLIMIT_NOFILE below what they need is
 * raised towards the hard limit (the stock soft limit, 1024, would refuse
 * connections well before the default max_connections).
 */
static void control_raise_nofile(const char *path, unsigned max_conns)
{
	rlim_t want = (rlim_t)max_conns + CONTROL_FD_RESERVE + 64;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
		return;
	rlim_t before = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
	if (rl.rlim_cur > before && setrlimit(RLIMIT_NOFILE, &rl) == 0)
		log_info("control socket %s: RLIMIT_NOFILE raised from %llu to %llu for max_connections %u",
		    path, (unsigned long long)before, (unsigned long long)rl.rlim_cur, max_conns);
	else
		rl.rlim_cur = before;
	if (rl.rlim_cur < want)
		log_warnx("control socket %s: RLIMIT_NOFILE %llu leaves room for fewer than max_connections %u connections; further ones get \"unavailable\" (raise the hard limit: LimitNOFILE= in systemd, ulimit -Hn)",
		    path, (unsigned long long)rl.rlim_cur, max_conns);
}

/* Whether descriptor fd leaves fewer than CONTROL_FD_RESERVE free.  Linux
 * hands out the lowest free number, so fd approximates how many are open. */
static bool control_fds_short(int fd, unsigned long long *limit)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return false;
	*limit = (unsigned long long)rl.rlim_cur;
	return (rlim_t)fd + CONTROL_FD_RESERVE >= rl.rlim_cur;
}

/* ---- opening ---------------------------------------------------------------- */

static int control_fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

/*
 * 0: nothing at path (or a stale socket, now removed); -EADDRINUSE: a
 * daemon answers; -EEXIST: path is not a socket; other: cannot tell.
 */
static int control_clear_path(const char *path, char *why, size_t why_len)
{
	struct sockaddr_un sa;
	struct stat st;
	int rc = 0;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		rc = -errno;
		snprintf(why, why_len, "control socket %s: %s", path, strerror(errno));
		return rc;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(why, why_len, "control socket %s: exists and is not a socket; not removing it", path);
		return -EEXIST;
	}
	control_fill_addr(&sa, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		snprintf(why, why_len, "socket: %s", strerror(errno));
		return rc;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		snprintf(why, why_len, "control socket %s: another daemon answers on it", path);
		rc = -EADDRINUSE;
	} else if (errno == ECONNREFUSED) {
		/* Nobody listens: left over by a daemon that died. */
		if (unlink(path) < 0 && errno != ENOENT) {
			rc = -errno;
			snprintf(why, why_len, "control socket %s: cannot remove the stale socket: %s",
			    path, strerror(errno));
		}
	} else {
		rc = -errno;
		snprintf(why, why_len, "control socket %s: cannot tell whether a daemon answers: %s",
		    path, strerror(errno));
	}
	close(fd);
	return rc;
}

static int control_lookup_group(const char *name, gid_t *gid, char *why, size_t why_len)
{
	struct group grp, *found = NULL;
	char buf[16384];

	int rc = getgrnam_r(name, &grp, buf, sizeof(buf), &found);
	if (rc != 0 || found == NULL) {
		snprintf(why, why_len, "socket_group %s: %s", name,
		    rc ? strerror(rc) : "no such group");
		return rc ? -rc : -ENOENT;
	}
	*gid = grp.gr_gid;
	return 0;
}

static int control_epoll_add(struct control *ctl, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	return epoll_ctl(ctl->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int control_open(const struct control_options *opt, struct control **out,
    char *why, size_t why_len)
{
	struct sockaddr_un sa;
	struct stat st;
	int rc;

	*out = NULL;
	if (opt->max_connections == 0 || opt->max_connections > CONTROL_MAX_CONNECTIONS_LIMIT ||
	    opt->dispatch == NULL) {
		snprintf(why, why_len, "control socket %s: bad options", opt->path);
		return -EINVAL;
	}
	if (control_fill_addr(&sa, opt->path) < 0) {
		snprintf(why, why_len, "control socket %s: path longer than %zu bytes",
		    opt->path, sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	struct control *ctl = calloc(1, sizeof(*ctl));
	if (ctl == NULL)
		return -ENOMEM;
	ctl->epfd = ctl->listen_fd = ctl->wake_fd = ctl->timer_fd = -1;
	pthread_mutex_init(&ctl->lock, NULL);
	strcpy(ctl->path, opt->path);
	ctl->max_conns = opt->max_connections;
	ctl->output_limit = opt->output_limit ? opt->output_limit : CONTROL_OUTPUT_LIMIT_DEFAULT;
	ctl->request_timeout_ms = opt->request_timeout_ms ? opt->request_timeout_ms :
	    CONTROL_REQUEST_TIMEOUT_DEFAULT_MS;
	ctl->dispatch = opt->dispatch;
	ctl->ended = opt->ended;
	ctl->arg = opt->arg;
	ctl->own_uid = geteuid();
	ctl->slots = calloc(opt->max_connections, sizeof(*ctl->slots));
	if (ctl->slots == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	if (opt->group && opt->group[0]) {
		rc = control_lookup_group(opt->group, &ctl->group_gid, why, why_len);
		if (rc < 0)
			goto fail;
		ctl->has_group = true;
	}
	rc = control_clear_path(opt->path, why, why_len);
	if (rc < 0)
		goto fail;

	ctl->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->listen_fd < 0) {
		rc = -errno;
		snprintf(why, why_len, "socket: %s", strerror(errno));
		goto fail;
	}
	/* The umask makes the socket 0660 from its first moment: no window
	 * in which others could connect before the chmod.  The umask is the
	 * process's: control_open runs at start, before other threads make
	 * files. */
	mode_t old_mask = umask(0117);
	int bound = bind(ctl->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
	int bind_errno = errno;
	umask(old_mask);
	if (bound < 0) {
		rc = -bind_errno;
		snprintf(why, why_len, "control socket %s: bind: %s%s", opt->path, strerror(bind_errno),
		    bind_errno == EADDRINUSE ? " (another daemon started at the same time?)" : "");
		goto fail;
	}
	if (stat(opt->path, &st) == 0) {
		ctl->sock_dev = st.st_dev;
		ctl->sock_ino = st.st_ino;
	}
	if (chmod(opt->path, 0660) < 0 ||
	    (ctl->has_group && chown(opt->path, (uid_t)-1, ctl->group_gid) < 0)) {
		rc = -errno;
		snprintf(why, why_len, "control socket %s: cannot set mode 0660%s: %s", opt->path,
		    ctl->has_group ? " and group" : "", strerror(errno));
		goto fail_unlink;
	}
	if (listen(ctl->listen_fd, 128) < 0) {
		rc = -errno;
		snprintf(why, why_len, "control socket %s: listen: %s", opt->path, strerror(errno));
		goto fail_unlink;
	}
	ctl->epfd = epoll_create1(EPOLL_CLOEXEC);
	ctl->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ctl->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (ctl->epfd < 0 || ctl->wake_fd < 0 || ctl->timer_fd < 0) {
		rc = -errno;
		snprintf(why, why_len, "control socket %s: epoll/eventfd/timerfd: %s", opt->path,
		    strerror(errno));
		goto fail_unlink;
	}
	if ((rc = control_epoll_add(ctl, ctl->listen_fd, EPOLLIN, CONTROL_EV_LISTEN)) < 0 ||
	    (rc = control_epoll_add(ctl, ctl->wake_fd, EPOLLIN, CONTROL_EV_WAKE)) < 0 ||
	    (rc = control_epoll_add(ctl, ctl->timer_fd, EPOLLIN, CONTROL_EV_TIMER)) < 0) {
		snprintf(why, why_len, "control socket %s: epoll_ctl: %s", opt->path, strerror(-rc));
		goto fail_unlink;
	}
	control_raise_nofile(opt->path, opt->max_connections);
	*out = ctl;
	return 0;
fail_unlink:
	unlink(opt->path);
fail:
	if (ctl->listen_fd >= 0)
		close(ctl->listen_fd);
	if (ctl->epfd >= 0)
		close(ctl->epfd);
	if (ctl->wake_fd >= 0)
		close(ctl->wake_fd);
	if (ctl->timer_fd >= 0)
		close(ctl->timer_fd);
	free(ctl->slots);
	pthread_mutex_destroy(&ctl->lock);
	free(ctl);
	return rc;
}

/* ---- connections ------------------------------------------------------------- */

static bool control_in_groups(pid_t pid, gid_t gid)
{
	char path[64], line[4096];
	bool found = false;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		char *p = line + 7, *end;
		for (;;) {
			errno = 0;
			unsigned long g = strtoul(p, &end, 10);
			if (end == p || errno)
				break;
			if ((gid_t)g == gid)
				found = true;
			p = end;
		}
		break;
	}
	fclose(f);
	return found;
}

static void control_peer_creds(struct control *ctl, int fd, struct control_peer *peer)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	memset(peer, 0, sizeof(*peer));
	peer->pid = -1;
	peer->uid = (uid_t)-1;
	peer->gid = (gid_t)-1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return;
	peer->pid = cred.pid;
	peer->uid = cred.uid;
	peer->gid = cred.gid;
	peer->may_write = cred.uid == 0 || cred.uid == ctl->own_uid ||
	    (ctl->has_group && (cred.gid == ctl->group_gid ||
	    control_in_groups(cred.pid, ctl->group_gid)));
}

static void control_update_events(struct control *ctl, struct control_conn *c)
{
	uint32_t want = 0;

	if (!c->busy && !c->in_eof)
		want |= EPOLLIN;
	if (c->out_bytes > 0)
		want |= EPOLLOUT;
	if (want == c->events)
		return;
	struct epoll_event ev = { .events = want, .data.u64 = c->slot };
	if (epoll_ctl(ctl->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = want;
}

/* Accept failed for want of descriptors or memory: set the listening
 * socket aside for a while rather than spin on it. */
static void control_accept_pause(struct control *ctl, int err)
{
	struct epoll_event ev = { .events = 0, .data.u64 = CONTROL_EV_LISTEN };
	char what[256];

	if (epoll_ctl(ctl->epfd, EPOLL_CTL_MOD, ctl->listen_fd, &ev) < 0)
		return;
	ctl->accept_paused = true;
	ctl->accept_resume_at = control_now_ms() + CONTROL_ACCEPT_PAUSE_MS;
	control_timer_arm(ctl, ctl->accept_resume_at);
	snprintf(what, sizeof(what), "accept: %s (%u connections open): new connections wait until descriptors free up",
	    strerror(err), ctl->nconns);
	control_refusal_note(ctl, &ctl->refused_fds, what);
}

static void control_accept_resume(struct control *ctl)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = CONTROL_EV_LISTEN };

	if (ctl->accept_paused && epoll_ctl(ctl->epfd, EPOLL_CTL_MOD, ctl->listen_fd, &ev) == 0)
		ctl->accept_paused = false;
}

static void control_conn_close(struct control *ctl, struct control_conn *c)
{
	uint64_t pending = c->busy ? c->req_id : 0;

	epoll_ctl(ctl->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	while (c->out_head) {
		struct control_chunk *next = c->out_head->next;
		free(c->out_head->data);
		free(c->out_head);
		c->out_head = next;
	}
	ctl->slots[c->slot] = NULL;
	ctl->nconns--;
	free(c->in);
	free(c);
	/* A descriptor is free again: connections waiting may get it. */
	control_accept_resume(ctl);
	if (pending && ctl->ended)
		ctl->ended(ctl->arg, pending);
}

/* Writes what the socket takes now.  Returns -1 if the connection died. */
static int control_flush(struct control_conn *c)
{
	while (c->out_head) {
		struct control_chunk *ch = c->out_head;
		ssize_t n = send(c->fd, ch->data + ch->off, ch->len - ch->off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		ch->off += (size_t)n;
		c->out_bytes -= (size_t)n;
		if (ch->off == ch->len) {
			c->out_head = ch->next;
			if (c->out_head == NULL)
				c->out_tail = NULL;
			free(ch->data);
			free(ch);
		}
	}
	return 0;
}

/* Queues line (taken).  Returns -1 on allocation failure. */
static int control_queue(struct control_conn *c, char *line)
{
	struct control_chunk *ch = malloc(sizeof(*ch));

	if (ch == NULL) {
		free(line);
		return -1;
	}
	ch->next = NULL;
	ch->data = line;
	ch->len = strlen(line);
	ch->off = 0;
	if (c->out_tail)
		c->out_tail->next = ch;
	else
		c->out_head = ch;
	c->out_tail = ch;
	c->out_bytes += ch->len;
	return 0;
}

static void control_queue_error(struct control_conn *c, enum proto_code code, const char *msg)
{
	char *line = proto_reply_error(code, msg, NULL, -1);

	if (line)
		control_queue(c, line);
}

/* Answers one error line to a connection not taken, and closes it. */
static void control_refuse(int fd, const char *message)
{
	char *line = proto_reply_error(PROTO_E_UNAVAILABLE, message, NULL, -1);

	if (line)
		(void)!send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT);
	free(line);
	close(fd);
}

static void control_conn_accept(struct control *ctl)
{
	unsigned long long limit = 0;
	char what[256];

	for (;;) {
		int fd = accept4(ctl->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				control_accept_pause(ctl, errno);
			return;     /* EAGAIN: none left */
		}
		if (ctl->nconns >= ctl->max_conns) {
			control_refuse(fd, "too many connections (max_connections)");
			snprintf(what, sizeof(what), "%u connections: max_connections reached, refusing new ones",
			    ctl->nconns);
			control_refusal_note(ctl, &ctl->refused_cap, what);
			continue;
		}
		if (control_fds_short(fd, &limit)) {
			control_refuse(fd, "out of file descriptors (RLIMIT_NOFILE)");
			snprintf(what, sizeof(what), "%u connections: descriptor %d leaves fewer than %u of RLIMIT_NOFILE %llu free, refusing new connections",
			    ctl->nconns, fd, CONTROL_FD_RESERVE, limit);
			control_refusal_note(ctl, &ctl->refused_fds, what);
			continue;
		}
		struct control_conn *c = calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			continue;
		}
		uint32_t slot = ctl->free_hint;
		while (ctl->slots[slot])
			slot = (slot + 1) % ctl->max_conns;
		ctl->free_hint = (slot + 1) % ctl->max_conns;
		c->fd = fd;
		c->slot = slot;
		c->events = EPOLLIN;
		control_peer_creds(ctl, fd, &c->peer);
		if (control_epoll_add(ctl, fd, EPOLLIN, slot) < 0) {
			close(fd);
			free(c);
			continue;
		}
		ctl->slots[slot] = c;
		ctl->nconns++;
	}
}

static void control_handle_line(struct control *ctl, struct control_conn *c,
    const char *line, size_t len)
{
	struct proto_request req;
	char why[512];

	enum proto_code code = proto_parse_request(line, len, &req, why, sizeof(why));
	if (code != PROTO_OK) {
		control_queue_error(c, code, why);
		return;
	}
	if (control_op_writes(req.op) && !c->peer.may_write) {
		snprintf(why, sizeof(why), "%s: uid %d may not write (not root, nor in the socket group)",
		    proto_op_name(req.op), (int)c->peer.uid);
		proto_request_free(&req);
		control_queue_error(c, PROTO_E_DENIED, why);
		return;
	}
	c->busy = true;
	c->streaming = false;
	c->req_id = (++ctl->counter << CONTROL_SLOT_BITS) | c->slot;
	ctl->dispatch(ctl->arg, c->req_id, &c->peer, &req);
}

/* Serves the complete lines buffered while the connection is not busy. */
static void control_process_input(struct control *ctl, struct control_conn *c)
{
	size_t pos = 0;

	while (!c->busy && pos < c->in_len) {
		char *nl = memchr(c->in + pos, '\n', c->in_len - pos);
		if (nl == NULL)
			break;
		size_t len = (size_t)(nl - (c->in + pos)) + 1;
		if (c->discarding)
			c->discarding = false;
		else if (len > PROTO_LINE_MAX)
			control_queue_error(c, PROTO_E_TOO_LARGE, "request longer than 2 MiB");
		else
			control_handle_line(ctl, c, c->in + pos, len);
		pos += len;
	}
	if (pos > 0) {
		memmove(c->in, c->in + pos, c->in_len - pos);
		c->in_len -= pos;
	}
	/* An idle connection does not keep the room a big request needed. */
	if (c->in_len == 0 && c->in_cap > 2 * CONTROL_READ_CHUNK) {
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
	if (!c->busy && c->in_len >= PROTO_LINE_MAX) {
		/* No newline within the bound: answer now, skip the rest. */
		if (!c->discarding)
			control_queue_error(c, PROTO_E_TOO_LARGE, "request longer than 2 MiB");
		c->discarding = true;
		c->in_len = 0;
	}
	/* The clock of request_timeout runs from the first byte of a request
	 * that the server is ready to read. */
	if (c->busy || (c->in_len == 0 && !c->discarding)) {
		c->partial_since = 0;
	} else if (c->partial_since == 0 || pos > 0) {
		c->partial_since = control_now_ms();
		control_timer_arm(ctl, c->partial_since + ctl->request_timeout_ms);
	}
}

/* Returns -1 when the connection must close. */
static int control_conn_read(struct control *ctl, struct control_conn *c)
{
	while (!c->busy && !c->in_eof) {
		if (c->in_cap - c->in_len < CONTROL_READ_CHUNK) {
			size_t cap = c->in_len + CONTROL_READ_CHUNK;
			char *grown = realloc(c->in, cap);
			if (grown == NULL)
				return -1;
			c->in = grown;
			c->in_cap = cap;
		}
		ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -1;
		}
		if (n == 0) {
			c->in_eof = true;
			break;
		}
		c->in_len += (size_t)n;
		control_process_input(ctl, c);
	}
	return 0;
}

/* After any change: flush, close when finished, fix the epoll mask. */
static void control_conn_settle(struct control *ctl, struct control_conn *c)
{
	if (control_flush(c) < 0) {
		control_conn_close(ctl, c);
		return;
	}
	if (c->in_eof && !c->busy) {
		control_process_input(ctl, c);
		if (!c->busy && c->out_bytes == 0) {
			control_conn_close(ctl, c);
			return;
		}
	}
	control_update_events(ctl, c);
}

/* ---- replies --------------------------------------------------------------- */

static int control_post(struct control *ctl, uint64_t id, char *line, bool final)
{
	struct control_post *p;

	if (line == NULL) {
		if (!final)
			return -ENOMEM;
		line = proto_reply_error(PROTO_E_INTERNAL, "out of memory", NULL, -1);
		if (line == NULL)
			return -ENOMEM;
	}
	p = malloc(sizeof(*p));
	if (p == NULL) {
		free(line);
		return -ENOMEM;
	}
	p->next = NULL;
	p->id = id;
	p->line = line;
	p->final = final;
	pthread_mutex_lock(&ctl->lock);
	bool was_empty = ctl->posts_head == NULL;
	if (ctl->posts_tail)
		ctl->posts_tail->next = p;
	else
		ctl->posts_head = p;
	ctl->posts_tail = p;
	pthread_mutex_unlock(&ctl->lock);
	/* The loop reads wake_fd before it takes the whole list: only the
	 * first post of a list it has not taken yet needs to wake it (a batch
	 * answers all its writers at once). */
	if (was_empty) {
		uint64_t one = 1;
		(void)!write(ctl->wake_fd, &one, sizeof(one));
	}
	return 0;
}

int control_reply(struct control *ctl, uint64_t id, char *line)
{
	return control_post(ctl, id, line, true);
}

int control_stream(struct control *ctl, uint64_t id, char *line)
{
	return control_post(ctl, id, line, false);
}

int control_reply_error(struct control *ctl, uint64_t id,
    enum proto_code code, const char *message, const char *active,
    int64_t version)
{
	return control_post(ctl, id, proto_reply_error(code, message, active, version), true);
}

static void control_apply_post(struct control *ctl, struct control_post *p)
{
	struct control_conn *c = ctl->slots[p->id & CONTROL_SLOT_MASK];
	size_t len = strlen(p->line);

	if (c == NULL || !c->busy || c->req_id != p->id) {
		free(p->line);
		return;
	}
	if (!p->final) {
		if (c->out_bytes + len > ctl->output_limit) {
			uint64_t id = c->req_id;
			char what[200];
			snprintf(what, sizeof(what), "pid %d does not read its watch stream: %zu bytes unsent, ended with overflow",
			    (int)c->peer.pid, c->out_bytes);
			control_refusal_note(ctl, &ctl->overflowed, what);
			free(p->line);
			char *end = proto_event_end("overflow");
			if (end)
				control_queue(c, end);
			c->busy = false;
			c->streaming = false;
			if (ctl->ended)
				ctl->ended(ctl->arg, id);
		} else {
			c->streaming = true;
			control_queue(c, p->line);
		}
	} else {
		if (c->out_bytes > 0 && c->out_bytes + len > ctl->output_limit && !c->streaming) {
			/* Earlier replies are still unread and this one passes
			 * the bound: the client does not read. */
			char what[200];
			snprintf(what, sizeof(what), "pid %d does not read its replies: %zu bytes unsent, disconnected",
			    (int)c->peer.pid, c->out_bytes);
			control_refusal_note(ctl, &ctl->overflowed, what);
			free(p->line);
			c->busy = false;
			control_conn_close(ctl, c);
			return;
		}
		control_queue(c, p->line);
		c->busy = false;
		c->streaming = false;
		control_process_input(ctl, c);
	}
	if (ctl->slots[p->id & CONTROL_SLOT_MASK] == c)
		control_conn_settle(ctl, c);
}

static void control_apply_posts(struct control *ctl)
{
	uint64_t count;

	(void)!read(ctl->wake_fd, &count, sizeof(count));
	pthread_mutex_lock(&ctl->lock);
	struct control_post *p = ctl->posts_head;
	ctl->posts_head = ctl->posts_tail = NULL;
	pthread_mutex_unlock(&ctl->lock);
	while (p) {
		struct control_post *next = p->next;
		control_apply_post(ctl, p);
		free(p);
		p = next;
	}
}

/* ---- timers --------------------------------------------------------------------- */

static void control_conn_timeout(struct control *ctl, struct control_conn *c, uint64_t waited)
{
	char msg[160], what[256];

	snprintf(msg, sizeof(msg), "request not complete after %llu ms (request_timeout): disconnecting",
	    (unsigned long long)waited);
	control_queue_error(c, PROTO_E_TIMEOUT, msg);
	(void)control_flush(c);
	snprintf(what, sizeof(what), "pid %d sent an incomplete request for %llu ms (request_timeout %llu ms): disconnected",
	    (int)c->peer.pid, (unsigned long long)waited, (unsigned long long)ctl->request_timeout_ms);
	control_refusal_note(ctl, &ctl->refused_slow, what);
	control_conn_close(ctl, c);
}

/* The timer fired: resume accepting, end requests past request_timeout,
 * and arm for what comes next. */
static void control_timer_fired(struct control *ctl)
{
	uint64_t count, now = control_now_ms(), next = 0;

	while (read(ctl->timer_fd, &count, sizeof(count)) > 0)
		;
	ctl->timer_at = 0;
	if (ctl->accept_paused) {
		if (now >= ctl->accept_resume_at)
			control_accept_resume(ctl);
		else
			next = ctl->accept_resume_at;
	}
	for (unsigned i = 0; i < ctl->max_conns; i++) {
		struct control_conn *c = ctl->slots[i];

		if (c == NULL || c->partial_since == 0 || c->busy)
			continue;
		uint64_t due = c->partial_since + ctl->request_timeout_ms;
		if (now >= due)
			control_conn_timeout(ctl, c, now - c->partial_since);
		else if (next == 0 || due < next)
			next = due;
	}
	if (next != 0)
		control_timer_arm(ctl, next);
}

/* ---- the loop's entry points -------------------------------------------------- */

int control_handle_events(struct control *ctl)
{
	struct epoll_event evs[64];
	int n;

	do
		n = epoll_wait(ctl->epfd, evs, 64, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		uint64_t data = evs[i].data.u64;
		if (data == CONTROL_EV_LISTEN) {
			control_conn_accept(ctl);
			continue;
		}
		if (data == CONTROL_EV_WAKE)
			continue;       /* applied below, after every connection */
		if (data == CONTROL_EV_TIMER) {
			control_timer_fired(ctl);
			continue;
		}
		struct control_conn *c = ctl->slots[data];
		if (c == NULL)
			continue;
		if (evs[i].events & EPOLLIN) {
			if (control_conn_read(ctl, c) < 0) {
				control_conn_close(ctl, c);
				continue;
			}
		} else if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
			/* Not reading (a request is in flight) and the peer
			 * is gone: nobody is left to answer. */
			control_conn_close(ctl, c);
			continue;
		}
		if (ctl->slots[data] == c)
			control_conn_settle(ctl, c);
	}
	/* Replies posted by the dispatcher during this round, or by other
	 * threads, go out now rather than on the next wake-up. */
	control_apply_posts(ctl);
	return 0;
}

void control_close(struct control *ctl)
{
	struct stat st;

	if (ctl == NULL)
		return;
	for (unsigned i = 0; i < ctl->max_conns; i++)
		if (ctl->slots[i])
			control_conn_close(ctl, ctl->slots[i]);
	/* Remove the socket only if it is still the one we made. */
	if (stat(ctl->path, &st) == 0 && st.st_dev == ctl->sock_dev && st.st_ino == ctl->sock_ino)
		unlink(ctl->path);
	close(ctl->listen_fd);
	close(ctl->wake_fd);
	close(ctl->timer_fd);
	close(ctl->epfd);
	struct control_post *p = ctl->posts_head;
	while (p) {
		struct control_post *next = p->next;
		free(p->line);
		free(p);
		p = next;
	}
	free(ctl->slots);
	pthread_mutex_destroy(&ctl->lock);
	free(ctl);
}
