/*
 * ocf_writer: a client for the cluster tests (t_ocf_pacemaker.sh), where
 * the daemons run under Pacemaker and the test only knows their sockets.
 *
 *     ocf_writer write ACKLOG STOPFILE SOCKET...
 *         Writes unique keys w/N (value {"n":N}) through whichever of the
 *         sockets is active, each with a request id, retrying the same
 *         write (same id) on another socket after not_active, fenced,
 *         unavailable, timeout or a broken connection, until it is
 *         acknowledged or 120 s pass.  Each acknowledgement is appended to
 *         ACKLOG as "KEY VERSION VALUE\n" with one write(2).  Stops, between
 *         writes, once STOPFILE exists; prints "acked A retries R gave_up G
 *         errors E" and exits 0 when every write was acknowledged and no
 *         answer was an error other than a failover, else 1.
 *
 *     ocf_writer audit ACKLOG DIR
 *         Opens the store DIR read-only and checks that every acknowledged
 *         write is there with its value and version (keys are written once,
 *         so exactly), and that every key under w/ is one the writer made.
 *         Prints each problem and "audit: A acknowledged, K keys, P
 *         problems"; exits 0 when there are none.
 */
#include "ssfm.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define OW_GIVE_UP_MS 120000
#define OW_RETRY_PAUSE_MS 50
#define OW_CALL_TIMEOUT_MS 5000

static uint64_t ow_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void ow_pause(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* The failover answers: try again (elsewhere) with the same request id. */
static int ow_retryable(int rc)
{
	return rc == SSFM_ENOTACTIVE || rc == SSFM_EFENCED || rc == SSFM_EUNAVAILABLE ||
	    rc == SSFM_ETIMEDOUT || rc == SSFM_ECONNECT || rc == SSFM_EIO;
}

static int ow_write(const char *acklog, const char *stopfile, char **socks, int nsocks)
{
	uint64_t acked = 0, retries = 0, gave_up = 0, errors = 0;
	ssfm_client *client = NULL;
	int cur = 0, fd;

	fd = open(acklog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "ocf_writer: %s: %s\n", acklog, strerror(errno));
		return 1;
	}
	for (uint64_t n = 0; access(stopfile, F_OK) != 0; n++) {
		char key[64], value[64], reqid[64], line[256];
		uint64_t started = ow_now_ms(), version = 0;
		int rc;

		snprintf(key, sizeof(key), "w/%08" PRIu64, n);
		snprintf(value, sizeof(value), "{\"n\":%" PRIu64 "}", n);
		snprintf(reqid, sizeof(reqid), "ocfw-%ld-%" PRIu64, (long)getpid(), n);
		for (;;) {
			if (client == NULL) {
				rc = ssfm_connect(socks[cur], &client);
				if (rc == SSFM_OK)
					ssfm_set_timeout(client, OW_CALL_TIMEOUT_MS);
			} else {
				rc = SSFM_OK;
			}
			if (rc == SSFM_OK)
				rc = ssfm_put(client, key, value, SSFM_ANY_VERSION, reqid, &version);
			if (rc == SSFM_OK)
				break;
			if (!ow_retryable(rc) && errors++ == 0)
				fprintf(stderr, "ocf_writer: put %s through %s: %s (%s)\n", key,
				    socks[cur], ssfm_strerror(rc),
				    client ? ssfm_errmsg(client) : "");
			ssfm_close(client);
			client = NULL;
			cur = (cur + 1) % nsocks;
			retries++;
			if (ow_now_ms() - started > OW_GIVE_UP_MS)
				break;
			ow_pause(OW_RETRY_PAUSE_MS);
		}
		if (rc != SSFM_OK) {
			gave_up++;
			continue;
		}
		int len = snprintf(line, sizeof(line), "%s %" PRIu64 " %s\n", key, version, value);
		if (write(fd, line, (size_t)len) != len) {
			fprintf(stderr, "ocf_writer: %s: %s\n", acklog, strerror(errno));
			errors++;
			break;
		}
		acked++;
	}
	ssfm_close(client);
	close(fd);
	printf("acked %" PRIu64 " retries %" PRIu64 " gave_up %" PRIu64 " errors %" PRIu64 "\n",
	    acked, retries, gave_up, errors);
	return gave_up == 0 && errors == 0 ? 0 : 1;
}

