// The benchmark app on Node socket.io 4.8: join "all" on connect, "echo" acks its arguments,
// "burst"(count, size) broadcasts "tick" count times to "all", then acks count.
//   node server.js --port 8000 [--host 127.0.0.1] [--redis URL --key K [--streams]]
// (--redis: a node of a cluster on @socket.io/redis-adapter, for benchmarks/cluster.py;
// --streams: on @socket.io/redis-streams-adapter, the key as stream name and channel prefix)
"use strict";
const http = require("http");
const { Server } = require("socket.io");

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const port = Number(arg("--port", "8000"));
const host = arg("--host", "127.0.0.1");
const httpServer = http.createServer();
const io = new Server(httpServer, { cors: { origin: "*" } });
const redisUrl = arg("--redis", null);
let ready = Promise.resolve();
if (redisUrl && process.argv.includes("--streams")) {
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
  socket.join("all");
  socket.on("echo", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (ack) ack(...args);
  });
  socket.on("burst", (count, size, ack) => {
    const payload = "x".repeat(size);
    for (let i = 0; i < count; i++) io.to("all").emit("tick", payload);
    if (typeof ack === "function") ack(count);
  });
});

ready.then(() =>
  httpServer.listen({ port, host, backlog: 4096 }, () => {
    process.stderr.write(`node socket.io ${require("socket.io/package.json").version} on ${host}:${port}\n`);
  }),
);
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(0));
