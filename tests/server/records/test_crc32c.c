/* SPDX-License-Identifier: MIT */
/* Tests of server/records/crc32c.c: standard check values, piecewise
 * computation, and the table and instruction versions agreeing with each
 * other and with a bit-at-a-time reference on random buffers. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "rec_util.h"
#include "records/crc32c.h"

TestSuite(crc32c, .timeout = 30);

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static const struct {
	const char *name;
	crc_fn fn;
} impls[] = { { "dispatch", vs_crc32c }, { "sw", vs_crc32c_sw }, { "hw", vs_crc32c_hw } };

/* RFC 3720 (iSCSI) appendix B.4 and the usual "123456789" check value. */
Test(crc32c, standard_check_values)
{
	uint8_t zeros[32], ones[32], inc[32], dec[32];
	memset(zeros, 0, sizeof zeros);
	memset(ones, 0xff, sizeof ones);
	for (int i = 0; i < 32; i++) {
		inc[i] = (uint8_t)i;
		dec[i] = (uint8_t)(31 - i);
	}
	for (size_t k = 0; k < sizeof impls / sizeof impls[0]; k++) {
		crc_fn f = impls[k].fn;
		cr_assert_eq(f(0, "123456789", 9), 0xE3069283u, "%s", impls[k].name);
		cr_assert_eq(f(0, zeros, 32), 0x8A9136AAu, "%s", impls[k].name);
		cr_assert_eq(f(0, ones, 32), 0x62A8AB43u, "%s", impls[k].name);
		cr_assert_eq(f(0, inc, 32), 0x46DD794Eu, "%s", impls[k].name);
		cr_assert_eq(f(0, dec, 32), 0x113FDB5Cu, "%s", impls[k].name);
		cr_assert_eq(f(0, "", 0), 0u, "%s", impls[k].name);
		cr_assert_eq(f(0, "a", 1), 0xC1D04330u, "%s", impls[k].name);
	}
	cr_assert_eq(tr_crc32c_ref("123456789", 9), 0xE3069283u);
}

Test(crc32c, piecewise_equals_whole)
{
	uint8_t buf[257];
	uint64_t seed = 1;
	tr_fill(buf, sizeof buf, &seed);
	for (size_t k = 0; k < sizeof impls / sizeof impls[0]; k++) {
		uint32_t whole = impls[k].fn(0, buf, sizeof buf);
		for (size_t cut = 0; cut <= sizeof buf; cut++) {
			uint32_t c = impls[k].fn(0, buf, cut);
			c = impls[k].fn(c, buf + cut, sizeof buf - cut);
			cr_assert_eq(c, whole, "%s cut at %zu", impls[k].name, cut);
		}
	}
}

/* Every length 0..300 at every alignment 0..15, then a few big buffers:
 * both implementations equal the bit-at-a-time reference. */
Test(crc32c, implementations_agree_on_random_buffers)
{
	if (!vs_crc32c_hw_available())
		cr_log_warn("no SSE4.2 here: the hw version falls back to the table version");
	size_t big = 1 << 20;
	uint8_t *buf = malloc(big + 16);
	cr_assert_not_null(buf);
	uint64_t seed = 42;
	tr_fill(buf, big + 16, &seed);
	for (size_t align = 0; align < 16; align++)
		for (size_t len = 0; len <= 300; len++) {
			uint32_t ref = tr_crc32c_ref(buf + align, len);
			cr_assert_eq(vs_crc32c_sw(0, buf + align, len), ref, "sw len %zu align %zu", len,
				     align);
			cr_assert_eq(vs_crc32c_hw(0, buf + align, len), ref, "hw len %zu align %zu", len,
				     align);
			cr_assert_eq(vs_crc32c(0, buf + align, len), ref);
		}
	for (int i = 0; i < 8; i++) {
		size_t len = big - (size_t)(tr_rand(&seed) % 4096), align = (size_t)i;
		uint32_t sw = vs_crc32c_sw(0, buf + align, len);
		cr_assert_eq(vs_crc32c_hw(0, buf + align, len), sw);
		if (i == 0)
			cr_assert_eq(tr_crc32c_ref(buf, len), sw);
	}
	free(buf);
}

Test(crc32c, detects_every_single_bit_flip)
{
	uint8_t buf[64];
	uint64_t seed = 7;
	tr_fill(buf, sizeof buf, &seed);
	uint32_t good = vs_crc32c(0, buf, sizeof buf);
	for (size_t bit = 0; bit < sizeof buf * 8; bit++) {
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		cr_assert_neq(vs_crc32c(0, buf, sizeof buf), good, "bit %zu", bit);
		cr_assert_neq(vs_crc32c_sw(0, buf, sizeof buf), good, "bit %zu", bit);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
}
