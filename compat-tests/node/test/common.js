'use strict'
// Helpers the kafkajs suite shares: the environment ecosystems_test.go sets,
// the result line per scenario, topic names, the sample records of the
// produce-consume scenarios (the same shapes as the Java suite's) and Kafka's
// murmur2 (the Java client's default partitioner).

const fs = require('node:fs')
const crypto = require('node:crypto')

function env (name) {
  const v = process.env[name]
  if (!v) throw new Error(`${name} is not set (run through compat-tests/ecosystems_test.go)`)
  return v
}

function describeError (e) {
  if (!(e instanceof Error)) return String(e)
  const chain = []
  for (let c = e, n = 0; c && n < 8; c = c.cause || c.originalError, n++) {
    chain.push(`${c.name}${c.type ? ` [${c.type}]` : ''}: ${c.message}`)
  }
  return `${chain.join(' <- ')}\n${e.stack || ''}`
}

/**
 * Runs one scenario with a deadline and appends its result line to
 * $SAMSA_RESULTS; rethrows the failure so that node:test fails too.
 */
async function scenario (client, name, body, timeoutMs = 90000) {
  let timer
  let failure = null
  try {
    await Promise.race([
      body(),
      new Promise((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`scenario did not finish within ${timeoutMs / 1000} s`)), timeoutMs)
      })
    ])
  } catch (e) {
    failure = e
  } finally {
    clearTimeout(timer)
  }
  const line = { client, scenario: name, ok: failure === null }
  if (failure !== null) line.error = describeError(failure).slice(0, 8000)
  fs.appendFileSync(env('SAMSA_RESULTS'), JSON.stringify(line) + '\n')
  if (failure !== null) throw failure
}

function topicName (scenarioName) {
  return `node-kjs-${scenarioName}-${crypto.randomBytes(4).toString('hex')}`
}

/** 24 records: keyed with headers, keyless, empty value, null value. */
function sampleRecords (baseTs) {
  const filler = ' lorem ipsum dolor sit amet '.repeat(8)
  const recs = []
  for (let i = 0; i < 24; i++) {
    const ts = baseTs + i
    switch (i % 4) {
      case 0:
        recs.push({ key: Buffer.from(`key-${i}`), value: Buffer.from(`value-${i}${filler}`), headers: [['h1', Buffer.from(`v-${i}`)], ['bin', Buffer.from([0, 1, 2, 255])]], ts })
        break
      case 1:
        recs.push({ key: null, value: Buffer.from(`keyless-${i}${filler}`), headers: [['h1', Buffer.from('x')]], ts })
        break
      case 2:
        recs.push({ key: Buffer.from(`key-${i}`), value: Buffer.alloc(0), headers: [], ts })
        break
      default:
        recs.push({ key: Buffer.from(`key-${i}`), value: null, headers: [['empty', Buffer.alloc(0)]], ts })
    }
  }
  return recs
}

// Kafka's own murmur2 test vectors (UtilsTest in apache/kafka).
const MURMUR2_VECTORS = [
  ['21', -973932308],
  ['foobar', -790332482],
  ['a-little-bit-long-string', -985981536],
  ['a-little-bit-longer-string', -1486304829],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  ['abc', 479470107]
]

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as a signed int32. */
function murmur2 (data) {
  const length = data.length
  const seed = 0x9747b28c
  const m = 0x5bd1e995
  const r = 24
  let h = (seed ^ length) >>> 0
  const length4 = Math.floor(length / 4)
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4
    let k = (data[i4] | (data[i4 + 1] << 8) | (data[i4 + 2] << 16) | (data[i4 + 3] << 24)) >>> 0
    k = Math.imul(k, m) >>> 0
    k = (k ^ (k >>> r)) >>> 0
    k = Math.imul(k, m) >>> 0
    h = Math.imul(h, m) >>> 0
    h = (h ^ k) >>> 0
  }
  const extra = length % 4
  const idx = length & ~3
  if (extra >= 3) h = (h ^ (data[idx + 2] << 16)) >>> 0
  if (extra >= 2) h = (h ^ (data[idx + 1] << 8)) >>> 0
  if (extra >= 1) {
    h = (h ^ data[idx]) >>> 0
    h = Math.imul(h, m) >>> 0
  }
  h = (h ^ (h >>> 13)) >>> 0
  h = Math.imul(h, m) >>> 0
  h = (h ^ (h >>> 15)) >>> 0
  return h | 0
}

function javaPartition (key, numPartitions) {
  return (murmur2(key) & 0x7fffffff) % numPartitions
}

module.exports = { env, scenario, topicName, sampleRecords, MURMUR2_VECTORS, murmur2, javaPartition, describeError }
