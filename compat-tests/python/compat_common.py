"""Helpers every Python suite shares: topic names, the sample records of the
produce-consume scenarios (the same shapes as the Java suite's) and Kafka's
murmur2, the Java client's default partitioner."""

import time
import uuid

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]

# Kafka's own murmur2 test vectors (UtilsTest in apache/kafka).
MURMUR2_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


def topic_name(client, scenario):
    return f"{client}-{scenario}-{uuid.uuid4().hex[:8]}"


def now_ms():
    return int(time.time() * 1000)


def sample_records(base_ts):
    """24 records: keyed with headers, keyless, empty value, null value."""
    filler = " lorem ipsum dolor sit amet " * 8
    recs = []
    for i in range(24):
        ts = base_ts + i
        kind = i % 4
        if kind == 0:
            recs.append(dict(key=f"key-{i}".encode(), value=f"value-{i}{filler}".encode(),
                             headers=[("h1", f"v-{i}".encode()), ("bin", bytes([0, 1, 2, 255]))], ts=ts))
        elif kind == 1:
            recs.append(dict(key=None, value=f"keyless-{i}{filler}".encode(),
                             headers=[("h1", b"x")], ts=ts))
        elif kind == 2:
            recs.append(dict(key=f"key-{i}".encode(), value=b"", headers=[], ts=ts))
        else:
            recs.append(dict(key=f"key-{i}".encode(), value=None, headers=[("empty", b"")], ts=ts))
    return recs


def assert_same(want, got_key, got_value, got_headers, got_ts, i):
    assert got_key == want["key"], f"record {i}: key {got_key!r} != {want['key']!r}"
    assert got_value == want["value"], f"record {i}: value {got_value!r} != {want['value']!r}"
    assert got_ts == want["ts"], f"record {i}: timestamp {got_ts} != {want['ts']}"
    gh = [(k, bytes(v) if v is not None else None) for k, v in (got_headers or [])]
    assert gh == want["headers"], f"record {i}: headers {gh!r} != {want['headers']!r}"


def murmur2(data):
    """Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as a signed int32."""
    length = len(data)
    seed = 0x9747B28C
    m = 0x5BD1E995
    r = 24
    h = (seed ^ length) & 0xFFFFFFFF
    for i in range(length // 4):
        i4 = i * 4
        k = data[i4] | (data[i4 + 1] << 8) | (data[i4 + 2] << 16) | (data[i4 + 3] << 24)
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    extra = length % 4
    idx = length & ~3
    if extra >= 3:
        h ^= data[idx + 2] << 16
    if extra >= 2:
        h ^= data[idx + 1] << 8
    if extra >= 1:
        h ^= data[idx]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def java_partition(key, num_partitions):
    """The partition the Java client's default partitioner picks for a key."""
    return (murmur2(key) & 0x7FFFFFFF) % num_partitions


def check_murmur2():
    for data, want in MURMUR2_VECTORS.items():
        got = murmur2(data)
        assert got == want, f"murmur2({data!r}) = {got}, Kafka says {want}"


def partition_keys():
    return [f"user-{i}".encode() for i in range(40)]
