/* SPDX-License-Identifier: MIT */
/* names.c -- the rule for topic names (and producer names): they become
 * directory names, so nothing in them may leave the store directory. */
#include <string.h>

#include "util.h"

int varve_name_valid(const char *name)
{
	if (!name)
		return 0;
	size_t n = 0;
	for (const char *c = name; *c; c++, n++) {
		if (n >= VARVE_MAX_TOPIC_NAME)
			return 0;
		char ch = *c;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '_' || ch == '-'))
			return 0;
	}
	return n >= 1 && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}
