#!/bin/sh
# SPDX-License-Identifier: MIT
# capture_all.sh -- run every client conversation against capture.py and
# leave the request frames in OUTDIR (see README.md in this folder).
#   tests/server/protocol/capture_all.sh OUTDIR [PORT]
# Needs kcat, /usr/bin/python3 with confluent_kafka and kafka, and
# optionally /tmp/capture_admin (capture_admin.c, built by hand).
set -u
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: capture_all.sh OUTDIR [PORT]}
port=${2:-19092}
b=127.0.0.1:$port
py=/usr/bin/python3
mkdir -p "$out"
$py "$here/capture.py" --port "$port" "$out" &
cap=$!
trap 'kill $cap' EXIT
sleep 1
# librdkafka through kcat: metadata, produce (plain and idempotent),
# consume by offset and in a group, SASL/PLAIN
timeout 10 kcat -b "$b" -L >/dev/null
printf 'k1:hello\nk2:world\n' | timeout 20 kcat -b "$b" -t cap -P -K:
printf 'x\n' | timeout 20 kcat -b "$b" -t cap -P -X enable.idempotence=true -X client.id=kcat-idem
timeout 10 kcat -b "$b" -t cap -C -o beginning -e -X client.id=kcat-consumer >/dev/null
timeout 20 kcat -b "$b" -G kcat-group cap -e -X client.id=kcat-group >/dev/null
printf 'x\n' | timeout 20 kcat -b "$b" -t cap -P -X client.id=kcat-sasl \
	-X security.protocol=SASL_PLAINTEXT -X sasl.mechanisms=PLAIN \
	-X sasl.username=alice -X sasl.password=secret
# librdkafka through confluent_kafka, then its C admin API
timeout 60 $py "$here/capture_confluent.py" "$b"
[ -x /tmp/capture_admin ] && timeout 60 /tmp/capture_admin "$b"
# kafka-python
timeout 120 $py "$here/capture_kafka_python.py" "$b" all
timeout 30 $py "$here/capture_kafka_python.py" "$b" describe_configs
timeout 30 $py "$here/capture_kafka_python.py" "$b" sasl
exit 0
