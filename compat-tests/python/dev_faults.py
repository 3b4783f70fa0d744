"""Fault injection and the virtual clock of `samsa dev`, driven over HTTP.

Run by compat-tests/dev_test.go (TestFaultInjectionFromPython) with
SAMSA_DEV_ADMIN set to the admin listener of a `samsa dev` process; each
test creates a virtual cluster of its own and deletes it afterwards. The
file is named outside pytest's test_*.py pattern so that the ecosystem
suite (which runs every test_*.py here against a plain broker) does not
collect it.
"""

import json
import os
import time
import urllib.error
import urllib.request

import pytest
from confluent_kafka import KafkaError, Producer
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import NotEnoughReplicasError

ADMIN = os.environ.get("SAMSA_DEV_ADMIN", "")


def api(method, path, body=None):
    """One call of the dev API; returns (status, decoded JSON or None)."""
    if not ADMIN:
        raise RuntimeError("SAMSA_DEV_ADMIN is not set (run through compat-tests/dev_test.go)")
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data is not None else {}
    req = urllib.request.Request(ADMIN + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=90) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


@pytest.fixture
def cluster():
    status, c = api("POST", "/v1/clusters", {"properties": {"num.partitions": "1"}})
    assert status == 201, c
    yield c
    status, _ = api("DELETE", f"/v1/clusters/{c['id']}")
    assert status == 204


def fault(cluster, **rule):
    status, f = api("POST", f"/v1/clusters/{cluster['id']}/faults", rule)
    assert status == 201, f
    return f


def test_kafka_python_produce_error_fault(cluster):
    """A Produce fault for one topic fails kafka-python's send with that
    error, is counted, and once removed the send succeeds."""
    p = KafkaProducer(bootstrap_servers=cluster["bootstrap"], retries=0, request_timeout_ms=10_000,
                      max_block_ms=15_000)
    try:
        p.send("faulty", b"warm-up").get(timeout=30)  # auto-creates the topic
        f = fault(cluster, api="Produce", topic="faulty", error="NOT_ENOUGH_REPLICAS")
        with pytest.raises(NotEnoughReplicasError):
            p.send("faulty", b"refused").get(timeout=30)
        # Another topic is not affected.
        p.send("healthy", b"fine").get(timeout=30)
        status, listed = api("GET", f"/v1/clusters/{cluster['id']}/faults/{f['id']}")
        assert status == 200 and listed["fired"] >= 1, listed
        status, _ = api("DELETE", f"/v1/clusters/{cluster['id']}/faults/{f['id']}")
        assert status == 204
        md = p.send("faulty", b"accepted").get(timeout=30)
        # warm-up and accepted were written; the refused record was not.
        assert md.offset == 1, md
    finally:
        p.close()


def test_confluent_kafka_nth_fault_and_delay(cluster):
    """confluent-kafka (librdkafka): the 2nd Produce fails with the error
    the rule names and no other does; a delay rule holds the answers."""
    p = Producer({"bootstrap.servers": cluster["bootstrap"], "linger.ms": 0, "retries": 0,
                  "enable.idempotence": False, "acks": "all"})
    results = []

    def report(err, msg):
        results.append(err.code() if err else None)

    # The topic exists before the rule: the metadata and the first produce
    # go through.
    p.produce("ck-faulty", b"0", on_delivery=report)
    assert p.flush(30) == 0
    fault(cluster, api="Produce", nth=1, error="INVALID_RECORD")
    for i in range(1, 3):
        p.produce("ck-faulty", str(i).encode(), on_delivery=report)
        assert p.flush(30) == 0
    assert results == [None, KafkaError.INVALID_RECORD, None], results

    fault(cluster, api="Produce", action="delay", delay="700ms")
    start = time.monotonic()
    p.produce("ck-faulty", b"late", on_delivery=report)
    assert p.flush(30) == 0
    assert time.monotonic() - start >= 0.7
    assert results[-1] is None
    status, body = api("DELETE", f"/v1/clusters/{cluster['id']}/faults")
    assert status == 200 and body["removed"] == 2, body


def test_clock_advance_fires_retention(cluster):
    """Advancing the cluster's clock past retention.ms deletes the old
    records at once: kafka-python sees the log start move to the end."""
    a = KafkaAdminClient(bootstrap_servers=cluster["bootstrap"], request_timeout_ms=15_000)
    from kafka.admin import NewTopic
    a.create_topics([NewTopic("aging", 1, 1, topic_configs={"retention.ms": "3600000", "segment.ms": "600000"})])
    a.close()
    p = KafkaProducer(bootstrap_servers=cluster["bootstrap"])
    for i in range(5):
        p.send("aging", str(i).encode()).get(timeout=30)
    p.close()
    c = KafkaConsumer(bootstrap_servers=cluster["bootstrap"])
    tp = TopicPartition("aging", 0)
    try:
        assert c.beginning_offsets([tp])[tp] == 0
        # The first advance rolls the active segment (segment.ms), the
        # second finds it past retention.ms.
        for by in ("2h", "1m"):
            status, clock = api("POST", f"/v1/clusters/{cluster['id']}/clock/advance", {"by": by})
            assert status == 200, clock
        assert c.beginning_offsets([tp])[tp] == 5
        assert c.end_offsets([tp])[tp] == 5
    finally:
        c.close()


def test_kill_and_restart_broker(cluster):
    """A broker killed through the API refuses connections; started again
    it serves the records it had."""
    p = KafkaProducer(bootstrap_servers=cluster["bootstrap"])
    p.send("kept", b"before").get(timeout=30)
    p.close()
    status, after = api("POST", f"/v1/clusters/{cluster['id']}/brokers/1/kill")
    assert status == 200 and after["brokers"][0]["state"] == "killed", after
    status, after = api("POST", f"/v1/clusters/{cluster['id']}/brokers/1/start")
    assert status == 200 and after["brokers"][0]["state"] == "running", after
    c = KafkaConsumer(bootstrap_servers=cluster["bootstrap"])
    tp = TopicPartition("kept", 0)
    try:
        assert c.end_offsets([tp])[tp] == 1
    finally:
        c.close()
