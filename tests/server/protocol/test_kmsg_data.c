/* SPDX-License-Identifier: MIT */
/*
 * Tests of server/protocol/kmsg_data.c: Produce, Fetch, ListOffsets,
 * DeleteRecords and InitProducerId.
 *   - golden vectors: frames captured from librdkafka (kcat, confluent_kafka)
 *     and kafka-python decode to exactly what the clients sent, and encode
 *     back to the same bytes;
 *   - round trips of messages with every field set, at every version in
 *     range, and the defaults of fields a version lacks;
 *   - responses checked byte for byte against hand-computed images
 *     (Produce v3/v7, Fetch v4/v11, InitProducerId v4 which is flexible).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "kt_util.h"

TestSuite(golden_data, .timeout = 30);
TestSuite(roundtrip_data, .timeout = 30);
TestSuite(image_data, .timeout = 30);

/* The first bytes of a record batch v2 (Kafka's DefaultRecordBatch). */
static int64_t batch_base_offset(vs_slice r) { return (int64_t)vs_be64(r.ptr); }
static int batch_magic(vs_slice r) { return r.ptr[16]; }
static int64_t batch_producer_id(vs_slice r) { return (int64_t)vs_be64(r.ptr + 43); }
static int32_t batch_count(vs_slice r) { return (int32_t)vs_be32(r.ptr + 57); }

static int contains(vs_slice hay, const char *needle)
{
	size_t n = strlen(needle);
	for (size_t i = 0; i + n <= hay.len; i++)
		if (memcmp(hay.ptr + i, needle, n) == 0)
			return 1;
	return 0;
}

/* ---- golden: Produce ------------------------------------------------------------ */

Test(golden_data, kcat_produce_v7)
{
	kt_req k;
	kt_req_load(&k, "rdkafka-Produce-v7", VS_API_PRODUCE, 7);
	cr_assert(kt_is(k.h.client_id, "rdkafka"));
	const vs_produce_request *p = &k.req.produce;
	cr_assert_null(p->transactional_id.ptr);
	cr_assert_eq(p->acks, -1, "librdkafka's default acks=all");
	cr_assert_eq(p->timeout_ms, 30000);
	cr_assert_eq(p->topic_data.n, 1);
	cr_assert(kt_is(p->topic_data.v[0].name, "cap"));
	cr_assert_eq(p->topic_data.v[0].partition_data.n, 1);
	const vs_produce_partition *pp = &p->topic_data.v[0].partition_data.v[0];
	cr_assert_eq(pp->index, 0);
	cr_assert_eq(pp->records.len, 89);
	cr_assert_eq(pp->records.ptr, k.frame + 0x2e, "a slice into the frame, no copy");
	cr_assert_eq(batch_base_offset(pp->records), 0);
	cr_assert_eq(batch_magic(pp->records), 2);
	cr_assert_eq(batch_count(pp->records), 2, "k1:hello and k2:world");
	cr_assert(contains(pp->records, "hello") && contains(pp->records, "world"));
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);
}

Test(golden_data, kcat_idempotent_produce_v7_and_init_producer_id_v4)
{
	kt_req k;
	kt_req_load(&k, "kcat-idem-InitProducerId-v4", VS_API_INIT_PRODUCER_ID, 4);
	cr_assert_eq(k.h.header_version, 2, "flexible: request header v2");
	const vs_init_producer_id_request *ip = &k.req.init_producer_id;
	cr_assert_null(ip->transactional_id.ptr);
	cr_assert_eq(ip->transaction_timeout_ms, -1);
	cr_assert_eq(ip->producer_id, -1);
	cr_assert_eq(ip->producer_epoch, -1);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "kcat-idem-Produce-v7", VS_API_PRODUCE, 7);
	vs_slice rec = k.req.produce.topic_data.v[0].partition_data.v[0].records;
	cr_assert_eq(batch_producer_id(rec), 1000, "the id capture.py handed out");
	cr_assert_eq(batch_count(rec), 1);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);
}

