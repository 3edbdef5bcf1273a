/*
 * bench_store: how fast the store makes writes durable, next to the two
 * raw recipes that bound it, on the same disk in the same run; and how long
 * a store of 1M keys takes to load and how much memory it holds.
 *
 *   a. the store: store_put of 250-byte JSON values (group commit);
 *   b. "one file per write": temp file, write, fdatasync, rename, fsync of
 *      the directory, for every write (what a store without batching costs);
 *   c. "batched journal limit": writers hand records to one committer that
 *      appends each whole batch to one file with one fdatasync (group commit
 *      with nothing else to do: the disk's physical limit);
 *   d. a store with a snapshot of 90% of the keys and the rest in the
 *      journal, opened by a fresh child process: wall time and peak RSS.
 *
 * It ends with one line per target of the issue, "met" or "NOT met" with
 * the figures.  It is not a test: it exits 0 whatever the figures (non-zero
 * only when it could not run at all).
 *
 *   bench_store [--seconds N] [--dir D] [--quick] [--keep]
 *
 * D (default $SSFM_BENCH_DIR, else /var/tmp) gets a fresh folder
 * ssfm-bench.XXXXXX, removed at the end unless --keep.  --quick: 1 second
 * per run and 100K keys instead of 1M for the load figures.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BENCH_VALUE_BYTES 250
#define BENCH_MAX_THREADS 64

static const int bench_thread_counts[] = { 1, 8, 64 };
#define BENCH_NCOUNTS (sizeof(bench_thread_counts) / sizeof(bench_thread_counts[0]))

/* snprintf for messages and paths, where cutting a long one short is
 * acceptable (base folders are checked for length at the start). */
__attribute__((format(printf, 3, 4)))
static void msgf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A 250-byte JSON object, different for every writer and write. */
static void bench_value(char *buf, int writer, uint64_t n)
{
	int p = snprintf(buf, BENCH_VALUE_BYTES + 1, "{\"writer\":%d,\"n\":%" PRIu64 ",\"pad\":\"",
	    writer, n);
	memset(buf + p, 'x', (size_t)(BENCH_VALUE_BYTES - 2 - p));
	memcpy(buf + BENCH_VALUE_BYTES - 2, "\"}", 2);
	buf[BENCH_VALUE_BYTES] = '\0';
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

static int rmtree_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static void rmtree(const char *path)
{
	nftw(path, rmtree_entry, 64, FTW_DEPTH | FTW_PHYS);
}

/* ---- per-thread latencies ------------------------------------------------ */

struct lat {
	uint64_t *v;
	size_t n, cap;
};

static void lat_add(struct lat *l, uint64_t ns)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4096;
		uint64_t *v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL)
			return;   /* a lost sample, not a lost figure */
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = ns;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* ---- one timed run of N threads ------------------------------------------ */

struct result {
	int ran;                /* 0: the run could not start */
	uint64_t ops;
	double secs;
	double ops_per_s;
	double p50_ms, p99_ms;
	unsigned errors;
	char error[300];
	uint64_t batches;       /* journal limit: fdatasyncs */
};

struct jlimit;

struct run {
	int nthreads;
	uint64_t deadline_ns;
	pthread_barrier_t start;
	struct store *st;       /* a */
	int dirfd;              /* b */
	struct jlimit *jl;      /* c */
};

struct worker {
	struct run *run;
	int id;
	struct lat lat;
	uint64_t ops;
	unsigned errors;
	char error[300];
};

static void worker_error(struct worker *w, const char *what, int err)
{
	if (w->errors++ == 0)
		msgf(w->error, sizeof(w->error), "%s: %s", what,
		    err > 0 ? strerror(err) : store_strerror(err));
}

/* a. the store */
static void *store_worker(void *arg)
{
	struct worker *w = arg;
	struct run *run = w->run;
	char key[64], value[BENCH_VALUE_BYTES + 1];
	struct store_error err;
	uint64_t version, t = 0;

	pthread_barrier_wait(&run->start);
	for (uint64_t n = 0; t < run->deadline_ns; n++) {
		snprintf(key, sizeof(key), "bench/w%02d/%010" PRIu64, w->id, n);
		bench_value(value, w->id, n);
		uint64_t t0 = now_ns();
		int rc = store_put(run->st, key, value, STORE_ANY_VERSION, &version, &err);
		t = now_ns();
		if (rc < 0) {
			if (w->errors++ == 0)
				msgf(w->error, sizeof(w->error), "store_put %s: %s", key, err.msg);
			break;   /* a failed writer refuses everything after */
		}
		lat_add(&w->lat, t - t0);
		w->ops++;
	}
	return NULL;
}

