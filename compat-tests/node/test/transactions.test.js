'use strict'
// Transactions (KIP-98, KIP-447) with kafkajs. Run by
// compat-tests/ecosystems_test.go (node --test) with SAMSA_BOOTSTRAP and
// SAMSA_RESULTS.
//
// transactions-commit-abort: kafkajs is the transactional producer. On a
// fresh two-partition topic: txn 1 writes N records and commits; txn 2
// writes M records, sends a group offset and aborts; txn 3 is a
// consume-transform-produce step (K records read by a kafkajs consumer in a
// group, transformed, written, their offset sent with sendOffsets) and
// commits. The group's offset is fetched before and after the commit. Then a
// read_committed consumer must get exactly the N+K committed records in
// per-partition order and a read_uncommitted one all N+M+K.
//
// read-committed: kafkajs is the consumer (readUncommitted: false). A kafkajs
// transactional producer writes committed records, an aborted transaction
// and leaves a transaction open; the consumer must get exactly the committed
// records and fetch no further than the last stable offset (the open
// transaction's first offset); once the transaction commits, it gets those
// records too.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { Kafka, logLevel } = require('kafkajs')
const common = require('./common.js')

const CLIENT = 'node-kafkajs'
const run = (name, body) => common.scenario(CLIENT, name, body)

const N = 6 // txn 1, committed
const M = 4 // txn 2, aborted
const K = 5 // txn 3, consume-transform-produce, committed
const COMMITTED = 6 // the read-committed fixture's committed,
const ABORTED = 4 // aborted
const OPEN = 4 // and open transaction
const PARTITIONS = 2
const DEADLINE_MS = 20000 // hang guard of every wait below
// Fetch rounds in a row that a consumer must go without a new record (or a
// position change) before its view counts as complete: a broker serving
// aborted records or records past the LSO would hand them over here.
const SETTLE_FETCHES = 5

function client () {
  return new Kafka({
    clientId: 'node-compat-txn',
    brokers: [common.env('SAMSA_BOOTSTRAP')],
    logLevel: logLevel.ERROR,
    connectionTimeout: 5000,
    requestTimeout: 15000,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 }
  })
}

let kafka, admin

before(async () => {
  kafka = client()
  admin = kafka.admin()
  await admin.connect()
})

after(async () => {
  if (admin) await admin.disconnect()
})

async function createTopic (name, numPartitions) {
  const created = await admin.createTopics({
    topics: [{ topic: name, numPartitions, replicationFactor: 1 }],
    waitForLeaders: true,
    timeout: 10000
  })
  assert.equal(created, true, `createTopics(${name}) returned ${created}`)
}

async function waitFor (cond, what) {
  const end = Date.now() + DEADLINE_MS
  for (;;) {
    if (await cond()) return
    if (Date.now() > end) throw new Error(`${typeof what === 'function' ? what() : what} (after ${DEADLINE_MS / 1000} s)`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

function transactionalProducer (kafkaClient, name) {
  return kafkaClient.producer({
    transactionalId: `node-kjs-txn-${name}`,
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false
  })
}

/** {partition: [value]} of the records (txn, partition, value) whose txn is in txns. */
function byPartition (produced, txns) {
  const want = {}
  for (let p = 0; p < PARTITIONS; p++) want[p] = []
  for (const r of produced) if (txns.includes(r.txn)) want[r.partition].push(r.value)
  return want
}

function records (txn, values) {
  return values.map((value, i) => ({ txn, partition: i % PARTITIONS, value }))
}

function messages (recs) {
  return recs.map(r => ({ partition: r.partition, value: r.value }))
}

/**
 * A consumer of topic in a fresh group, from the beginning. It records each
 * message per partition and, from the instrumentation events, each
 * partition's fetch position (one past the last offset of every batch
 * fetched, control and aborted records included) and the number of fetch
 * rounds.
 */
async function startReader (topic, { readUncommitted }) {
  const consumer = kafka.consumer({
    groupId: common.topicName('txn-reader'),
    readUncommitted,
    maxWaitTimeInMs: 100,
    retry: { retries: 3 }
  })
  const view = { got: {}, count: 0, positions: {}, fetches: 0, consumer }
  for (let p = 0; p < PARTITIONS; p++) view.got[p] = []
  consumer.on(consumer.events.FETCH, () => { view.fetches++ })
  consumer.on(consumer.events.START_BATCH_PROCESS, ({ payload }) => {
    const next = Number(payload.lastOffset) + 1
    if (!(view.positions[payload.partition] >= next)) view.positions[payload.partition] = next
  })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      view.got[partition].push(message.value.toString())
      view.count++
    }
  })
  return view
}

/**
 * Waits until view has n records and ready() holds, then for SETTLE_FETCHES
 * more fetch rounds in which neither the records nor the positions change.
 */
async function settle (view, n, ready = () => true) {
  await waitFor(() => view.count >= n && ready(), () => `consumed ${view.count} of ${n} records; positions ${JSON.stringify(view.positions)}`)
  const snapshot = () => JSON.stringify([view.count, view.positions])
  let seen = snapshot()
  let from = view.fetches
  await waitFor(() => {
    const now = snapshot()
    if (now !== seen) {
      seen = now
      from = view.fetches
    }
    return view.fetches - from >= SETTLE_FETCHES
  }, () => `the consumer did not settle: ${view.fetches - from} quiet fetch rounds`)
}

async function readAll (topic, readUncommitted, n) {
  const view = await startReader(topic, { readUncommitted })
  try {
    await settle(view, n)
    return view.got
  } finally {
    await view.consumer.disconnect()
  }
}