Test(golden_data, confluent_produce_v7)
{
	kt_req k;
	kt_req_load(&k, "ck-producer-Produce-v7", VS_API_PRODUCE, 7);
	cr_assert(kt_is(k.h.client_id, "ck-producer"));
	const vs_produce_request *p = &k.req.produce;
	cr_assert_eq(p->acks, -1, "idempotence forces acks=all");
	cr_assert(kt_is(p->topic_data.v[0].name, "cap"));
	vs_slice rec = p->topic_data.v[0].partition_data.v[0].records;
	cr_assert_eq(batch_count(rec), 3);
	cr_assert(contains(rec, "key-0") && contains(rec, "value-2"));
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);
}

Test(golden_data, kafka_python_produce_v7)
{
	kt_req k;
	kt_req_load(&k, "kp-producer-Produce-v7", VS_API_PRODUCE, 7);
	cr_assert(kt_is(k.h.client_id, "kp-producer"));
	const vs_produce_request *p = &k.req.produce;
	cr_assert_null(p->transactional_id.ptr);
	cr_assert_eq(p->acks, 1, "kafka-python's default acks=1");
	cr_assert_eq(p->timeout_ms, 30000);
	vs_slice rec = p->topic_data.v[0].partition_data.v[0].records;
	cr_assert_eq(rec.len, 70);
	cr_assert_eq(batch_magic(rec), 2, "v2 batches: kafka-python took us for 2.3");
	cr_assert_eq(batch_count(rec), 1);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);
}

/* ---- golden: Fetch and ListOffsets ------------------------------------------------ */

Test(golden_data, kcat_fetch_v11)
{
	kt_req k;
	kt_req_load(&k, "kcat-consumer-Fetch-v11", VS_API_FETCH, 11);
	const vs_fetch_request *f = &k.req.fetch;
	cr_assert_eq(f->replica_id, -1);
	cr_assert_eq(f->max_wait_ms, 500);
	cr_assert_eq(f->min_bytes, 1);
	cr_assert_eq(f->max_bytes, 52428800);
	cr_assert_eq(f->isolation_level, 1, "librdkafka reads committed by default");
	cr_assert_eq(f->session_id, 0);
	cr_assert_eq(f->session_epoch, -1, "no fetch session");
	cr_assert_eq(f->topics.n, 1);
	cr_assert(kt_is(f->topics.v[0].topic, "cap"));
	cr_assert_eq(f->topics.v[0].partitions.n, 1);
	const vs_fetch_partition *p = &f->topics.v[0].partitions.v[0];
	cr_assert_eq(p->partition, 0);
	cr_assert_eq(p->current_leader_epoch, -1);
	cr_assert_eq(p->fetch_offset, 0);
	cr_assert_eq(p->log_start_offset, -1);
	cr_assert_eq(p->partition_max_bytes, 1048576);
	cr_assert_eq(f->forgotten_topics_data.n, 0);
	cr_assert(kt_is(f->rack_id, ""));
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);
}

Test(golden_data, kafka_python_fetch_v4)
{
	kt_req k;
	kt_req_load(&k, "kp-consumer-Fetch-v4", VS_API_FETCH, 4);
	const vs_fetch_request *f = &k.req.fetch;
	cr_assert_eq(f->replica_id, -1);
	cr_assert_eq(f->max_wait_ms, 500);
	cr_assert_eq(f->min_bytes, 1);
	cr_assert_eq(f->max_bytes, 52428800);
	cr_assert_eq(f->isolation_level, 0);
	/* absent in v4: Kafka's defaults */
	cr_assert_eq(f->session_id, 0);
	cr_assert_eq(f->session_epoch, -1);
	cr_assert_eq(f->topics.v[0].partitions.v[0].log_start_offset, -1);
	cr_assert_eq(f->topics.v[0].partitions.v[0].current_leader_epoch, -1);
	cr_assert_eq(f->forgotten_topics_data.n, 0);
	cr_assert(kt_is(f->rack_id, ""), "absent rack id is \"\", not null");
	cr_assert_eq(f->topics.v[0].partitions.v[0].partition_max_bytes, 1048576);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);
}

