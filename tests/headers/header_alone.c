/* SPDX-License-Identifier: MIT */
/*
 * header_alone.c -- include/varve.h on its own: first and only include
 * (it must bring what it needs), twice (the include guard), and its
 * initializer macros used as a user would. tests/headers/meson.build
 * compiles this file as C99 with -pedantic -Wall -Wextra -Werror, and as
 * C++11 (-x c++) when a C++ compiler is installed; nothing is linked.
 */
#include "varve.h"
#include "varve.h"

int main(void)
{
	varve_options options = VARVE_OPTIONS_INIT;
	varve_topic_config topic = VARVE_TOPIC_CONFIG_INIT;
	varve_produce_options produce = VARVE_PRODUCE_OPTIONS_INIT;
	varve_producer_options producer = VARVE_PRODUCER_OPTIONS_INIT;
	varve_consumer_options consumer = VARVE_CONSUMER_OPTIONS_INIT;
	varve_record record = { NULL, 0, NULL, 0, NULL, 0, VARVE_TIMESTAMP_NOW,
				VARVE_PARTITION_ANY, 0, 0 };
	(void)options;
	(void)topic;
	(void)produce;
	(void)producer;
	(void)consumer;
	(void)record;
	return VARVE_OK;
}
