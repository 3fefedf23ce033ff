// Drives the real npm socket.io-client 2.5.0, 1.7.4 and 1.2.0 (Engine.IO v3) for
// tests/conformance/test_legacy_clients.py.
//
//   node driver.cjs < scenario   (the scenario on the first line of stdin)
//
// A scenario:
//   {
//     "client": "sioc25" | "sioc17" | "sioc12",   // the aliases of package.json
//     "url": "http://127.0.0.1:PORT",
//     "options": {...},          // Manager options (transports, upgrade, forceBase64, query...)
//     "awaitUpgrade": false,     // a "connect" on a new manager also waits for the upgrade
//     "timeout": 10000,          // the whole run, in ms
//     "steps": [ {"op": ..., ...}, ... ]
//   }
//
// Every observation is printed as one JSON line on stdout, with "ms" since the start:
//   {"t":"connect","sock":S,"id":ID,"engine":EID}   {"t":"error","sock":S,"data":D}
//   {"t":"disconnect","sock":S,"reason":R}          {"t":"event","sock":S,"event":E,"args":[...],"ack":bool}
//   {"t":"ack","sock":S,"tag":T,"args":[...]}       {"t":"upgrade","manager":M,"transport":"websocket"}
//   {"t":"open","manager":M,"transport":T}          {"t":"close","manager":M,"reason":R}
//   {"t":"pong","manager":M} (the server answered the client's ping)
//   {"t":"sync","name":N}   {"t":"done"}   {"t":"fail","message":M} (then exit 1)
// Binary values travel as {"$bin": "<base64>"} both ways (Buffer in the client).
//
// Steps (sock defaults to "s", manager to "m", nsp to "/"):
//   connect   {sock, nsp, manager, query, options, replies, expect: "connect"|"error"|null}
//             new manager on first use (reconnection off); "/" is connected by the server
//             without asking (Socket.IO v4); "query" (2.x) goes with the namespace CONNECT;
//             "replies": {event: [args] | "echo"}: how the client acks the server's emits
//   emit      {sock, event, args, ack: bool, tag, wait: bool (default: ack)}
//   wait      {t, sock?, manager?, event?, reason?, count (default 1), timeout (ms)}
//   disconnect {sock}       socket.disconnect()
//   close     {manager}     manager.close() (the Engine.IO connection goes, with a CLOSE packet)
//   sync      {name}        print {"t":"sync"} and wait for a line on stdin
//   sleep     {ms}

"use strict";

const readline = require("node:readline");

let scenario;
let io;
const t0 = Date.now();
const records = [];
const waiters = new Set();
const managers = new Map();
const sockets = new Map();

function out(rec) {
  rec.ms = Date.now() - t0;
  records.push(rec);
  process.stdout.write(JSON.stringify(rec) + "\n");
  for (const w of [...waiters]) w.check();
}

function fail(message) {
  out({ t: "fail", message });
  process.exit(1);
}

// ------------------------------------------------------------------ values <-> JSON
function enc(v) {
  if (v === undefined) return null;
  if (Buffer.isBuffer(v)) return { $bin: v.toString("base64") };
  if (v instanceof ArrayBuffer) return { $bin: Buffer.from(v).toString("base64") };
  if (ArrayBuffer.isView(v)) return { $bin: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") };
  if (v instanceof Error) return { message: v.message };
  if (Array.isArray(v)) return v.map(enc);
  if (typeof v === "function") return { $fn: true };
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
    if (typeof v.$bin === "string" && Object.keys(v).length === 1) return Buffer.from(v.$bin, "base64");
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = dec(x);
    return o;
  }
  return v;
}

// ------------------------------------------------------------------ waiting
function matches(rec, want) {
  for (const [k, v] of Object.entries(want)) {
    if (k === "count" || k === "timeout" || k === "op") continue;
    if (Array.isArray(v) ? !v.includes(rec[k]) : rec[k] !== v) return false;
  }
  return true;
}

function waitFor(want, timeout = 5000) {
  const count = want.count ?? 1;
  return new Promise((resolve, reject) => {
    const w = {
      check() {
        const found = records.filter((r) => matches(r, want));
        if (found.length >= count) {
          waiters.delete(w);
          clearTimeout(timer);
          resolve(found[count - 1]);
        }
      },
    };
    const timer = setTimeout(() => {
      waiters.delete(w);
      reject(new Error(`timed out waiting for ${JSON.stringify(want)}`));
    }, timeout);
    waiters.add(w);
    w.check();
  });
}

// ------------------------------------------------------------------ clients
function watchEngine(name, engine) {
  out({ t: "open", manager: name, transport: engine.transport.name });
  engine.on("upgrade", (transport) => out({ t: "upgrade", manager: name, transport: transport.name }));
  engine.on("packet", (packet) => {
    if (packet.type === "pong") out({ t: "pong", manager: name });
  });
}

