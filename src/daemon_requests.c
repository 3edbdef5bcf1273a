/*
 * daemon_requests.c: what each control request does (proto.h).
 *
 *  - put, del: only while ACTIVE and accepting; handed to the store's
 *    committer with store_submit, and answered from the committer thread
 *    when the batch is durable and the lease confirmed (control_reply is
 *    thread-safe).  A write that fails because the writer failed or was
 *    fenced also raises commit_failed, which the loop turns into the role
 *    event commit_failed.
 *  - get, list: answered at once from the in-memory table, on any role: a
 *    standby answers from its hot copy, and says up to which sequence number
 *    it has applied ("applied_seq"), so a reader can tell how fresh it is.
 *  - watch: a stream fed by the store's on_apply (committer or follow),
 *    starting from a ring of recent operations kept here, and for a "from"
 *    older than the ring from the journal files (store_history_read); a
 *    "from" older than the journal kept ends the stream with "compacted".
 *  - status, promote, demote, snapshot: the loop's own state.
 *  - dump: pages of a consistent cut (daemon_dump.c).
 */
#include "daemon.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "log.h"

struct daemon_write_ctx {
	struct daemon *d;
	uint64_t id;
};

const char *daemon_active_host(struct daemon *d)
{
	static __thread char seal_host[STORE_HOST_MAX + 1];
	struct store_info info;

	if (d->role.role == ROLE_ACTIVE)
		return d->cfg->host;
	if (d->lease_holder[0] != '\0' && strcmp(d->lease_holder, d->cfg->host) != 0)
		return d->lease_holder;
	store_info(d->st, &info);
	if (info.last_seal.host[0] != '\0' && strcmp(info.last_seal.host, d->cfg->host) != 0) {
		snprintf(seal_host, sizeof(seal_host), "%s", info.last_seal.host);
		return seal_host;
	}
	return NULL;
}

static enum proto_code daemon_requests_code(int rc)
{
	switch (-rc) {
	case STORE_ECONFLICT: return PROTO_E_CONFLICT;
	case STORE_ENOTFOUND: return PROTO_E_NOT_FOUND;
	case STORE_EFENCED:
	case STORE_ELEASE: return PROTO_E_FENCED;
	case STORE_EFAILED: return PROTO_E_UNAVAILABLE;
	case STORE_ENOTWRITER:
	case STORE_ECLOSING: return PROTO_E_NOT_ACTIVE;
	case STORE_EKEY:
	case STORE_EVALUE: return PROTO_E_INVALID;
	case STORE_ETOOLARGE: return PROTO_E_TOO_LARGE;
	default: return PROTO_E_INTERNAL;
	}
}

static void daemon_requests_write_done(void *arg, const struct store_write_result *res)
{
	struct daemon_write_ctx *ctx = arg;
	struct daemon *d = ctx->d;

	if (res->rc == 0) {
		json_t *o = json_object();
		json_object_set_new(o, "version", json_integer((json_int_t)res->version));
		if (res->duplicate)
			json_object_set_new(o, "duplicate", json_true());
		control_reply(d->ctl, ctx->id, proto_reply_ok(o));
	} else {
		enum proto_code code = daemon_requests_code(res->rc);
		control_reply_error(d->ctl, ctx->id, code, res->msg[0] ? res->msg :
		    store_strerror(res->rc), NULL,
		    res->rc == -STORE_ECONFLICT ? (int64_t)res->current_version : -1);
		if (res->rc == -STORE_EFENCED || res->rc == -STORE_EFAILED ||
		    res->rc == -STORE_ELEASE) {
			atomic_store(&d->commit_failed, true);
			daemon_wake(d);
		}
	}
	atomic_fetch_sub(&d->writes_in_flight, 1);
	free(ctx);
}

static void daemon_requests_not_active(struct daemon *d, uint64_t id)
{
	const char *active = daemon_active_host(d);
	char msg[256];

	snprintf(msg, sizeof(msg), "%s is %s and takes no writes%s%s", d->cfg->host,
	    role_name(d->role.role), active ? "; the active host is " : "",
	    active ? active : "");
	control_reply_error(d->ctl, id, PROTO_E_NOT_ACTIVE, msg, active, -1);
}

