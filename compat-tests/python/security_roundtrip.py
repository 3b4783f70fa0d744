"""One security round trip with confluent-kafka (librdkafka), for
compat-tests/security_test.go: produce the values to partition 0 of the
topic and read them back, with the librdkafka properties given (TLS,
SASL). With want_fail, the connection must be refused as an
authentication failure. Exit 0 on success, 1 with the reason otherwise.

Usage: security_roundtrip.py '{"conf": {...}, "topic": "t", "values": [...], "want_fail": false}'
"""
import json
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition


def main():
    args = json.loads(sys.argv[1])
    conf = dict(args["conf"], **{"client.id": "samsa-compat-py-sec"})
    topic, values = args["topic"], args["values"]
    errors = []
    conf["error_cb"] = lambda e: errors.append(e)
    if args["want_fail"]:
        p = Producer(conf)
        try:
            p.list_topics(timeout=10)
        except KafkaException as e:
            errors.append(e.args[0])
        # error_cb runs from poll.
        for _ in range(5):
            p.poll(0.5)
        if any(getattr(e, "code", lambda: None)() == KafkaError._AUTHENTICATION or "Authentication failed" in str(e) for e in errors):
            return 0
        print("a wrong password was not refused as an authentication failure: %s" % errors)
        return 1
    p = Producer(conf)
    delivered = []
    for v in values:
        p.produce(topic, v.encode(), partition=0, on_delivery=lambda err, msg: delivered.append(err))
    p.flush(20)
    if len(delivered) != len(values) or any(delivered):
        print("produce: %s (errors %s)" % (delivered, errors))
        return 1
    cconf = dict(conf, **{"group.id": topic + ".py", "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c = Consumer(cconf)
    c.assign([TopicPartition(topic, 0, 0)])
    got, deadline = [], time.time() + 20
    while len(got) < len(values) and time.time() < deadline:
        m = c.poll(1.0)
        if m is None:
            continue
        if m.error():
            print("consume: %s" % m.error())
            return 1
        got.append(m.value().decode())
    c.close()
    if got != values:
        print("consumed %s, want %s (errors %s)" % (got, values, errors))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
