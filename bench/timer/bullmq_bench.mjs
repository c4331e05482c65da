// bullmq_bench.mjs — the BullMQ side of bench/timer: the same work as baton-timer, done with
// BullMQ delayed jobs on the same Redis. Run by bench/timer/run from a temp dir where
// `npm install bullmq` put node_modules.
//
//   node bullmq_bench.mjs HOST PORT add N DUE_MIN_MS SPREAD_MS
//       N delayed jobs (jobId = a deterministic timer id, like TimerSchedule's), added with
//       addBulk in chunks of 1000, 4 chunks in flight. Prints {"added","seconds","per_s"}.
//   node bullmq_bench.mjs HOST PORT probe RATE COUNT LEAD_MS
//       A Worker (concurrency 100) on the queue; COUNT probe jobs, RATE per second, each due
//       LEAD_MS after it is added; lateness = time the processor runs - due.
//       Prints {"sent","received","early","dups","p50_ms","p99_ms","max_ms"}.
import { Queue, Worker } from 'bullmq';

const [host, port, mode, ...rest] = process.argv.slice(2);
const connection = { host, port: Number(port), maxRetriesPerRequest: null };
const QUEUE = 'bench-timers';

function fakeUuid(a, b) {
  const h = (v, n) => (v >>> 0).toString(16).padStart(n, '0').slice(-n);
  return `${h(a, 8)}-${h(a >>> 16, 4)}-4${h(b, 3)}-8${h(b >>> 12, 3)}-${h(b, 8)}${h(a, 4)}`;
}

function payload(i, key) {
  // what a TimerSchedule carries to fire: instance, task, purpose, step, the correlation key
  return {
    instance_id: fakeUuid(i / 3 + 11, i / 3 + 17),
    task_id: fakeUuid(i / 3 + 23, i + 29),
    purpose: 'escalation',
    step: 1,
    key,
    tenant: 't1', facility: 'f1', unit: 'u1',
  };
}

async function add(n, dueMin, spread) {
  const q = new Queue(QUEUE, { connection });
  await q.waitUntilReady();
  const t0 = performance.now();
  const base = Date.now() + dueMin;
  const CHUNK = 1000, INFLIGHT = 4;
  let next = 0;
  async function lane() {
    while (next < n) {
      const from = next;
      next = Math.min(n, next + CHUNK);
      const jobs = [];
      const now = Date.now();
      for (let i = from; i < next; i++) {
        const due = base + Math.floor(Math.random() * spread);
        jobs.push({
          name: 'timer',
          data: payload(i, `t1/enc-${i % 20000}`),
          opts: { delay: due - now, jobId: fakeUuid(i + 1000003, i * 2654435761), removeOnComplete: true },
        });
      }
      await q.addBulk(jobs);
    }
  }
  await Promise.all(Array.from({ length: INFLIGHT }, lane));
  const dt = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ added: n, seconds: +dt.toFixed(3), per_s: Math.round(n / dt) }));
  await q.close();
}

function pct(sorted, p) {
  if (!sorted.length) return -1;
  return sorted[Math.round(p * (sorted.length - 1))];
}

async function probe(rate, count, lead) {
  const q = new Queue(QUEUE, { connection });
  const late = [];
  const seen = new Set();
  let dups = 0, early = 0;
  let done;
  const finished = new Promise((r) => { done = r; });
  const worker = new Worker(QUEUE, async (job) => {
    const at = Date.now();
    if (!job.data.probe) return;
    if (seen.has(job.id)) { dups++; return; }
    seen.add(job.id);
    const l = at - job.data.due;
    if (l < 0) early++;
    late.push(l);
    if (late.length === count) done();
  }, { connection, concurrency: 100 });
  await worker.waitUntilReady();
  await q.waitUntilReady();
  await new Promise((r) => setTimeout(r, 500));
  const t0 = Date.now();
  let sent = 0;
  const pace = setInterval(async () => {
    const want = Math.min(count, Math.floor(((Date.now() - t0) / 1000) * rate));
    const jobs = [];
    for (; sent < want; sent++) {
      const due = Date.now() + lead;
      jobs.push({ name: 'probe', data: { probe: true, due, ...payload(sent, `t1/probe-${sent % 997}`) },
                  opts: { delay: lead, jobId: `probe-${sent}`, removeOnComplete: true } });
    }
    if (jobs.length) await q.addBulk(jobs);
    if (sent >= count) clearInterval(pace);
  }, 10);
  const timeout = new Promise((r) => setTimeout(r, (count / rate) * 1000 + lead + 15000));
  await Promise.race([finished, timeout]);
  clearInterval(pace);
  late.sort((a, b) => a - b);
  console.log(JSON.stringify({
    sent, received: late.length, early, dups,
    p50_ms: pct(late, 0.5), p99_ms: pct(late, 0.99), max_ms: late.length ? late[late.length - 1] : -1,
  }));
  await worker.close();
  await q.close();
}

if (mode === 'add') await add(Number(rest[0]), Number(rest[1]), Number(rest[2]));
else if (mode === 'probe') await probe(Number(rest[0]), Number(rest[1]), Number(rest[2]));
else { console.error('usage: see the top of bullmq_bench.mjs'); process.exit(2); }
process.exit(0);