static void daemon_requests_write(struct daemon *d, uint64_t id, struct proto_request *req)
{
	struct store_write_req w;
	struct daemon_write_ctx *ctx;
	int rc;

	if (d->role.role != ROLE_ACTIVE || !d->accepting) {
		daemon_requests_not_active(d, id);
		return;
	}
	memset(&w, 0, sizeof(w));
	w.kind = req->op == PROTO_OP_PUT ? STORE_OP_PUT : STORE_OP_DEL;
	w.key = req->key;
	w.key_len = req->key_len;
	w.value = req->value;
	w.value_len = req->value_len;
	w.expected_version = req->expect < 0 ? STORE_ANY_VERSION : req->expect;
	w.reqid = req->id;
	w.reqid_len = req->id ? strlen(req->id) : 0;
	ctx = malloc(sizeof(*ctx));
	if (ctx == NULL) {
		control_reply_error(d->ctl, id, PROTO_E_INTERNAL, "out of memory", NULL, -1);
		return;
	}
	ctx->d = d;
	ctx->id = id;
	atomic_fetch_add(&d->writes_in_flight, 1);
	rc = store_submit(d->st, &w, daemon_requests_write_done, ctx);
	if (rc < 0) {
		enum proto_code code = daemon_requests_code(rc);
		atomic_fetch_sub(&d->writes_in_flight, 1);
		free(ctx);
		if (code == PROTO_E_NOT_ACTIVE) {
			daemon_requests_not_active(d, id);
			return;
		}
		control_reply_error(d->ctl, id, code, store_strerror(rc), NULL, -1);
		if (rc == -STORE_EFAILED || rc == -STORE_EFENCED)
			daemon_event(d, ROLE_EV_COMMIT_FAILED);
	}
}

static json_t *daemon_requests_value(const char *text, size_t len)
{
	json_error_t jerr;

	return json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
}

static void daemon_requests_get(struct daemon *d, uint64_t id, struct proto_request *req)
{
	struct store_info info;
	char *value = NULL;
	size_t len = 0;
	uint64_t version = 0;
	json_t *o, *v;
	int rc;

	rc = store_get(d->st, req->key, req->key_len, &value, &len, &version);
	if (rc < 0) {
		char msg[PROTO_KEY_MAX + 64];
		snprintf(msg, sizeof(msg), "%s: %.*s", store_strerror(rc), (int)req->key_len,
		    req->key);
		control_reply_error(d->ctl, id, daemon_requests_code(rc), msg, NULL, -1);
		return;
	}
	v = daemon_requests_value(value, len);
	free(value);
	if (v == NULL) {
		control_reply_error(d->ctl, id, PROTO_E_INTERNAL, "stored value is not JSON", NULL, -1);
		return;
	}
	store_info(d->st, &info);
	o = json_object();
	json_object_set_new(o, "value", v);
	json_object_set_new(o, "version", json_integer((json_int_t)version));
	json_object_set_new(o, "applied_seq", json_integer((json_int_t)info.applied_seq));
	control_reply(d->ctl, id, proto_reply_ok(o));
}

struct daemon_list_ctx {
	json_t *items;
	size_t bytes, count, limit;
	char *next;
	size_t next_len;
	int failed;
};

static int daemon_requests_list_item(void *arg, const char *key, size_t key_len,
    const char *value, size_t value_len, uint64_t version)
{
	struct daemon_list_ctx *lc = arg;
	json_t *item, *v;

	if (lc->count == lc->limit || lc->bytes + key_len + value_len + 256 > PROTO_REPLY_MAX - 65536) {
		lc->next = strndup(key, key_len);
		lc->next_len = key_len;
		return 1;
	}
	v = daemon_requests_value(value, value_len);
	item = json_object();
	if (v == NULL || item == NULL ||
	    json_object_set_new(item, "key", json_stringn(key, key_len)) < 0 ||
	    json_object_set_new(item, "value", v) < 0 ||
	    json_object_set_new(item, "version", json_integer((json_int_t)version)) < 0 ||
	    json_array_append_new(lc->items, item) < 0) {
		json_decref(item);
		lc->failed = 1;
		return 1;
	}
	lc->count++;
	lc->bytes += key_len * 2 + value_len + 64;
	return 0;
}

