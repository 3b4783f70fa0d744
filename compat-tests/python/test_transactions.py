"""Transactions (KIP-98, KIP-447) with the three Python clients.

Two cells per client:

transactions-commit-abort
    The client is the transactional producer. On a fresh two-partition
    topic: init; txn 1 writes N records and commits; txn 2 writes M records,
    sends a group offset and aborts; txn 3 is a consume-transform-produce
    step (K records read by the client's consumer in a group, transformed,
    written, their offsets sent to the transaction) and commits. The group's
    offset is read with an admin OffsetFetch before and after the commit.
    The records are then read back with librdkafka (confluent-kafka)
    consumers, one read_committed (exactly N+K, per-partition order, no
    aborted record, no duplicate) and one read_uncommitted (all N+M+K).

read-committed
    The client is the consumer, isolation level read_committed. A
    confluent-kafka transactional producer (the fixture) writes committed
    records, an aborted transaction and then leaves a transaction open; the
    consumer must get exactly the committed records and stop at the last
    stable offset (its position is the open transaction's first offset);
    after the fixture commits, it gets the open transaction's records too.
"""

import asyncio
import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka import TopicPartition as ATP
from confluent_kafka import (OFFSET_BEGINNING, OFFSET_INVALID, Consumer, ConsumerGroupTopicPartitions,
                             IsolationLevel, KafkaError, KafkaException, Producer, TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KTP
from kafka.structs import OffsetAndMetadata

import compat_common as cc

CK = "python-confluent-kafka"
KP = "python-kafka-python"
AIO = "python-aiokafka"
PREFIX = {CK: "py-ck", KP: "py-kp", AIO: "py-aio"}

N, M, K = 6, 4, 5  # records of txn 1 (committed), txn 2 (aborted), txn 3 (committed)
COMMITTED, ABORTED, OPEN = 6, 4, 4  # the read-committed fixture's three transactions
PARTITIONS = 2
DEADLINE_S = 20  # hang guard of every wait below
# Polls in a row that a read_committed consumer must sit at the LSO with no
# record coming (a broker serving past the LSO would hand them over here).
SETTLE_POLLS = 3


def scenario(client, name):
    return pytest.mark.scenario(client, name)


def topic(client, name):
    return cc.topic_name(PREFIX[client], name)


def txn_id(client):
    return f"{PREFIX[client]}-txn-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def admin(bootstrap):
    return AdminClient({"bootstrap.servers": bootstrap})


def create_topic(admin, name, partitions):
    fs = admin.create_topics([NewTopic(name, partitions, 1)], operation_timeout=10)
    fs[name].result(timeout=15)


# --- librdkafka as the independent reader and offset checker -----------------


def read_to_end(bootstrap, name, partitions, isolation):
    """Every data record of name as {partition: [value, ...]} in offset order,
    read with a confluent-kafka consumer from the beginning until each
    partition reports its end (the LSO for read_committed)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4().hex[:8]}",
                  "enable.auto.commit": False, "enable.partition.eof": True,
                  "isolation.level": isolation})
    got = {p: [] for p in range(partitions)}
    offsets = {p: [] for p in range(partitions)}
    at_end = set()
    try:
        c.assign([TopicPartition(name, p, OFFSET_BEGINNING) for p in range(partitions)])
        end = time.monotonic() + DEADLINE_S
        while len(at_end) < partitions:
            assert time.monotonic() < end, (
                f"{isolation} reader of {name}: partitions {sorted(at_end)} at their end after {DEADLINE_S} s, "
                f"read {got}")
            msg = c.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(msg.partition())
                    continue
                raise KafkaException(msg.error())
            at_end.discard(msg.partition())
            got[msg.partition()].append(msg.value().decode())
            offsets[msg.partition()].append(msg.offset())
    finally:
        c.close()
    for p, offs in offsets.items():
        assert offs == sorted(set(offs)), f"{isolation} reader of {name}-{p}: offsets {offs} not increasing"
    return got


def group_offset(admin, group, tp, require_stable=False):
    """The group's committed offset of tp by OffsetFetch (admin), None if there is none."""
    req = ConsumerGroupTopicPartitions(group, [TopicPartition(tp.topic, tp.partition)])
    res = admin.list_consumer_group_offsets([req], require_stable=require_stable)[group].result(timeout=15)
    [got] = res.topic_partitions
    if got.error is not None:
        raise KafkaException(got.error)
    return None if got.offset == OFFSET_INVALID else got.offset


def by_partition(produced, txns):
    """produced: [(txn, partition, value)] in send order -> {partition: [value]} of those txns."""
    want = {p: [] for p in range(PARTITIONS)}
    for t, p, v in produced:
        if t in txns:
            want[p].append(v)
    return want


def plan(n, m):
    """The (txn, partition, value) records of txns 1 (n) and 2 (m), spread over the partitions."""
    recs = [(1, i % PARTITIONS, f"txn1-{i}") for i in range(n)]
    recs += [(2, i % PARTITIONS, f"txn2-{i}") for i in range(m)]
    return recs


def transformed(inputs):
    """Txn 3's records: the consumed input values, upper-cased, round-robin over the partitions."""
    return [(3, i % PARTITIONS, "txn3-" + v.upper()) for i, v in enumerate(inputs)]


def produce_inputs(bootstrap, name, count):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(count):
        p.produce(name, value=f"in-{i}".encode(), partition=0)
    assert p.flush(30) == 0, "input records undelivered after 30 s"
    return [f"in-{i}" for i in range(count)]


def check_output(bootstrap, name, produced):
    committed = read_to_end(bootstrap, name, PARTITIONS, "read_committed")
    want = by_partition(produced, {1, 3})
    assert committed == want, f"read_committed consumer got {committed}, want the {N + K} committed records {want}"
    everything = read_to_end(bootstrap, name, PARTITIONS, "read_uncommitted")
    want_all = by_partition(produced, {1, 2, 3})
    assert everything == want_all, f"read_uncommitted consumer got {everything}, want all {N + M + K} records {want_all}"


def check_offset_pending(admin, group, tp, want_before):
    """While txn 3's TxnOffsetCommit is pending: the plain OffsetFetch shows the old offset."""
    got = group_offset(admin, group, tp)
    assert got == want_before, f"group {group} offset of {tp.topic}-{tp.partition} before EndTxn: {got}, want {want_before}"


def check_offset_committed(admin, group, tp, want):
    """After EndTxn: the offset shows once the coordinator has written the COMMIT
    marker to the group (asynchronously, as in Kafka; until then a plain
    OffsetFetch shows the old offset and a require_stable one answers
    UNSTABLE_OFFSET_COMMIT). Then both kinds of OffsetFetch show it."""
    end = time.monotonic() + DEADLINE_S
    seen = []
    while True:
        try:
            got = group_offset(admin, group, tp, require_stable=True)
        except KafkaException as e:
            if e.args[0].code() != KafkaError.UNSTABLE_OFFSET_COMMIT:
                raise
            got = "UNSTABLE_OFFSET_COMMIT"
        if not seen or seen[-1] != got:
            seen.append(got)
        if got == want:
            break
        assert time.monotonic() < end, (f"group {group} offset of {tp.topic}-{tp.partition}: not {want} "
                                        f"{DEADLINE_S} s after the commit (require_stable OffsetFetch said {seen})")
        time.sleep(0.05)
    got = group_offset(admin, group, tp, require_stable=False)
    assert got == want, f"group {group} offset of {tp.topic}-{tp.partition} after commit: {got}, want {want}"


# --- the read-committed fixture: a confluent-kafka transactional producer ----


class OpenTxnFixture:
    """Writes COMMITTED records (committed), ABORTED (aborted) and OPEN records in
    a transaction it leaves open until commit_open()."""

    def __init__(self, bootstrap, admin, client):
        self.name = topic(client, "rc")
        create_topic(admin, self.name, PARTITIONS)
        self.p = Producer({"bootstrap.servers": bootstrap, "transactional.id": txn_id(client), "linger.ms": 5})
        self.p.init_transactions(15)
        self.produced = []  # (txn, partition, value)
        self.lso = {}  # partition -> first offset of the open transaction
        self._txn(1, COMMITTED)
        self.p.commit_transaction(15)
        self._txn(2, ABORTED)
        self.p.abort_transaction(15)
        offsets = self._txn(3, OPEN)
        for p in range(PARTITIONS):
            self.lso[p] = min(o for (part, o) in offsets if part == p)
        self.open = True

    def _txn(self, t, count):
        self.p.begin_transaction()
        delivered = []

        def on_delivery(err, msg):
            assert err is None, f"fixture txn {t}: delivery failed: {err}"
            delivered.append((msg.partition(), msg.offset()))

        for i in range(count):
            v = f"fix{t}-{i}"
            self.produced.append((t, i % PARTITIONS, v))
            self.p.produce(self.name, value=v.encode(), partition=i % PARTITIONS, on_delivery=on_delivery)
        assert self.p.flush(30) == 0, f"fixture txn {t}: records undelivered after 30 s"
        assert len(delivered) == count, f"fixture txn {t}: {len(delivered)} of {count} delivered"
        return delivered

    def committed_before(self):
        return by_partition(self.produced, {1})

    def committed_after(self):
        return by_partition(self.produced, {1, 3})

    def commit_open(self):
        self.p.commit_transaction(15)
        self.open = False

    def close(self):
        if self.open:
            self.p.abort_transaction(15)
            self.open = False
        self.p.flush(5)


@pytest.fixture
def open_txn(bootstrap, admin, request):
    client = request.node.get_closest_marker("scenario").args[0]
    f = OpenTxnFixture(bootstrap, admin, client)
    yield f
    f.close()


def add_record(got, partition, value):
    got.setdefault(partition, []).append(value.decode())


def check_stopped_at_lso(got, positions, fixture, client):
    assert got == fixture.committed_before(), (
        f"{client} read_committed consumer with a transaction open got {got}, "
        f"want only the committed records {fixture.committed_before()}")
    assert positions == fixture.lso, (
        f"{client} read_committed consumer positions {positions}, want the last stable offsets {fixture.lso}")


# --- confluent-kafka ----------------------------------------------------------


def ck_produce(p, name, recs):
    errs = []
    for _, part, v in recs:
        p.produce(name, value=v.encode(), partition=part,
                  on_delivery=lambda err, _msg: errs.append(err) if err else None)
    assert p.flush(30) == 0, "records undelivered after 30 s"
    assert not errs, f"delivery failed: {errs}"


def ck_poll_n(c, n):
    out = []
    end = time.monotonic() + DEADLINE_S
    while len(out) < n:
        assert time.monotonic() < end, f"consumed {len(out)} of {n} records within {DEADLINE_S} s"
        msg = c.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            if msg.error().code() == KafkaError._PARTITION_EOF:
                continue
            raise KafkaException(msg.error())
        out.append(msg)
    return out


@scenario(CK, "transactions-commit-abort")
def test_ck_commit_abort(bootstrap, admin):
    out, inp = topic(CK, "txn-out"), topic(CK, "txn-in")
    group = f"{PREFIX[CK]}-ctp-{uuid.uuid4().hex[:8]}"
    create_topic(admin, out, PARTITIONS)
    create_topic(admin, inp, 1)
    inputs = produce_inputs(bootstrap, inp, K)
    in_tp = TopicPartition(inp, 0)

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": txn_id(CK), "linger.ms": 5})
    try:
        c.subscribe([inp])
        consumed = ck_poll_n(c, K)
        assert [m.value().decode() for m in consumed] == inputs

        p.init_transactions(15)
        recs = plan(N, M)
        p.begin_transaction()
        ck_produce(p, out, [r for r in recs if r[0] == 1])
        p.commit_transaction(15)

        p.begin_transaction()
        ck_produce(p, out, [r for r in recs if r[0] == 2])
        p.send_offsets_to_transaction([TopicPartition(inp, 0, 1)], c.consumer_group_metadata(), 15)
        p.abort_transaction(15)
        check_offset_pending(admin, group, in_tp, None)

        step = transformed([m.value().decode() for m in consumed])
        p.begin_transaction()
        ck_produce(p, out, step)
        p.send_offsets_to_transaction([TopicPartition(inp, 0, consumed[-1].offset() + 1)],
                                      c.consumer_group_metadata(), 15)
        check_offset_pending(admin, group, in_tp, None)
        p.commit_transaction(15)
        check_offset_committed(admin, group, in_tp, K)
        [mine] = c.committed([TopicPartition(inp, 0)], timeout=15)
        assert mine.offset == K, f"the consumer's committed() after commit: {mine.offset}, want {K}"
    finally:
        c.close()
        p.flush(5)
    check_output(bootstrap, out, recs + step)


@scenario(CK, "read-committed")
def test_ck_read_committed(bootstrap, admin, open_txn):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{PREFIX[CK]}-rc-{uuid.uuid4().hex[:8]}",
                  "enable.auto.commit": False, "isolation.level": "read_committed"})
    tps = [TopicPartition(open_txn.name, p, OFFSET_BEGINNING) for p in range(PARTITIONS)]
    try:
        # ListOffsets read_committed: the end is the LSO while the transaction is open.
        latest = {TopicPartition(open_txn.name, p): OffsetSpec.latest() for p in range(PARTITIONS)}
        res = admin.list_offsets(latest, isolation_level=IsolationLevel.READ_COMMITTED)
        ends = {tp.partition: f.result(timeout=15).offset for tp, f in res.items()}
        assert ends == open_txn.lso, f"ListOffsets read_committed latest {ends}, want the LSOs {open_txn.lso}"

        c.assign(tps)
        got = {}
        for m in ck_poll_n(c, COMMITTED):
            add_record(got, m.partition(), m.value())
        positions, settled = {}, 0
        end = time.monotonic() + DEADLINE_S
        while settled < SETTLE_POLLS and time.monotonic() < end:
            msg = c.poll(0.2)
            if msg is not None and not msg.error():
                add_record(got, msg.partition(), msg.value())
            positions = {tp.partition: tp.offset for tp in c.position([TopicPartition(open_txn.name, p)
                                                                        for p in range(PARTITIONS)])}
            settled = settled + 1 if positions == open_txn.lso else 0
        check_stopped_at_lso(got, positions, open_txn, CK)

        open_txn.commit_open()
        for m in ck_poll_n(c, OPEN):
            add_record(got, m.partition(), m.value())
        assert got == open_txn.committed_after(), (
            f"after the commit: {got}, want {open_txn.committed_after()}")
    finally:
        c.close()


