/*
 * control.h: the control socket server, independent of what requests mean.
 *
 * What it does (STYLE.md habit 4):
 *  - refuses to start when another daemon answers on the socket path, and
 *    removes a stale socket (connect fails with ECONNREFUSED; the file must
 *    be a socket, anything else is left alone and refused);
 *  - creates the socket with umask 0117, mode 0660, owned by socket_group
 *    when one is configured;
 *  - reads requests as lines of at most PROTO_LINE_MAX bytes: a longer line
 *    gets a too_large error and is skipped up to its newline; a malformed
 *    one gets invalid; either way the connection stays usable;
 *  - checks the peer with SO_PEERCRED at accept: it may write when it is
 *    root, the daemon's own user, or a member of socket_group (its gid or
 *    one of the supplementary groups in /proc/PID/status).  Requests that
 *    change something (put, del, promote, demote, snapshot) from any other
 *    peer get "denied" without reaching the dispatcher;
 *  - serves each connection's requests one at a time, in order: while a
 *    request waits for its reply, the connection is not read (its
 *    pipelined requests wait in the kernel), so replies keep request order;
 *  - bounds what is queued for each client (output_limit).  A reply that
 *    would pass the bound while earlier replies are still unread closes the
 *    connection (the client is not reading); a stream (watch) line that
 *    would pass it ends the stream instead: the lines not sent are dropped,
 *    {"end":true,"reason":"overflow"} is queued, and the dispatcher is told
 *    with ended().  So a slow or vanished client never holds up others;
 *  - past max_connections, a new connection gets one "unavailable" error
 *    line and is closed, and the daemon logs it (at once, then at most
 *    every 10 s with a count);
 *  - an incomplete request (bytes without their newline) must be complete
 *    within request_timeout: a client that trickles a request (one byte a
 *    second) gets a "timeout" error line and is disconnected.  Idle
 *    connections (nothing sent) are kept: watchers and pooled clients are;
 *  - file descriptors: control_open raises the soft RLIMIT_NOFILE towards
 *    the hard one so that max_connections fit, and logs when they cannot.
 *    A connection whose descriptor would leave fewer than
 *    CONTROL_FD_RESERVE free gets "unavailable" (out of file descriptors)
 *    and is closed, so connections never take the descriptors that
 *    commits, lease checks and hooks need.  When accept itself fails for
 *    want of descriptors (EMFILE, ENFILE) or memory, the listening socket
 *    is set aside for CONTROL_ACCEPT_PAUSE_MS or until a connection closes
 *    (waiting on it at once would spin: it stays readable); connecting
 *    clients wait in the backlog meanwhile, existing ones are served.
 *
 * Two daemons starting at the same moment on a stale socket could both
 * remove it; the daemon's pid file lock (taken before control_open) is what
 * keeps a second daemon for the group out.
 *
 * Threads: control_open, control_fd, control_handle_events, control_close
 * and the callbacks belong to the event loop's thread.  control_reply,
 * control_stream and control_reply_error may be called from any thread
 * (the committer's, for writes): they post the line to a queue and wake the
 * loop through an eventfd; the loop applies it in control_handle_events.
 *
 * The loop waits for EPOLLIN on control_fd() (an epoll descriptor holding
 * the listening socket, the connections and the eventfd) and then calls
 * control_handle_events(), which never blocks.
 */
#ifndef SSFM_CONTROL_H
#define SSFM_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto.h"

#define CONTROL_OUTPUT_LIMIT_DEFAULT (8u * 1024u * 1024u)
#define CONTROL_MAX_CONNECTIONS_LIMIT 1000000u
#define CONTROL_REQUEST_TIMEOUT_DEFAULT_MS 10000u
/* Descriptors kept free of connections, for the store, sanlock and hooks. */
#define CONTROL_FD_RESERVE 64u

struct control;

struct control_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	bool may_write;
};

/*
 * A request is named by a 64-bit id, unique for the life of the server.
 * The dispatcher owns req (proto_request_free) and must end the request
 * with exactly one control_reply/control_reply_error, unless ended() is
 * called for it first; before that it may send stream lines.
 */
typedef void (*control_dispatch_fn)(void *arg, uint64_t id,
    const struct control_peer *peer, struct proto_request *req);
/* The request ended without its reply: the connection closed, or its
 * stream overflowed.  Later replies for id are dropped silently. */
typedef void (*control_ended_fn)(void *arg, uint64_t id);

struct control_options {
	const char *path;
	const char *group;          /* socket group name; NULL or "": none */
	unsigned max_connections;   /* 1..CONTROL_MAX_CONNECTIONS_LIMIT */
	size_t output_limit;        /* bytes per connection; 0: default */
	unsigned request_timeout_ms; /* an incomplete request's time; 0: default */
	control_dispatch_fn dispatch;
	control_ended_fn ended;     /* may be NULL */
	void *arg;
};

/* Returns 0 or a negative errno with why filled (naming the path):
 * -EADDRINUSE when another daemon answers, -EEXIST when the path is not a
 * socket, -ENAMETOOLONG, -ENOENT for an unknown group... */
int control_open(const struct control_options *opt, struct control **out,
    char *why, size_t why_len);
int control_fd(const struct control *ctl);
/* Accepts, reads, dispatches, writes, applies posted replies.  Returns 0 or
 * a negative errno for a failure of the server itself (epoll). */
int control_handle_events(struct control *ctl);
/* Closes every connection (ended() for requests in flight) and removes the
 * socket file if it is still ours.  Every thread that may call
 * control_reply/control_stream must have stopped before (the store's
 * committer: store_end_epoch). */
void control_close(struct control *ctl);

/* Thread-safe.  line: malloc'd, one JSON object ending in "\n"; ownership
 * passes here in every case (NULL is taken as out of memory and answered
 * with an internal error).  Lines posted by one thread go out in the order
 * posted.  control_reply ends the request; control_stream sends a line of
 * a stream (watch) and keeps it open.  Returns 0 or -ENOMEM. */
int control_reply(struct control *ctl, uint64_t id, char *line);
int control_stream(struct control *ctl, uint64_t id, char *line);
int control_reply_error(struct control *ctl, uint64_t id,
    enum proto_code code, const char *message, const char *active,
    int64_t version);

unsigned control_connections(const struct control *ctl);

/* Whether op changes state (needs a peer that may write). */
bool control_op_writes(enum proto_op op);

#endif
