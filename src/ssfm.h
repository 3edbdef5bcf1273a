/*
 * ssfm.h: libssfm, the C client of the ssfm daemon's control socket.
 * Documented in libssfm(3).
 *
 * Values are JSON text in both directions.  Every function that can fail
 * returns SSFM_OK (0) or one of the negative enum ssfm_error codes; after a
 * failure ssfm_errmsg() says what happened in words.
 *
 * Threads: a client is used by one thread at a time (calls on the same
 * client from two threads at once must be serialized by the caller);
 * separate clients are independent.  ssfm_strerror is safe from any thread.
 */
#ifndef SSFM_H
#define SSFM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum ssfm_error {
	SSFM_OK = 0,
	SSFM_ENOTACTIVE = -1,   /* this daemon is not active; see ssfm_error_active_host */
	SSFM_ECONFLICT = -2,    /* expected version differs; see ssfm_error_version */
	SSFM_ENOTFOUND = -3,    /* no such key */
	SSFM_EINVAL = -4,       /* the request was refused as malformed, or a bad argument */
	SSFM_ETOOLARGE = -5,    /* key, value or request too large */
	SSFM_EFENCED = -6,      /* a newer active took over during the write: not applied */
	SSFM_EUNAVAILABLE = -7, /* daemon busy, starting, or too many connections; stream ended */
	SSFM_EDENIED = -8,      /* this user may not write (socket_group) */
	SSFM_ETIMEDOUT = -9,    /* no reply in time, or promote did not finish in time */
	SSFM_EINTERNAL = -10,   /* the daemon failed (see its log) */
	SSFM_ECONNECT = -11,    /* cannot connect to the socket */
	SSFM_EIO = -12,         /* the connection failed or closed */
	SSFM_EPROTO = -13,      /* the daemon's reply was not understood */
	SSFM_ENOMEM = -14,      /* out of memory */
};

/* For expect: no version check.  0: the key must not exist. */
#define SSFM_ANY_VERSION (-1)

typedef struct ssfm_client ssfm_client;

/*
 * Connects to the daemon.  path NULL: $SSFM_SOCKET; else, with $SSFM_GROUP,
 * /run/ssfm/$SSFM_GROUP.sock; else the only *.sock file in /run/ssfm.
 * On failure other than SSFM_ENOMEM, *client still receives a client (not
 * connected) so that ssfm_errmsg can say why: close it with ssfm_close.
 * A client whose connection breaks reconnects to the same path on its next
 * call.
 */
int ssfm_connect(const char *path, ssfm_client **client);
/* Closes and frees; NULL is ignored. */
void ssfm_close(ssfm_client *client);
/* Reply timeout in milliseconds for every later call (default 30000; 0:
 * wait forever).  ssfm_watch waits for events without a timeout. */
void ssfm_set_timeout(ssfm_client *client, int timeout_ms);

/*
 * Puts json (any JSON value, as text) at key.  expect: SSFM_ANY_VERSION, 0
 * (must not exist) or the version the key must have.  reqid: NULL, or a
 * request id (1..128 bytes) that makes a retry safe, also across a
 * failover.  *version (may be NULL) receives the key's new version.
 */
int ssfm_put(ssfm_client *client, const char *key, const char *json,
    int64_t expect, const char *reqid, uint64_t *version);
/* Deletes key; *version (may be NULL) receives the delete's sequence number. */
int ssfm_del(ssfm_client *client, const char *key, int64_t expect,
    const char *reqid, uint64_t *version);
/* *value receives the value as JSON text (malloc'd: free(3) it). */
int ssfm_get(ssfm_client *client, const char *key, char **value,
    uint64_t *version);

/*
 * Calls fn for each key starting with prefix (NULL: all), from the first key
 * >= start (NULL: the first), in byte order, at most limit keys (0: all),
 * fetching pages as needed.  key and value are valid during the call only.
 * fn returns non-zero to stop.  Returns the number of keys passed to fn, or
 * a negative code.
 */
typedef int (*ssfm_list_fn)(void *arg, const char *key, const char *value,
    uint64_t version);
long ssfm_list(ssfm_client *client, const char *prefix, const char *start,
    size_t limit, ssfm_list_fn fn, void *arg);

enum ssfm_event_kind { SSFM_EVENT_PUT = 1, SSFM_EVENT_DEL = 2, SSFM_EVENT_SEAL = 3 };

struct ssfm_event {
	enum ssfm_event_kind kind;
	uint64_t seq;
	uint64_t epoch;
	const char *key;        /* put, del */
	const char *value;      /* put: JSON text */
	const char *host;       /* seal: the new active host */
};

/*
 * Streams the operations applied after sequence number from (-1: from
 * now) whose key starts with prefix (NULL: all), calling fn for each; the
 * event's strings are valid during the call only.  fn returns non-zero to
 * stop: ssfm_watch then returns SSFM_OK (and the connection is reopened on
 * the next call).  When the daemon ends the stream, returns
 * SSFM_EUNAVAILABLE with the reason in ssfm_errmsg ("role", "shutdown",
 * "overflow", "compacted").
 */
typedef int (*ssfm_watch_fn)(void *arg, const struct ssfm_event *event);
int ssfm_watch(ssfm_client *client, int64_t from, const char *prefix,
    ssfm_watch_fn fn, void *arg);

/* *json receives the daemon's status object as JSON text (malloc'd: free(3)). */
int ssfm_status(ssfm_client *client, char **json);
/* Asks this host to become active.  wait: return once it is (or
 * timeout_ms passed: SSFM_ETIMEDOUT); timeout_ms 0: the daemon's default. */
int ssfm_promote(ssfm_client *client, int wait, int timeout_ms);
int ssfm_demote(ssfm_client *client);
/* *seq (may be NULL) receives the snapshot's sequence number. */
int ssfm_snapshot(ssfm_client *client, uint64_t *seq);

/*
 * The whole state at one sequence number: the daemon takes a consistent cut
 * (writers pause only while it is taken) and the keys are read from it a
 * page at a time, in byte order.  info (may be NULL) receives the cut's
 * header.  fn is called first with key NULL (the header is in info), then
 * once per key with value as its stored JSON text, byte for byte; strings
 * are valid during the call only.  fn returns non-zero to stop (the call
 * then returns the keys passed so far).  Returns the number of keys passed
 * to fn, or a negative code.
 */
struct ssfm_dump_info {
	char group[64];
	uint64_t seq;           /* the state holds every operation up to seq, none after */
	uint64_t epoch;         /* of the last seal at or below seq */
	uint64_t digest;        /* state digest at seq (ssfm-store(5)) */
	uint64_t keys;
};
typedef int (*ssfm_dump_fn)(void *arg, const struct ssfm_dump_info *info,
    const char *key, const char *value, uint64_t version);
long long ssfm_dump(ssfm_client *client, struct ssfm_dump_info *info,
    ssfm_dump_fn fn, void *arg);

/* About the last failed call on this client (strings owned by the client,
 * valid until its next call): */
const char *ssfm_errmsg(const ssfm_client *client);
/* The active host named by a SSFM_ENOTACTIVE error, or NULL. */
const char *ssfm_error_active_host(const ssfm_client *client);
/* The key's current version after SSFM_ECONFLICT (0: absent), else -1. */
int64_t ssfm_error_version(const ssfm_client *client);

/* A constant string naming the code ("not active", ...). */
const char *ssfm_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif
