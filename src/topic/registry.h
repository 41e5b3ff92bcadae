/* SPDX-License-Identifier: MIT */
/*
 * registry.h -- the topics of a store by name: the table, topic create and
 * delete (directories and the metadata record in a crash-safe order), and
 * the topic records of the metadata log ('T'), which it owns.
 *
 * Create: the partitions' directories first, then the metadata record
 * (synced): the topic exists once the record is durable. Delete: the
 * tombstone first (synced), then the files, with the topic's last
 * reference. A crash in between leaves a directory that no record names;
 * the next writer open removes it, unless the metadata log was damaged
 * (then the directory may be a topic whose record was lost: see
 * vv_topics_load).
 *
 * Locks: admin_mu (create, delete) > the metadata write lock > lock (the
 * table, a rwlock).
 */
#ifndef VV_REGISTRY_H
#define VV_REGISTRY_H

#include "topic.h"

typedef struct vv_topics vv_topics;

/* A registry over `meta`, whose topic records it subscribes to (before the
 * metadata replay). pcfg is the template of user partitions. */
int vv_topics_new(const vv_env *env, vv_meta *meta, const vv_part_config *pcfg, vv_topics **out);
/* Close every topic (their partitions write recovery points if clean). */
void vv_topics_free(vv_topics *ts, int clean);

/* After the metadata replay: open every topic it named. Directories under
 * topics/ that no record names are removed by a writer, unless keep_orphans
 * is set; their names are returned either way (free with
 * varve_strings_free). */
int vv_topics_load(vv_topics *ts, int clean, int keep_orphans, char ***orphans, size_t *norphans);

/* Topic by name, referenced (release with vv_topic_unref); VARVE_ENOTFOUND. */
int vv_topics_find(vv_topics *ts, const char *name, vv_topic **out);
/* Topic and partition, referenced; VARVE_EINVAL for a negative partition,
 * VARVE_ENOTFOUND for a missing topic or partition. */
int vv_topics_partition(vv_topics *ts, const char *name, int32_t partition, vv_topic **t_out,
			vv_partition **p_out);
/* Every topic, each referenced; free with vv_topics_release. */
int vv_topics_snapshot(vv_topics *ts, vv_topic ***out, size_t *n);
void vv_topics_release(vv_topic **v, size_t n);

/* VARVE_EINVAL for a negative partition number (public entry points). */
int vv_check_partition(int32_t partition);

#endif
