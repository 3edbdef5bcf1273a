/*
 * store_writer: the process t_store_crash kills.  Usage:
 *     store_writer DIR EPOCH ACKLOG READYFILE [link]
 * Opens the store in DIR, begins EPOCH, creates READYFILE, then runs 8
 * threads of puts for as long as it lives.  After each acknowledged put it
 * appends "KEY VERSION VALUE\n" to ACKLOG with one write(2), so every line
 * in the log is a write the store acknowledged (a kill may tear the last
 * line).  "link" commits with link()+unlink() (store_options.force_link).
 * Exits 2 if a put fails, 0 after 60 s if nobody killed it.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WRITER_THREADS 8
#define KEYS_PER_THREAD 64

struct writer_thread {
	pthread_t tid;
	struct store *st;
	unsigned id;
	uint64_t epoch;
	int ack_fd;
};

static void *writer_thread_main(void *arg)
{
	struct writer_thread *w = arg;

	for (uint64_t n = 0;; n++) {
		char key[64], value[128], line[256];
		struct store_error err = { 0 };
		uint64_t version = 0;
		int rc, len;

		snprintf(key, sizeof(key), "c/%u/%" PRIu64, w->id, n % KEYS_PER_THREAD);
		snprintf(value, sizeof(value), "{\"e\":%" PRIu64 ",\"t\":%u,\"n\":%" PRIu64 "}",
		    w->epoch, w->id, n);
		rc = store_put(w->st, key, value, STORE_ANY_VERSION, &version, &err);
		if (rc < 0) {
			fprintf(stderr, "store_writer: put %s: %s (%s)\n", key, store_strerror(rc), err.msg);
			_exit(2);
		}
		len = snprintf(line, sizeof(line), "%s %" PRIu64 " %s\n", key, version, value);
		if (write(w->ack_fd, line, (size_t)len) != len) {
			fprintf(stderr, "store_writer: write to the ack log: %s\n", strerror(errno));
			_exit(2);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct writer_thread threads[WRITER_THREADS];
	struct store_options opt = { 0 };
	struct store_error err = { 0 };
	struct store *st = NULL;
	struct timespec pause = { 60, 0 };
	uint64_t epoch;
	char *end;
	int ack_fd, ready_fd, rc;

	if (argc == 6 && strcmp(argv[5], "link") == 0)
		opt.force_link = 1;
	else if (argc != 5) {
		fprintf(stderr, "usage: store_writer DIR EPOCH ACKLOG READYFILE [link]\n");
		return 64;
	}
	errno = 0;
	epoch = strtoull(argv[2], &end, 10);
	if (errno != 0 || *end != '\0' || epoch == 0) {
		fprintf(stderr, "store_writer: bad epoch '%s'\n", argv[2]);
		return 64;
	}
	rc = store_open(argv[1], &opt, &st, &err);
	if (rc < 0) {
		fprintf(stderr, "store_writer: open %s: %s (%s)\n", argv[1], store_strerror(rc), err.msg);
		return 1;
	}
	rc = store_begin_epoch(st, epoch, "crash-writer", 1, NULL, &err);
	if (rc < 0) {
		fprintf(stderr, "store_writer: begin epoch %" PRIu64 ": %s (%s)\n", epoch,
		    store_strerror(rc), err.msg);
		return 1;
	}
	ack_fd = open(argv[3], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (ack_fd < 0) {
		fprintf(stderr, "store_writer: %s: %s\n", argv[3], strerror(errno));
		return 1;
	}
	for (unsigned i = 0; i < WRITER_THREADS; i++) {
		threads[i].st = st;
		threads[i].id = i;
		threads[i].epoch = epoch;
		threads[i].ack_fd = ack_fd;
		if (pthread_create(&threads[i].tid, NULL, writer_thread_main, &threads[i]) != 0) {
			fprintf(stderr, "store_writer: pthread_create failed\n");
			return 1;
		}
	}
	ready_fd = open(argv[4], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (ready_fd < 0) {
		fprintf(stderr, "store_writer: %s: %s\n", argv[4], strerror(errno));
		return 1;
	}
	close(ready_fd);
	while (nanosleep(&pause, &pause) == -1 && errno == EINTR)
		;
	_exit(0);
}
