'use strict'
// Compat scenarios with kafkajs. Run by compat-tests/ecosystems_test.go
// (node --test) with SAMSA_BOOTSTRAP, SAMSA_BOOTSTRAP_NOAUTO and SAMSA_RESULTS.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { Kafka, logLevel, CompressionTypes, CompressionCodecs, Partitioners, ConfigResourceTypes } = require('kafkajs')
const common = require('./common.js')

const CLIENT = 'node-kafkajs'
const run = (name, body) => common.scenario(CLIENT, name, body)

// kafkajs has only gzip built in; the other codecs are packages. A codec
// whose package does not load fails its cell with the reason.
const codecErrors = {}
function registerCodec (type, load) {
  try {
    CompressionCodecs[type] = load()
  } catch (e) {
    codecErrors[type] = e
  }
}
registerCodec(CompressionTypes.Snappy, () => require('kafkajs-snappy'))
registerCodec(CompressionTypes.LZ4, () => { const LZ4Codec = require('kafkajs-lz4'); return new LZ4Codec().codec })
registerCodec(CompressionTypes.ZSTD, () => require('@kafkajs/zstd')())

const CODECS = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD
}

function client (bootstrap, extra = {}) {
  return new Kafka({
    clientId: 'node-compat',
    brokers: [bootstrap],
    logLevel: logLevel.ERROR,
    connectionTimeout: 5000,
    requestTimeout: 15000,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
    ...extra
  })
}

let kafka, admin

before(async () => {
  kafka = client(common.env('SAMSA_BOOTSTRAP'))
  admin = kafka.admin()
  await admin.connect()
})

after(async () => {
  if (admin) await admin.disconnect()
})

async function createTopic (name, numPartitions, configs = {}) {
  const created = await admin.createTopics({
    topics: [{ topic: name, numPartitions, replicationFactor: 1, configEntries: Object.entries(configs).map(([n, value]) => ({ name: n, value })) }],
    waitForLeaders: true,
    timeout: 10000
  })
  assert.equal(created, true, `createTopics(${name}) returned ${created}`)
}

async function withProducer (bootstrapKafka, opts, fn) {
  const p = bootstrapKafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false, ...opts })
  await p.connect()
  try {
    return await fn(p)
  } finally {
    await p.disconnect()
  }
}

/**
 * Runs a consumer in group groupId on topic until n messages arrived
 * (deadline 20 s). onStarted runs right after consumer.run (for seeks);
 * onEnough runs before the consumer stops (for commits); lingerMs keeps it
 * consuming that long after the n-th message (to see that nothing more comes).
 */
async function consumeN ({ topic, groupId, n, onStarted, onEnough, lingerMs = 0 }) {
  const consumer = kafka.consumer({ groupId: groupId || common.topicName('group'), maxWaitTimeInMs: 200, retry: { retries: 3 } })
  const got = []
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    let done
    const enough = new Promise(resolve => { done = resolve })
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        got.push({ partition, message })
        if (got.length === n) done()
      }
    })
    if (onStarted) onStarted(consumer)
    let timer
    await Promise.race([enough, new Promise(resolve => { timer = setTimeout(resolve, 20000) })])
    clearTimeout(timer)
    assert.ok(got.length >= n, `consumed ${got.length} of ${n} messages within 20 s`)
    if (lingerMs > 0) await new Promise(resolve => setTimeout(resolve, lingerMs))
    if (onEnough) {
      consumer.pause([{ topic }])
      await onEnough(consumer)
    }
    return got
  } finally {
    await consumer.disconnect()
  }
}

async function produceNumbered (topic, count, baseTs) {
  await withProducer(kafka, { idempotent: true, maxInFlightRequests: 1 }, async p => {
    const res = await p.send({
      topic,
      acks: -1,
      messages: Array.from({ length: count }, (_, i) => ({ partition: 0, key: `k${i}`, value: `v${i}`, timestamp: String(baseTs + i * 1000) }))
    })
    assert.equal(res.length, 1)
    assert.equal(res[0].errorCode, 0)
    assert.equal(res[0].baseOffset, '0')
  })
}

function headerEntries (headers) {
  const out = []
  for (const [k, v] of Object.entries(headers || {})) {
    for (const one of Array.isArray(v) ? v : [v]) out.push([k, one === undefined || one === null ? one : Buffer.from(one)])
  }
  return out
}

function errorChainHas (e, pred) {
  for (let c = e, n = 0; c && n < 8; c = c.cause || c.originalError, n++) {
    if (pred(c)) return true
  }
  return false
}

