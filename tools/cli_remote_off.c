/* SPDX-License-Identifier: MIT */
/*
 * cli_remote_off.c -- cli_remote.h in a build without a Kafka client
 * (no server, or no librdkafka): no server is ever found in a store's
 * SERVER file, and --bootstrap fails with a message saying why, so a
 * command that needs the writer lock reports the lock as before.
 */
#include <stdio.h>

#include "cli_remote.h"

static int unavailable(const cli_ctx *c)
{
	cli_errf("%s: this varve is built without a Kafka client (librdkafka and the server): "
		 "it cannot go through a server; stop the writer and use -d DIR",
		 c->bootstrap ? c->bootstrap : "--bootstrap");
	return CLI_ERROR;
}

int cli_remote_available(void)
{
	return 0;
}

int cli_remote_probe(const char *addr, int64_t timeout_ms, char *why, size_t cap)
{
	(void)addr, (void)timeout_ms;
	snprintf(why, cap, "this varve has no Kafka client");
	return -1;
}

int cli_remote_topic_create(cli_ctx *c, const char *name, const cli_topic_change *ch,
			    int if_not_exists)
{
	(void)name, (void)ch, (void)if_not_exists;
	return unavailable(c);
}

int cli_remote_topic_delete(cli_ctx *c, const char *name)
{
	(void)name;
	return unavailable(c);
}

int cli_remote_topic_alter(cli_ctx *c, const char *name, const cli_topic_change *ch)
{
	(void)name, (void)ch;
	return unavailable(c);
}

int cli_remote_topic_add_partitions(cli_ctx *c, const char *name, uint32_t partitions)
{
	(void)name, (void)partitions;
	return unavailable(c);
}

int cli_remote_topic_list(cli_ctx *c)
{
	return unavailable(c);
}

int cli_remote_topic_describe(cli_ctx *c, const char *name)
{
	(void)name;
	return unavailable(c);
}

int cli_remote_group_list(cli_ctx *c)
{
	return unavailable(c);
}

int cli_remote_group_describe(cli_ctx *c, const char *group, int json)
{
	(void)group, (void)json;
	return unavailable(c);
}

int cli_remote_group_delete(cli_ctx *c, const char *group)
{
	(void)group;
	return unavailable(c);
}

int cli_remote_group_reset(cli_ctx *c, const cli_reset_args *a)
{
	(void)a;
	return unavailable(c);
}

int cli_remote_producer_open(cli_ctx *c, const char *topic, cli_remote_producer **out,
			     uint32_t *partitions)
{
	(void)topic, (void)partitions;
	*out = NULL;
	return unavailable(c);
}

int cli_remote_produce(cli_remote_producer *p, varve_record *recs, size_t n, const char *what)
{
	(void)p, (void)recs, (void)n, (void)what;
	return CLI_ERROR;
}

void cli_remote_producer_close(cli_remote_producer *p)
{
	(void)p;
}

int cli_remote_consume(cli_ctx *c, const cli_remote_consume_args *a)
{
	(void)a;
	return unavailable(c);
}

int cli_remote_dlq_replay(cli_ctx *c, const char *dlq_topic, uint64_t max)
{
	(void)dlq_topic, (void)max;
	return unavailable(c);
}

int cli_remote_clean(cli_ctx *c, int force)
{
	(void)force;
	return unavailable(c);
}
