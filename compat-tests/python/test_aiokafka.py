"""Compat scenarios with aiokafka (asyncio)."""

import asyncio
import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import MessageSizeTooLargeError, UnknownTopicOrPartitionError
from aiokafka.structs import OffsetAndMetadata

import compat_common as cc

CLIENT = "python-aiokafka"
scenario = lambda name: pytest.mark.scenario(CLIENT, name)  # noqa: E731

TOPIC_ALREADY_EXISTS = 36
UNKNOWN_TOPIC_OR_PARTITION = 3


def topic(name):
    return cc.topic_name("py-aio", name)


@pytest.fixture
async def admin(bootstrap):
    a = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
    await a.start()
    yield a
    await a.close()


async def create_topic(admin, name, partitions, configs=None):
    r = (await admin.create_topics([NewTopic(name, partitions, 1, topic_configs=configs or {})])).to_object()
    [t] = r["topic_errors"]
    assert t["error_code"] == 0, f"CreateTopics {name}: {t}"
    # CreateTopics returns when the topic exists; wait until metadata has a leader for every partition.
    end = time.monotonic() + 10
    while True:
        [md] = await admin.describe_topics([name])
        if md["error_code"] == 0 and len(md["partitions"]) == partitions and all(p["leader"] >= 0 for p in md["partitions"]):
            return
        assert time.monotonic() < end, f"{name} has no leaders 10 s after CreateTopics: {md}"
        await asyncio.sleep(0.05)


async def producer(bootstrap, **extra):
    cfg = dict(bootstrap_servers=bootstrap, linger_ms=5, request_timeout_ms=10_000)
    cfg.update(extra)
    p = AIOKafkaProducer(**cfg)
    await p.start()
    return p


async def consumer(bootstrap, *topics, **extra):
    cfg = dict(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest",
               request_timeout_ms=15_000)
    cfg.update(extra)
    c = AIOKafkaConsumer(*topics, **cfg)
    await c.start()
    return c


async def send_all(p, name, recs):
    futs = [await p.send(name, value=r["value"], key=r["key"], headers=r.get("headers") or None,
                         partition=r.get("partition"), timestamp_ms=r.get("ts")) for r in recs]
    return list(await asyncio.wait_for(asyncio.gather(*futs), 30))


async def consume_n(c, n, deadline_s=20):
    out = []
    end = time.monotonic() + deadline_s
    while len(out) < n and time.monotonic() < end:
        for _tp, records in (await c.getmany(timeout_ms=500)).items():
            out.extend(records)
    assert len(out) >= n, f"consumed {len(out)} of {n} records within {deadline_s} s"
    return out


async def produce_numbered(bootstrap, name, count, base_ts):
    p = await producer(bootstrap)
    try:
        md = await send_all(p, name, [dict(key=f"k{i}".encode(), value=f"v{i}".encode(), partition=0,
                                           ts=base_ts + i * 1000) for i in range(count)])
        assert [m.offset for m in md] == list(range(count))
    finally:
        await p.stop()


@scenario("bootstrap-metadata")
async def test_bootstrap_metadata(bootstrap, admin):
    cluster = await admin.describe_cluster()
    brokers = cluster["brokers"]
    assert len(brokers) == 1, f"brokers: {brokers}"
    b = brokers[0]
    assert f"{b['host']}:{b['port']}" == bootstrap, f"advertised {b}"
    assert cluster["cluster_id"], "cluster id"
    assert cluster["controller_id"] == b["node_id"], f"controller {cluster['controller_id']}"
    name = topic("metadata")
    await create_topic(admin, name, 2)
    p = await producer(bootstrap)
    try:
        assert await p.partitions_for(name) == {0, 1}
    finally:
        await p.stop()


@scenario("admin-topics")
async def test_admin_topics(admin):
    name = topic("admin")
    await create_topic(admin, name, 3, {"retention.ms": "3600000", "cleanup.policy": "delete"})
    assert name in await admin.list_topics()

    r = (await admin.create_topics([NewTopic(name, 1, 1)])).to_object()
    assert r["topic_errors"][0]["error_code"] == TOPIC_ALREADY_EXISTS, r

    [t] = await admin.describe_topics([name])
    assert t["error_code"] == 0 and len(t["partitions"]) == 3, t
    for p in t["partitions"]:
        assert p["error_code"] == 0 and p["leader"] >= 0, p
        assert len(p["replicas"]) == 1 and len(p["isr"]) == 1, p

    [resp] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    [res] = resp.to_object()["resources"]
    assert res["error_code"] == 0, res
    cfg = {e["config_names"]: e["config_value"] for e in res["config_entries"]}
    assert cfg.get("retention.ms") == "3600000", cfg
    assert cfg.get("cleanup.policy") == "delete", cfg

    r = (await admin.delete_topics([name])).to_object()
    assert r["topic_error_codes"][0]["error_code"] == 0, r
    end = time.monotonic() + 10
    while name in await admin.list_topics():
        assert time.monotonic() < end, f"{name} still listed 10 s after DeleteTopics"
        await asyncio.sleep(0.1)


