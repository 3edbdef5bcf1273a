/*
 * proto.h: the control protocol spoken on the daemon's Unix socket, shared
 * by ssfmd and libssfm.  The same text is in libssfm(3), PROTOCOL.
 *
 * Framing: one JSON object per line each way, UTF-8, "\n"-terminated, at
 * most PROTO_LINE_MAX bytes with the newline.  A connection carries any
 * number of requests; replies come in request order (the daemon reads the
 * next request of a connection only after answering the previous one).
 *
 * Requests.  Every request has "op"; it may have "v": the protocol version,
 * which must be 1 when present (a later version that changes a request's
 * meaning is refused by this daemon with "invalid" instead of being
 * misread).  Any other field is an error.
 *
 *   {"op":"put","key":K,"value":V[,"expect":N][,"id":S]}
 *       V is any JSON value.  expect: 0 = the key must not exist, N > 0 =
 *       its version must be N.  id: a request id (1..128 bytes) making
 *       retries safe: a repeat is answered with the first result.
 *       -> {"ok":true,"version":N[,"duplicate":true]}
 *   {"op":"del","key":K[,"expect":N][,"id":S]}
 *       -> {"ok":true,"version":N}   (N: the sequence number of the delete)
 *   {"op":"get","key":K}
 *       -> {"ok":true,"value":V,"version":N,"applied_seq":S}
 *       Reads (get, list, watch) are answered on any role: a standby
 *       answers from its hot copy; S is the last sequence number it has
 *       applied, so a reader can tell how fresh the answer is.
 *   {"op":"list"[,"prefix":P][,"start":S][,"limit":N]}
 *       keys starting with P, from the first key >= S, at most N
 *       (1..PROTO_LIST_MAX, default PROTO_LIST_DEFAULT), in byte order.
 *       -> {"ok":true,"items":[{"key":K,"value":V,"version":N},...]
 *           [,"next":K2]}   next: present when more keys follow; pass it as
 *           "start" to read the next page.  A page may hold fewer than N
 *           items: the daemon ends it before the reply passes
 *           PROTO_REPLY_MAX bytes.
 *   {"op":"watch"[,"from":SEQ][,"prefix":P]}
 *       -> {"ok":true,"seq":N}   (N: the last sequence number applied)
 *       then one line per operation with seq > from (default: from N):
 *          {"event":"put","seq":N,"key":K,"value":V,"epoch":E}
 *          {"event":"del","seq":N,"key":K,"epoch":E}
 *          {"event":"seal","seq":N,"epoch":E,"host":H}
 *       and always, last, {"end":true,"reason":R} with R one of
 *       "shutdown", "role" (the daemon changed role), "overflow" (the
 *       client read too slowly), "compacted" (from is older than the
 *       journal kept), "error".  The connection stays open for requests
 *       after the end line.
 *   {"op":"status"}
 *       -> {"ok":true,"status":{...}}: group, host, host_id, role, epoch,
 *          committed_seq, applied_seq, lag_seq, lag_ms, lease_holder,
 *          active_host, "failover": the last failover's timeline, and
 *          the figures of metrics_file (ssfmd(8) METRICS; daemon_status.c).
 *   {"op":"promote"[,"wait":B][,"timeout":MS]}
 *       -> {"ok":true,"role":R}  (with wait: once ACTIVE or the timeout)
 *   {"op":"demote"}   -> {"ok":true,"role":R}
 *   {"op":"snapshot"} -> {"ok":true,"seq":N}
 *   {"op":"dump"[,"limit":N]}
 *       takes a consistent cut of the whole state (writers wait only while
 *       references are copied) and answers with its first page:
 *       -> {"ok":true,"cut":C,"group":G,"seq":S,"epoch":E,"digest":D,
 *           "count":K,"items":[[KEY,VERSION,VALUE_TEXT],...][,"next":I]}
 *       S: the state holds every operation up to S and none after; D: its
 *       digest (16 hex digits); K: the number of keys; VALUE_TEXT: the
 *       stored JSON text of the value as a string, byte for byte (the
 *       digest covers those bytes).  Items are in byte order of the keys.
 *       next: present when more keys follow; read them with
 *   {"op":"dump","cut":C,"from":I[,"limit":N]}
 *       -> {"ok":true,"cut":C,"items":[...][,"next":I2]}
 *       The daemon keeps a cut until its last page is read, or for
 *       PROTO_DUMP_IDLE_S seconds after its last page request (then
 *       not_found); at most PROTO_DUMP_CUTS at a time (then unavailable).
 *
 * Errors: {"ok":false,"error":{"code":C,"message":M[,"active":H]
 * [,"version":N]}}.  "active" names the active host (not_active);
 * "version" is the key's current version (conflict; 0: absent).  The codes
 * are stable; see enum proto_code.
 */
#ifndef SSFM_PROTO_H
#define SSFM_PROTO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION 1
#define PROTO_LINE_MAX (2u * 1024u * 1024u)   /* a request, with the newline */
/* The longest reply line: a list page is cut before it (fewer items than
 * limit, with "next"), so clients can bound what they buffer. */
