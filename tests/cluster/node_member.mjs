// A Node socket.io 4.8 node on @socket.io/redis-adapter 8.3 (classic createAdapter), with
// socket.io-client 4.8 clients and an @socket.io/redis-emitter 5 beside it, driven by
// tests/cluster (node_member.py).
//
//   node node_member.mjs        then, on stdin, one JSON line per command:
//   {"redis": URL, "key": PREFIX, "requestsTimeout": MS, "namespaces": ["/", "/chat"],
//    "publishOnSpecificResponseChannel": BOOL, "sharded": null | SUBSCRIPTION_MODE}  first: start
//   ("sharded": createShardedAdapter with that subscriptionMode instead of createAdapter;
//    "streams": true: @socket.io/redis-streams-adapter 0.3 with {streamName, channelPrefix:
//    PREFIX, sessionKeyPrefix, streamCount: "streamCount" or 1, useShardedPubSub}; "recovery": MS: connectionStateRecovery with that
//    maxDisconnectionDuration; "clientsOnly": true: no node at all, the clients only)
//   {"id": N, "code": "...js...", "args": {...}}        then: run `code` as the body of an async
//                                                       function of (ctx, args); its result is printed
//
// Output, one JSON line each: {"ready": true, "port": PORT} once started, then
// {"id": N, "ok": true, "value": V} or {"id": N, "ok": false, "error": MESSAGE}.
// Binary values are printed as {"$bin": "<base64>"}.
//
// ctx: io (the Server), port, emitter (an Emitter on the same key), Buffer, sleep(ms),
//   connect(name, url, {nsp, auth, transports, recover}) -> the client socket's id once
//     connected (recover: the name of an earlier client whose session, its private id and
//     last offset, the new one reconnects with, as socket.io-client does on reconnection),
//     (the client records every event it receives; one that asks for an ack is answered
//     "ack-from-<name>"),
//   events(name, event?) -> [[event, ...args]] received so far,
//   waitFor(name, event, count = 1, ms = 5000) -> those events once `count` arrived,
//   client(name) -> the client socket.
import { Server } from "socket.io";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { Emitter } from "@socket.io/redis-emitter";
import { createAdapter as createStreamsAdapter } from "@socket.io/redis-streams-adapter";
import { createClient } from "redis";
import { io as ioc } from "socket.io-client";
import { createServer } from "node:http";
import readline from "node:readline";