Test(golden_data, list_offsets_v2_and_v1)
{
	kt_req k;
	kt_req_load(&k, "kcat-consumer-ListOffsets-v2", VS_API_LIST_OFFSETS, 2);
	const vs_list_offsets_request *l = &k.req.list_offsets;
	cr_assert_eq(l->replica_id, -1);
	cr_assert_eq(l->isolation_level, 1);
	cr_assert(kt_is(l->topics.v[0].name, "cap"));
	cr_assert_eq(l->topics.v[0].partitions.v[0].partition_index, 0);
	cr_assert_eq(l->topics.v[0].partitions.v[0].timestamp, -2, "-o beginning");
	cr_assert_eq(l->topics.v[0].partitions.v[0].max_num_offsets, 1, "v0-only field: default 1");
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "kp-consumer-ListOffsets-v1", VS_API_LIST_OFFSETS, 1);
	l = &k.req.list_offsets;
	cr_assert_eq(l->isolation_level, 0);
	cr_assert_eq(l->topics.n, 1);
	cr_assert_eq(l->topics.v[0].partitions.v[0].timestamp, -2, "auto_offset_reset=earliest");
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);
}

Test(golden_data, librdkafka_delete_records_v1)
{
	kt_req k;
	kt_req_load(&k, "rdk-admin-DeleteRecords-v1", VS_API_DELETE_RECORDS, 1);
	const vs_delete_records_request *d = &k.req.delete_records;
	cr_assert_eq(d->topics.n, 1);
	cr_assert(kt_is(d->topics.v[0].name, "cap"));
	/* partition 1 does not exist in capture.py's metadata: not sent */
	cr_assert_eq(d->topics.v[0].partitions.n, 1);
	cr_assert_eq(d->topics.v[0].partitions.v[0].partition_index, 0);
	cr_assert_eq(d->topics.v[0].partitions.v[0].offset, 5);
	cr_assert_eq(d->timeout_ms, 60000);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);
}

/* ---- round trips at every version --------------------------------------------------- */

Test(roundtrip_data, produce_every_version)
{
	static const uint8_t batch[] = { 0, 0, 0, 0, 0, 0, 0, 9, 1, 2, 3 };
	vs_produce_partition parts[2] = { { 0, { batch, sizeof batch } }, { 3, VS_SLICE_NULL } };
	vs_produce_topic topics[1] = { { kt_s("orders"), { parts, 2 } } };
	vs_request req;
	memset(&req, 0, sizeof req);
	req.produce = (vs_produce_request){ kt_s("txn-1"), -1, 1500, { topics, 1 } };
	vs_produce_partition_response pr = { 3, KE_NOT_LEADER_OR_FOLLOWER, 77, 1700000000000, 12 };
	vs_produce_topic_response tr = { kt_s("orders"), { &pr, 1 } };
	vs_response resp;
	memset(&resp, 0, sizeof resp);
	resp.produce = (vs_produce_response){ { &tr, 1 }, 250 };
	vs_arena a;
	vs_arena_init(&a, 1 << 20);
	for (int16_t v = 3; v <= 7; v++) {
		vs_request rq;
		vs_response rs;
		vs_arena_reset(&a);
		kt_request_roundtrip(VS_API_PRODUCE, v, &req, &a, &rq);
		cr_assert(kt_is(rq.produce.transactional_id, "txn-1"));
		cr_assert_eq(rq.produce.topic_data.v[0].partition_data.v[0].records.len, sizeof batch);
		cr_assert_null(rq.produce.topic_data.v[0].partition_data.v[1].records.ptr, "null records");
		kt_response_roundtrip(VS_API_PRODUCE, v, &resp, &a, &rs);
		const vs_produce_partition_response *g = &rs.produce.responses.v[0].partition_responses.v[0];
		cr_assert_eq(g->base_offset, 77);
		cr_assert_eq(g->error_code, KE_NOT_LEADER_OR_FOLLOWER);
		cr_assert_eq(g->log_append_time_ms, 1700000000000);
		cr_assert_eq(g->log_start_offset, v >= 5 ? 12 : -1, "v%d", v);
		cr_assert_eq(rs.produce.throttle_time_ms, 250);
	}
	vs_arena_free(&a);
}

