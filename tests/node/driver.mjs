// Drives the real npm socket.io-client for tests/conformance/test_node_client.py.
//
//   node driver.mjs '<scenario JSON>'
//   node driver.mjs < scenario   (the scenario on the first line of stdin: no size limit)
//
// A scenario:
//   {
//     "url": "http://127.0.0.1:PORT",
//     "options": {...},          // Manager options (transports, upgrade, query, extraHeaders, path...)
//     "awaitUpgrade": false,     // a "connect" on a new manager also waits for the polling->websocket upgrade
//     "timeout": 10000,          // the whole run, in ms
//     "steps": [ {"op": ..., ...}, ... ]
//   }
//
// Every observation is printed as one JSON line on stdout, with "ms" since the start:
//   {"t":"connect","sock":S,"id":ID}            {"t":"connect_error","sock":S,"message":M,"data":D}
//   {"t":"disconnect","sock":S,"reason":R}      {"t":"event","sock":S,"event":E,"args":[...],"ack":bool}
//   {"t":"ack","sock":S,"tag":T,"args":[...]}   {"t":"upgrade","manager":M,"transport":"websocket"}
//   {"t":"open","manager":M,"transport":T}      {"t":"close","manager":M,"reason":R}
//   {"t":"sync","name":N}   {"t":"done"}   {"t":"error","message":M} (then exit 1)
// Binary values travel as {"$bin": "<base64>"} both ways (Buffer in the client).
// In the arguments of a step, {"$id": S} is the id of the driver's socket S (its current one).
//
// Steps (sock defaults to "s", manager to "m", nsp to "/"):
//   connect   {sock, nsp, manager, auth, options, replies, expect: "connect"|"connect_error"|null}
//             new manager on first use (reconnection off); "replies": {event: [args] | "echo"}
//             says how the client answers the server's emits that ask for an ack (default: echo)
//   emit      {sock, event, args, ack: bool, tag, wait: bool (default: ack)}
//   wait      {t, sock?, manager?, event?, reason?, count (default 1), timeout (ms)}
//             until `count` matching observations have been made since the start
//             (a list as a value matches any of its items)
//   disconnect {sock}                 socket.disconnect()
//   close     {manager}               close the Engine.IO connection (a CLOSE packet)
//   drop      {manager}               no goodbye: destroy the WebSocket's TCP connection
//                                     (over polling: exit the process, its connections with it)
//   dropPongs {manager}               stop answering the server's pings
//   sync      {name}                  print {"t":"sync"} and wait for a line on stdin
//   sleep     {ms}
//   exit      {code}                  exit now, leaving every connection to the OS

import { Manager } from "socket.io-client";
import readline from "node:readline";

let scenario;
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
  out({ t: "error", message });
  process.exit(1);
}

// ------------------------------------------------------------------ values <-> JSON
function enc(v) {
  if (v === undefined) return null;
  if (Buffer.isBuffer(v)) return { $bin: v.toString("base64") };
  if (v instanceof ArrayBuffer) return { $bin: Buffer.from(v).toString("base64") };
  if (ArrayBuffer.isView(v)) return { $bin: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") };
  if (v instanceof Error) return { message: v.message, data: enc(v.data) };
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
    if (typeof v.$id === "string" && Object.keys(v).length === 1) return sockets.get(v.$id)?.id ?? null;
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
function getManager(name, options) {
  let m = managers.get(name);
  if (m) return [m, false];
  m = new Manager(scenario.url, {
    reconnection: false,
    ...(scenario.options ?? {}),
    ...(options ?? {}),
  });
  managers.set(name, m);
  m.on("close", (reason) => out({ t: "close", manager: name, reason }));
  m.on("open", () => {
    const engine = m.engine;
    out({ t: "open", manager: name, transport: engine.transport.name });
    engine.on("upgrade", (transport) => out({ t: "upgrade", manager: name, transport: transport.name }));
  });
  return [m, true];
}

function connect(step) {
  const name = step.sock ?? "s";
  const managerName = step.manager ?? "m";
  const [m, fresh] = getManager(managerName, step.options);
  const socket = m.socket(step.nsp ?? "/", step.auth !== undefined ? { auth: step.auth } : {});
  sockets.set(name, socket);
  const replies = step.replies ?? {};
  socket.on("connect", () => out({ t: "connect", sock: name, id: socket.id }));
  socket.on("connect_error", (err) =>
    out({ t: "connect_error", sock: name, message: err.message, data: enc(err.data) }),
  );
  socket.on("disconnect", (reason) => out({ t: "disconnect", sock: name, reason }));
  socket.onAny((event, ...args) => {
    const ack = args.length > 0 && typeof args[args.length - 1] === "function" ? args.pop() : null;
    out({ t: "event", sock: name, event, args: enc(args), ack: ack !== null });
    if (ack) {
      const reply = replies[event] ?? "echo";
      ack(...(reply === "echo" ? args : dec(reply)));
    }
  });
  return { fresh, managerName };
}

function sock(step) {
  const s = sockets.get(step.sock ?? "s");
  if (!s) fail(`no socket ${step.sock ?? "s"}`);
  return s;
}

function engine(step) {
  const m = managers.get(step.manager ?? "m");
  if (!m || !m.engine) fail(`no engine for manager ${step.manager ?? "m"}`);
  return m.engine;
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
        const got = await waitFor({ t: ["connect", "connect_error"], sock: name }, step.timeout);
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
    case "close":
      engine(step).close();
      break;
    case "drop": {
      // no CLOSE packet: the TCP connections just go away
      const t = engine(step).transport;
      if (t.ws) t.ws._socket ? t.ws._socket.destroy() : t.ws.terminate();
      else process.exit(0);
      break;
    }
    case "dropPongs": {
      const e = engine(step);
      const send = e._sendPacket.bind(e);
      e._sendPacket = (type, ...rest) => {
        if (type === "pong") return;
        return send(type, ...rest);
      };
      break;
    }
    case "sync":
      out({ t: "sync", name: step.name });
      await nextLine();
      break;
    case "sleep":
      await new Promise((r) => setTimeout(r, step.ms));
      break;
    case "exit":
      process.exit(step.code ?? 0);
      break;
    default:
      throw new Error(`unknown op ${step.op}`);
  }
}

scenario = JSON.parse(process.argv[2] ?? (await nextLine()));
const overall = setTimeout(() => fail("scenario timed out"), scenario.timeout ?? 10000);

try {
  for (const step of scenario.steps ?? []) await run(step);
} catch (err) {
  fail(err.message);
}
clearTimeout(overall);
out({ t: "done" });
process.exit(0);
