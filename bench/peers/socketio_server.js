'use strict';
// Peer 1: socket.io 4.8 with @socket.io/redis-adapter, one Node process. Clients `join` rooms;
// `send` broadcasts to the room through the Redis adapter (io.to(room).emit) and acks once
// published. Nothing is stored. PORT, REDIS_URL and PREFIX come from the environment.

const http = require('node:http');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const { createClient } = require('redis');

async function main() {
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

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