static void fill_fetch(vs_request *req, vs_response *resp)
{
	static vs_fetch_partition fp[2] = { { 0, 5, 100, 10, 65536 }, { 1, 5, 200, 20, 1024 } };
	static vs_fetch_topic ft[1];
	static int32_t forgotten_parts[2] = { 7, 8 };
	static vs_fetch_forgotten_topic fg[1];
	static vs_fetch_aborted_transaction ab[2] = { { 9, 90 }, { 10, 95 } };
	static const uint8_t records[] = { 0xde, 0xad, 0xbe, 0xef };
	static vs_fetch_partition_data pd[2];
	static vs_fetch_topic_response tr[1];
	ft[0] = (vs_fetch_topic){ kt_s("logs"), { fp, 2 } };
	fg[0] = (vs_fetch_forgotten_topic){ kt_s("old"), { forgotten_parts, 2 } };
	memset(req, 0, sizeof *req);
	req->fetch = (vs_fetch_request){ -1, 500, 1, 1 << 20, 1, 42, 3, { ft, 1 }, { fg, 1 }, kt_s("rack-a") };
	pd[0] = (vs_fetch_partition_data){ 0, 0, 120, 110, 5, { ab, 2 }, 2, { records, sizeof records } };
	pd[1] = (vs_fetch_partition_data){ 1, KE_OFFSET_OUT_OF_RANGE, 50, 50, 0, { NULL, -1 }, -1,
					   VS_SLICE_NULL };
	tr[0] = (vs_fetch_topic_response){ kt_s("logs"), { pd, 2 } };
	memset(resp, 0, sizeof *resp);
	resp->fetch = (vs_fetch_response){ 10, 0, 42, { tr, 1 } };
}

Test(roundtrip_data, fetch_every_version)
{
	vs_request req;
	vs_response resp;
	fill_fetch(&req, &resp);
	vs_arena a;
	vs_arena_init(&a, 1 << 20);
	for (int16_t v = 4; v <= 11; v++) {
		vs_request rq;
		vs_response rs;
		vs_arena_reset(&a);
		kt_request_roundtrip(VS_API_FETCH, v, &req, &a, &rq);
		const vs_fetch_request *f = &rq.fetch;
		cr_assert_eq(f->max_bytes, 1 << 20);
		cr_assert_eq(f->isolation_level, 1);
		cr_assert_eq(f->session_id, v >= 7 ? 42 : 0);
		cr_assert_eq(f->session_epoch, v >= 7 ? 3 : -1);
		cr_assert_eq(f->forgotten_topics_data.n, v >= 7 ? 1 : 0);
		if (v >= 7)
			cr_assert_eq(f->forgotten_topics_data.v[0].partitions.v[1], 8);
		cr_assert(kt_is(f->rack_id, v >= 11 ? "rack-a" : ""));
		const vs_fetch_partition *p = &f->topics.v[0].partitions.v[1];
		cr_assert_eq(p->current_leader_epoch, v >= 9 ? 5 : -1);
		cr_assert_eq(p->log_start_offset, v >= 5 ? 20 : -1);
		cr_assert_eq(p->fetch_offset, 200);

		kt_response_roundtrip(VS_API_FETCH, v, &resp, &a, &rs);
		const vs_fetch_response *r = &rs.fetch;
		cr_assert_eq(r->throttle_time_ms, 10);
		cr_assert_eq(r->session_id, v >= 7 ? 42 : 0);
		const vs_fetch_partition_data *d = &r->responses.v[0].partitions.v[0];
		cr_assert_eq(d->high_watermark, 120);
		cr_assert_eq(d->last_stable_offset, 110);
		cr_assert_eq(d->log_start_offset, v >= 5 ? 5 : -1);
		cr_assert_eq(d->aborted_transactions.n, 2);
		cr_assert_eq(d->aborted_transactions.v[1].first_offset, 95);
		cr_assert_eq(d->preferred_read_replica, v >= 11 ? 2 : -1);
		cr_assert_eq(d->records.len, 4);
		cr_assert_eq(d->records.ptr[3], 0xef);
		const vs_fetch_partition_data *d1 = &r->responses.v[0].partitions.v[1];
		cr_assert_eq(d1->aborted_transactions.n, -1, "null aborted transactions stay null");
		cr_assert_not_null(d1->records.ptr, "no records are sent as empty, not null");
		cr_assert_eq(d1->records.len, 0);
	}
	vs_arena_free(&a);
}