static void daemon_requests_list(struct daemon *d, uint64_t id, struct proto_request *req)
{
	struct daemon_list_ctx lc;
	json_t *o;
	long n;

	memset(&lc, 0, sizeof(lc));
	lc.items = json_array();
	lc.limit = req->limit;
	n = store_list(d->st, req->prefix, req->prefix ? strlen(req->prefix) : 0, req->start,
	    req->start ? strlen(req->start) : 0, lc.limit + 1, daemon_requests_list_item, &lc);
	if (n < 0 || lc.failed || lc.items == NULL) {
		json_decref(lc.items);
		free(lc.next);
		control_reply_error(d->ctl, id, PROTO_E_INTERNAL, "list failed", NULL, -1);
		return;
	}
	o = json_object();
	json_object_set_new(o, "items", lc.items);
	if (lc.next != NULL)
		json_object_set_new(o, "next", json_stringn(lc.next, lc.next_len));
	free(lc.next);
	control_reply(d->ctl, id, proto_reply_ok(o));
}

/* ---- watch ------------------------------------------------------------- */

static bool daemon_requests_match(const struct daemon_watcher *w, const char *key,
    size_t key_len, bool seal)
{
	if (seal || w->prefix == NULL)
		return true;
	return key_len >= w->prefix_len && memcmp(key, w->prefix, w->prefix_len) == 0;
}

static void daemon_history_clear(struct daemon *d)
{
	for (unsigned i = 0; i < d->hist_len; i++)
		free(d->history[(d->hist_head + i) % DAEMON_HISTORY_OPS].key);
	d->hist_head = d->hist_len = 0;
	d->hist_bytes = 0;
}

static void daemon_history_drop_oldest(struct daemon *d)
{
	struct daemon_event *e = &d->history[d->hist_head];

	d->hist_floor = e->seq;
	d->hist_bytes -= e->bytes;
	free(e->key);
	d->hist_head = (d->hist_head + 1) % DAEMON_HISTORY_OPS;
	d->hist_len--;
}

/* The stream line of an operation (malloc'd, with "\n"), NULL without
 * memory. */
static char *daemon_requests_event_line(const struct store_applied *op)
{
	char host[STORE_HOST_MAX + 1];

	switch (op->kind) {
	case STORE_OP_PUT:
		return proto_event_put(op->seq, op->epoch, op->key, op->key_len, op->value,
		    op->value_len);
	case STORE_OP_DEL:
		return proto_event_del(op->seq, op->epoch, op->key, op->key_len);
	case STORE_OP_SEAL:
		snprintf(host, sizeof(host), "%.*s", (int)op->key_len, op->key);
		return proto_event_seal(op->seq, op->epoch, host);
	}
	return NULL;
}

static void daemon_history_op(const struct daemon_event *e, struct store_applied *op)
{
	memset(op, 0, sizeof(*op));
	op->kind = e->kind;
	op->seq = e->seq;
	op->epoch = e->epoch;
	op->key = e->key;
	op->key_len = e->key_len;
	op->value = e->value;
	op->value_len = e->value_len;
}

static void daemon_requests_end_watchers_locked(struct daemon *d, const char *reason)
{
	while (d->watchers != NULL) {
		struct daemon_watcher *w = d->watchers;
		d->watchers = w->next;
		if (d->ctl != NULL)
			control_reply(d->ctl, w->id, proto_event_end(reason));
		free(w->prefix);
		free(w);
	}
}