# --- kafka-python -------------------------------------------------------------


def kp_send(p, name, recs):
    futs = [p.send(name, value=v.encode(), partition=part) for _, part, v in recs]
    p.flush(timeout=30)
    for f in futs:
        f.get(timeout=10)


def kp_poll_n(c, n):
    out = []
    end = time.monotonic() + DEADLINE_S
    while len(out) < n:
        assert time.monotonic() < end, f"consumed {len(out)} of {n} records within {DEADLINE_S} s"
        for _tp, records in c.poll(timeout_ms=500).items():
            out.extend(records)
    return out


@scenario(KP, "transactions-commit-abort")
def test_kp_commit_abort(bootstrap, admin):
    out, inp = topic(KP, "txn-out"), topic(KP, "txn-in")
    group = f"{PREFIX[KP]}-ctp-{uuid.uuid4().hex[:8]}"
    create_topic(admin, out, PARTITIONS)
    create_topic(admin, inp, 1)
    inputs = produce_inputs(bootstrap, inp, K)
    in_tp = TopicPartition(inp, 0)

    c = KafkaConsumer(inp, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                      auto_offset_reset="earliest", isolation_level="read_committed",
                      request_timeout_ms=15_000)
    p = KafkaProducer(bootstrap_servers=bootstrap, transactional_id=txn_id(KP), linger_ms=5,
                      request_timeout_ms=10_000, max_block_ms=15_000)
    try:
        consumed = kp_poll_n(c, K)
        assert [r.value.decode() for r in consumed] == inputs

        p.init_transactions()
        recs = plan(N, M)
        p.begin_transaction()
        kp_send(p, out, [r for r in recs if r[0] == 1])
        p.commit_transaction()

        p.begin_transaction()
        kp_send(p, out, [r for r in recs if r[0] == 2])
        p.send_offsets_to_transaction({KTP(inp, 0): OffsetAndMetadata(1, "", -1)}, c.group_metadata())
        p.abort_transaction()
        check_offset_pending(admin, group, in_tp, None)

        step = transformed([r.value.decode() for r in consumed])
        p.begin_transaction()
        kp_send(p, out, step)
        p.send_offsets_to_transaction({KTP(inp, 0): OffsetAndMetadata(consumed[-1].offset + 1, "", -1)},
                                      c.group_metadata())
        check_offset_pending(admin, group, in_tp, None)
        p.commit_transaction()
        check_offset_committed(admin, group, in_tp, K)
        mine = c.committed(KTP(inp, 0))
        assert mine == K, f"the consumer's committed() after commit: {mine}, want {K}"
    finally:
        c.close()
        p.close(timeout=5)
    check_output(bootstrap, out, recs + step)


