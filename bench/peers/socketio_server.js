'use strict';
// Peer 1: socket.io 4.8 with @socket.io/redis-adapter. PROCS Node processes (default 1): with
// more than one, the cluster module's primary forks that many workers sharing the port; the
// websocket transport alone needs no sticky sessions, and the Redis adapter carries each
// broadcast to the other workers. Clients `join` rooms; `send` broadcasts to the room
// (io.to(room).emit) and acks once published. Nothing is stored. PORT, REDIS_URL, PREFIX and
// PROCS come from the environment.

const cluster = require('node:cluster');
const http = require('node:http');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const { createClient } = require('redis');

const PROCS = Math.max(1, Number(process.env.PROCS || 1));

async function serve() {
  const pub = createClient({ url: process.env.REDIS_URL || 'redis://127.0.0.1:6379/0' });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const server = http.createServer((req, res) => {
    res.writeHead(req.url === '/healthz' ? 200 : 404).end();
  });
  const io = new Server(server, {
    transports: ['websocket'],
    perMessageDeflate: false,
    serveClient: false,
    adapter: createAdapter(pub, sub, { key: `${process.env.PREFIX || 'bench:'}socket.io` }),
  });
  io.on('connection', (socket) => {
    socket.on('join', (room, ack) => {
      socket.join(room);
      if (typeof ack === 'function') ack(true);
    });
    socket.on('send', (room, body, ack) => {
      io.to(room).emit('msg', body);
      if (typeof ack === 'function') ack(true);
    });
  });
  server.listen(Number(process.env.PORT || 8100), '127.0.0.1');
  const stop = () => io.close(() => Promise.allSettled([pub.quit(), sub.quit()]).then(() => process.exit(0)));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

function primary() {
  // Round-robin accepts in the primary spread connections evenly over the workers.
  cluster.schedulingPolicy = cluster.SCHED_RR;
  const workers = Array.from({ length: PROCS }, () => cluster.fork());
  let stopping = false;
  const stop = () => {
    stopping = true;
    for (const w of workers) w.process.kill('SIGTERM');
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  cluster.on('exit', () => {
    if (!stopping) {
      console.error('a worker exited: stopping');
      stop();
    }
    if (Object.keys(cluster.workers).length === 0) process.exit(stopping ? 0 : 1);
  });
}

const run = PROCS > 1 && cluster.isPrimary ? async () => primary() : serve;
run().catch((err) => {
  console.error(err);
  process.exit(1);
});