void daemon_requests_on_apply(void *arg, const struct store_applied *op)
{
	struct daemon *d = arg;
	struct daemon_event *e;
	char *line = NULL;
	bool seal = op->kind == STORE_OP_SEAL;
	size_t value_len = op->kind == STORE_OP_PUT ? op->value_len : 0;
	size_t bytes = op->key_len + value_len + 2 + sizeof(*e);
	char *copy = malloc(op->key_len + value_len + 2);

	pthread_mutex_lock(&d->watch_lock);
	if (d->last_seq != 0 && op->seq != d->last_seq + 1) {
		/* A reload from a snapshot: what came before is not in memory, and
		 * watchers would miss the operations skipped: they end, to read
		 * again from where they are. */
		daemon_history_clear(d);
		d->hist_floor = op->seq - 1;
		daemon_requests_end_watchers_locked(d, "compacted");
	}
	if (d->last_seq == 0 && d->hist_len == 0)
		d->hist_floor = op->seq - 1;
	d->last_seq = op->seq;
	if (!seal)
		d->ops_since_snapshot++;
	for (struct daemon_watcher **wp = &d->watchers; *wp != NULL;) {
		struct daemon_watcher *w = *wp;

		if (op->seq <= w->from || !daemon_requests_match(w, op->key, op->key_len, seal)) {
			wp = &w->next;
			continue;
		}
		if (line == NULL)
			line = FAULT_ALLOC("ssfmd/watch/event", daemon_requests_event_line(op));
		if (line == NULL || control_stream(d->ctl, w->id,
		    FAULT_ALLOC("ssfmd/watch/alloc", strdup(line))) < 0) {
			/* A watcher that missed an operation must not go on as if
			 * it had not: end its stream. */
			*wp = w->next;
			control_reply(d->ctl, w->id, proto_event_end("error"));
			free(w->prefix);
			free(w);
			continue;
		}
		wp = &w->next;
	}
	free(line);
	if (copy == NULL) {
		/* no memory: the ring cannot hold this operation, so a later
		 * watcher must not start below it */
		daemon_history_clear(d);
		d->hist_floor = op->seq;
		pthread_mutex_unlock(&d->watch_lock);
		return;
	}
	while (d->hist_len > 0 && (d->hist_len == DAEMON_HISTORY_OPS ||
	    d->hist_bytes + bytes > DAEMON_HISTORY_BYTES))
		daemon_history_drop_oldest(d);
	e = &d->history[(d->hist_head + d->hist_len) % DAEMON_HISTORY_OPS];
	memcpy(copy, op->key, op->key_len);
	copy[op->key_len] = '\0';
	e->seq = op->seq;
	e->epoch = op->epoch;
	e->kind = op->kind;
	e->key = copy;
	e->key_len = op->key_len;
	e->value = NULL;
	e->value_len = 0;
	if (op->kind == STORE_OP_PUT) {
		memcpy(copy + op->key_len + 1, op->value, value_len);
		copy[op->key_len + 1 + value_len] = '\0';
		e->value = copy + op->key_len + 1;
		e->value_len = value_len;
	}
	e->bytes = bytes;
	d->hist_len++;
	d->hist_bytes += bytes;
	pthread_mutex_unlock(&d->watch_lock);
}

struct daemon_replay {
	struct daemon *d;
	struct daemon_watcher *w;
	bool failed;
};

static void daemon_requests_replay_op(void *arg, const struct store_applied *op)
{
	struct daemon_replay *rp = arg;
	bool seal = op->kind == STORE_OP_SEAL;
	char *line;

	if (rp->failed || !daemon_requests_match(rp->w, op->key, op->key_len, seal))
		return;
	line = daemon_requests_event_line(op);
	if (line == NULL || control_stream(rp->d->ctl, rp->w->id, line) < 0)
		rp->failed = true;
}

/*
 * A watch from before the ring: the journal files from "from" up to the
 * ring's floor, read under watch_lock so that nothing applied meanwhile
 * slips between the replay and the ring (the committer waits for it in
 * on_apply: the replay reads one small file per batch).
 */
static const char *daemon_requests_replay(struct daemon *d, struct daemon_watcher *w,
    uint64_t from)
{
	struct daemon_replay rp = { d, w, false };
	struct store_error err = { 0, "" };
	long long n;

	n = store_history_read(d->st, from, d->hist_floor, daemon_requests_replay_op, &rp, &err);
	if (n == -STORE_EGAP) {
		log_debug("watch from %" PRIu64 ": %s", from, err.msg);
		return "compacted";
	}
	if (n < 0 || rp.failed) {
		log_warnx("watch from %" PRIu64 ": %s", from, n < 0 ? err.msg : "out of memory");
		return "error";
	}
	return NULL;
}

