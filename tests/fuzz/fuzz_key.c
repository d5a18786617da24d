/* libFuzzer target: key names as POST /verify's manual_key takes them (ss_key_parse, core/analysis/result.c).
 * Checked: acceptance agrees with the grammar the contract describes (spaces, a letter A-G in either case, an
 * optional '#' or 'b', spaces, "major" or "minor" in any case, spaces); the pitch class is the letter's moved
 * by the accidental (mod 12); the canonical name (ss_key_name) parses back to the same key and mode. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/analysis/result.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reference grammar: returns pitch class * 2 + major, or -1. */
static int ref_parse(const char *s)
{
	static const int pc[7] = {9, 11, 0, 2, 4, 5, 7};
	while (*s == ' ')
		s++;
	int l = toupper((unsigned char)*s);
	if (l < 'A' || l > 'G')
		return -1;
	int p = pc[l - 'A'];
	s++;
	if (*s == '#')
		p = (p + 1) % 12, s++;
	else if (*s == 'b')
		p = (p + 11) % 12, s++;
	while (*s == ' ')
		s++;
	int major;
	if (strncasecmp(s, "major", 5) == 0)
		major = 1;
	else if (strncasecmp(s, "minor", 5) == 0)
		major = 0;
	else
		return -1;
	s += 5;
	while (*s == ' ')
		s++;
	return *s == '\0' ? p * 2 + major : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fz_strndup(data, size);
	int k = -7, m = -7;
	int rc = ss_key_parse(s, &k, &m);
	int want = ref_parse(s);
	FZ_ASSERT((rc == 0) == (want >= 0), "acceptance follows the grammar");
	if (rc == 0) {
		FZ_ASSERT(k >= 0 && k <= 11 && (m == 0 || m == 1), "key 0..11, mode 0 or 1");
		FZ_ASSERT(k * 2 + m == want, "the pitch class and mode of the name");
		char name[16];
		int k2, m2;
		FZ_ASSERT(ss_key_parse(ss_key_name(k, m, name, sizeof name), &k2, &m2) == 0 && k2 == k && m2 == m,
			  "the canonical name parses back");
	} else {
		FZ_ASSERT(k == -7 && m == -7, "a refused name leaves the outputs alone");
	}
	free(s);
	return 0;
}