@scenario(KP, "read-committed")
def test_kp_read_committed(bootstrap, open_txn):
    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed",
                      request_timeout_ms=15_000, fetch_max_wait_ms=200)
    tps = [KTP(open_txn.name, p) for p in range(PARTITIONS)]
    try:
        ends = {tp.partition: o for tp, o in c.end_offsets(tps).items()}
        assert ends == open_txn.lso, f"end_offsets (ListOffsets read_committed) {ends}, want the LSOs {open_txn.lso}"

        c.assign(tps)
        c.seek_to_beginning()
        got = {}
        for r in kp_poll_n(c, COMMITTED):
            add_record(got, r.partition, r.value)
        positions, settled = {}, 0
        end = time.monotonic() + DEADLINE_S
        while settled < SETTLE_POLLS and time.monotonic() < end:
            for _tp, records in c.poll(timeout_ms=200).items():
                for r in records:
                    add_record(got, r.partition, r.value)
            positions = {tp.partition: c.position(tp) for tp in tps}
            settled = settled + 1 if positions == open_txn.lso else 0
        check_stopped_at_lso(got, positions, open_txn, KP)

        open_txn.commit_open()
        for r in kp_poll_n(c, OPEN):
            add_record(got, r.partition, r.value)
        assert got == open_txn.committed_after(), f"after the commit: {got}, want {open_txn.committed_after()}"
    finally:
        c.close()