@scenario("produce-consume-{codec}")
@pytest.mark.parametrize("codec", cc.CODECS)
async def test_produce_consume(bootstrap, admin, codec):
    name = topic(f"pc-{codec}")
    await create_topic(admin, name, 1)
    recs = cc.sample_records(cc.now_ms() - 60_000)
    p = await producer(bootstrap, compression_type=None if codec == "none" else codec, enable_idempotence=True)
    try:
        md = await send_all(p, name, [dict(r, partition=0) for r in recs])
        assert [m.offset for m in md] == list(range(len(recs)))
    finally:
        await p.stop()
    c = await consumer(bootstrap)
    try:
        tp = TopicPartition(name, 0)
        c.assign([tp])
        await c.seek_to_beginning(tp)
        got = await consume_n(c, len(recs))
        for i, (want, r) in enumerate(zip(recs, got)):
            assert r.offset == i
            assert r.timestamp_type == 0, f"record {i}: timestamp type {r.timestamp_type}"
            cc.assert_same(want, r.key, r.value, r.headers, r.timestamp, i)
    finally:
        await c.stop()


@scenario("key-partitioning")
async def test_key_partitioning(bootstrap, admin):
    cc.check_murmur2()
    n = 6
    name = topic("keys")
    await create_topic(admin, name, n)
    keys = cc.partition_keys()
    p = await producer(bootstrap)  # the default partitioner is Java's murmur2
    try:
        md = await send_all(p, name, [dict(key=k, value=b"v") for k in keys])
    finally:
        await p.stop()
    for k, m in zip(keys, md):
        assert m.partition == cc.java_partition(k, n), f"key {k!r}: partition {m.partition}"


@scenario("consume-from-offset")
async def test_consume_from_offset(bootstrap, admin):
    name = topic("from-offset")
    await create_topic(admin, name, 1)
    await produce_numbered(bootstrap, name, 10, cc.now_ms() - 60_000)
    c = await consumer(bootstrap)
    try:
        tp = TopicPartition(name, 0)
        c.assign([tp])
        assert await c.beginning_offsets([tp]) == {tp: 0}
        assert await c.end_offsets([tp]) == {tp: 10}
        c.seek(tp, 5)
        got = await consume_n(c, 5)
        assert [r.offset for r in got] == [5, 6, 7, 8, 9]
        assert [r.value for r in got] == [f"v{i}".encode() for i in range(5, 10)]
        # At the end of the partition: fetches come back empty, and nothing more arrives.
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            assert await c.getmany(timeout_ms=200) == {}, "records past the end of the partition"
        assert await c.position(tp) == 10
    finally:
        await c.stop()


@scenario("consume-from-timestamp")
async def test_consume_from_timestamp(bootstrap, admin):
    name = topic("from-ts")
    await create_topic(admin, name, 1)
    base = cc.now_ms() - 600_000
    await produce_numbered(bootstrap, name, 10, base)
    c = await consumer(bootstrap)
    try:
        tp = TopicPartition(name, 0)
        c.assign([tp])
        ot = (await c.offsets_for_times({tp: base + 5_500}))[tp]
        assert ot is not None and ot.offset == 6 and ot.timestamp == base + 6_000, ot
        assert (await c.offsets_for_times({tp: base + 3_000}))[tp].offset == 3
        assert (await c.offsets_for_times({tp: base + 60_000}))[tp] is None
        c.seek(tp, ot.offset)
        got = await consume_n(c, 4)
        assert got[0].offset == 6 and got[0].timestamp == base + 6_000
    finally:
        await c.stop()


@scenario("group-commit-resume")
async def test_group_commit_resume(bootstrap, admin):
    name = topic("group")
    group = name + "-group"
    await create_topic(admin, name, 1)
    await produce_numbered(bootstrap, name, 10, cc.now_ms() - 60_000)
    tp = TopicPartition(name, 0)
    c = await consumer(bootstrap, name, group_id=group, max_poll_records=3)
    try:
        got = await consume_n(c, 6)
        assert [r.offset for r in got[:6]] == list(range(6))
        await c.commit({tp: OffsetAndMetadata(6, "six")})
        assert await c.committed(tp) == 6
    finally:
        await c.stop()
    c = await consumer(bootstrap, name, group_id=group)
    try:
        got = await consume_n(c, 4)
        assert [r.offset for r in got[:4]] == [6, 7, 8, 9], "the new consumer resumes after the commit"
    finally:
        await c.stop()


@scenario("error-unknown-topic")
async def test_error_unknown_topic(bootstrap_noauto):
    name = topic("missing")
    # aiokafka waits for the topic's metadata up to request_timeout_ms, then
    # raises UnknownTopicOrPartitionError.
    p = await producer(bootstrap_noauto, request_timeout_ms=3_000)
    try:
        with pytest.raises(UnknownTopicOrPartitionError):
            await asyncio.wait_for(p.send_and_wait(name, key=b"k", value=b"v"), 15)
    finally:
        await p.stop()
    a = AIOKafkaAdminClient(bootstrap_servers=bootstrap_noauto)
    await a.start()
    try:
        [t] = await a.describe_topics([name])
        assert t["error_code"] == UNKNOWN_TOPIC_OR_PARTITION, f"metadata of the missing topic: {t}"
        assert name not in await a.list_topics()
    finally:
        await a.close()


@scenario("error-message-too-large")
async def test_error_message_too_large(bootstrap, admin):
    name = topic("too-large")
    await create_topic(admin, name, 1, {"max.message.bytes": "10000"})
    p = await producer(bootstrap, max_request_size=1_048_576)
    try:
        await send_all(p, name, [dict(key=b"small", value=b"s" * 5000)])
        with pytest.raises(MessageSizeTooLargeError):
            await asyncio.wait_for(p.send_and_wait(name, key=b"big", value=b"x" * 20_000), 20)
    finally:
        await p.stop()
