"""Compat scenarios with kafka-python (pure Python)."""

import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import (KafkaTimeoutError, MessageSizeTooLargeError, TopicAlreadyExistsError,
                          UnknownTopicOrPartitionError)
from kafka.structs import OffsetAndMetadata

import compat_common as cc

CLIENT = "python-kafka-python"
scenario = lambda name: pytest.mark.scenario(CLIENT, name)  # noqa: E731

UNKNOWN_TOPIC_OR_PARTITION = 3


def topic(name):
    return cc.topic_name("py-kp", name)


@pytest.fixture
def admin(bootstrap):
    a = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
    yield a
    a.close()


def create_topic(admin, name, partitions, configs=None):
    admin.create_topics({name: {"num_partitions": partitions, "replication_factor": 1,
                                "configs": configs or {}}}, timeout_ms=10_000, wait_for_metadata=True)


def producer(bootstrap, **extra):
    cfg = dict(bootstrap_servers=bootstrap, linger_ms=5, request_timeout_ms=10_000,
               max_block_ms=15_000)
    cfg.update(extra)
    return KafkaProducer(**cfg)


def consumer(bootstrap, **extra):
    cfg = dict(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest",
               request_timeout_ms=15_000)
    cfg.update(extra)
    return KafkaConsumer(**cfg)


def send_all(p, name, recs):
    futs = [p.send(name, value=r["value"], key=r["key"], headers=r.get("headers") or None,
                   partition=r.get("partition"), timestamp_ms=r.get("ts")) for r in recs]
    p.flush(timeout=30)
    return [f.get(timeout=10) for f in futs]


def consume_n(c, n, deadline_s=20):
    out = []
    end = time.monotonic() + deadline_s
    while len(out) < n and time.monotonic() < end:
        for _tp, records in c.poll(timeout_ms=500).items():
            out.extend(records)
    assert len(out) >= n, f"consumed {len(out)} of {n} records within {deadline_s} s"
    return out


def produce_numbered(bootstrap, name, count, base_ts):
    p = producer(bootstrap)
    try:
        md = send_all(p, name, [dict(key=f"k{i}".encode(), value=f"v{i}".encode(), partition=0,
                                     ts=base_ts + i * 1000) for i in range(count)])
        assert [m.offset for m in md] == list(range(count))
    finally:
        p.close()


@scenario("bootstrap-metadata")
def test_bootstrap_metadata(bootstrap, admin):
    cluster = admin.describe_cluster()
    brokers = cluster["brokers"]
    assert len(brokers) == 1, f"brokers: {brokers}"
    b = brokers[0]
    assert f"{b['host']}:{b['port']}" == bootstrap, f"advertised {b}"
    assert cluster["cluster_id"], "cluster id"
    assert cluster["controller_id"] == b["broker_id"], f"controller {cluster['controller_id']}"
    name = topic("metadata")
    create_topic(admin, name, 2)
    p = producer(bootstrap)
    try:
        assert p.partitions_for(name) == {0, 1}
    finally:
        p.close()


@scenario("admin-topics")
def test_admin_topics(admin):
    name = topic("admin")
    create_topic(admin, name, 3, {"retention.ms": "3600000", "cleanup.policy": "delete"})
    assert name in admin.list_topics()

    with pytest.raises(TopicAlreadyExistsError):
        create_topic(admin, name, 1)

    [t] = admin.describe_topics([name])
    assert t["error_code"] == 0, t
    assert len(t["partitions"]) == 3, t
    for p in t["partitions"]:
        assert p["error_code"] == 0 and p["leader_id"] >= 0, p
        assert len(p["replica_nodes"]) == 1 and len(p["isr_nodes"]) == 1, p

    cfgs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    topic_cfg = cfgs["topic"][name]
    assert topic_cfg["retention.ms"]["value"] == "3600000", topic_cfg
    assert topic_cfg["cleanup.policy"]["value"] == "delete", topic_cfg

    admin.delete_topics([name], timeout_ms=10_000)
    end = time.monotonic() + 10
    while name in admin.list_topics():
        assert time.monotonic() < end, f"{name} still listed 10 s after DeleteTopics"
        time.sleep(0.1)


@scenario("produce-consume-{codec}")
@pytest.mark.parametrize("codec", cc.CODECS)
def test_produce_consume(bootstrap, admin, codec):
    name = topic(f"pc-{codec}")
    create_topic(admin, name, 1)
    recs = cc.sample_records(cc.now_ms() - 60_000)
    # kafka-python sends a batch uncompressed when compressing does not make
    # it smaller (a batch of one tiny record): linger long enough that all 24
    # records share one batch (flush sends it at once), so the stored codec is
    # the one asked for however slowly the sends run.
    p = producer(bootstrap, compression_type=None if codec == "none" else codec, linger_ms=2000)
    try:
        md = send_all(p, name, [dict(r, partition=0) for r in recs])
        assert [m.offset for m in md] == list(range(len(recs)))
    finally:
        p.close()
    c = consumer(bootstrap)
    try:
        tp = TopicPartition(name, 0)
        c.assign([tp])
        c.seek_to_beginning(tp)
        got = consume_n(c, len(recs))
        for i, (want, r) in enumerate(zip(recs, got)):
            assert r.offset == i
            assert r.timestamp_type == 0, f"record {i}: timestamp type {r.timestamp_type}"
            cc.assert_same(want, r.key, r.value, r.headers, r.timestamp, i)
    finally:
        c.close()


