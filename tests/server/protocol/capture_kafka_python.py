#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""capture_kafka_python.py BROKER [all|produce|consume|admin|describe_configs|sasl]
-- kafka-python 2.0.2 conversations against capture.py (see capture_all.sh)."""
import sys, logging
from kafka import KafkaProducer, KafkaConsumer, KafkaAdminClient, TopicPartition
from kafka.admin import NewTopic, NewPartitions, ConfigResource, ConfigResourceType, ACL, ACLFilter, ResourcePattern, ResourcePatternFilter, ACLOperation, ACLPermissionType, ResourceType, ACLResourcePatternType
from kafka.structs import OffsetAndMetadata
B = sys.argv[1]
what = sys.argv[2] if len(sys.argv) > 2 else 'all'
def step(name, fn):
    try:
        r = fn()
        print(name, 'ok', repr(r)[:100])
    except Exception as e:
        print(name, 'error', type(e).__name__, e)
if what in ('all', 'produce'):
    p = KafkaProducer(bootstrap_servers=B, client_id='kp-producer', linger_ms=0)
    step('send', lambda: p.send('cap', key=b'k', value=b'v', partition=0, timestamp_ms=1700000000000).get(timeout=10))
    p.close()
if what in ('all', 'consume'):
    c = KafkaConsumer('cap', bootstrap_servers=B, client_id='kp-consumer', group_id='kp-group',
                      enable_auto_commit=False, auto_offset_reset='earliest', consumer_timeout_ms=3000)
    step('poll', lambda: c.poll(timeout_ms=3000))
    step('commit', lambda: c.commit({TopicPartition('cap', 0): OffsetAndMetadata(7, 'meta')}))
    step('committed', lambda: c.committed(TopicPartition('cap', 0)))
    step('end_offsets', lambda: c.end_offsets([TopicPartition('cap', 0)]))
    c.close()
if what in ('all', 'admin'):
    a = KafkaAdminClient(bootstrap_servers=B, client_id='kp-admin')
    step('create_topics', lambda: a.create_topics([NewTopic('kp-new', 2, 1, topic_configs={'cleanup.policy': 'compact'})], timeout_ms=5000))
    step('delete_topics', lambda: a.delete_topics(['kp-old'], timeout_ms=5000))
    step('create_partitions', lambda: a.create_partitions({'cap': NewPartitions(3)}, timeout_ms=5000))
    step('describe_configs', lambda: a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, 'cap', ['retention.ms'])]))
    step('alter_configs', lambda: a.alter_configs([ConfigResource(ConfigResourceType.TOPIC, 'cap', {'retention.ms': '5000'})]))
    step('list_consumer_groups', lambda: a.list_consumer_groups())
    step('describe_consumer_groups', lambda: a.describe_consumer_groups(['kp-group']))
    step('list_consumer_group_offsets', lambda: a.list_consumer_group_offsets('kp-group'))
    step('delete_consumer_groups', lambda: a.delete_consumer_groups(['kp-group']))
    acl = ACL('User:bob', '*', ACLOperation.WRITE, ACLPermissionType.ALLOW, ResourcePattern(ResourceType.TOPIC, 'cap'))
    step('create_acls', lambda: a.create_acls([acl]))
    flt = ACLFilter('User:bob', None, ACLOperation.ANY, ACLPermissionType.ANY, ResourcePatternFilter(ResourceType.TOPIC, 'cap', ACLResourcePatternType.LITERAL))
    step('describe_acls', lambda: a.describe_acls(flt))
    step('delete_acls', lambda: a.delete_acls([flt]))
    a.close()
if what == 'sasl':
    p = KafkaProducer(bootstrap_servers=B, client_id='kp-sasl', security_protocol='SASL_PLAINTEXT',
                      sasl_mechanism='PLAIN', sasl_plain_username='alice', sasl_plain_password='secret')
    step('send', lambda: p.send('cap', b'v', partition=0).get(timeout=10))
    p.close()
if what == 'describe_configs':
    a = KafkaAdminClient(bootstrap_servers=B, client_id='kp-admin')
    step('describe_configs', lambda: a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, 'cap')], include_synonyms=True))
    a.close()
