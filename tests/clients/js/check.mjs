// nats.js against the server at process.argv[2]: pub/sub with wildcards and headers, queue groups,
// request/reply, no responders, a 1 MiB payload, auto-unsubscribe, drain. Prints "ok N" or throws.
import { connect, headers, StringCodec, ErrorCode } from "nats";

const sc = StringCodec();
const nc = await connect({ servers: process.argv[2] });
let checks = 0;
const assert = (cond, what) => { if (!cond) throw new Error("failed: " + what); checks++; };

// Wildcard subscription, headers through untouched.
const sub = nc.subscribe("js.*.x", { max: 1 });
const h = headers();
h.set("K", "v1");
nc.publish("js.a.x", sc.encode("hello"), { headers: h });
for await (const m of sub) {
  assert(m.subject === "js.a.x" && sc.decode(m.data) === "hello", "wildcard delivery");
  assert(m.headers && m.headers.get("K") === "v1", "headers");
}

// Request/reply.
nc.subscribe("svc.echo", { callback: (_e, m) => m.respond(sc.encode("echo:" + sc.decode(m.data))) });
const r = await nc.request("svc.echo", sc.encode("hi"), { timeout: 2000 });
assert(sc.decode(r.data) === "echo:hi", "request/reply");

// No responders.
try {
  await nc.request("nobody.home", sc.encode("x"), { timeout: 2000 });
  assert(false, "no responders");
} catch (e) {
  assert(e.code === ErrorCode.NoResponders, "no responders error code: " + e.code);
}

// Queue group: each message to exactly one member.
const counts = [0, 0, 0];
const qs = counts.map((_, i) => nc.subscribe("work", { queue: "q", callback: () => { counts[i]++; } }));
for (let i = 0; i < 300; i++) nc.publish("work", sc.encode(String(i)));
await nc.flush();
const deadline = Date.now() + 5000;
while (counts.reduce((a, b) => a + b, 0) < 300 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
assert(counts.reduce((a, b) => a + b, 0) === 300, "queue group total " + counts);
assert(counts.every((c) => c > 0), "queue group spread " + counts);
qs.forEach((s) => s.unsubscribe());

// 1 MiB - 64 bytes payload.
const big = new Uint8Array(1024 * 1024 - 64).fill(7);
const bs = nc.subscribe("big", { max: 1 });
nc.publish("big", big);
for await (const m of bs) assert(m.data.length === big.length && m.data[12345] === 7, "big payload");

await nc.drain();
console.log("ok " + checks);