# --- aiokafka -----------------------------------------------------------------


async def aio_send(p, name, recs):
    futs = [await p.send(name, value=v.encode(), partition=part) for _, part, v in recs]
    await asyncio.wait_for(asyncio.gather(*futs), 30)


async def aio_poll_n(c, n):
    out = []
    end = time.monotonic() + DEADLINE_S
    while len(out) < n:
        assert time.monotonic() < end, f"consumed {len(out)} of {n} records within {DEADLINE_S} s"
        for _tp, records in (await c.getmany(timeout_ms=500)).items():
            out.extend(records)
    return out


@scenario(AIO, "transactions-commit-abort")
async def test_aio_commit_abort(bootstrap, admin):
    out, inp = topic(AIO, "txn-out"), topic(AIO, "txn-in")
    group = f"{PREFIX[AIO]}-ctp-{uuid.uuid4().hex[:8]}"
    create_topic(admin, out, PARTITIONS)
    create_topic(admin, inp, 1)
    inputs = produce_inputs(bootstrap, inp, K)
    in_tp = TopicPartition(inp, 0)

    c = AIOKafkaConsumer(inp, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                         auto_offset_reset="earliest", isolation_level="read_committed",
                         request_timeout_ms=15_000)
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=txn_id(AIO), linger_ms=5,
                         request_timeout_ms=10_000)
    await c.start()
    try:
        await p.start()  # InitProducerId with the transactional id
        consumed = await aio_poll_n(c, K)
        assert [r.value.decode() for r in consumed] == inputs

        recs = plan(N, M)
        async with p.transaction():
            await aio_send(p, out, [r for r in recs if r[0] == 1])

        await p.begin_transaction()
        await aio_send(p, out, [r for r in recs if r[0] == 2])
        await p.send_offsets_to_transaction({ATP(inp, 0): 1}, group)
        await p.abort_transaction()
        check_offset_pending(admin, group, in_tp, None)

        step = transformed([r.value.decode() for r in consumed])
        async with p.transaction():
            await aio_send(p, out, step)
            await p.send_offsets_to_transaction({ATP(inp, 0): consumed[-1].offset + 1}, group)
            check_offset_pending(admin, group, in_tp, None)
        check_offset_committed(admin, group, in_tp, K)
        mine = await c.committed(ATP(inp, 0))
        assert mine == K, f"the consumer's committed() after commit: {mine}, want {K}"
    finally:
        await c.stop()
        await p.stop()
    check_output(bootstrap, out, recs + step)


