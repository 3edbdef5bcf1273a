/*
 * ssfmd.c: the daemon's entry point: options, configuration, pid file,
 * going to the background, and the order in which the parts start and stop.
 *
 * Start: store (load snapshot and journal), control socket, inotify, join
 * the lockspace (in the background: the loop runs meanwhile and answers
 * status as JOINING).  Stop: the role machine has already ended the epoch,
 * stopped the service and released the lease when the loop returns; then
 * watchers get their end line, the threads stop, the socket closes, the
 * lockspace is left and the store closed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "pidfile.h"
#ifdef FIU_ENABLE
#include <fiu-control.h>
#include <fiu.h>
#endif

struct ssfmd_opts {
	const char *file;
	bool foreground, check_only, verbose;
	char **overrides;
	size_t n_overrides;
};

static void ssfmd_usage(FILE *out)
{
	fprintf(out,
	    "usage: ssfmd [-fnv] [-c FILE] [--KEY=VALUE ...]\n"
	    "       ssfmd -h | --help | --version\n"
	    "  -c FILE       configuration file (default %s)\n"
	    "  -f            stay in the foreground, log to stderr\n"
	    "  -n            check the configuration and exit (0: fine, 1: errors)\n"
	    "  -v            with -n: print the effective configuration\n"
	    "  --KEY=VALUE   set any key of ssfm.conf(5), over the file\n",
	    CONF_DEFAULT_FILE);
}

/* Returns -1 to go on, else an exit status. */
static int ssfmd_parse_args(int argc, char **argv, struct ssfmd_opts *o)
{
	o->overrides = calloc((size_t)argc, sizeof(char *));
	if (o->overrides == NULL)
		return 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0) {
			ssfmd_usage(stdout);
			return 0;
		}
		if (strcmp(a, "--version") == 0) {
			printf("ssfmd %s\n", PACKAGE_VERSION);
			return 0;
		}
		if (strncmp(a, "--", 2) == 0) {
			if (strchr(a, '=') == NULL) {
				fprintf(stderr, "ssfmd: %s: overrides are --KEY=VALUE\n", a);
				return 1;
			}
			o->overrides[o->n_overrides++] = argv[i];
			continue;
		}
		if (a[0] != '-' || a[1] == '\0') {
			fprintf(stderr, "ssfmd: unexpected argument \"%s\"\n", a);
			ssfmd_usage(stderr);
			return 1;
		}
		for (const char *c = a + 1; *c != '\0'; c++) {
			switch (*c) {
			case 'f': o->foreground = true; break;
			case 'n': o->check_only = true; break;
			case 'v': o->verbose = true; break;
			case 'h': ssfmd_usage(stdout); return 0;
			case 'c':
				if (c[1] != '\0') {
					o->file = c + 1;
				} else if (i + 1 < argc) {
					o->file = argv[++i];
				} else {
					fprintf(stderr, "ssfmd: -c needs a file\n");
					return 1;
				}
				goto next;	/* the rest of the word was the file */
			default:
				fprintf(stderr, "ssfmd: unknown option -%c\n", *c);
				ssfmd_usage(stderr);
				return 1;
			}
		}
next:
		;
	}
	return -1;
}

static int ssfmd_configure(struct conf *cfg, const struct ssfmd_opts *o)
{
	struct conf_errors errs = { NULL, 0, 0 };
	int n = 0;

	if (conf_init(cfg) < 0) {
		fprintf(stderr, "ssfmd: out of memory\n");
		return -1;
	}
	n += conf_load_file(cfg, o->file ? o->file : CONF_DEFAULT_FILE, &errs);
	for (size_t i = 0; i < o->n_overrides; i++)
		n += conf_override(cfg, o->overrides[i], &errs);
	n += conf_finish(cfg, &errs);
	/* sanlock runs it when the lease cannot be renewed: a missing one would
	 * only be noticed when it is needed most. */
	if (cfg->lease_lost_program[0] != '\0' && access(cfg->lease_lost_program, X_OK) != 0) {
		char *msg = NULL;
		if (asprintf(&msg, "%s: lease_lost_program %s: %s", cfg->file ? cfg->file :
		    "configuration", cfg->lease_lost_program, strerror(errno)) >= 0) {
			fprintf(stderr, "%s\n", msg);
			free(msg);
		}
		n++;
	}
	if (n > 0 || errs.count > 0) {
		conf_errors_print(&errs, stderr);
		fprintf(stderr, "ssfmd: %d error%s in the configuration\n", n,
		    n == 1 ? "" : "s");
		conf_errors_free(&errs);
		return -1;
	}
	conf_errors_free(&errs);
	return 0;
}