static void daemon_requests_watch(struct daemon *d, uint64_t id, struct proto_request *req)
{
	struct daemon_watcher *w = calloc(1, sizeof(*w));
	uint64_t from;
	json_t *o;

	if (w == NULL || (req->prefix != NULL && (w->prefix = strdup(req->prefix)) == NULL)) {
		free(w);
		control_reply_error(d->ctl, id, PROTO_E_INTERNAL, "out of memory", NULL, -1);
		return;
	}
	w->id = id;
	w->prefix_len = req->prefix ? strlen(req->prefix) : 0;
	pthread_mutex_lock(&d->watch_lock);
	from = req->from < 0 ? d->last_seq : (uint64_t)req->from;
	w->from = from;
	o = json_object();
	json_object_set_new(o, "seq", json_integer((json_int_t)d->last_seq));
	control_stream(d->ctl, id, proto_reply_ok(o));
	if (from < d->hist_floor) {
		const char *end = daemon_requests_replay(d, w, from);
		if (end != NULL) {
			pthread_mutex_unlock(&d->watch_lock);
			control_reply(d->ctl, id, proto_event_end(end));
			free(w->prefix);
			free(w);
			return;
		}
	}
	for (unsigned i = 0; i < d->hist_len; i++) {
		struct daemon_event *e = &d->history[(d->hist_head + i) % DAEMON_HISTORY_OPS];
		struct store_applied op;

		if (e->seq <= from ||
		    !daemon_requests_match(w, e->key, e->key_len, e->kind == STORE_OP_SEAL))
			continue;
		daemon_history_op(e, &op);
		if (control_stream(d->ctl, id, daemon_requests_event_line(&op)) < 0) {
			pthread_mutex_unlock(&d->watch_lock);
			control_reply(d->ctl, id, proto_event_end("error"));
			free(w->prefix);
			free(w);
			return;
		}
	}
	w->next = d->watchers;
	d->watchers = w;
	pthread_mutex_unlock(&d->watch_lock);
}

void daemon_requests_end_watches(struct daemon *d, const char *reason)
{
	pthread_mutex_lock(&d->watch_lock);
	daemon_requests_end_watchers_locked(d, reason);
	pthread_mutex_unlock(&d->watch_lock);
}

/* ---- promote, demote ---------------------------------------------------- */

static void daemon_requests_role_reply(struct daemon *d, uint64_t id)
{
	json_t *o = json_object();

	json_object_set_new(o, "role", json_string(role_name(d->role.role)));
	control_reply(d->ctl, id, proto_reply_ok(o));
}

static void daemon_requests_promote(struct daemon *d, uint64_t id, struct proto_request *req)
{
	enum role before = d->role.role;
	char msg[128];

	if (before == ROLE_JOINING || before == ROLE_DEMOTING || before == ROLE_STOPPED) {
		snprintf(msg, sizeof(msg), "%s is %s: cannot promote now", d->cfg->host,
		    role_name(before));
		control_reply_error(d->ctl, id, PROTO_E_UNAVAILABLE, msg, NULL, -1);
		return;
	}
	if (before == ROLE_STANDBY) {
		daemon_event(d, ROLE_EV_PROMOTE_REQUESTED);
		daemon_run_events(d);
	}
	if (d->role.role == ROLE_ACTIVE || !req->wait) {
		daemon_requests_role_reply(d, id);
		return;
	}
	struct daemon_waiter *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		control_reply_error(d->ctl, id, PROTO_E_INTERNAL, "out of memory", NULL, -1);
		return;
	}
	w->id = id;
	w->deadline_ms = daemon_now_ms() + (uint64_t)(req->timeout_ms > 0 ? req->timeout_ms :
	    DAEMON_PROMOTE_WAIT_MS);
	w->next = d->waiters;
	d->waiters = w;
	d->promote_retry_at = daemon_now_ms() + DAEMON_ACQUIRE_RETRY_MS;
}