#define PROTO_REPLY_MAX (16u * 1024u * 1024u)
#define PROTO_KEY_MAX 1024u
#define PROTO_ID_MAX 128u
#define PROTO_HOST_MAX 64u
#define PROTO_LIST_DEFAULT 1000u
#define PROTO_LIST_MAX 10000u
#define PROTO_DUMP_IDLE_S 60u
#define PROTO_DUMP_CUTS 8u

enum proto_op {
	PROTO_OP_PUT = 1,
	PROTO_OP_DEL,
	PROTO_OP_GET,
	PROTO_OP_LIST,
	PROTO_OP_WATCH,
	PROTO_OP_STATUS,
	PROTO_OP_PROMOTE,
	PROTO_OP_DEMOTE,
	PROTO_OP_SNAPSHOT,
	PROTO_OP_DUMP,
};

/* Stable error codes; their wire names are proto_code_name(). */
enum proto_code {
	PROTO_OK = 0,
	PROTO_E_NOT_ACTIVE,   /* "not_active": this host does not take writes */
	PROTO_E_CONFLICT,     /* "conflict": expect did not match */
	PROTO_E_NOT_FOUND,    /* "not_found" */
	PROTO_E_INVALID,      /* "invalid": malformed request */
	PROTO_E_TOO_LARGE,    /* "too_large": line, key or value too long */
	PROTO_E_FENCED,       /* "fenced": a newer epoch took over during the write */
	PROTO_E_UNAVAILABLE,  /* "unavailable": busy, starting, too many connections */
	PROTO_E_DENIED,       /* "denied": this peer may not write */
	PROTO_E_TIMEOUT,      /* "timeout": promote --wait ran out of time */
	PROTO_E_INTERNAL,     /* "internal": I/O failure or bug; see the daemon's log */
};
#define PROTO_CODE_COUNT 11

const char *proto_code_name(enum proto_code code);
/* -1 if name is not a known code. */
int proto_code_from_name(const char *name);
const char *proto_op_name(enum proto_op op);

/*
 * A parsed request.  Strings point into root (valid until
 * proto_request_free); value is the compact JSON text of the put's value
 * (malloc'd).  Absent optional fields: NULL strings, expect = -1,
 * from = -1, cut = -1, limit = PROTO_LIST_DEFAULT, timeout_ms = -1.
 */
struct proto_request {
	enum proto_op op;
	const char *key;
	size_t key_len;
	char *value;
	size_t value_len;
	int64_t expect;
	const char *id;
	const char *prefix;
	const char *start;
	uint64_t limit;
	int64_t from;
	int64_t cut;
	bool wait;
	int64_t timeout_ms;
	json_t *root;
};

/*
 * Parses one request line (without or with its newline).  Returns
 * PROTO_OK, or PROTO_E_INVALID / PROTO_E_TOO_LARGE with the reason in why
 * (for the error reply).  On error *req needs no freeing.
 */
enum proto_code proto_parse_request(const char *line, size_t len,
    struct proto_request *req, char *why, size_t why_len);
void proto_request_free(struct proto_request *req);

/*
 * Encodes a request as one line (malloc'd, ends with "\n").  Fields are
 * taken as in struct proto_request (root ignored; value is JSON text, which
 * is parsed and must be valid).  Returns NULL on invalid value or no memory.
 */
char *proto_encode_request(const struct proto_request *req);
void proto_request_init(struct proto_request *req, enum proto_op op);

/* ---- replies ------------------------------------------------------------- */

/* {"ok":true, fields...}\n; fields (may be NULL) is consumed.  Malloc'd. */
char *proto_reply_ok(json_t *fields);
/* {"ok":false,"error":{...}}\n; active may be NULL, version < 0: none. */
char *proto_reply_error(enum proto_code code, const char *message,
    const char *active, int64_t version);
/* Any JSON object as one line (malloc'd, with "\n"); obj is consumed. */
char *proto_line(json_t *obj);

/* Watch stream lines (malloc'd, with "\n").  value is JSON text. */
char *proto_event_put(uint64_t seq, uint64_t epoch, const char *key,
    size_t key_len, const char *value, size_t value_len);
char *proto_event_del(uint64_t seq, uint64_t epoch, const char *key,
    size_t key_len);
char *proto_event_seal(uint64_t seq, uint64_t epoch, const char *host);
char *proto_event_end(const char *reason);

/* A parsed reply or stream line. */
struct proto_reply {
	bool ok;
	enum proto_code code;       /* PROTO_OK when ok */
	const char *message;        /* error message (into root) */
	const char *active;         /* not_active: the active host, or NULL */
	int64_t version;            /* error "version" or -1 */
	bool is_event;              /* a watch line: "event" or "end" */
	bool is_end;
	json_t *root;               /* the whole object */
};

/* Parses one line from the daemon.  Returns 0, or -1 with why filled when
 * the line is not a reply this library understands. */
int proto_parse_reply(const char *line, size_t len, struct proto_reply *rep,
    char *why, size_t why_len);
void proto_reply_free(struct proto_reply *rep);

#endif