@scenario(AIO, "read-committed")
async def test_aio_read_committed(bootstrap, open_txn):
    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed",
                         request_timeout_ms=15_000, fetch_max_wait_ms=200)
    await c.start()
    tps = [ATP(open_txn.name, p) for p in range(PARTITIONS)]
    try:
        ends = {tp.partition: o for tp, o in (await c.end_offsets(tps)).items()}
        assert ends == open_txn.lso, f"end_offsets (ListOffsets read_committed) {ends}, want the LSOs {open_txn.lso}"

        c.assign(tps)
        await c.seek_to_beginning()
        got = {}
        for r in await aio_poll_n(c, COMMITTED):
            add_record(got, r.partition, r.value)
        positions, settled = {}, 0
        end = time.monotonic() + DEADLINE_S
        while settled < SETTLE_POLLS and time.monotonic() < end:
            for _tp, records in (await c.getmany(timeout_ms=200)).items():
                for r in records:
                    add_record(got, r.partition, r.value)
            positions = {tp.partition: await c.position(tp) for tp in tps}
            settled = settled + 1 if positions == open_txn.lso else 0
        check_stopped_at_lso(got, positions, open_txn, AIO)
        lsos = {tp.partition: c.last_stable_offset(tp) for tp in tps}
        assert lsos == open_txn.lso, f"Fetch's LastStableOffset {lsos}, want {open_txn.lso}"

        open_txn.commit_open()
        for r in await aio_poll_n(c, OPEN):
            add_record(got, r.partition, r.value)
        assert got == open_txn.committed_after(), f"after the commit: {got}, want {open_txn.committed_after()}"
    finally:
        await c.stop()