function enc(v) {
  if (v === undefined) return null;
  if (Buffer.isBuffer(v)) return { $bin: v.toString("base64") };
  if (v instanceof ArrayBuffer) return { $bin: Buffer.from(v).toString("base64") };
  if (ArrayBuffer.isView(v)) return { $bin: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") };
  if (v instanceof Error) return { $error: v.message };
  if (v instanceof Set) return [...v].map(enc);
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(enc);
  if (typeof v === "function") return { $fn: true };
  if (v && typeof v === "object") {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = enc(x);
    return o;
  }
  return v;
}

function out(rec) {
  process.stdout.write(JSON.stringify(rec) + "\n");
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const clients = new Map();
const ctx = { Buffer, sleep, clients };

ctx.connect = (name, url, opts = {}) =>
  new Promise((resolve, reject) => {
    const socket = ioc(url + (opts.nsp || "/"), {
      transports: opts.transports || ["websocket"],
      auth: opts.auth || {},
      reconnection: false,
      forceNew: true,
      autoConnect: false,
    });
    if (opts.recover) {
      const old = clients.get(opts.recover).socket;
      socket._pid = old._pid;
      socket._lastOffset = old._lastOffset;
    }
    socket.connect();
    const rec = { socket, events: [] };
    clients.set(name, rec);
    socket.onAny((event, ...args) => {
      const last = args[args.length - 1];
      if (typeof last === "function") {
        args.pop();
        last("ack-from-" + name);
      }
      rec.events.push([event, ...args]);
    });
    socket.on("connect", () => resolve(socket.id));
    socket.on("connect_error", (err) => reject(err));
  });

ctx.client = (name) => clients.get(name).socket;
ctx.events = (name, event) => {
  const all = clients.get(name).events;
  return event === undefined ? all : all.filter((e) => e[0] === event);
};
ctx.waitFor = async (name, event, count = 1, ms = 5000) => {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const found = ctx.events(name, event);
    if (found.length >= count) return found;
    await sleep(5);
  }
  throw new Error(`${name}: ${count} x ${event} not received in ${ms} ms (got ${JSON.stringify(enc(ctx.events(name)))})`);
};

const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
let started = false;
const rl = readline.createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  if (!line.trim()) return;
  const msg = JSON.parse(line);
  if (!started) {
    started = true;
    if (msg.clientsOnly) {
      // no node: socket.io-client clients only (for a cluster of fastsio nodes)
      ctx.close = async () => {
        for (const { socket } of clients.values()) socket.close();
      };
      out({ ready: true, port: 0 });
      return;
    }
    const pub = createClient({ url: msg.redis });
    const sub = pub.duplicate();
    const emitterClient = pub.duplicate();
    for (const c of [pub, sub, emitterClient]) c.on("error", () => {}); // reconnects by itself
    await Promise.all([pub.connect(), sub.connect(), emitterClient.connect()]);
    const http = createServer();
    let streamsClient = null;
    let adapter;
    if (msg.streams) {
      // its own connections are duplicates of this one: the name tells its reader apart
      streamsClient = createClient({ url: msg.redis, name: "streams-" + msg.key + "-" + process.pid });
      streamsClient.on("error", () => {});
      await streamsClient.connect();
      adapter = createStreamsAdapter(streamsClient, {
        streamName: msg.key, channelPrefix: msg.key, sessionKeyPrefix: msg.key + ":session:",
        streamCount: msg.streamCount || 1, useShardedPubSub: !!msg.useShardedPubSub,
      });
    } else if (msg.sharded) {
      adapter = createShardedAdapter(pub, sub, { channelPrefix: msg.key, subscriptionMode: msg.sharded });
    } else {
      adapter = createAdapter(pub, sub, {
        key: msg.key,
        requestsTimeout: msg.requestsTimeout || 5000,
        publishOnSpecificResponseChannel: !!msg.publishOnSpecificResponseChannel,
      });
    }
    const options = { adapter };
    if (msg.recovery) options.connectionStateRecovery = { maxDisconnectionDuration: msg.recovery };
    const io = new Server(http, options);
    for (const nsp of msg.namespaces || []) io.of(nsp);
    if (msg.streams) {
      // the adapter subscribes and starts reading without a promise to wait for: ready once
      // each namespace's own channel has its subscriber and the reader is blocked in XREAD
      const name = "streams-" + msg.key + "-" + process.pid;
      for (let i = 0; ; i++) {
        let ready = true;
        for (const nsp of ["/", ...(msg.namespaces || [])]) {
          const own = `${msg.key}#${nsp}#${io.of(nsp).adapter.uid}#`;
          const [, count] = await pub.sendCommand(["PUBSUB", msg.useShardedPubSub ? "SHARDNUMSUB" : "NUMSUB", own]);
          if (Number(count) < 1) ready = false;
        }
        const list = await pub.sendCommand(["CLIENT", "LIST"]);
        if (!list.split("\n").some((l) => l.includes(`name=${name} `) && l.includes("cmd=xread"))) ready = false;
        if (ready) break;
        if (i > 1000) throw new Error("the streams adapter did not start");
        await sleep(5);
      }
    } else if (msg.sharded) {
      // the adapters subscribe without waiting; commands on one connection are answered in
      // order, so once this one is confirmed, theirs are too (the node counts as a member)
      await sub.sSubscribe("__ready__", () => {});
    } else {
      await sub.subscribe("__ready__", () => {});
    }
    await new Promise((r) => http.listen(0, "127.0.0.1", r));
    ctx.io = io;
    ctx.port = http.address().port;
    ctx.emitter = new Emitter(emitterClient, { key: msg.key });
    ctx.close = async () => {
      for (const { socket } of clients.values()) socket.close();
      io.close();
      await Promise.allSettled([pub.quit(), sub.quit(), emitterClient.quit(), streamsClient?.quit()]);
    };
    out({ ready: true, port: ctx.port });
    return;
  }
  try {
    const value = await new AsyncFunction("ctx", "args", msg.code)(ctx, msg.args || {});
    out({ id: msg.id, ok: true, value: enc(value) });
  } catch (err) {
    out({ id: msg.id, ok: false, error: String((err && err.stack) || err) });
  }
});
rl.on("close", async () => {
  if (ctx.close) await ctx.close();
  process.exit(0);
});
