// The benchmark app on Node socket.io 4.8: on connect join the room named by the CONNECT auth
// ({"room": "r17"}) or else "all"; "echo" acks its arguments; "burst"(count, size) broadcasts
// "tick" with a size-byte string to "all" count times, then acks count; "burst_bin"(count, size)
// the same with a size-byte binary attachment; "burst_rooms"(count, size, rooms) emits "tick" count
// times, each to one room r<k> with k drawn at random below rooms.
//   node server.js --port 8000 [--host 127.0.0.1] [--uws] [--parser msgpack]
//                  [--tls-cert F --tls-key F] [--redis URL --key K [--streams]]
// --uws: socket.io attached to uWebSockets.js (io.attachApp(uWS.App())), the build that
//   @trufflesuite/uws-js-unofficial ships, loaded by path: its src/uws.js would fall back to `ws`
//   without a word when the binary does not load, and this server must then fail instead.
// --redis: a node of a cluster on @socket.io/redis-adapter, for benchmarks/cluster.py;
// --streams: on @socket.io/redis-streams-adapter, the key as stream name and channel prefix.
"use strict";
const fs = require("fs");
const path = require("path");
const { Server } = require("socket.io");

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const flag = (name) => process.argv.includes(name);

const port = Number(arg("--port", "8000"));
const host = arg("--host", "127.0.0.1");
const useUws = flag("--uws");
const parserName = arg("--parser", "json");
const tlsCert = arg("--tls-cert", null);
const tlsKey = arg("--tls-key", null);
const options = { cors: { origin: "*" } };
if (parserName === "msgpack") options.parser = require("socket.io-msgpack-parser");
else if (parserName !== "json") throw new Error(`unknown --parser ${parserName}`);

// uWebSockets.js drops a message when a socket's buffered bytes exceed maxBackpressure (its default
// is 64 KiB; send() then returns 2, DROPPED, which engine.io ignores); the benchmark bursts up to
// 512 KiB per client, so the limit is raised far above anything a run buffers: nothing is dropped
const UWS_MAX_BACKPRESSURE = 1024 * 1024 * 1024;

// UWS_BINARY: another path to the binary (the test that this server fails loudly names a missing one)
function loadUws() {
  const pkg = path.dirname(require.resolve("@trufflesuite/uws-js-unofficial/package.json"));
  const file =
    process.env.UWS_BINARY ||
    path.join(pkg, "binaries", `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
  try {
    return { uWS: require(file), file }; // a native addon: no fallback
  } catch (err) {
    process.stderr.write(`node socket.io (uws): cannot load uWebSockets.js from ${file}: ${err.message}\n`);
    process.exit(3);
  }
}

let io;
let listen;
if (useUws) {
  const { uWS, file } = loadUws();
  const app = tlsCert ? uWS.SSLApp({ cert_file_name: tlsCert, key_file_name: tlsKey }) : uWS.App();
  io = new Server(options);
  io.attachApp(app, { maxBackpressure: UWS_MAX_BACKPRESSURE });
  listen = (done) =>
    app.listen(host, port, (token) => {
      if (!token) {
        process.stderr.write(`node socket.io (uws): cannot listen on ${host}:${port}\n`);
        process.exit(3);
      }
      done(`uWebSockets.js ${path.basename(file)}`);
    });
} else {
  const httpServer = tlsCert
    ? require("https").createServer({ cert: fs.readFileSync(tlsCert), key: fs.readFileSync(tlsKey) })
    : require("http").createServer();
  io = new Server(httpServer, options);
  listen = (done) => httpServer.listen({ port, host, backlog: 4096 }, () => done("ws"));
}

const redisUrl = arg("--redis", null);
let ready = Promise.resolve();
if (redisUrl && flag("--streams")) {
  const { createAdapter } = require("@socket.io/redis-streams-adapter");
  const { createClient } = require("redis");
  // the adapter's reader (a duplicate, so of the same name) starts from the stream's end
  // without a promise to wait for: listen once it is blocked in XREAD
  const name = "bench-streams-" + process.pid;
  const client = createClient({ url: redisUrl, name });
  const key = arg("--key", "socket.io");
  ready = client.connect().then(async () => {
    io.adapter(createAdapter(client, { streamName: key, channelPrefix: key }));
    for (;;) {
      const list = await client.sendCommand(["CLIENT", "LIST"]);
      if (list.split("\n").some((l) => l.includes(`name=${name} `) && l.includes("cmd=xread"))) return;
      await new Promise((r) => setTimeout(r, 5));
    }
  });
} else if (redisUrl) {
  const { createAdapter } = require("@socket.io/redis-adapter");
  const { createClient } = require("redis");
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  ready = Promise.all([pub.connect(), sub.connect()]).then(() => {
    io.adapter(createAdapter(pub, sub, { key: arg("--key", "socket.io") }));
    return sub.subscribe("__ready__", () => {});
  });
}

io.on("connection", (socket) => {
  const auth = socket.handshake.auth;
  socket.join(auth && typeof auth.room === "string" ? auth.room : "all");
  socket.on("echo", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (ack) ack(...args);
  });
  socket.on("burst", (count, size, ack) => {
    const payload = "x".repeat(size);
    for (let i = 0; i < count; i++) io.to("all").emit("tick", payload);
    if (typeof ack === "function") ack(count);
  });
  socket.on("burst_bin", (count, size, ack) => {
    const payload = Buffer.alloc(size, 120);
    for (let i = 0; i < count; i++) io.to("all").emit("tick", payload);
    if (typeof ack === "function") ack(count);
  });
  socket.on("burst_rooms", (count, size, rooms, ack) => {
    const payload = "x".repeat(size);
    for (let i = 0; i < count; i++) io.to("r" + Math.floor(Math.random() * rooms)).emit("tick", payload);
    if (typeof ack === "function") ack(count);
  });
});

ready.then(() =>
  listen((how) => {
    const v = require("socket.io/package.json").version;
    process.stderr.write(`node socket.io ${v} (${how}, parser ${parserName}${tlsCert ? ", TLS" : ""}) on ${host}:${port}\n`);
  }),
);
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(0));