async function groupOffset (groupId, topic) {
  const [t] = await admin.fetchOffsets({ groupId, topics: [topic] })
  return t.partitions.find(p => p.partition === 0).offset
}

test('transactions-commit-abort', () => run('transactions-commit-abort', async () => {
  const out = common.topicName('txn-out')
  const inp = common.topicName('txn-in')
  const groupId = `${inp}-ctp`
  await createTopic(out, PARTITIONS)
  await createTopic(inp, 1)
  const inputs = Array.from({ length: K }, (_, i) => `in-${i}`)
  const plain = kafka.producer({ allowAutoTopicCreation: false })
  await plain.connect()
  try {
    await plain.send({ topic: inp, acks: -1, messages: inputs.map(value => ({ partition: 0, value })) })
  } finally {
    await plain.disconnect()
  }

  // The consume side of the step: a group member that reads the inputs
  // and commits nothing itself.
  const consumed = []
  const source = kafka.consumer({ groupId, maxWaitTimeInMs: 100, retry: { retries: 3 } })
  await source.connect()
  const own = client() // the producer's own client (kafkajs keeps sent offsets per client)
  const producer = transactionalProducer(own, out)
  await producer.connect()
  try {
    await source.subscribe({ topics: [inp], fromBeginning: true })
    await source.run({ autoCommit: false, eachMessage: async ({ message }) => { consumed.push(message) } })
    await waitFor(() => consumed.length >= K, () => `consumed ${consumed.length} of ${K} input records`)
    assert.deepEqual(consumed.map(m => m.value.toString()), inputs)

    const txn1 = records(1, Array.from({ length: N }, (_, i) => `txn1-${i}`))
    const txn2 = records(2, Array.from({ length: M }, (_, i) => `txn2-${i}`))
    const txn3 = records(3, consumed.map(m => `txn3-${m.value.toString().toUpperCase()}`))

    let t = await producer.transaction()
    await t.send({ topic: out, acks: -1, messages: messages(txn1) })
    await t.commit()

    t = await producer.transaction()
    await t.send({ topic: out, acks: -1, messages: messages(txn2) })
    await t.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: inp, partitions: [{ partition: 0, offset: '1' }] }] })
    await t.abort()
    assert.equal(await groupOffset(groupId, inp), '-1', 'the group offset after the aborted transaction')

    t = await producer.transaction()
    await t.send({ topic: out, acks: -1, messages: messages(txn3) })
    const next = String(Number(consumed[K - 1].offset) + 1)
    await t.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: inp, partitions: [{ partition: 0, offset: next }] }] })
    assert.equal(await groupOffset(groupId, inp), '-1', 'the group offset before EndTxn')
    await t.commit()
    // The COMMIT marker reaches the group after EndTxn returns (as in Kafka).
    let last
    await waitFor(async () => (last = await groupOffset(groupId, inp)) === String(K),
      () => `the group offset after the commit is ${last}, want ${K}`)

    const produced = [...txn1, ...txn2, ...txn3]
    const committed = await readAll(out, false, N + K)
    assert.deepEqual(committed, byPartition(produced, [1, 3]), `read_committed consumer: want the ${N + K} committed records`)
    const everything = await readAll(out, true, N + M + K)
    assert.deepEqual(everything, byPartition(produced, [1, 2, 3]), `read_uncommitted consumer: want all ${N + M + K} records`)
  } finally {
    await source.disconnect()
    await producer.disconnect()
  }
}))

test('read-committed', () => run('read-committed', async () => {
  const name = common.topicName('rc')
  await createTopic(name, PARTITIONS)
  const own = client()
  const fixture = transactionalProducer(own, name)
  await fixture.connect()
  let open = null
  try {
    const committedRecs = records(1, Array.from({ length: COMMITTED }, (_, i) => `fix1-${i}`))
    const abortedRecs = records(2, Array.from({ length: ABORTED }, (_, i) => `fix2-${i}`))
    const openRecs = records(3, Array.from({ length: OPEN }, (_, i) => `fix3-${i}`))
    let t = await fixture.transaction()
    await t.send({ topic: name, acks: -1, messages: messages(committedRecs) })
    await t.commit()
    t = await fixture.transaction()
    await t.send({ topic: name, acks: -1, messages: messages(abortedRecs) })
    await t.abort()
    open = await fixture.transaction()
    const written = await open.send({ topic: name, acks: -1, messages: messages(openRecs) })
    // The open transaction's first offset in each partition is its LSO.
    const lso = {}
    for (const w of written) lso[w.partition] = Number(w.baseOffset)
    assert.equal(Object.keys(lso).length, PARTITIONS, `the open transaction wrote to ${JSON.stringify(written)}`)

    const view = await startReader(name, { readUncommitted: false })
    try {
      const atLSO = () => JSON.stringify(view.positions) === JSON.stringify(lso)
      await settle(view, COMMITTED, atLSO)
      assert.deepEqual(view.got, byPartition(committedRecs, [1]), 'with a transaction open: only the committed records')
      assert.deepEqual(view.positions, lso, 'with a transaction open: fetched up to the last stable offsets')

      await open.commit()
      open = null
      await settle(view, COMMITTED + OPEN)
      assert.deepEqual(view.got, byPartition([...committedRecs, ...openRecs], [1, 3]), 'after the commit: the committed and the formerly open records')
    } finally {
      await view.consumer.disconnect()
    }
  } finally {
    if (open) await open.abort().catch(() => {})
    await fixture.disconnect()
  }
}))