/* b. one file per write */
static void *file_worker(void *arg)
{
	struct worker *w = arg;
	struct run *run = w->run;
	char tmp[64], name[64], value[BENCH_VALUE_BYTES + 1];
	uint64_t t = 0;

	pthread_barrier_wait(&run->start);
	for (uint64_t n = 0; t < run->deadline_ns; n++) {
		snprintf(tmp, sizeof(tmp), ".tmp-%02d-%010" PRIu64, w->id, n);
		snprintf(name, sizeof(name), "w%02d-%010" PRIu64, w->id, n);
		bench_value(value, w->id, n);
		uint64_t t0 = now_ns();
		int fd = openat(run->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0) {
			worker_error(w, "open", errno);
			break;
		}
		int rc = write_all(fd, value, BENCH_VALUE_BYTES);
		if (rc == 0 && fdatasync(fd) < 0)
			rc = -errno;
		close(fd);
		if (rc == 0 && renameat(run->dirfd, tmp, run->dirfd, name) < 0)
			rc = -errno;
		if (rc == 0 && fsync(run->dirfd) < 0)
			rc = -errno;
		t = now_ns();
		if (rc < 0) {
			worker_error(w, "write, fdatasync, rename or fsync", -rc);
			break;
		}
		lat_add(&w->lat, t - t0);
		w->ops++;
	}
	return NULL;
}

/* c. batched journal limit */
struct jlimit {
	pthread_mutex_t mu;
	pthread_cond_t work;    /* committer: records are pending, or stop */
	pthread_cond_t durable; /* writers: durable_seq moved */
	char *pending;
	size_t pending_len, pending_cap;
	uint64_t assigned_seq, durable_seq;
	int stop;
	int err;
	int fd;
	uint64_t batches;
	pthread_t committer;
};

static void *jlimit_committer(void *arg)
{
	struct jlimit *jl = arg;
	char *writing = NULL;
	size_t writing_cap = 0;

	pthread_mutex_lock(&jl->mu);
	for (;;) {
		while (jl->pending_len == 0 && !jl->stop)
			pthread_cond_wait(&jl->work, &jl->mu);
		if (jl->pending_len == 0)
			break;
		/* Swap buffers: the next batch fills while this one is written. */
		char *batch = jl->pending;
		size_t len = jl->pending_len, cap = jl->pending_cap;
		uint64_t upto = jl->assigned_seq;
		jl->pending = writing;
		jl->pending_cap = writing_cap;
		jl->pending_len = 0;
		pthread_mutex_unlock(&jl->mu);

		int rc = write_all(jl->fd, batch, len);
		if (rc == 0 && fdatasync(jl->fd) < 0)
			rc = -errno;
		writing = batch;
		writing_cap = cap;

		pthread_mutex_lock(&jl->mu);
		if (rc < 0)
			jl->err = -rc;
		jl->durable_seq = upto;
		jl->batches++;
		pthread_cond_broadcast(&jl->durable);
	}
	pthread_mutex_unlock(&jl->mu);
	free(writing);
	return NULL;
}

/* Hands one record to the committer and waits until it is durable. */
static int jlimit_append(struct jlimit *jl, const char *rec, size_t len)
{
	int rc = 0;

	pthread_mutex_lock(&jl->mu);
	if (jl->pending_len + len > jl->pending_cap) {
		size_t cap = jl->pending_cap ? jl->pending_cap * 2 : 64 * 1024;
		while (cap < jl->pending_len + len)
			cap *= 2;
		char *p = realloc(jl->pending, cap);
		if (p == NULL) {
			pthread_mutex_unlock(&jl->mu);
			return ENOMEM;
		}
		jl->pending = p;
		jl->pending_cap = cap;
	}
	memcpy(jl->pending + jl->pending_len, rec, len);
	jl->pending_len += len;
	uint64_t seq = ++jl->assigned_seq;
	pthread_cond_signal(&jl->work);
	while (jl->durable_seq < seq && jl->err == 0)
		pthread_cond_wait(&jl->durable, &jl->mu);
	rc = jl->err;
	pthread_mutex_unlock(&jl->mu);
	return rc;
}