Test(roundtrip_data, list_offsets_every_version)
{
	vs_list_offsets_partition lp[1] = { { 2, 1690000000000, 4 } };
	vs_list_offsets_topic lt[1] = { { kt_s("t"), { lp, 1 } } };
	vs_request req;
	memset(&req, 0, sizeof req);
	req.list_offsets = (vs_list_offsets_request){ -1, 1, { lt, 1 } };
	int64_t old[2] = { 30, 0 };
	vs_list_offsets_partition_response pr[1] = { { 2, 0, { old, 2 }, 1690000000123, 30 } };
	vs_list_offsets_topic_response tr[1] = { { kt_s("t"), { pr, 1 } } };
	vs_response resp;
	memset(&resp, 0, sizeof resp);
	resp.list_offsets = (vs_list_offsets_response){ 5, { tr, 1 } };
	vs_arena a;
	vs_arena_init(&a, 1 << 20);
	for (int16_t v = 0; v <= 2; v++) {
		vs_request rq;
		vs_response rs;
		vs_arena_reset(&a);
		kt_request_roundtrip(VS_API_LIST_OFFSETS, v, &req, &a, &rq);
		cr_assert_eq(rq.list_offsets.isolation_level, v >= 2 ? 1 : 0);
		cr_assert_eq(rq.list_offsets.topics.v[0].partitions.v[0].max_num_offsets, v == 0 ? 4 : 1);
		cr_assert_eq(rq.list_offsets.topics.v[0].partitions.v[0].timestamp, 1690000000000);
		kt_response_roundtrip(VS_API_LIST_OFFSETS, v, &resp, &a, &rs);
		const vs_list_offsets_partition_response *g = &rs.list_offsets.topics.v[0].partitions.v[0];
		cr_assert_eq(rs.list_offsets.throttle_time_ms, v >= 2 ? 5 : 0);
		cr_assert_eq(g->old_style_offsets.n, v == 0 ? 2 : 0);
		cr_assert_eq(g->timestamp, v >= 1 ? 1690000000123 : -1);
		cr_assert_eq(g->offset, v >= 1 ? 30 : -1);
	}
	vs_arena_free(&a);
}