/*
 * Goes to the background.  The first process waits until the daemon says it
 * has started (ready_fd, written by ssfmd_run once the store, the socket
 * and the join are under way), so that `ssfmd` returns once the socket
 * answers, and returns 1 when the daemon failed to start.
 */
static int ssfmd_daemonize(int *ready_fd)
{
	pid_t pid;
	int fd, pipefd[2];

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		char c = 0;
		ssize_t n;

		close(pipefd[1]);
		do {
			n = read(pipefd[0], &c, 1);
		} while (n < 0 && errno == EINTR);
		_exit(n == 1 && c == '0' ? 0 : 1);
	}
	close(pipefd[0]);
	*ready_fd = pipefd[1];
	if (setsid() < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0)
		return -errno;
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return 0;
}

static int ssfmd_open_store(struct daemon *d)
{
	struct store_options so;
	struct store_error err = { 0, "" };
	struct store_info info;
	int rc;

	memset(&so, 0, sizeof(so));
	so.max_value_bytes = (size_t)d->cfg->max_value_bytes;
	so.reqid_retention_s = (unsigned)(d->cfg->reqid_retention / 1000);
	so.snapshot_keep = (unsigned)d->cfg->snapshot_keep;
	so.journal_retention_s = (unsigned)(d->cfg->journal_retention / 1000);
	so.force_link = d->cfg->force_link;
	so.max_batch_ops = (unsigned)d->cfg->max_batch_ops;
	so.ack_check = daemon_lease_ack_check;
	so.ack_arg = d;
	so.batch_start = daemon_lease_batch_start;
	so.on_apply = daemon_requests_on_apply;
	so.apply_arg = d;
	so.on_commit = daemon_status_on_commit;
	so.commit_arg = d;
	rc = store_open(d->cfg->store, &so, &d->st, &err);
	if (rc < 0) {
		log_warnx("store: %s", err.msg);
		return rc;
	}
	store_info(d->st, &info);
	if (strcmp(info.group, d->cfg->group) != 0) {
		log_warnx("store %s belongs to group \"%s\", not \"%s\"", d->cfg->store, info.group,
		    d->cfg->group);
		return -EINVAL;
	}
	pthread_mutex_lock(&d->watch_lock);
	if (d->last_seq == 0) {
		d->last_seq = info.applied_seq;
		d->hist_floor = info.applied_seq;
	}
	pthread_mutex_unlock(&d->watch_lock);
	log_info("store %s: group %s, applied seq %llu, %llu keys, epoch %llu", d->cfg->store,
	    info.group, (unsigned long long)info.applied_seq, (unsigned long long)info.keys,
	    (unsigned long long)info.epoch);
	return 0;
}

static int ssfmd_open_control(struct daemon *d)
{
	struct control_options co;
	char why[512];
	int rc;

	memset(&co, 0, sizeof(co));
	co.path = d->cfg->socket;
	co.group = d->cfg->socket_group;
	co.max_connections = (unsigned)d->cfg->max_connections;
	co.request_timeout_ms = (unsigned)d->cfg->request_timeout;
	co.dispatch = daemon_requests_dispatch;
	co.ended = daemon_requests_ended;
	co.arg = d;
	rc = control_open(&co, &d->ctl, why, sizeof(why));
	if (rc < 0) {
		log_warnx("control socket: %s", why);
		return rc;
	}
	return daemon_watch_fd(d, control_fd(d->ctl), DAEMON_TAG_CONTROL);
}

