/*
 * t_fence_host_death (slow): host1 holds the lease and its sanlock daemon is
 * SIGKILLed, so nothing renews host1's delta lease and nothing releases the
 * resource.  host2 keeps trying without waiting.  It must not get the lease
 * before 8 * io_timeout + 60 s less two renewal intervals (host2 sees
 * host1's renewals only every 2 * io_timeout), and must get it within 10 s
 * after 8 * io_timeout + 60 s: 64..78 s at io_timeout 1.
 */
#include "fence.h"
#include "hosts.h"
#include "tap.h"
#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#define IO_TIMEOUT 1

int main(void)
{
	struct hosts hs;
	struct agent a, b;
	const char *r;
	uint64_t e1 = 0, e2 = 0, killed, took = 0;
	unsigned dead_s = FENCE_HOST_DEAD(IO_TIMEOUT);
	uint64_t lower_ms = (uint64_t)(dead_s - 2 * FENCE_RENEW_INTERVAL(IO_TIMEOUT)) * 1000;
	uint64_t upper_ms = (uint64_t)(dead_s + 10) * 1000;
	int tries = 0;

	hosts_start(&hs, 2, "death", IO_TIMEOUT);
	is_str(agent_start(&a, &hs, &hs.host[1], 1, NULL, NULL), "READY", "agent for host1");
	is_str(agent_start(&b, &hs, &hs.host[2], 2, NULL, NULL), "READY", "agent for host2");
	r = agent_cmd(&a, "join", 60000);
	ok(r && strncmp(r, "OK", 2) == 0, "host1 joins: %s", r ? r : "");
	r = agent_cmd(&b, "join", 60000);
	ok(r && strncmp(r, "OK", 2) == 0, "host2 joins: %s", r ? r : "");
	r = agent_cmd(&a, "acquire", 10000);
	ok(r && strncmp(r, "OK", 2) == 0, "host1 acquires: %s", r ? r : "");
	e1 = (uint64_t)answer_num(r, "epoch", 0);

	host_sanlock_kill(&hs.host[1], SIGKILL);
	killed = tu_now_ms();
	r = agent_cmd(&b, "acquire", 30000);
	ok(r != NULL && answer_num(r, "code", 0) == -FENCE_EHELD && strstr(r, "host1") != NULL,
	    "right after, host2 is told host1 holds it: %s", r ? r : "");
	/* A standby's look (fence_lease_busy) must agree with the ballot: busy
	 * while host1 may live, free once sanlock counts it dead. */
	r = agent_cmd(&b, "busy", 5000);
	ok(r != NULL && strstr(r, "OK busy 1 holder 1") != NULL,
	    "host2's look says host1 holds it: %s", r ? r : "");
	while (r != NULL && strstr(r, "OK busy 1") != NULL && tu_now_ms() - killed < upper_ms + 5000) {
		tu_sleep_ms(250);
		r = agent_cmd(&b, "busy", 5000);
	}
	took = tu_now_ms() - killed;
	ok(r != NULL && strstr(r, "OK busy 0") != NULL, "the look finds the lease free in the end: %s",
	    r ? r : "");
	ok(took >= lower_ms, "not before %llu ms (took %llu ms)", (unsigned long long)lower_ms,
	    (unsigned long long)took);
	tap_diag("host1's sanlock daemon killed; host2 tries every 500 ms");
	for (;;) {
		r = agent_cmd(&b, "acquire", 30000);
		tries++;
		if (r != NULL && strncmp(r, "OK", 2) == 0) {
			took = tu_now_ms() - killed;
			e2 = (uint64_t)answer_num(r, "epoch", 0);
			break;
		}
		if (r == NULL || tu_now_ms() - killed > upper_ms + 5000) {
			tap_diag("last answer: %s", r ? r : "(none)");
			took = tu_now_ms() - killed;
			break;
		}
		tu_sleep_ms(500);
	}
	tap_diag("MEASURED host death takeover: %llu ms (%d tries)", (unsigned long long)took, tries);
	ok(e2 > e1, "host2 acquires with a greater epoch (%llu > %llu)", (unsigned long long)e2,
	    (unsigned long long)e1);
	ok(took >= lower_ms, "not before %llu ms (took %llu ms)", (unsigned long long)lower_ms,
	    (unsigned long long)took);
	ok(took <= upper_ms, "within %llu ms (took %llu ms)", (unsigned long long)upper_ms,
	    (unsigned long long)took);

	agent_stop(&a);
	agent_stop(&b);
	hosts_stop(&hs);
	return tap_done();
}
