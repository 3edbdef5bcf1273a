/*
 * fence_agent: acts as one host id on the host whose sanlock daemon its
 * environment names (SANLOCK_RUN_DIR), so that one test can drive several
 * simulated hosts.  Reads commands on stdin, one per line, answers each with
 * one line on stdout:
 *
 *   join                 start joining, poll until done   OK joined polls N | ERR ...
 *   acquire              try once                          OK epoch N | ERR code C holder ID msg ...
 *   release                                                OK | ERR ...
 *   inquire                                                OK held 0|1 epoch N
 *   owner                (from disk)                       OK holder ID held 0|1 lver N name NAME
 *   health                                                 OK age_ms A left_ms L io T current 0|1
 *   killpath PROG [ARG]                                    OK | ERR ...
 *   leave                                                  OK | ERR ...
 *   exit                                                   (exits 0)
 * "ERR code C msg TEXT" carries fence's code and message.  At start it prints
 * READY, or ERR when fence_open fails.
 *
 *   fence_agent --store DIR --group G --id N --name NAME [--marker FILE]
 *
 * SIGTERM (what ssfm-lease-lost sends) makes it stop in order: release the
 * lease if it can, write "stopped in order" to the marker file, exit 0.
 */
#include "fence.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t agent_term;

static void agent_on_term(int sig)
{
	(void)sig;
	agent_term = 1;
}

static void agent_err(const struct fence_error *err)
{
	printf("ERR code %d msg %s\n", err->code, err->msg);
}

static void agent_stop_in_order(struct fence *f, const char *marker)
{
	struct fence_error err;

	fence_release(f, &err);
	if (marker != NULL) {
		int fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			static const char text[] = "stopped in order\n";
			if (write(fd, text, sizeof(text) - 1) < 0)
				perror(marker);
			fsync(fd);
			close(fd);
		}
	}
	fence_close(f);
	exit(0);
}

static void agent_join(struct fence *f)
{
	struct fence_error err;
	int polls = 0, state;

	if (fence_join_start(f, &err) < 0) {
		agent_err(&err);
		return;
	}
	for (;;) {
		struct pollfd p = { fence_join_fd(f), POLLIN, 0 };
		state = fence_join_poll(f, &err);
		polls++;
		if (state != FENCE_JOINING)
			break;
		poll(&p, 1, 200);
	}
	if (state == FENCE_JOINED)
		printf("OK joined polls %d\n", polls);
	else
		agent_err(&err);
}

static void agent_command(struct fence *f, char *line)
{
	struct fence_error err;
	char *cmd = strtok(line, " \n");
	char *a1 = strtok(NULL, " \n"), *a2 = strtok(NULL, " \n");

	if (cmd == NULL) {
		printf("ERR code 0 msg empty command\n");
	} else if (strcmp(cmd, "join") == 0) {
		agent_join(f);
	} else if (strcmp(cmd, "acquire") == 0) {
		struct fence_holder who;
		uint64_t epoch = 0;
		if (fence_acquire(f, &epoch, &who, &err) == 0)
			printf("OK epoch %llu\n", (unsigned long long)epoch);
		else
			printf("ERR code %d holder %llu name %s msg %s\n", err.code,
			    (unsigned long long)who.host_id, who.name[0] ? who.name : "-", err.msg);
	} else if (strcmp(cmd, "release") == 0) {
		if (fence_release(f, &err) == 0)
			printf("OK\n");
		else
			agent_err(&err);
	} else if (strcmp(cmd, "inquire") == 0) {
		uint64_t epoch = 0;
		int held = 0;
		if (fence_inquire(f, &held, &epoch, &err) == 0)
			printf("OK held %d epoch %llu\n", held, (unsigned long long)epoch);
		else
			agent_err(&err);
	} else if (strcmp(cmd, "owner") == 0) {
		struct fence_holder who;
		uint64_t lver = 0;
		int held = 0;
		if (fence_owner(f, &who, &held, &lver, &err) == 0)
			printf("OK holder %llu held %d lver %llu name %s\n",
			    (unsigned long long)who.host_id, held, (unsigned long long)lver,
			    who.name[0] ? who.name : "-");
		else
			agent_err(&err);
	} else if (strcmp(cmd, "busy") == 0) {
		struct fence_holder who;
		int busy = fence_lease_busy(f, &who, &err);
		if (busy >= 0)
			printf("OK busy %d holder %llu name %s\n", busy, (unsigned long long)who.host_id,
			    who.name[0] ? who.name : "-");
		else
			agent_err(&err);
	} else if (strcmp(cmd, "health") == 0) {
		struct fence_health h;
		if (fence_lease_health(f, &h, &err) == 0)
			printf("OK age_ms %lld left_ms %lld io %u current %d\n", (long long)h.age_ms,
			    (long long)h.left_ms, h.io_timeout,
			    h.left_ms >= (int64_t)FENCE_SAFE_LEFT_MS(h.io_timeout));
		else
			agent_err(&err);
	} else if (strcmp(cmd, "killpath") == 0) {
		if (fence_set_killpath(f, a1, a2, &err) == 0)
			printf("OK\n");
		else
			agent_err(&err);
	} else if (strcmp(cmd, "leave") == 0) {
		if (fence_leave(f, &err) == 0)
			printf("OK\n");
		else
			agent_err(&err);
	} else {
		printf("ERR code 0 msg unknown command %s\n", cmd);
	}
}

int main(int argc, char **argv)
{
	const char *store = NULL, *group = NULL, *name = NULL, *marker = NULL;
	unsigned id = 0;
	struct fence *f = NULL;
	struct fence_error err;
	struct sigaction sa;
	char line[1024];

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--store") == 0)
			store = argv[i + 1];
		else if (strcmp(argv[i], "--group") == 0)
			group = argv[i + 1];
		else if (strcmp(argv[i], "--id") == 0)
			id = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--name") == 0)
			name = argv[i + 1];
		else if (strcmp(argv[i], "--marker") == 0)
			marker = argv[i + 1];
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = agent_on_term;	/* no SA_RESTART: a blocked read returns */
	sigaction(SIGTERM, &sa, NULL);

	if (store == NULL || group == NULL || name == NULL) {
		printf("ERR code 0 msg usage: fence_agent --store DIR --group G --id N --name NAME\n");
		return 2;
	}
	if (fence_open(store, group, id, name, &f, &err) < 0) {
		agent_err(&err);
		return 1;
	}
	printf("READY\n");
	for (;;) {
		if (agent_term)
			agent_stop_in_order(f, marker);
		if (fgets(line, sizeof(line), stdin) == NULL) {
			if (agent_term || (ferror(stdin) && errno == EINTR)) {
				clearerr(stdin);
				continue;
			}
			break;
		}
		if (strncmp(line, "exit", 4) == 0)
			break;
		agent_command(f, line);
		fflush(stdout);
	}
	fence_close(f);
	return 0;
}
