#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""capture_confluent.py BROKER -- confluent_kafka (librdkafka 2.0.2) producer,
consumer and admin calls against capture.py (see capture_all.sh)."""
import sys, time
from confluent_kafka import Producer, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, NewPartitions, ConfigResource
B = sys.argv[1]
p = Producer({'bootstrap.servers': B, 'client.id': 'ck-producer', 'enable.idempotence': True,
              'compression.type': 'none', 'linger.ms': 5})
for i in range(3):
    p.produce('cap', key=b'key-%d' % i, value=b'value-%d' % i, partition=0,
              headers=[('h', b'1')], timestamp=1700000000000 + i)
print('flush', p.flush(10))
c = Consumer({'bootstrap.servers': B, 'client.id': 'ck-consumer', 'group.id': 'ck-group',
              'enable.auto.commit': False, 'auto.offset.reset': 'earliest', 'session.timeout.ms': 6000})
c.assign([TopicPartition('cap', 0, 0)])
m = c.poll(2)
c.commit(offsets=[TopicPartition('cap', 0, 3)], asynchronous=False)
print('committed', c.committed([TopicPartition('cap', 0)], timeout=5))
c.close()
a = AdminClient({'bootstrap.servers': B, 'client.id': 'ck-admin'})
def wait(fs):
    for k, f in fs.items():
        try:
            print(k, f.result(timeout=5))
        except Exception as e:
            print(k, 'error', e)
wait(a.create_topics([NewTopic('ck-new', 3, 1, config={'retention.ms': '60000'})], operation_timeout=5))
wait(a.delete_topics(['ck-old'], operation_timeout=5))
wait(a.create_partitions([NewPartitions('cap', 4)], operation_timeout=5))
wait(a.describe_configs([ConfigResource('topic', 'cap')]))
wait(a.alter_configs([ConfigResource('topic', 'cap', set_config={'retention.ms': '1000'})]))
print(a.list_groups(timeout=5))
