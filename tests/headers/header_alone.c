/* SPDX-License-Identifier: MIT */
/*
 * header_alone.c -- include/varve.h on its own: first and only include
 * (it must bring what it needs), twice (the include guard), and its
 * initializers used as a user would: the _INIT macros (designated
 * initializers) in C and in C++20, the _init functions in C++ before 20,
 * which has no designated initializers (the header then does not define
 * the macros). tests/headers/meson.build compiles this file as C99 with
 * -pedantic -Wall -Wextra -Werror, and as C++11 and C++20 (-x c++) when a
 * C++ compiler is installed; nothing is linked.
 */
#include "varve.h"
#include "varve.h"

int main(void)
{
#ifdef VARVE_HAVE_INIT_MACROS
	varve_options options = VARVE_OPTIONS_INIT;
	varve_topic_config topic = VARVE_TOPIC_CONFIG_INIT;
	varve_produce_options produce = VARVE_PRODUCE_OPTIONS_INIT;
	varve_producer_options producer = VARVE_PRODUCER_OPTIONS_INIT;
	varve_append_options append = VARVE_APPEND_OPTIONS_INIT;
	varve_consumer_options consumer = VARVE_CONSUMER_OPTIONS_INIT;
	varve_repair_options repair = VARVE_REPAIR_OPTIONS_INIT;
	varve_backup_options backup = VARVE_BACKUP_OPTIONS_INIT;
#else
#if !defined(__cplusplus) || __cplusplus >= 202002L
#error "the _INIT macros are missing in C or C++20"
#endif
	varve_options options;
	varve_topic_config topic;
	varve_produce_options produce;
	varve_producer_options producer;
	varve_append_options append;
	varve_consumer_options consumer;
	varve_repair_options repair;
	varve_backup_options backup;
	varve_options_init(&options, VARVE_OPTIONS_VERSION);
	varve_topic_config_init(&topic, VARVE_TOPIC_CONFIG_VERSION);
	varve_produce_options_init(&produce, VARVE_PRODUCE_OPTIONS_VERSION);
	varve_producer_options_init(&producer, VARVE_PRODUCER_OPTIONS_VERSION);
	varve_append_options_init(&append, VARVE_APPEND_OPTIONS_VERSION);
	varve_consumer_options_init(&consumer, VARVE_CONSUMER_OPTIONS_VERSION);
	varve_repair_options_init(&repair, VARVE_REPAIR_OPTIONS_VERSION);
	varve_backup_options_init(&backup, VARVE_BACKUP_OPTIONS_VERSION);
#endif
	varve_record record = { NULL, 0, NULL, 0, NULL, 0, VARVE_TIMESTAMP_NOW,
				VARVE_PARTITION_ANY, 0, 0 };
	(void)options;
	(void)topic;
	(void)produce;
	(void)producer;
	(void)append;
	(void)consumer;
	(void)repair;
	(void)backup;
	(void)record;
	return VARVE_OK;
}
