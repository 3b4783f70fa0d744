"""Compat scenarios with confluent-kafka (librdkafka inside)."""

import time

import pytest
from confluent_kafka import (OFFSET_BEGINNING, TIMESTAMP_CREATE_TIME, Consumer, KafkaError,
                             KafkaException, Producer, TopicCollection, TopicPartition)
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

import compat_common as cc

CLIENT = "python-confluent-kafka"
scenario = lambda name: pytest.mark.scenario(CLIENT, name)  # noqa: E731


def topic(name):
    return cc.topic_name("py-ck", name)


@pytest.fixture
def admin(bootstrap):
    return AdminClient({"bootstrap.servers": bootstrap})


def create_topic(admin, name, partitions, config=None):
    fs = admin.create_topics([NewTopic(name, partitions, 1, config=config or {})], operation_timeout=10)
    fs[name].result(timeout=15)


def produce_all(producer, recs):
    """Produces recs (dicts with topic/partition/key/value/headers/ts), returns the delivered messages."""
    results = [None] * len(recs)

    def cb(i):
        def on_delivery(err, msg):
            results[i] = (err, msg)
        return on_delivery

    for i, r in enumerate(recs):
        kwargs = {}
        if r.get("partition") is not None:
            kwargs["partition"] = r["partition"]
        if r.get("ts") is not None:
            kwargs["timestamp"] = r["ts"]
        if r.get("headers"):
            kwargs["headers"] = r["headers"]
        producer.produce(r["topic"], value=r["value"], key=r["key"], on_delivery=cb(i), **kwargs)
    left = producer.flush(30)
    assert left == 0, f"{left} messages still undelivered after 30 s"
    for i, (err, msg) in enumerate(results):
        assert err is None, f"record {i}: delivery failed: {err}"
    return [msg for _, msg in results]


def consume_n(consumer, n, deadline_s=20):
    out = []
    end = time.monotonic() + deadline_s
    while len(out) < n and time.monotonic() < end:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            if msg.error().code() == KafkaError._PARTITION_EOF:
                continue
            raise KafkaException(msg.error())
        out.append(msg)
    assert len(out) >= n, f"consumed {len(out)} of {n} messages within {deadline_s} s"
    return out