static int ssfmd_run(struct conf *cfg, int ready_fd)
{
	struct daemon *d = calloc(1, sizeof(*d));
	int rc = 1;

	if (d == NULL)
		return 1;
	d->cfg = cfg;
	pthread_mutex_init(&d->watch_lock, NULL);
	daemon_follow_init(d);
	d->history = calloc(DAEMON_HISTORY_OPS, sizeof(*d->history));
	role_init(&d->role, cfg->auto_promote);
	d->started_ms = d->role_since_ms = daemon_wall_ms();
	if (d->history == NULL || daemon_loop_init(d) < 0 || daemon_service_init(d) < 0)
		goto out;
	if (ssfmd_open_store(d) < 0 || ssfmd_open_control(d) < 0 || daemon_follow_start(d) < 0 ||
	    daemon_lease_open(d) < 0)
		goto out;
	log_info("ssfmd %s: group %s, host %s (id %lld), socket %s, auto_promote %s",
	    PACKAGE_VERSION, cfg->group, cfg->host, cfg->host_id, cfg->socket,
	    cfg->auto_promote ? "yes" : "no");
	if (ready_fd >= 0) {
		if (write(ready_fd, "0", 1) != 1)
			log_warn("telling the starting process that the daemon runs");
		close(ready_fd);
	}
	daemon_loop_run(d);
	rc = d->exit_code;
out:
	daemon_requests_end_watches(d, "shutdown");
	daemon_snapshot_wait(d);
	if (d->st != NULL)
		store_end_epoch(d->st);
	if (d->role.lease_held && d->fence != NULL)
		daemon_lease_release(d);
	daemon_service_free(d);
	daemon_follow_stop(d);
	if (d->ctl != NULL)
		control_close(d->ctl);
	daemon_lease_close(d);
	if (d->st != NULL)
		store_close(d->st);
	daemon_requests_free(d);
	free(d->snap_reqs);
	daemon_loop_close(d);
	pthread_mutex_destroy(&d->watch_lock);
	daemon_follow_free(d);
	log_info("ssfmd stopped (exit status %d)", rc);
	free(d);
	return rc;
}

int main(int argc, char **argv)
{
	struct ssfmd_opts o;
	struct conf cfg;
	char why[512];
	int rc, pidfd, ready_fd = -1;

	memset(&o, 0, sizeof(o));
	rc = ssfmd_parse_args(argc, argv, &o);
	if (rc >= 0) {
		free(o.overrides);
		return rc;
	}
	rc = ssfmd_configure(&cfg, &o);
	free(o.overrides);
	if (rc < 0) {
		conf_free(&cfg);
		return 1;
	}
	if (o.check_only) {
		if (o.verbose)
			conf_print(&cfg, stdout, true);
		else
			fprintf(stderr, "ssfmd: configuration %s is fine\n", cfg.file ? cfg.file : "");
		conf_free(&cfg);
		return 0;
	}
	/* Before any thread starts (the syslog logger): signals go to the loop's
	 * signalfd only, never to another thread's default action. */
	if (daemon_loop_block_signals() < 0) {
		fprintf(stderr, "ssfmd: cannot block signals\n");
		conf_free(&cfg);
		return 1;
	}
	if (o.foreground)
		log_init("ssfmd", true, cfg.log_level);
	pidfd = pidfile_acquire(cfg.pid_file, why, sizeof(why));
	if (pidfd < 0) {
		fprintf(stderr, "ssfmd: %s\n", why);
		log_warnx("%s", why);
		conf_free(&cfg);
		return 1;
	}
	if (!o.foreground) {
		rc = ssfmd_daemonize(&ready_fd);
		if (rc < 0) {
			fprintf(stderr, "ssfmd: going to the background: %s\n", strerror(-rc));
			pidfile_release(pidfd, cfg.pid_file);
			conf_free(&cfg);
			return 1;
		}
		log_init("ssfmd", false, cfg.log_level);
		pidfile_write(pidfd, getpid());
	}
	umask(022);
#ifdef FIU_ENABLE
	/* Tests drive the fault points (store/fault.h) with fiu-ctrl -f BASE. */
	if (getenv("SSFM_FAULT_FIFO") && (fiu_init(0) < 0 || fiu_rc_fifo(getenv("SSFM_FAULT_FIFO")) < 0)) {
		log_warnx("SSFM_FAULT_FIFO=%s: cannot create the fault control fifo", getenv("SSFM_FAULT_FIFO"));
		rc = 1;
		goto out;
	}
#endif
	rc = ssfmd_run(&cfg, ready_fd);
#ifdef FIU_ENABLE
out:
#endif
	pidfile_release(pidfd, cfg.pid_file);
	conf_free(&cfg);
	log_shutdown();
	return rc;
}
