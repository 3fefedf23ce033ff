// Drives the real npm socket.io-client 4.8 (optionally with socket.io-msgpack-parser) for
// tests/api/test_recovery_node.py and tests/api/test_msgpack_node.py.
//
//   node driver.mjs < scenario      (the scenario as JSON on the first line of stdin)
//
// A scenario: {"url": ..., "nsp": "/", "options": {...socket.io-client options, auth...},
//              "msgpack": false, "timeout": 10000, "steps": [...]}
// One socket; reconnection is on (the options say how fast).  Every observation is one
// JSON line on stdout:
//   {"t":"connect","id":ID,"recovered":bool,"n":N}     N: the how-manieth connect
//   {"t":"disconnect","reason":R}   {"t":"connect_error","message":M,"data":D}
//   {"t":"event","event":E,"args":[...],"ack":bool}      (binary args as {"$bin": base64});
//                                            an event asking for an ack is answered
//                                            with ["ack", ...its arguments]
//   {"t":"ack","tag":T,"args":[...]}   {"t":"done"}   {"t":"error","message":M} (exit 1)
// Steps:
//   {"op":"connect","expect":"connect"}      open the socket, wait for its first connect
//                                            (or "connect_error")
//   {"op":"wait","t":"event","event":E,"count":N}   until N such observations
//                                            (any record field may be matched)
//   {"op":"cut","how":"destroy"|"close"}     cut the transport under the socket: destroy the
//                                            WebSocket's TCP connection, or close the
//                                            Engine.IO connection; the client reconnects
//   {"op":"pid","value":P}                   overwrite the private session id it will send
//   {"op":"emit","event":E,"args":[...],"ack":bool,"tag":T}   with ack: wait for the reply
//   {"op":"sleep","ms":N}
//   {"op":"disconnect"}

import { io } from "socket.io-client";
import readline from "node:readline";

const t0 = Date.now();
const records = [];
const waiters = new Set();

function out(rec) {
  rec.ms = Date.now() - t0;
  records.push(rec);
  process.stdout.write(JSON.stringify(rec) + "\n");
  for (const w of [...waiters]) w.check();
}

function fail(message) {
  out({ t: "error", message });
  process.exit(1);
}

function enc(v) {
  if (v === undefined) return null;
  if (Buffer.isBuffer(v)) return { $bin: v.toString("base64") };
  if (v instanceof ArrayBuffer) return { $bin: Buffer.from(v).toString("base64") };
  if (ArrayBuffer.isView(v)) return { $bin: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") };
  if (v instanceof Error) return { message: v.message, data: enc(v.data) };
  if (Array.isArray(v)) return v.map(enc);
  if (v && typeof v === "object") {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = enc(x);
    return o;
  }
  return v;
}

function dec(v) {
  if (Array.isArray(v)) return v.map(dec);
  if (v && typeof v === "object") {
    if (typeof v.$bin === "string") return Buffer.from(v.$bin, "base64");
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = dec(x);
    return o;
  }
  return v;
}

function matches(rec, want) {
  for (const [k, v] of Object.entries(want)) {
    if (k === "count" || k === "op" || k === "timeout") continue;
    if (rec[k] !== v) return false;
  }
  return true;
}

function waitFor(want, timeout) {
  const count = want.count || 1;
  return new Promise((resolve) => {
    const w = {
      check() {
        if (records.filter((r) => matches(r, want)).length >= count) {
          waiters.delete(w);
          clearTimeout(w.timer);
          resolve();
        }
      },
    };
    w.timer = setTimeout(() => fail("timed out waiting for " + JSON.stringify(want)), timeout || 5000);
    waiters.add(w);
    w.check();
  });
}

const line = await new Promise((resolve) => {
  const rl = readline.createInterface({ input: process.stdin });
  rl.once("line", (l) => {
    rl.close();
    resolve(l);
  });
});
const scenario = JSON.parse(line);
setTimeout(() => fail("scenario timed out"), scenario.timeout || 10000).unref();

const options = { autoConnect: false, ...scenario.options };
if (scenario.msgpack) {
  options.parser = (await import("socket.io-msgpack-parser")).default;
}
const socket = io(scenario.url + (scenario.nsp || "/"), options);
let connects = 0;
socket.on("connect", () => {
  connects += 1;
  out({ t: "connect", id: socket.id, recovered: socket.recovered, n: connects });
});
socket.on("disconnect", (reason) => out({ t: "disconnect", reason }));
socket.on("connect_error", (err) => out({ t: "connect_error", message: err.message, data: enc(err.data) }));
socket.onAny((event, ...args) => {
  // the server asked for an ack: answer ["ack", ...the other arguments]
  const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
  out({ t: "event", event, args: enc(args), ack: !!ack });
  if (ack) ack("ack", ...args);
});

for (const step of scenario.steps) {
  switch (step.op) {
    case "connect":
      socket.connect();
      await waitFor({ t: step.expect || "connect" }, step.timeout);
      break;
    case "wait":
      await waitFor(step, step.timeout);
      break;
    case "cut": {
      const engine = socket.io.engine;
      if (step.how === "destroy") {
        const ws = engine.transport && engine.transport.ws;
        if (!ws || !ws._socket) fail("no WebSocket to destroy");
        ws._socket.destroy();
      } else {
        engine.close();
      }
      break;
    }
    case "pid":
      socket._pid = step.value;
      break;
    case "emit": {
      const args = dec(step.args || []);
      if (step.ack) {
        const reply = await new Promise((resolve) =>
          socket.timeout(step.timeout || 5000).emit(step.event, ...args, (err, ...r) =>
            resolve(err ? [{ error: err.message }] : r),
          ),
        );
        out({ t: "ack", tag: step.tag || step.event, args: enc(reply) });
      } else {
        socket.emit(step.event, ...args);
      }
      break;
    }
    case "sleep":
      await new Promise((r) => setTimeout(r, step.ms));
      break;
    case "disconnect":
      socket.disconnect();
      break;
    default:
      fail("unknown step " + JSON.stringify(step));
  }
}
out({ t: "done" });
socket.disconnect();
process.exit(0);