def assert_nothing_more(consumer, seconds=1.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        msg = consumer.poll(0.2)
        if msg is None or (msg.error() and msg.error().code() == KafkaError._PARTITION_EOF):
            continue
        if msg.error():
            raise KafkaException(msg.error())
        raise AssertionError(f"a record past the end of the partition: offset {msg.offset()}")


def consumer(bootstrap, **extra):
    cfg = {"bootstrap.servers": bootstrap, "group.id": topic("unused-group"),
           "enable.auto.commit": False, "auto.offset.reset": "earliest"}
    cfg.update(extra)
    return Consumer(cfg)


def produce_numbered(bootstrap, name, count, base_ts):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    msgs = produce_all(p, [dict(topic=name, partition=0, key=f"k{i}".encode(), value=f"v{i}".encode(),
                                ts=base_ts + i * 1000) for i in range(count)])
    assert [m.offset() for m in msgs] == list(range(count))


@scenario("bootstrap-metadata")
def test_bootstrap_metadata(bootstrap, admin):
    md = admin.list_topics(timeout=10)
    assert len(md.brokers) == 1, f"brokers: {md.brokers}"
    b = next(iter(md.brokers.values()))
    assert f"{b.host}:{b.port}" == bootstrap, f"advertised {b.host}:{b.port}"
    assert md.cluster_id, "cluster id"
    assert md.controller_id == b.id, f"controller {md.controller_id}"
    name = topic("metadata")
    create_topic(admin, name, 2)
    tm = admin.list_topics(topic=name, timeout=10).topics[name]
    assert tm.error is None, tm.error
    assert sorted(tm.partitions) == [0, 1]
    for p in tm.partitions.values():
        assert p.leader == b.id, f"leader of {p.id}: {p.leader}"


@scenario("admin-topics")
def test_admin_topics(admin):
    name = topic("admin")
    create_topic(admin, name, 3, {"retention.ms": "3600000", "cleanup.policy": "delete"})
    assert name in admin.list_topics(timeout=10).topics

    with pytest.raises(KafkaException) as ei:
        create_topic(admin, name, 1)
    assert ei.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS, ei.value

    desc = admin.describe_topics(TopicCollection([name]))[name].result(timeout=15)
    assert len(desc.partitions) == 3
    assert desc.topic_id is not None
    for p in desc.partitions:
        assert p.leader is not None, f"leader of {p.id}"
        assert len(p.replicas) == 1 and len(p.isr) == 1, f"replicas/isr of {p.id}"

    res = ConfigResource(ConfigResource.Type.TOPIC, name)
    cfg = admin.describe_configs([res])[res].result(timeout=15)
    assert cfg["retention.ms"].value == "3600000"
    assert cfg["cleanup.policy"].value == "delete"

    admin.delete_topics([name], operation_timeout=10)[name].result(timeout=15)
    end = time.monotonic() + 10
    while name in admin.list_topics(timeout=10).topics:
        assert time.monotonic() < end, f"{name} still listed 10 s after DeleteTopics"
        time.sleep(0.1)
    # (Not list_topics(topic=...): its Metadata request allows auto-creation,
    # which this broker has on, so it would create the topic again.)
    with pytest.raises(KafkaException) as ei:
        admin.describe_topics(TopicCollection([name]))[name].result(timeout=15)
    assert ei.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART, f"describing the deleted topic: {ei.value}"


@scenario("produce-consume-{codec}")
@pytest.mark.parametrize("codec", cc.CODECS)
def test_produce_consume(bootstrap, admin, codec):
    name = topic(f"pc-{codec}")
    create_topic(admin, name, 1)
    recs = cc.sample_records(cc.now_ms() - 60_000)
    p = Producer({"bootstrap.servers": bootstrap, "compression.type": codec,
                  "linger.ms": 5, "enable.idempotence": True})
    msgs = produce_all(p, [dict(r, topic=name, partition=0) for r in recs])
    assert [m.offset() for m in msgs] == list(range(len(recs)))

    c = consumer(bootstrap)
    try:
        c.assign([TopicPartition(name, 0, OFFSET_BEGINNING)])
        got = consume_n(c, len(recs))
        for i, (want, m) in enumerate(zip(recs, got)):
            assert m.offset() == i
            ts_type, ts = m.timestamp()
            assert ts_type == TIMESTAMP_CREATE_TIME, f"record {i}: timestamp type {ts_type}"
            cc.assert_same(want, m.key(), m.value(), m.headers(), ts, i)
    finally:
        c.close()


@scenario("key-partitioning")
def test_key_partitioning(bootstrap, admin):
    cc.check_murmur2()
    n = 6
    name = topic("keys")
    create_topic(admin, name, n)
    keys = cc.partition_keys()
    # murmur2_random: murmur2 like the Java client for keyed records.
    p = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random", "linger.ms": 5})
    msgs = produce_all(p, [dict(topic=name, key=k, value=b"v") for k in keys])
    for k, m in zip(keys, msgs):
        assert m.partition() == cc.java_partition(k, n), f"key {k!r}: partition {m.partition()}"


@scenario("consume-from-offset")
def test_consume_from_offset(bootstrap, admin):
    name = topic("from-offset")
    create_topic(admin, name, 1)
    produce_numbered(bootstrap, name, 10, cc.now_ms() - 60_000)
    c = consumer(bootstrap)
    try:
        lo, hi = c.get_watermark_offsets(TopicPartition(name, 0), timeout=10)
        assert (lo, hi) == (0, 10)
        c.assign([TopicPartition(name, 0, 5)])
        got = consume_n(c, 5)
        assert [m.offset() for m in got] == [5, 6, 7, 8, 9]
        assert [m.value() for m in got] == [f"v{i}".encode() for i in range(5, 10)]
        # At the end of the partition: fetches come back empty, and nothing more arrives.
        assert_nothing_more(c)
    finally:
        c.close()


@scenario("consume-from-timestamp")
def test_consume_from_timestamp(bootstrap, admin):
    name = topic("from-ts")
    create_topic(admin, name, 1)
    base = cc.now_ms() - 600_000
    produce_numbered(bootstrap, name, 10, base)
    c = consumer(bootstrap)
    try:
        [tp] = c.offsets_for_times([TopicPartition(name, 0, base + 5_500)], timeout=10)
        assert tp.error is None, tp.error
        assert tp.offset == 6, f"offset for base+5.5s: {tp.offset}"
        [exact] = c.offsets_for_times([TopicPartition(name, 0, base + 3_000)], timeout=10)
        assert exact.offset == 3, f"offset for an exact timestamp: {exact.offset}"
        [after] = c.offsets_for_times([TopicPartition(name, 0, base + 60_000)], timeout=10)
        assert after.offset == -1, f"offset after the last record: {after.offset}"  # OFFSET_END
        c.assign([TopicPartition(name, 0, tp.offset)])
        got = consume_n(c, 4)
        assert got[0].offset() == 6
        assert got[0].timestamp() == (TIMESTAMP_CREATE_TIME, base + 6_000)
    finally:
        c.close()


@pytest.mark.parametrize("protocol,suffix", [("classic", ""), ("consumer", "-kip848")])
@scenario("group-commit-resume{suffix}")
def test_group_commit_resume(bootstrap, admin, protocol, suffix):
    name = topic(f"group-{protocol}")
    group = name + "-group"
    create_topic(admin, name, 1)
    produce_numbered(bootstrap, name, 10, cc.now_ms() - 60_000)
    cfg = {"group.id": group, "group.protocol": protocol}
    c = consumer(bootstrap, **cfg)
    try:
        c.subscribe([name])
        got = consume_n(c, 6)
        assert [m.offset() for m in got[:6]] == list(range(6))
        c.commit(offsets=[TopicPartition(name, 0, 6)], asynchronous=False)
        [committed] = c.committed([TopicPartition(name, 0)], timeout=10)
        assert committed.offset == 6, f"committed offset {committed.offset}"
    finally:
        c.close()
    c = consumer(bootstrap, **cfg)
    try:
        c.subscribe([name])
        got = consume_n(c, 4)
        assert [m.offset() for m in got[:4]] == [6, 7, 8, 9], "the new consumer resumes after the commit"
    finally:
        c.close()


@scenario("error-unknown-topic")
def test_error_unknown_topic(bootstrap_noauto):
    name = topic("missing")
    # topic.metadata.propagation.max.ms: how long librdkafka waits for a topic
    # the broker says does not exist before it fails the messages (30 s default).
    p = Producer({"bootstrap.servers": bootstrap_noauto, "topic.metadata.propagation.max.ms": 1000,
                  "message.timeout.ms": 10_000})
    errors = []
    p.produce(name, value=b"v", key=b"k", on_delivery=lambda err, msg: errors.append(err))
    assert p.flush(15) == 0, "the message was neither delivered nor failed"
    assert len(errors) == 1 and errors[0] is not None, f"delivery result: {errors}"
    assert errors[0].code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC), \
        f"delivery error: {errors[0]}"
    admin = AdminClient({"bootstrap.servers": bootstrap_noauto})
    tm = admin.list_topics(topic=name, timeout=10).topics.get(name)
    assert tm is not None and tm.error is not None and tm.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART, \
        f"metadata of the missing topic: {tm and tm.error}"


@scenario("error-message-too-large")
def test_error_message_too_large(bootstrap, admin):
    name = topic("too-large")
    create_topic(admin, name, 1, {"max.message.bytes": "10000"})
    p = Producer({"bootstrap.servers": bootstrap, "compression.type": "none",
                  "message.max.bytes": 1_000_000, "message.timeout.ms": 15_000})
    produce_all(p, [dict(topic=name, key=b"small", value=b"s" * 5000)])
    errors = []
    p.produce(name, key=b"big", value=b"x" * 20_000, on_delivery=lambda err, msg: errors.append(err))
    assert p.flush(20) == 0
    assert len(errors) == 1 and errors[0] is not None, f"delivery result: {errors}"
    assert errors[0].code() == KafkaError.MSG_SIZE_TOO_LARGE, f"delivery error: {errors[0]}"