static void *jlimit_worker(void *arg)
{
	struct worker *w = arg;
	struct run *run = w->run;
	char value[BENCH_VALUE_BYTES + 1];
	uint64_t t = 0;

	pthread_barrier_wait(&run->start);
	for (uint64_t n = 0; t < run->deadline_ns; n++) {
		bench_value(value, w->id, n);
		uint64_t t0 = now_ns();
		int rc = jlimit_append(run->jl, value, BENCH_VALUE_BYTES);
		t = now_ns();
		if (rc != 0) {
			worker_error(w, "append or fdatasync", rc);
			break;
		}
		lat_add(&w->lat, t - t0);
		w->ops++;
	}
	return NULL;
}

/* Runs fn on run->nthreads threads for secs seconds; fills res. */
static void run_threads(struct run *run, void *(*fn)(void *), double secs, struct result *res)
{
	struct worker *w = calloc((size_t)run->nthreads, sizeof(*w));
	pthread_t *tid = calloc((size_t)run->nthreads, sizeof(*tid));
	int started = 0;

	memset(res, 0, sizeof(*res));
	if (w == NULL || tid == NULL) {
		msgf(res->error, sizeof(res->error), "out of memory");
		goto out;
	}
	pthread_barrier_init(&run->start, NULL, (unsigned)run->nthreads + 1);
	for (int i = 0; i < run->nthreads; i++) {
		w[i].run = run;
		w[i].id = i;
		int rc = pthread_create(&tid[i], NULL, fn, &w[i]);
		if (rc != 0) {
			/* The barrier counts every thread: cannot go on. */
			fprintf(stderr, "bench_store: pthread_create: %s\n", strerror(rc));
			exit(1);
		}
		started++;
	}
	uint64_t t0 = now_ns();
	run->deadline_ns = t0 + (uint64_t)(secs * 1e9);
	pthread_barrier_wait(&run->start);
	for (int i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	uint64_t t1 = now_ns();
	pthread_barrier_destroy(&run->start);

	size_t total = 0;
	for (int i = 0; i < run->nthreads; i++) {
		total += w[i].lat.n;
		res->ops += w[i].ops;
		res->errors += w[i].errors;
		if (w[i].errors > 0 && res->error[0] == '\0')
			msgf(res->error, sizeof(res->error), "%s", w[i].error);
	}
	uint64_t *all = malloc((total ? total : 1) * sizeof(*all));
	if (all != NULL) {
		size_t k = 0;
		for (int i = 0; i < run->nthreads; i++) {
			memcpy(all + k, w[i].lat.v, w[i].lat.n * sizeof(*all));
			k += w[i].lat.n;
		}
		qsort(all, total, sizeof(*all), cmp_u64);
		if (total > 0) {
			res->p50_ms = (double)all[total / 2] / 1e6;
			res->p99_ms = (double)all[(total * 99) / 100] / 1e6;
		}
		free(all);
	}
	res->ran = 1;
	res->secs = (double)(t1 - t0) / 1e9;
	res->ops_per_s = res->secs > 0 ? (double)res->ops / res->secs : 0;
out:
	if (w != NULL)
		for (int i = 0; i < run->nthreads; i++)
			free(w[i].lat.v);
	free(w);
	free(tid);
}

/* ---- the three durable-write runs ---------------------------------------- */

static int make_dir(const char *path, struct result *res)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		msgf(res->error, sizeof(res->error), "mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static void bench_store_run(const char *top, int nthreads, double secs, struct result *res)
{
	char dir[4096];
	struct store_create_params cp = { "bench", 10 };
	struct store_options opt;
	struct store_error err;
	struct store_seal_info seal;
	struct store *st = NULL;
	struct run run;

	memset(res, 0, sizeof(*res));
	memset(&opt, 0, sizeof(opt));
	memset(&run, 0, sizeof(run));
	msgf(dir, sizeof(dir), "%s/store-%d", top, nthreads);
	if (make_dir(dir, res) < 0)
		return;
	if (store_create(dir, &cp, &err) < 0 || store_open(dir, &opt, &st, &err) < 0 ||
	    store_begin_epoch(st, 1, "bench-host", 1, &seal, &err) < 0) {
		msgf(res->error, sizeof(res->error), "%s", err.msg);
		goto out;
	}
	run.nthreads = nthreads;
	run.st = st;
	run_threads(&run, store_worker, secs, res);
	store_end_epoch(st);
out:
	store_close(st);
	rmtree(dir);
}

static void bench_file_run(const char *top, int nthreads, double secs, struct result *res)
{
	char dir[4096];
	struct run run;

	memset(res, 0, sizeof(*res));
	memset(&run, 0, sizeof(run));
	msgf(dir, sizeof(dir), "%s/files-%d", top, nthreads);
	if (make_dir(dir, res) < 0)
		return;
	run.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (run.dirfd < 0) {
		msgf(res->error, sizeof(res->error), "open %s: %s", dir, strerror(errno));
		rmtree(dir);
		return;
	}
	run.nthreads = nthreads;
	run_threads(&run, file_worker, secs, res);
	close(run.dirfd);
	rmtree(dir);
}

static void bench_jlimit_run(const char *top, int nthreads, double secs, struct result *res)
{
	char path[4096];
	struct jlimit jl;
	struct run run;

	memset(res, 0, sizeof(*res));
	memset(&jl, 0, sizeof(jl));
	memset(&run, 0, sizeof(run));
	msgf(path, sizeof(path), "%s/journal-%d", top, nthreads);
	jl.fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
	if (jl.fd < 0) {
		msgf(res->error, sizeof(res->error), "open %s: %s", path, strerror(errno));
		return;
	}
	pthread_mutex_init(&jl.mu, NULL);
	pthread_cond_init(&jl.work, NULL);
	pthread_cond_init(&jl.durable, NULL);
	int rc = pthread_create(&jl.committer, NULL, jlimit_committer, &jl);
	if (rc != 0) {
		msgf(res->error, sizeof(res->error), "pthread_create: %s", strerror(rc));
		goto out;
	}
	run.nthreads = nthreads;
	run.jl = &jl;
	run_threads(&run, jlimit_worker, secs, res);
	pthread_mutex_lock(&jl.mu);
	jl.stop = 1;
	pthread_cond_signal(&jl.work);
	pthread_mutex_unlock(&jl.mu);
	pthread_join(jl.committer, NULL);
	res->batches = jl.batches;
out:
	free(jl.pending);
	pthread_cond_destroy(&jl.durable);
	pthread_cond_destroy(&jl.work);
	pthread_mutex_destroy(&jl.mu);
	close(jl.fd);
	unlink(path);
}

/* ---- d. load time and memory ---------------------------------------------- */

struct filler {
	struct store *st;
	atomic_uint_fast64_t next;
	uint64_t end;
	atomic_uint errors;
	char error[300];
	pthread_mutex_t mu;
};

static void *filler_thread(void *arg)
{
	struct filler *f = arg;
	char key[32], value[BENCH_VALUE_BYTES + 1];
	struct store_error err;
	uint64_t version, i;

	while ((i = atomic_fetch_add(&f->next, 1)) < f->end) {
		snprintf(key, sizeof(key), "key/%08" PRIu64, i);
		bench_value(value, (int)(i % 100), i);
		if (store_put(f->st, key, value, STORE_ANY_VERSION, &version, &err) < 0) {
			pthread_mutex_lock(&f->mu);
			if (atomic_fetch_add(&f->errors, 1) == 0)
				msgf(f->error, sizeof(f->error), "store_put %s: %s", key, err.msg);
			pthread_mutex_unlock(&f->mu);
			break;
		}
	}
	return NULL;
}

/* Puts keys [from, to) from BENCH_MAX_THREADS threads. */
static int fill(struct store *st, uint64_t from, uint64_t to, char *error, size_t error_len)
{
	struct filler f;
	pthread_t tid[BENCH_MAX_THREADS];
	int n = 0;

	memset(&f, 0, sizeof(f));
	f.st = st;
	atomic_init(&f.next, from);
	f.end = to;
	atomic_init(&f.errors, 0u);
	pthread_mutex_init(&f.mu, NULL);
	for (; n < BENCH_MAX_THREADS; n++)
		if (pthread_create(&tid[n], NULL, filler_thread, &f) != 0)
			break;
	if (n == 0)
		filler_thread(&f);
	for (int i = 0; i < n; i++)
		pthread_join(tid[i], NULL);
	pthread_mutex_destroy(&f.mu);
	if (atomic_load(&f.errors) > 0) {
		msgf(error, error_len, "%s", f.error);
		return -1;
	}
	return 0;
}

struct load_result {
	int ran;
	char error[600];
	double build_s;
	uint64_t snapshot_keys, journal_ops;
	double load_s;
	uint64_t hwm_kb;
	uint64_t keys, key_bytes, value_bytes;
};

static int build_store(const char *dir, uint64_t snap_keys, uint64_t journal_ops,
    struct load_result *lr)
{
	struct store_create_params cp = { "bench", 10 };
	struct store_options opt;
	struct store_error err;
	struct store_seal_info seal;
	struct store *st = NULL;
	uint64_t seq;
	int rc = -1;

	memset(&opt, 0, sizeof(opt));
	if (store_create(dir, &cp, &err) < 0 || store_open(dir, &opt, &st, &err) < 0 ||
	    store_begin_epoch(st, 1, "bench-host", 1, &seal, &err) < 0) {
		msgf(lr->error, sizeof(lr->error), "%s", err.msg);
		goto out;
	}
	if (fill(st, 0, snap_keys, lr->error, sizeof(lr->error)) < 0)
		goto out;
	if (store_snapshot(st, &seq, &err) < 0) {
		msgf(lr->error, sizeof(lr->error), "store_snapshot: %s", err.msg);
		goto out;
	}
	if (fill(st, snap_keys, snap_keys + journal_ops, lr->error, sizeof(lr->error)) < 0)
		goto out;
	rc = 0;
out:
	if (st != NULL) {
		store_end_epoch(st);
		store_close(st);
	}
	return rc;
}

/* Peak resident set of this process image (VmHWM, in kB): unlike
 * ru_maxrss it does not count what the parent had before exec. */
static uint64_t vm_hwm_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	uint64_t kb = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmHWM:", 6) == 0) {
			kb = strtoull(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

/* The child: opens the store, prints one line of figures, exits. */
static int load_child(const char *dir)
{
	struct store_options opt;
	struct store_error err;
	struct store_info info;
	struct store *st = NULL;

	memset(&opt, 0, sizeof(opt));
	opt.read_only = 1;
	uint64_t t0 = now_ns();
	int rc = store_open(dir, &opt, &st, &err);
	uint64_t t1 = now_ns();
	if (rc < 0) {
		printf("error store_open %s: %s\n", dir, err.msg);
		return 1;
	}
	store_info(st, &info);
	uint64_t hwm = vm_hwm_kb();
	if (hwm == 0) {
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		hwm = (uint64_t)ru.ru_maxrss;
	}
	printf("ok %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
	    t1 - t0, hwm, info.keys, info.key_bytes, info.value_bytes);
	fflush(stdout);
	store_close(st);
	return 0;
}

static void bench_load(const char *top, uint64_t total_keys, struct load_result *lr)
{
	char dir[4096], out[1024];
	int pipefd[2];
	size_t got = 0;

	memset(lr, 0, sizeof(*lr));
	lr->snapshot_keys = total_keys / 10 * 9;
	lr->journal_ops = total_keys - lr->snapshot_keys;
	msgf(dir, sizeof(dir), "%s/load", top);
	if (mkdir(dir, 0755) < 0) {
		msgf(lr->error, sizeof(lr->error), "mkdir %s: %s", dir, strerror(errno));
		return;
	}
	uint64_t t0 = now_ns();
	if (build_store(dir, lr->snapshot_keys, lr->journal_ops, lr) < 0)
		goto out;
	lr->build_s = (double)(now_ns() - t0) / 1e9;

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		msgf(lr->error, sizeof(lr->error), "pipe: %s", strerror(errno));
		goto out;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		msgf(lr->error, sizeof(lr->error), "fork: %s", strerror(errno));
		close(pipefd[0]);
		close(pipefd[1]);
		goto out;
	}
	if (pid == 0) {
		char *argv[] = { (char *)"bench_store", (char *)"--load-child", dir, NULL };
		dup2(pipefd[1], STDOUT_FILENO);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		ssize_t r = read(pipefd[0], out + got, sizeof(out) - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || got + (size_t)r >= sizeof(out) - 1) {
			if (r > 0)
				got += (size_t)r;
			break;
		}
		got += (size_t)r;
	}
	out[got] = '\0';
	close(pipefd[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	uint64_t load_ns;
	if (sscanf(out, "ok %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
	    &load_ns, &lr->hwm_kb, &lr->keys, &lr->key_bytes, &lr->value_bytes) != 5) {
		out[strcspn(out, "\n")] = '\0';
		msgf(lr->error, sizeof(lr->error), "the child that opens the store said \"%s\" (status %d)",
		    out, status);
		goto out;
	}
	lr->load_s = (double)load_ns / 1e9;
	lr->ran = 1;
out:
	rmtree(dir);
}

/* ---- report ---------------------------------------------------------------- */

static const char *fs_name(const char *path)
{
	struct statfs sf;

	if (statfs(path, &sf) < 0)
		return "unknown";
	switch ((unsigned long)sf.f_type) {
	case 0xEF53: return "ext2/3/4";
	case 0x58465342: return "xfs";
	case 0x9123683E: return "btrfs";
	case 0x01021994: return "tmpfs (no real fsync: figures mean little)";
	case 0x794C7630: return "overlayfs";
	case 0x6969: return "nfs";
	case 0x00C36400: return "ceph";
	case 0x65735546: return "fuse";
	default: return "other";
	}
}

static void print_row(const char *name, const struct result *r)
{
	if (!r->ran) {
		printf("  %-22s  could not run: %s\n", name, r->error);
		return;
	}
	printf("  %-22s %10.0f ops/s   p50 %8.3f ms   p99 %8.3f ms", name, r->ops_per_s,
	    r->p50_ms, r->p99_ms);
	if (r->batches > 0)
		printf("   (%.1f writes per fdatasync)", (double)r->ops / (double)r->batches);
	if (r->errors > 0)
		printf("   %u errors, first: %s", r->errors, r->error);
	putchar('\n');
	fflush(stdout);
}

static void print_target(const char *what, int have, int met, const char *figures)
{
	printf("  %-52s %s  %s\n", what, !have ? "NOT met (no figure)" : met ? "met" : "NOT met",
	    figures);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_store [--seconds N] [--dir D] [--quick] [--keep]\n");
}

int main(int argc, char **argv)
{
	double secs = 3;
	const char *base = getenv("SSFM_BENCH_DIR");
	int quick = 0, keep = 0, secs_given = 0;

	if (argc == 3 && strcmp(argv[1], "--load-child") == 0)
		return load_child(argv[2]);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
			char *end;
			errno = 0;
			secs = strtod(argv[++i], &end);
			if (errno != 0 || *end != '\0' || !(secs > 0 && secs <= 3600)) {
				fprintf(stderr, "bench_store: --seconds wants a number of seconds in (0, 3600], not \"%s\"\n",
				    argv[i]);
				return 2;
			}
			secs_given = 1;
		} else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			base = argv[++i];
		else if (strcmp(argv[i], "--quick") == 0)
			quick = 1;
		else if (strcmp(argv[i], "--keep") == 0)
			keep = 1;
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (quick && !secs_given)
		secs = 1;
	if (base == NULL || base[0] == '\0')
		base = "/var/tmp";

	if (strlen(base) > 2048) {
		fprintf(stderr, "bench_store: folder name too long: %s\n", base);
		return 2;
	}
	char top[4096];
	snprintf(top, sizeof(top), "%s/ssfm-bench.XXXXXX", base);
	if (mkdtemp(top) == NULL) {
		fprintf(stderr, "bench_store: cannot make a folder under %s: %s\n", base, strerror(errno));
		return 1;
	}

	printf("bench_store: durable 250-byte writes, %.1f s per run, in %s (%s)\n", secs, top,
	    fs_name(top));
	struct result store_r[BENCH_NCOUNTS], file_r[BENCH_NCOUNTS], jl_r[BENCH_NCOUNTS];
	for (size_t k = 0; k < BENCH_NCOUNTS; k++) {
		int n = bench_thread_counts[k];
		printf("%d thread%s:\n", n, n == 1 ? "" : "s");
		bench_store_run(top, n, secs, &store_r[k]);
		print_row("store (store_put)", &store_r[k]);
		bench_file_run(top, n, secs, &file_r[k]);
		print_row("one file per write", &file_r[k]);
		bench_jlimit_run(top, n, secs, &jl_r[k]);
		print_row("batched journal limit", &jl_r[k]);
	}

	uint64_t total_keys = quick ? 100000 : 1000000;
	struct load_result lr;
	printf("load: %" PRIu64 " keys (%" PRIu64 " in a snapshot, %" PRIu64 " journal puts), opened by a fresh process (page cache warm)\n",
	    total_keys, total_keys / 10 * 9, total_keys - total_keys / 10 * 9);
	fflush(stdout);
	bench_load(top, total_keys, &lr);
	uint64_t data_bytes = lr.key_bytes + lr.value_bytes;
	double rss_ratio = data_bytes > 0 ? (double)lr.hwm_kb * 1024.0 / (double)data_bytes : 0;
	if (lr.ran)
		printf("  built in %.1f s; store_open took %.3f s; peak RSS %.1f MB for %" PRIu64
		    " keys holding %.1f MB of keys and values (%.2fx)\n",
		    lr.build_s, lr.load_s, (double)lr.hwm_kb / 1024.0, lr.keys,
		    (double)data_bytes / 1048576.0, rss_ratio);
	else
		printf("  could not run: %s\n", lr.error);

	/* Thread counts 1 and 64 are the first and last entries. */
	const size_t one = 0, many = BENCH_NCOUNTS - 1;
	char fig[512];
	printf("targets:\n");
	double want = 0.7 * jl_r[many].ops_per_s;
	snprintf(fig, sizeof(fig), "(store %.0f ops/s, journal limit %.0f, 0.7x = %.0f)",
	    store_r[many].ops_per_s, jl_r[many].ops_per_s, want);
	print_target("64 threads: store >= 0.7x batched journal limit",
	    store_r[many].ran && jl_r[many].ran && store_r[many].ops > 0,
	    store_r[many].ops_per_s >= want, fig);
	want = 10 * file_r[many].ops_per_s;
	snprintf(fig, sizeof(fig), "(store %.0f ops/s, file per write %.0f, 10x = %.0f)",
	    store_r[many].ops_per_s, file_r[many].ops_per_s, want);
	print_target("64 threads: store >= 10x one file per write",
	    store_r[many].ran && file_r[many].ran && store_r[many].ops > 0,
	    store_r[many].ops_per_s >= want, fig);
	want = 1.3 * file_r[one].p50_ms;
	snprintf(fig, sizeof(fig), "(store p50 %.3f ms, file per write p50 %.3f ms, 1.3x = %.3f ms)",
	    store_r[one].p50_ms, file_r[one].p50_ms, want);
	print_target("1 thread: store p50 <= 1.3x one file per write p50",
	    store_r[one].ran && file_r[one].ran && store_r[one].ops > 0 && file_r[one].ops > 0,
	    store_r[one].p50_ms <= want, fig);
	snprintf(fig, sizeof(fig), "(%.3f s for %" PRIu64 " keys%s)", lr.load_s, lr.keys,
	    quick ? "; --quick: the target is for 1M" : "");
	print_target("1M keys loaded in <= 3 s", lr.ran, lr.load_s <= 3.0, fig);
	snprintf(fig, sizeof(fig), "(peak RSS %.1f MB / %.1f MB of keys and values = %.2fx)",
	    (double)lr.hwm_kb / 1024.0, (double)data_bytes / 1048576.0, rss_ratio);
	print_target("RSS <= 2.5x the bytes of keys and values", lr.ran && data_bytes > 0,
	    rss_ratio <= 2.5, fig);

	if (keep)
		printf("kept %s\n", top);
	else
		rmtree(top);
	return 0;
}
