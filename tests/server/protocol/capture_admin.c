/* SPDX-License-Identifier: MIT */
/*
 * capture_admin.c -- librdkafka admin calls that neither kcat nor
 * confluent-kafka-python 1.7.0 can make (ListConsumerGroups and
 * DescribeConsumerGroups at their newest versions, DeleteGroups,
 * DeleteRecords, CreateAcls, DescribeAcls, DeleteAcls), pointed at
 * capture.py so their request frames can be recorded. Not part of the
 * build (it needs librdkafka-dev, which the broker does not):
 *
 *   cc -o /tmp/capture_admin tests/server/protocol/capture_admin.c -lrdkafka
 *   /tmp/capture_admin 127.0.0.1:19092
 *
 * Each call waits up to 5 s for its result; errors are printed and
 * ignored (capture.py answers some of them with empty results).
 */
#include <stdio.h>
#include <stdlib.h>

#include <librdkafka/rdkafka.h>

static void wait_result(rd_kafka_queue_t *q, const char *what)
{
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 5000);
	fprintf(stderr, "%s: %s\n", what, ev ? rd_kafka_event_error_string(ev) ?: "done" : "timeout");
	if (ev)
		rd_kafka_event_destroy(ev);
}

int main(int argc, char **argv)
{
	char err[512];
	if (argc != 2) {
		fprintf(stderr, "usage: capture_admin BROKER\n");
		return 2;
	}
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], err, sizeof err) ||
	    rd_kafka_conf_set(conf, "client.id", "rdk-admin", err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	if (!rk) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);

	rd_kafka_ListConsumerGroups(rk, NULL, q);
	wait_result(q, "ListConsumerGroups");

	const char *groups[] = { "rdk-group-a", "rdk-group-b" };
	rd_kafka_DescribeConsumerGroups(rk, groups, 2, NULL, q);
	wait_result(q, "DescribeConsumerGroups");

	rd_kafka_DeleteGroup_t *dg[] = { rd_kafka_DeleteGroup_new("rdk-group-a") };
	rd_kafka_DeleteGroups(rk, dg, 1, NULL, q);
	wait_result(q, "DeleteGroups");
	rd_kafka_DeleteGroup_destroy(dg[0]);

	rd_kafka_topic_partition_list_t *before = rd_kafka_topic_partition_list_new(2);
	rd_kafka_topic_partition_list_add(before, "cap", 0)->offset = 5;
	rd_kafka_topic_partition_list_add(before, "cap", 1)->offset = RD_KAFKA_OFFSET_END;
	rd_kafka_DeleteRecords_t *dr[] = { rd_kafka_DeleteRecords_new(before) };
	rd_kafka_DeleteRecords(rk, dr, 1, NULL, q);
	wait_result(q, "DeleteRecords");
	rd_kafka_DeleteRecords_destroy(dr[0]);
	rd_kafka_topic_partition_list_destroy(before);

	rd_kafka_AclBinding_t *acl[] = { rd_kafka_AclBinding_new(
		RD_KAFKA_RESOURCE_TOPIC, "cap", RD_KAFKA_RESOURCE_PATTERN_LITERAL, "User:alice", "*",
		RD_KAFKA_ACL_OPERATION_READ, RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW, err, sizeof err) };
	rd_kafka_CreateAcls(rk, acl, 1, NULL, q);
	wait_result(q, "CreateAcls");
	rd_kafka_AclBinding_destroy(acl[0]);

	rd_kafka_AclBindingFilter_t *filter = rd_kafka_AclBindingFilter_new(
		RD_KAFKA_RESOURCE_ANY, NULL, RD_KAFKA_RESOURCE_PATTERN_ANY, NULL, NULL,
		RD_KAFKA_ACL_OPERATION_ANY, RD_KAFKA_ACL_PERMISSION_TYPE_ANY, err, sizeof err);
	rd_kafka_DescribeAcls(rk, filter, NULL, q);
	wait_result(q, "DescribeAcls");
	rd_kafka_DeleteAcls(rk, &filter, 1, NULL, q);
	wait_result(q, "DeleteAcls");
	rd_kafka_AclBinding_destroy(filter);

	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	return 0;
}