function getManager(name, options) {
  let m = managers.get(name);
  if (m) return [m, false];
  m = new io.Manager(scenario.url, {
    reconnection: false,
    ...(scenario.options ?? {}),
    ...(options ?? {}),
  });
  managers.set(name, m);
  m.on("close", (reason) => out({ t: "close", manager: name, reason }));
  m.on("open", () => watchEngine(name, m.engine));
  return [m, true];
}

function connect(step) {
  const name = step.sock ?? "s";
  const managerName = step.manager ?? "m";
  const [m, fresh] = getManager(managerName, step.options);
  const nsp = step.nsp ?? "/";
  const socket = step.query !== undefined ? m.socket(nsp, { query: step.query }) : m.socket(nsp);
  sockets.set(name, socket);
  const replies = step.replies ?? {};
  socket.on("connect", () => out({ t: "connect", sock: name, id: socket.id ?? null, engine: m.engine.id }));
  socket.on("error", (data) => out({ t: "error", sock: name, data: enc(data) }));
  socket.on("disconnect", (reason) => out({ t: "disconnect", sock: name, reason }));
  // 1.x/2.x have no onAny: every incoming event passes through onevent(packet)
  socket.onevent = function (packet) {
    const args = (packet.data || []).slice();
    const event = args.shift();
    out({ t: "event", sock: name, event, args: enc(args), ack: packet.id != null });
    if (packet.id != null) {
      const reply = replies[event] ?? "echo";
      this.ack(packet.id)(...(reply === "echo" ? args : dec(reply)));
    }
  };
  return { fresh, managerName };
}

function sock(step) {
  const s = sockets.get(step.sock ?? "s");
  if (!s) fail(`no socket ${step.sock ?? "s"}`);
  return s;
}

// ------------------------------------------------------------------ stdin (scenario, sync)
const lines = [];
let lineWaiter = null;
const input = readline.createInterface({ input: process.stdin });
input.on("line", (line) => {
  if (lineWaiter) {
    const w = lineWaiter;
    lineWaiter = null;
    w(line);
  } else lines.push(line);
});
function nextLine() {
  if (lines.length) return Promise.resolve(lines.shift());
  return new Promise((resolve) => (lineWaiter = resolve));
}

// ------------------------------------------------------------------ steps
async function run(step) {
  switch (step.op) {
    case "connect": {
      const { fresh, managerName } = connect(step);
      const expect = step.expect === undefined ? "connect" : step.expect;
      const name = step.sock ?? "s";
      if (expect) {
        const got = await waitFor({ t: ["connect", "error"], sock: name }, step.timeout);
        if (got.t !== expect) throw new Error(`expected ${expect}, got ${JSON.stringify(got)}`);
      }
      if (fresh && scenario.awaitUpgrade && expect === "connect") {
        await waitFor({ t: "upgrade", manager: managerName }, step.timeout);
      }
      break;
    }
    case "emit": {
      const s = sock(step);
      const args = dec(step.args ?? []);
      if (step.ack) {
        const tag = step.tag ?? step.event;
        const done = new Promise((resolve) =>
          s.emit(step.event, ...args, (...reply) => {
            out({ t: "ack", sock: step.sock ?? "s", tag, args: enc(reply) });
            resolve();
          }),
        );
        if (step.wait ?? true) {
          let timer;
          await Promise.race([
            done,
            new Promise((_, reject) => {
              timer = setTimeout(() => reject(new Error(`no ack for ${tag}`)), step.timeout ?? 5000);
            }),
          ]);
          clearTimeout(timer);
        }
      } else {
        s.emit(step.event, ...args);
      }
      break;
    }
    case "wait": {
      const { op, ...want } = step;
      await waitFor(want, step.timeout);
      break;
    }
    case "disconnect":
      sock(step).disconnect();
      break;
    case "close": {
      const m = managers.get(step.manager ?? "m");
      if (!m) fail(`no manager ${step.manager ?? "m"}`);
      m.close();
      break;
    }
    case "sync":
      out({ t: "sync", name: step.name });
      await nextLine();
      break;
    case "sleep":
      await new Promise((r) => setTimeout(r, step.ms));
      break;
    default:
      throw new Error(`unknown op ${step.op}`);
  }
}

(async () => {
  scenario = JSON.parse(await nextLine());
  io = require(scenario.client);
  const overall = setTimeout(() => fail("scenario timed out"), scenario.timeout ?? 10000);
  try {
    for (const step of scenario.steps ?? []) await run(step);
  } catch (err) {
    fail(err.message);
  }
  clearTimeout(overall);
  out({ t: "done" });
  process.exit(0);
})();
