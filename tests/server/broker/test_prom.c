/* SPDX-License-Identifier: MIT */
/*
 * test_prom.c -- the Prometheus text writer (server/broker/prom.c): family
 * headers, samples with and without labels, label escaping (backslash,
 * quote, newline; invalid UTF-8 replaced), number formatting.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "broker/prom.h"

static char text[4096];

static const char *done(vs_wbuf *w)
{
	cr_assert_eq(w->err, 0);
	cr_assert(w->len < sizeof text);
	memcpy(text, w->buf, w->len);
	text[w->len] = 0;
	vs_wbuf_free(w);
	return text;
}

Test(prom, family_and_plain_sample)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	vs_prom p = { &w, 0 };
	vs_prom_family(&p, "varve_x_total", "counter", "Things.");
	vs_prom_u64(&p, "varve_x_total", 18446744073709551615u);
	cr_assert_str_eq(done(&w), "# HELP varve_x_total Things.\n# TYPE varve_x_total counter\n"
				   "varve_x_total 18446744073709551615\n");
}

Test(prom, labels_are_escaped_and_valid_utf8)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	vs_prom p = { &w, 0 };
	vs_prom_sample(&p, "m");
	vs_prom_label_z(&p, "group", "a\"b\\c\nd");
	vs_prom_label(&p, "topic", "ok\xc3\xa9\xff\xc3", 6);
	vs_prom_label_i64(&p, "partition", -3);
	vs_prom_value_i64(&p, -7);
	cr_assert_str_eq(done(&w), "m{group=\"a\\\"b\\\\c\\nd\",topic=\"ok\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\","
				   "partition=\"-3\"} -7\n");
}

Test(prom, utf8_edge_cases_are_replaced)
{
	/* overlong '/', a surrogate, past U+10FFFF, then a good 4-byte one */
	const char in[] = "\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xf0\x9f\x98\x80";
	vs_wbuf w;
	vs_wbuf_init(&w);
	vs_prom p = { &w, 0 };
	vs_prom_sample(&p, "m");
	vs_prom_label(&p, "g", in, sizeof in - 1);
	vs_prom_value_u64(&p, 1);
	const char *t = done(&w);
	cr_assert(strstr(t, "\xf0\x9f\x98\x80"), "a valid character was replaced: %s", t);
	cr_assert_null(strstr(t, "\xc0"));
	cr_assert_null(strstr(t, "\xed\xa0"));
	cr_assert_null(strstr(t, "\xf4\x90"));
}

Test(prom, numbers)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	vs_prom p = { &w, 0 };
	double v[] = { 0.1, 1e-9, 2.5, 123456789.125, NAN, INFINITY, -INFINITY, 0 };
	for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
		vs_prom_sample(&p, "f");
		vs_prom_value_f(&p, v[i]);
	}
	cr_assert_str_eq(done(&w), "f 0.1\nf 1e-09\nf 2.5\nf 123456789.125\nf NaN\nf +Inf\nf -Inf\n"
				   "f 0\n");
}