Test(roundtrip_data, delete_records_and_init_producer_id_every_version)
{
	vs_delete_records_partition dp[2] = { { 0, 10 }, { 1, -1 } };
	vs_delete_records_topic dt[1] = { { kt_s("t"), { dp, 2 } } };
	vs_delete_records_partition_result dr[1] = { { 1, 44, KE_OFFSET_OUT_OF_RANGE } };
	vs_delete_records_topic_result drt[1] = { { kt_s("t"), { dr, 1 } } };
	vs_request req;
	vs_response resp;
	vs_arena a;
	vs_arena_init(&a, 1 << 20);
	for (int16_t v = 0; v <= 1; v++) {
		memset(&req, 0, sizeof req);
		memset(&resp, 0, sizeof resp);
		req.delete_records = (vs_delete_records_request){ { dt, 1 }, 3000 };
		resp.delete_records = (vs_delete_records_response){ 1, { drt, 1 } };
		vs_request rq;
		vs_response rs;
		vs_arena_reset(&a);
		kt_request_roundtrip(VS_API_DELETE_RECORDS, v, &req, &a, &rq);
		cr_assert_eq(rq.delete_records.topics.v[0].partitions.v[1].offset, -1);
		cr_assert_eq(rq.delete_records.timeout_ms, 3000);
		kt_response_roundtrip(VS_API_DELETE_RECORDS, v, &resp, &a, &rs);
		cr_assert_eq(rs.delete_records.topics.v[0].partitions.v[0].low_watermark, 44);
	}
	for (int16_t v = 0; v <= 4; v++) {
		memset(&req, 0, sizeof req);
		memset(&resp, 0, sizeof resp);
		req.init_producer_id = (vs_init_producer_id_request){ kt_s("tx"), 60000, 1234, 5 };
		resp.init_producer_id = (vs_init_producer_id_response){ 0, 0, 1234, 6 };
		vs_request rq;
		vs_response rs;
		vs_arena_reset(&a);
		kt_request_roundtrip(VS_API_INIT_PRODUCER_ID, v, &req, &a, &rq);
		cr_assert(kt_is(rq.init_producer_id.transactional_id, "tx"));
		cr_assert_eq(rq.init_producer_id.producer_id, v >= 3 ? 1234 : -1);
		cr_assert_eq(rq.init_producer_id.producer_epoch, v >= 3 ? 5 : -1);
		kt_response_roundtrip(VS_API_INIT_PRODUCER_ID, v, &resp, &a, &rs);
		cr_assert_eq(rs.init_producer_id.producer_epoch, 6);
	}
	vs_arena_free(&a);
}

/* ---- response images, byte for byte ------------------------------------------------- */

static void produce_response(vs_response *resp, vs_produce_topic_response *t,
			     vs_produce_partition_response *p)
{
	*p = (vs_produce_partition_response){ 0, 0, 42, -1, 40 };
	*t = (vs_produce_topic_response){ kt_s("cap"), { p, 1 } };
	memset(resp, 0, sizeof *resp);
	resp->produce = (vs_produce_response){ { t, 1 }, 0 };
}

Test(image_data, produce_v7)
{
	vs_response resp;
	vs_produce_topic_response t;
	vs_produce_partition_response p;
	produce_response(&resp, &t, &p);
	vs_wbuf w;
	vs_wbuf_init(&w);
	cr_assert_eq(vs_response_encode(&w, VS_API_PRODUCE, 7, 7, &resp), KE_NONE);
	kt_assert_frame_hex(&w, "00000033"            /* size: 51 */
				"00000007"            /* correlation id (header v0) */
				"00000001 0003 636170" /* responses[1], name "cap" */
				"00000001 00000000"   /* partition_responses[1], index 0 */
				"0000"                /* error_code */
				"000000000000002a"    /* base_offset 42 */
				"ffffffffffffffff"    /* log_append_time_ms -1 (v2+) */
				"0000000000000028"    /* log_start_offset 40 (v5+) */
				"00000000");          /* throttle_time_ms */
	vs_wbuf_free(&w);
}

