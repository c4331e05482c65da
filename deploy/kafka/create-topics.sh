#!/bin/bash
# create-topics.sh — creates Baton's topics (idempotent) and enforces their retention.
# Runs in the apache/kafka image (docker-compose's kafka-init); also usable by hand against any
# cluster: KAFKA_BOOTSTRAP=host:9092 BATON_PARTITIONS=12 BATON_REPLICATION=3 ./create-topics.sh
# (add --command-config client.properties via KAFKA_CLIENT_CONFIG for SASL/SSL clusters).
set -euo pipefail
bin=${KAFKA_BIN:-/opt/kafka/bin}
bootstrap=${KAFKA_BOOTSTRAP:-kafka:9092}
partitions=${BATON_PARTITIONS:-12}
replication=${BATON_REPLICATION:-1}
min_isr=${BATON_MIN_INSYNC_REPLICAS:-1}
extra=()
[ -n "${KAFKA_CLIENT_CONFIG:-}" ] && extra=(--command-config "$KAFKA_CLIENT_CONFIG")

day=86400000
# topic  retention.ms   (one instance = one key = one partition: every topic has the same count)
topics=(
  "baton.inbound.v1   $((7 * day))"
  "baton.timers.v1    $((14 * day))"
  "baton.lifecycle.v1 $((30 * day))"
  "baton.notify.v1    $((7 * day))"
  "baton.dlq.v1       $((30 * day))"
)

for _ in $(seq 1 60); do
  "$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" "${extra[@]}" --list >/dev/null 2>&1 && break
  sleep 2
done

for t in "${topics[@]}"; do
  read -r name retention <<<"$t"
  cfg="retention.ms=$retention,min.insync.replicas=$min_isr,cleanup.policy=delete"
  "$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" "${extra[@]}" --create --if-not-exists \
    --topic "$name" --partitions "$partitions" --replication-factor "$replication" \
    --config "retention.ms=$retention" --config "min.insync.replicas=$min_isr"
  # existing topics keep their partition count (adding partitions remaps keys: see
  # docs/operations.md, "Scaling"); their retention is brought to the configured value
  "$bin/kafka-configs.sh" --bootstrap-server "$bootstrap" "${extra[@]}" --alter \
    --entity-type topics --entity-name "$name" --add-config "$cfg"
done
"$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" "${extra[@]}" --describe --topic 'baton\..*'