@scenario("key-partitioning")
def test_key_partitioning(bootstrap, admin):
    cc.check_murmur2()
    n = 6
    name = topic("keys")
    create_topic(admin, name, n)
    keys = cc.partition_keys()
    p = producer(bootstrap)  # the default partitioner is Java's murmur2
    try:
        md = send_all(p, name, [dict(key=k, value=b"v") for k in keys])
    finally:
        p.close()
    for k, m in zip(keys, md):
        assert m.partition == cc.java_partition(k, n), f"key {k!r}: partition {m.partition}"


@scenario("consume-from-offset")
def test_consume_from_offset(bootstrap, admin):
    name = topic("from-offset")
    create_topic(admin, name, 1)
    produce_numbered(bootstrap, name, 10, cc.now_ms() - 60_000)
    c = consumer(bootstrap)
    try:
        tp = TopicPartition(name, 0)
        c.assign([tp])
        assert c.beginning_offsets([tp]) == {tp: 0}
        assert c.end_offsets([tp]) == {tp: 10}
        c.seek(tp, 5)
        got = consume_n(c, 5)
        assert [r.offset for r in got] == [5, 6, 7, 8, 9]
        assert [r.value for r in got] == [f"v{i}".encode() for i in range(5, 10)]
        # At the end of the partition: fetches come back empty, and nothing more arrives.
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            assert c.poll(timeout_ms=200) == {}, "records past the end of the partition"
        assert c.position(tp) == 10
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
        tp = TopicPartition(name, 0)
        c.assign([tp])
        ot = c.offsets_for_times({tp: base + 5_500})[tp]
        assert ot is not None and ot.offset == 6 and ot.timestamp == base + 6_000, ot
        assert c.offsets_for_times({tp: base + 3_000})[tp].offset == 3
        assert c.offsets_for_times({tp: base + 60_000})[tp] is None
        c.seek(tp, ot.offset)
        got = consume_n(c, 4)
        assert got[0].offset == 6 and got[0].timestamp == base + 6_000
    finally:
        c.close()


@scenario("group-commit-resume")
def test_group_commit_resume(bootstrap, admin):
    name = topic("group")
    group = name + "-group"
    create_topic(admin, name, 1)
    produce_numbered(bootstrap, name, 10, cc.now_ms() - 60_000)
    tp = TopicPartition(name, 0)
    c = consumer(bootstrap, group_id=group, max_poll_records=3)
    try:
        c.subscribe([name])
        got = consume_n(c, 6)
        assert [r.offset for r in got[:6]] == list(range(6))
        c.commit({tp: OffsetAndMetadata(6, "six", -1)})
        assert c.committed(tp) == 6
    finally:
        c.close(autocommit=False)
    c = consumer(bootstrap, group_id=group)
    try:
        c.subscribe([name])
        got = consume_n(c, 4)
        assert [r.offset for r in got[:4]] == [6, 7, 8, 9], "the new consumer resumes after the commit"
    finally:
        c.close(autocommit=False)


@scenario("error-unknown-topic")
def test_error_unknown_topic(bootstrap_noauto):
    name = topic("missing")
    p = producer(bootstrap_noauto, max_block_ms=3_000)
    try:
        # kafka-python waits for the topic's metadata in send() and gives up
        # after max_block_ms, or fails with the broker's error.
        with pytest.raises((KafkaTimeoutError, UnknownTopicOrPartitionError)):
            p.send(name, key=b"k", value=b"v").get(timeout=10)
    finally:
        p.close()
    a = KafkaAdminClient(bootstrap_servers=bootstrap_noauto)
    try:
        [t] = a.describe_topics([name])
        assert t["error_code"] == UNKNOWN_TOPIC_OR_PARTITION, f"metadata of the missing topic: {t}"
        assert name not in a.list_topics()
    finally:
        a.close()


@scenario("error-message-too-large")
def test_error_message_too_large(bootstrap, admin):
    name = topic("too-large")
    create_topic(admin, name, 1, {"max.message.bytes": "10000"})
    p = producer(bootstrap, max_request_size=1_048_576)
    try:
        send_all(p, name, [dict(key=b"small", value=b"s" * 5000)])
        fut = p.send(name, key=b"big", value=b"x" * 20_000)  # under max_request_size: the broker decides
        with pytest.raises(MessageSizeTooLargeError):
            fut.get(timeout=20)
    finally:
        p.close()