Test(image_data, produce_v3)
{
	vs_response resp;
	vs_produce_topic_response t;
	vs_produce_partition_response p;
	produce_response(&resp, &t, &p);
	vs_wbuf w;
	vs_wbuf_init(&w);
	cr_assert_eq(vs_response_encode(&w, VS_API_PRODUCE, 3, 7, &resp), KE_NONE);
	kt_assert_frame_hex(&w, "0000002b 00000007"
				"00000001 0003 636170 00000001 00000000 0000"
				"000000000000002a ffffffffffffffff" /* no log_start_offset */
				"00000000");
	vs_wbuf_free(&w);
}

static void fetch_response(vs_response *resp, vs_fetch_topic_response *t, vs_fetch_partition_data *p,
			   vs_fetch_aborted_transaction *ab, int aborted)
{
	static const uint8_t rec[] = { 1, 2, 3 };
	*ab = (vs_fetch_aborted_transaction){ 5, 3 };
	*p = (vs_fetch_partition_data){ 0, 0, 10, 10, 0, { aborted ? ab : NULL, aborted ? 1 : -1 }, -1,
					{ rec, 3 } };
	*t = (vs_fetch_topic_response){ kt_s("cap"), { p, 1 } };
	memset(resp, 0, sizeof *resp);
	resp->fetch = (vs_fetch_response){ 0, 0, 0, { t, 1 } };
}

Test(image_data, fetch_v11)
{
	vs_response resp;
	vs_fetch_topic_response t;
	vs_fetch_partition_data p;
	vs_fetch_aborted_transaction ab;
	fetch_response(&resp, &t, &p, &ab, 1);
	vs_wbuf w;
	vs_wbuf_init(&w);
	cr_assert_eq(vs_response_encode(&w, VS_API_FETCH, 11, 9, &resp), KE_NONE);
	kt_assert_frame_hex(&w, "00000058 00000009"
				"00000000"             /* throttle_time_ms */
				"0000 00000000"        /* error_code, session_id (v7+) */
				"00000001 0003 636170" /* responses[1] "cap" */
				"00000001 00000000 0000" /* partitions[1], index 0, no error */
				"000000000000000a"     /* high_watermark 10 */
				"000000000000000a"     /* last_stable_offset 10 (v4+) */
				"0000000000000000"     /* log_start_offset 0 (v5+) */
				"00000001 0000000000000005 0000000000000003" /* aborted[1] */
				"ffffffff"             /* preferred_read_replica -1 (v11+) */
				"00000003 010203");    /* records, copied as given */
	vs_wbuf_free(&w);
}

Test(image_data, fetch_v4)
{
	vs_response resp;
	vs_fetch_topic_response t;
	vs_fetch_partition_data p;
	vs_fetch_aborted_transaction ab;
	fetch_response(&resp, &t, &p, &ab, 0);
	vs_wbuf w;
	vs_wbuf_init(&w);
	cr_assert_eq(vs_response_encode(&w, VS_API_FETCH, 4, 9, &resp), KE_NONE);
	kt_assert_frame_hex(&w, "00000036 00000009"
				"00000000"               /* throttle_time_ms */
				"00000001 0003 636170"
				"00000001 00000000 0000"
				"000000000000000a 000000000000000a"
				"ffffffff"               /* aborted_transactions: null */
				"00000003 010203");
	vs_wbuf_free(&w);
}

Test(image_data, init_producer_id_v4_flexible)
{
	vs_response resp;
	memset(&resp, 0, sizeof resp);
	resp.init_producer_id = (vs_init_producer_id_response){ 0, 0, 1000, 2 };
	vs_wbuf w;
	vs_wbuf_init(&w);
	cr_assert_eq(vs_response_encode(&w, VS_API_INIT_PRODUCER_ID, 4, 3, &resp), KE_NONE);
	kt_assert_frame_hex(&w, "00000016"
				"00000003 00"          /* header v1: correlation id, no tags */
				"00000000 0000"        /* throttle_time_ms, error_code */
				"00000000000003e8 0002" /* producer_id 1000, epoch 2 */
				"00");                 /* no tagged fields */
	vs_wbuf_free(&w);
}
