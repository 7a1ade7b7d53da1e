// nats.js's JetStream manager against the server at process.argv[2]: jsm.streams add / info /
// update / names / list / purge / delete, js.publish acks, Msg-Id dedupe and an expected-sequence
// error. Prints "ok N" or throws.
import { connect, StringCodec } from "nats";

const sc = StringCodec();
const nc = await connect({ servers: process.argv[2] });
let checks = 0;
const assert = (cond, what) => { if (!cond) throw new Error("failed: " + what); checks++; };

const jsm = await nc.jetstreamManager();
const info = await jsm.streams.add({ name: "JSORDERS", subjects: ["jsorders.*"] });
assert(info.config.name === "JSORDERS" && info.config.duplicate_window === 120_000_000_000, "add");
const up = await jsm.streams.update("JSORDERS", { subjects: ["jsorders.*", "jsrefunds"], description: "d" });
assert(up.config.subjects.length === 2 && up.config.description === "d", "update");

const js = nc.jetstream();
const a1 = await js.publish("jsorders.a", sc.encode("1"), { msgID: "m1" });
const a2 = await js.publish("jsorders.a", sc.encode("1"), { msgID: "m1" });
assert(a1.seq === 1 && !a1.duplicate && a2.seq === 1 && a2.duplicate, "dedupe");
await js.publish("jsorders.b", sc.encode("2"));
await js.publish("jsrefunds", sc.encode("3"));
try {
  await js.publish("jsorders.b", sc.encode("4"), { expect: { lastSequence: 1 } });
  assert(false, "expected last sequence");
} catch (e) {
  assert(String(e.message).includes("wrong last sequence: 3"), "wrong last sequence: " + e.message);
}

const si = await jsm.streams.info("JSORDERS", { subjects_filter: ">" });
assert(si.state.messages === 3 && si.state.subjects["jsorders.a"] === 1, "info with subjects");
const names = [];
for await (const n of jsm.streams.names()) names.push(...(Array.isArray(n) ? n : [n]));
assert(names.includes("JSORDERS"), "names");
const listed = [];
for await (const s of jsm.streams.list()) listed.push(s.config.name);
assert(listed.includes("JSORDERS"), "list");
const purged = await jsm.streams.purge("JSORDERS", { filter: "jsorders.a" });
assert(purged.success && purged.purged === 1, "purge");
assert(await jsm.streams.delete("JSORDERS"), "delete");
try {
  await jsm.streams.info("JSORDERS");
  assert(false, "info after delete");
} catch (e) {
  assert(String(e.message).includes("stream not found"), "stream not found: " + e.message);
}
await nc.close();
console.log("ok " + checks);