void daemon_requests_promote_check(struct daemon *d, uint64_t now)
{
	struct daemon_waiter **pp = &d->waiters;

	if (d->waiters != NULL && d->role.role == ROLE_STANDBY && now >= d->promote_retry_at) {
		d->promote_retry_at = now + DAEMON_ACQUIRE_RETRY_MS;
		daemon_event(d, ROLE_EV_PROMOTE_REQUESTED);
		daemon_run_events(d);
	}
	while (*pp != NULL) {
		struct daemon_waiter *w = *pp;
		if (d->role.role == ROLE_ACTIVE) {
			daemon_requests_role_reply(d, w->id);
		} else if (now >= w->deadline_ms) {
			char msg[160];
			snprintf(msg, sizeof(msg), "%s did not become active in time (now %s%s%s)",
			    d->cfg->host, role_name(d->role.role),
			    d->lease_holder[0] ? "; the lease is held by " : "", d->lease_holder);
			control_reply_error(d->ctl, w->id, PROTO_E_TIMEOUT, msg, NULL, -1);
		} else {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		free(w);
	}
}

static void daemon_requests_demote(struct daemon *d, uint64_t id)
{
	daemon_event(d, ROLE_EV_DEMOTE_REQUESTED);
	daemon_run_events(d);
	daemon_requests_role_reply(d, id);
}

/* ---- dispatch ----------------------------------------------------------- */

void daemon_requests_dispatch(void *arg, uint64_t id, const struct control_peer *peer,
    struct proto_request *req)
{
	struct daemon *d = arg;
	json_t *o;

	log_debug("request %" PRIu64 " %s from pid %d", id, proto_op_name(req->op),
	    (int)peer->pid);
	switch (req->op) {
	case PROTO_OP_PUT:
	case PROTO_OP_DEL:
		daemon_requests_write(d, id, req);
		break;
	case PROTO_OP_GET:
		daemon_requests_get(d, id, req);
		break;
	case PROTO_OP_LIST:
		daemon_requests_list(d, id, req);
		break;
	case PROTO_OP_WATCH:
		daemon_requests_watch(d, id, req);
		break;
	case PROTO_OP_STATUS:
		o = json_object();
		json_object_set_new(o, "status", daemon_status_json(d));
		control_reply(d->ctl, id, proto_reply_ok(o));
		break;
	case PROTO_OP_PROMOTE:
		daemon_requests_promote(d, id, req);
		break;
	case PROTO_OP_DEMOTE:
		daemon_requests_demote(d, id);
		break;
	case PROTO_OP_SNAPSHOT:
		if (daemon_snapshot_request(d, id) < 0)
			control_reply_error(d->ctl, id, PROTO_E_INTERNAL, "out of memory", NULL, -1);
		break;
	case PROTO_OP_DUMP:
		daemon_dump_request(d, id, req);
		break;
	}
	proto_request_free(req);
}

void daemon_requests_ended(void *arg, uint64_t id)
{
	struct daemon *d = arg;
	struct daemon_watcher **wp;
	struct daemon_waiter **pp;

	pthread_mutex_lock(&d->watch_lock);
	for (wp = &d->watchers; *wp != NULL; wp = &(*wp)->next) {
		if ((*wp)->id == id) {
			struct daemon_watcher *w = *wp;
			*wp = w->next;
			free(w->prefix);
			free(w);
			break;
		}
	}
	pthread_mutex_unlock(&d->watch_lock);
	for (pp = &d->waiters; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			struct daemon_waiter *w = *pp;
			*pp = w->next;
			free(w);
			break;
		}
	}
}

void daemon_requests_free(struct daemon *d)
{
	pthread_mutex_lock(&d->watch_lock);
	while (d->watchers != NULL) {
		struct daemon_watcher *w = d->watchers;
		d->watchers = w->next;
		free(w->prefix);
		free(w);
	}
	daemon_history_clear(d);
	pthread_mutex_unlock(&d->watch_lock);
	daemon_dump_free(d);
	free(d->history);
	d->history = NULL;
	while (d->waiters != NULL) {
		struct daemon_waiter *w = d->waiters;
		d->waiters = w->next;
		free(w);
	}
}