test('bootstrap-metadata', () => run('bootstrap-metadata', async () => {
  const cluster = await admin.describeCluster()
  assert.equal(cluster.brokers.length, 1, `brokers: ${JSON.stringify(cluster.brokers)}`)
  const b = cluster.brokers[0]
  assert.equal(`${b.host}:${b.port}`, common.env('SAMSA_BOOTSTRAP'))
  assert.ok(cluster.clusterId, 'cluster id')
  assert.equal(cluster.controller, b.nodeId, 'controller')
  const name = common.topicName('metadata')
  await createTopic(name, 2)
  const md = await admin.fetchTopicMetadata({ topics: [name] })
  assert.equal(md.topics.length, 1)
  assert.deepEqual(md.topics[0].partitions.map(p => p.partitionId).sort(), [0, 1])
  for (const p of md.topics[0].partitions) assert.equal(p.leader, b.nodeId, `leader of ${p.partitionId}`)
}))

test('admin-topics', () => run('admin-topics', async () => {
  const name = common.topicName('admin')
  await createTopic(name, 3, { 'retention.ms': '3600000', 'cleanup.policy': 'delete' })
  assert.ok((await admin.listTopics()).includes(name), 'listTopics has the topic')

  // kafkajs answers false (not an error) for a topic that already exists.
  const again = await admin.createTopics({ topics: [{ topic: name, numPartitions: 1 }] })
  assert.equal(again, false, 'creating an existing topic')

  const md = await admin.fetchTopicMetadata({ topics: [name] })
  const parts = md.topics[0].partitions
  assert.equal(parts.length, 3)
  for (const p of parts) {
    assert.equal(p.partitionErrorCode, 0)
    assert.ok(p.leader >= 0, `leader of ${p.partitionId}`)
    assert.equal(p.replicas.length, 1)
    assert.equal(p.isr.length, 1)
  }

  const cfg = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name }], includeSynonyms: false })
  const res = cfg.resources[0]
  assert.equal(res.errorCode, 0, `describeConfigs: ${res.errorMessage}`)
  const entries = Object.fromEntries(res.configEntries.map(e => [e.configName, e.configValue]))
  assert.equal(entries['retention.ms'], '3600000')
  assert.equal(entries['cleanup.policy'], 'delete')

  await admin.deleteTopics({ topics: [name], timeout: 10000 })
  const end = Date.now() + 10000
  while ((await admin.listTopics()).includes(name)) {
    assert.ok(Date.now() < end, `${name} still listed 10 s after DeleteTopics`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}))

for (const [codecName, codec] of Object.entries(CODECS)) {
  test(`produce-consume-${codecName}`, () => run(`produce-consume-${codecName}`, async () => {
    if (codecErrors[codec]) {
      throw new Error(`codec not available in this client: ${common.describeError(codecErrors[codec])}`)
    }
    const name = common.topicName(`pc-${codecName}`)
    await createTopic(name, 1)
    const recs = common.sampleRecords(Date.now() - 60000)
    await withProducer(kafka, { idempotent: true, maxInFlightRequests: 1 }, async p => {
      const res = await p.send({
        topic: name,
        acks: -1,
        compression: codec,
        messages: recs.map(r => ({
          partition: 0,
          key: r.key,
          value: r.value,
          timestamp: String(r.ts),
          headers: Object.fromEntries(r.headers)
        }))
      })
      assert.equal(res[0].errorCode, 0)
      assert.equal(res[0].baseOffset, '0')
    })
    const got = await consumeN({ topic: name, n: recs.length })
    assert.equal(got.length, recs.length, 'messages consumed')
    got.forEach(({ message: m }, i) => {
      const want = recs[i]
      assert.equal(m.offset, String(i), `record ${i}: offset`)
      assert.deepEqual(m.key, want.key, `record ${i}: key`)
      assert.deepEqual(m.value, want.value, `record ${i}: value`)
      assert.equal(m.timestamp, String(want.ts), `record ${i}: timestamp`)
      assert.deepEqual(headerEntries(m.headers), want.headers, `record ${i}: headers`)
    })
  }))
}

test('key-partitioning', () => run('key-partitioning', async () => {
  for (const [s, want] of common.MURMUR2_VECTORS) assert.equal(common.murmur2(Buffer.from(s)), want, `murmur2(${s})`)
  const n = 6
  const name = common.topicName('keys')
  await createTopic(name, n)
  const keys = Array.from({ length: 40 }, (_, i) => `user-${i}`)
  // Partitioners.DefaultPartitioner is kafkajs's Java-compatible murmur2.
  await withProducer(kafka, {}, async p => {
    await p.send({ topic: name, acks: -1, messages: keys.map(k => ({ key: k, value: 'v' })) })
  })
  const got = await consumeN({ topic: name, n: keys.length })
  for (const { partition, message } of got) {
    const key = message.key.toString()
    assert.equal(partition, common.javaPartition(Buffer.from(key), n), `partition of key ${key}`)
  }
}))

