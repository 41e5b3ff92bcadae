/* SPDX-License-Identifier: MIT */
/*
 * bench_acl -- decisions/s of the ACL matcher (server/security/acl.c) on one
 * core, for sets of 0 to 10,000 ACLs: the cost each Produce or Fetch pays
 * per topic it names. The set is what a deployment with N client
 * principals might hold: per principal a read and a write grant on a
 * literal topic and a read grant on a group, plus a few prefixed and
 * wildcard ACLs; the question is a principal in the middle asking to write
 * its own topic (allowed, after every ACL that could deny it was looked
 * at: the name's and the wildcard's literal ACLs, found by binary search,
 * and the topic type's prefixed ones). Also times parsing and
 * writing a file of that size. Figures are per second of this thread's CPU
 * time.
 *
 *   build/tests/server/acl/bench_acl [seconds per case]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "security/acl.h"

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *file_of(int principals)
{
	size_t cap = (size_t)principals * 200 + 1024, at = 0;
	char *text = malloc(cap);
	if (!text)
		exit(1);
	at += (size_t)snprintf(text + at, cap - at,
			       "allow User:* * describe topic literal *\n"
			       "deny User:* 10.9.9.9 all topic literal *\n"
			       "allow User:admin * all cluster literal kafka-cluster\n"
			       "allow User:ops * read topic prefixed logs-\n");
	for (int i = 0; i < principals; i++)
		at += (size_t)snprintf(text + at, cap - at,
				       "allow User:app%d * write topic literal orders-%d\n"
				       "allow User:app%d * read topic literal orders-%d\n"
				       "allow User:app%d * read group literal billing-%d\n",
				       i, i, i, i, i, i);
	return text;
}

static void run(int principals, double seconds)
{
	char *text = file_of(principals);
	vs_acl_set s;
	char msg[256];
	double t0 = cpu_now();
	if (vs_acl_parse(text, strlen(text), &s, msg, sizeof msg)) {
		fprintf(stderr, "parse: %s\n", msg);
		exit(1);
	}
	double parse = cpu_now() - t0;
	char *out;
	size_t len;
	t0 = cpu_now();
	if (vs_acl_format(&s, &out, &len))
		exit(1);
	double format = cpu_now() - t0;
	free(out);
	char principal[64], topic[64];
	snprintf(principal, sizeof principal, "User:app%d", principals / 2);
	snprintf(topic, sizeof topic, "orders-%d", principals / 2);
	vs_acl_addr host;
	vs_acl_addr_of_peer("127.0.0.1:50000", &host);
	unsigned long n = 0, allowed = 0;
	t0 = cpu_now();
	double t;
	do {
		for (int k = 0; k < 1000; k++)
			allowed += vs_acl_authorize(&s, principal, &host, VS_OP_WRITE, VS_RES_TOPIC,
						    (const uint8_t *)topic, strlen(topic));
		n += 1000;
	} while ((t = cpu_now() - t0) < seconds);
	printf("%6zu ACLs: %10.0f decisions/s (%6.2f us each, %s), parse %7.2f ms, write %7.2f ms\n",
	       s.n, (double)n / t, t / (double)n * 1e6, allowed == n ? "allowed" : "refused",
	       parse * 1e3, format * 1e3);
	vs_acl_set_free(&s);
	free(text);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
	if (seconds <= 0)
		seconds = 1.0;
	int sizes[] = { 0, 10, 100, 1000, 3332 };
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
		run(sizes[i], seconds);
	return 0;
}