struct ow_scan {
	uint64_t keys;
	uint64_t foreign;
};

static int ow_scan_key(void *arg, const char *key, size_t key_len, const char *value,
    size_t value_len, uint64_t version)
{
	struct ow_scan *s = arg;
	char digits[32], want[64];
	uint64_t n = 0;
	int ok = key_len > 2 && key_len - 2 < sizeof(digits);

	(void)version;
	s->keys++;
	if (ok) {
		char *end;
		memcpy(digits, key + 2, key_len - 2);
		digits[key_len - 2] = '\0';
		errno = 0;
		n = strtoull(digits, &end, 10);
		ok = errno == 0 && *end == '\0';
	}
	/* w/N holds {"n":N} */
	int len = snprintf(want, sizeof(want), "{\"n\":%" PRIu64 "}", n);
	if (!ok || (size_t)len != value_len || memcmp(want, value, value_len) != 0) {
		if (s->foreign++ < 10)
			printf("# key %.*s holds %.*s, which the writer never wrote\n",
			    (int)key_len, key, (int)value_len, value);
	}
	return 0;
}

static int ow_audit(const char *acklog, const char *dir)
{
	struct store_options opt = { .read_only = 1 };
	struct store_error err = { 0, "" };
	struct ow_scan scan = { 0, 0 };
	struct store *st = NULL;
	uint64_t acked = 0, problems = 0;
	char line[512];
	FILE *f;

	f = fopen(acklog, "r");
	if (f == NULL) {
		fprintf(stderr, "ocf_writer: %s: %s\n", acklog, strerror(errno));
		return 1;
	}
	int rc = store_open(dir, &opt, &st, &err);
	if (rc < 0) {
		fprintf(stderr, "ocf_writer: store %s: %s\n", dir, err.msg);
		fclose(f);
		return 1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char key[128], value[128];
		uint64_t version, got_version = 0;
		char *got = NULL;
		size_t got_len = 0;

		if (sscanf(line, "%127s %" SCNu64 " %127s", key, &version, value) != 3) {
			printf("# ack log line not understood: %s", line);
			problems++;
			continue;
		}
		acked++;
		rc = store_get(st, key, strlen(key), &got, &got_len, &got_version);
		if (rc < 0) {
			printf("# acknowledged %s (version %" PRIu64 ") is missing: %s\n", key,
			    version, store_strerror(rc));
			problems++;
		} else if (strcmp(got, value) != 0 || got_version != version) {
			printf("# acknowledged %s = %s at version %" PRIu64 ", found %s at %" PRIu64
			    "\n", key, value, version, got, got_version);
			problems++;
		}
		free(got);
	}
	fclose(f);
	if (store_list(st, "w/", 2, NULL, 0, 0, ow_scan_key, &scan) < 0) {
		printf("# listing w/ failed\n");
		problems++;
	}
	problems += scan.foreign;
	store_close(st);
	printf("audit: %" PRIu64 " acknowledged, %" PRIu64 " keys, %" PRIu64 " problems\n",
	    acked, scan.keys, problems);
	return problems == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && strcmp(argv[1], "write") == 0)
		return ow_write(argv[2], argv[3], argv + 4, argc - 4);
	if (argc == 4 && strcmp(argv[1], "audit") == 0)
		return ow_audit(argv[2], argv[3]);
	fprintf(stderr, "usage: ocf_writer write ACKLOG STOPFILE SOCKET...\n"
	    "       ocf_writer audit ACKLOG DIR\n");
	return 2;
}
