// simple_hl7_bench.js — npm simple-hl7's Parser on the same messages as hl7_bench.c.
//   node simple_hl7_bench.js NODE_MODULES_DIR DIR ROUNDS
// Same preparation (BOM stripped, LF/CRLF → CR); messages simple-hl7 throws on are left out.
const path = require('path');
const fs = require('fs');
const hl7 = require(path.join(process.argv[2], 'simple-hl7'));
const dir = process.argv[3];
const rounds = parseInt(process.argv[4], 10);
const msgs = [];
for (const f of fs.readdirSync(dir)) {
  if (!f.endsWith('.hl7')) continue;
  let s = fs.readFileSync(path.join(dir, f), 'utf8');
  if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
  s = s.replace(/\r\n/g, '\r').replace(/\n/g, '\r');
  try { new hl7.Parser().parse(s); msgs.push(s); } catch (e) { /* not parseable by simple-hl7 */ }
}
const parser = new hl7.Parser();
let sink = 0;
for (let i = 0; i < 200; i++) for (const m of msgs) sink += parser.parse(m).segments.length; // warm-up
const t0 = process.hrtime.bigint();
for (let r = 0; r < rounds; r++) for (const m of msgs) sink += parser.parse(m).segments.length;
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({messages: msgs.length, rounds, parse_msgs_per_s: Math.round(rounds * msgs.length / secs), sink}));
