/* SPDX-License-Identifier: MIT */
/*
 * readme -- the C example of README.md, "Using the library", as a complete
 * program. The README shows everything below this comment; the test
 * 'example-readme-in-sync' (docs/meson.build) fails when the two differ,
 * and 'example-readme-warnings' compiles this file with
 * `-std=c11 -Wall -Wextra -Werror`, the flags a user is likely to use.
 *
 * It opens (or creates) the store "data" in the current directory, creates
 * the topic "orders" (VARVE_EEXISTS on a second run is fine), appends one
 * record and reads the partition from that record's offset to the end.
 * Exit status 0 on success.
 */
#include <stdio.h>
#include <varve.h>

int main(void)
{
	varve_options o = VARVE_OPTIONS_INIT; /* sync=always: durable by default */
	varve_db *db;
	if (varve_open("data", &o, &db) != VARVE_OK) {
		fprintf(stderr, "open: %s\n", varve_last_error()->message);
		return 1;
	}

	varve_topic_config tc = VARVE_TOPIC_CONFIG_INIT;
	tc.partitions = 8;
	int rc = varve_topic_create(db, "orders", &tc); /* VARVE_EEXISTS on a second run */

	varve_record r = {
		.key = "cust-42", .key_len = 7,
		.value = "{\"total\":12}", .value_len = 12,
		.timestamp = VARVE_TIMESTAMP_NOW,   /* the store's clock */
		.partition = VARVE_PARTITION_ANY,   /* by key: same key, same partition */
	};
	int32_t part = 0;
	int64_t off = 0;
	if (rc == VARVE_OK || rc == VARVE_EEXISTS)
		rc = varve_produce(db, "orders", &r, &part, &off); /* on disk when it returns */

	varve_iter *it = NULL;
	if (rc == VARVE_OK)
		rc = varve_iter_open(db, "orders", (uint32_t)part, off, &it);
	if (rc == VARVE_OK) {
		const varve_record *rec; /* valid until the next call on the iterator */
		while ((rc = varve_iter_next(it, &rec)) == VARVE_OK)
			printf("orders/%d offset %lld: %.*s\n", (int)part, (long long)rec->offset,
			       (int)rec->value_len, (const char *)rec->value);
		varve_iter_close(it);
	}
	if (rc != VARVE_EEND) /* VARVE_EEND: the end of the log, for now */
		fprintf(stderr, "%s: %s\n", varve_errmsg(rc), varve_last_error()->message);
	int close_rc = varve_close(db); /* the first flush error, if any */
	return rc == VARVE_EEND && close_rc == VARVE_OK ? 0 : 1;
}