test('consume-from-offset', () => run('consume-from-offset', async () => {
  const name = common.topicName('from-offset')
  await createTopic(name, 1)
  await produceNumbered(name, 10, Date.now() - 60000)
  const [off] = await admin.fetchTopicOffsets(name)
  assert.equal(off.low, '0')
  assert.equal(off.high, '10')
  const got = await consumeN({
    topic: name,
    n: 5,
    onStarted: c => c.seek({ topic: name, partition: 0, offset: '5' }),
    // At the end of the partition: fetches come back empty, and nothing more arrives.
    lingerMs: 1000
  })
  assert.equal(got.length, 5, `records past the end of the partition: ${got.slice(5).map(g => g.message.offset)}`)
  assert.deepEqual(got.slice(0, 5).map(g => g.message.offset), ['5', '6', '7', '8', '9'])
  assert.deepEqual(got.slice(0, 5).map(g => g.message.value.toString()), ['v5', 'v6', 'v7', 'v8', 'v9'])
}))

test('consume-from-timestamp', () => run('consume-from-timestamp', async () => {
  const name = common.topicName('from-ts')
  await createTopic(name, 1)
  const base = Date.now() - 600000
  await produceNumbered(name, 10, base)
  const [at] = await admin.fetchTopicOffsetsByTimestamp(name, base + 5500)
  assert.equal(at.offset, '6', 'offset for base+5.5s')
  const [exact] = await admin.fetchTopicOffsetsByTimestamp(name, base + 3000)
  assert.equal(exact.offset, '3', 'offset for an exact timestamp')
  // After the last record Kafka answers -1; kafkajs turns that into the high watermark.
  const [afterLast] = await admin.fetchTopicOffsetsByTimestamp(name, base + 60000)
  assert.equal(afterLast.offset, '10', 'offset after the last record')
  const got = await consumeN({
    topic: name,
    n: 4,
    onStarted: c => c.seek({ topic: name, partition: 0, offset: at.offset })
  })
  assert.equal(got[0].message.offset, '6')
  assert.equal(got[0].message.timestamp, String(base + 6000))
}))

test('group-commit-resume', () => run('group-commit-resume', async () => {
  const name = common.topicName('group')
  const groupId = `${name}-group`
  await createTopic(name, 1)
  await produceNumbered(name, 10, Date.now() - 60000)
  const first = await consumeN({
    topic: name,
    groupId,
    n: 6,
    onEnough: c => c.commitOffsets([{ topic: name, partition: 0, offset: '6', metadata: 'six' }])
  })
  assert.deepEqual(first.slice(0, 6).map(g => g.message.offset), ['0', '1', '2', '3', '4', '5'])
  const [committed] = await admin.fetchOffsets({ groupId, topics: [name] })
  assert.equal(committed.partitions[0].offset, '6', 'committed offset')
  assert.equal(committed.partitions[0].metadata, 'six', 'committed metadata')
  const second = await consumeN({ topic: name, groupId, n: 4 })
  assert.deepEqual(second.slice(0, 4).map(g => g.message.offset), ['6', '7', '8', '9'], 'the new consumer resumes after the commit')
}))

test('error-unknown-topic', () => run('error-unknown-topic', async () => {
  const name = common.topicName('missing')
  // (logLevel NOTHING: kafkajs logs every error response, and these are expected.)
  const noauto = client(common.env('SAMSA_BOOTSTRAP_NOAUTO'), { logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 500 } })
  await withProducer(noauto, {}, async p => {
    let err = null
    try {
      await p.send({ topic: name, messages: [{ key: 'k', value: 'v' }] })
    } catch (e) {
      err = e
    }
    assert.ok(err, 'producing to a missing topic succeeded')
    assert.ok(errorChainHas(err, c => c.type === 'UNKNOWN_TOPIC_OR_PARTITION'), `unexpected error: ${common.describeError(err)}`)
  })
  const a = noauto.admin()
  await a.connect()
  try {
    await assert.rejects(a.fetchTopicMetadata({ topics: [name] }), e => errorChainHas(e, c => c.type === 'UNKNOWN_TOPIC_OR_PARTITION'))
    assert.ok(!(await a.listTopics()).includes(name), 'the topic was auto-created')
  } finally {
    await a.disconnect()
  }
}))

test('error-message-too-large', () => run('error-message-too-large', async () => {
  const name = common.topicName('too-large')
  await createTopic(name, 1, { 'max.message.bytes': '10000' })
  await withProducer(client(common.env('SAMSA_BOOTSTRAP'), { logLevel: logLevel.NOTHING }), {}, async p => {
    await p.send({ topic: name, acks: -1, messages: [{ key: 'small', value: Buffer.alloc(5000, 's') }] })
    let err = null
    try {
      await p.send({ topic: name, acks: -1, messages: [{ key: 'big', value: Buffer.alloc(20000, 'x') }] })
    } catch (e) {
      err = e
    }
    assert.ok(err, 'a 20000-byte record was accepted by a topic with max.message.bytes=10000')
    assert.ok(errorChainHas(err, c => c.type === 'MESSAGE_TOO_LARGE'), `unexpected error: ${common.describeError(err)}`)
  })
}))
