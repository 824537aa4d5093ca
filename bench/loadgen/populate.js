'use strict';
// `node loadgen/populate.js PLAN.json`: the plan's users and rooms, made through our real
// HTTP APIs (register + login, POST /rooms, /rooms/direct, /rooms/{id}/members), many at
// once. Prints {ids, tokens, rooms: {key: id}} on stdout, or {error} and exits 1.
// (Node's fetch does this several times faster than a Python client on a shared 2-core box;
// auth-service stays the bound, as it should.)

const fs = require('node:fs');
const crypto = require('node:crypto');

const MAX_INITIAL_MEMBERS = 499; // room-service takes at most 500 member_ids in POST /rooms

class PopulateFailed extends Error {}

async function call(method, url, body, token, ok) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  for (let attempt = 0; ; attempt += 1) {
    let response;
    try {
      response = await fetch(url, { method, headers, body: JSON.stringify(body) });
    } catch (err) {
      // A refused or reset connection under load: retry a few times, then give up.
      if (attempt < 3) continue;
      throw new PopulateFailed(`${method} ${new URL(url).pathname}: ${err.cause || err}`);
    }
    const text = await response.text();
    if (ok.includes(response.status)) return text ? JSON.parse(text) : {};
    if ((response.status === 503 || response.status === 429) && attempt < 5) {
      await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
      continue;
    }
    throw new PopulateFailed(
      `${method} ${new URL(url).pathname} -> ${response.status} ${text.slice(0, 200)}`,
    );
  }
}

async function bounded(count, limit, job) {
  const out = new Array(count);
  let next = 0;
  async function lane() {
    while (next < count) {
      const i = next++;
      out[i] = await job(i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, count) }, lane));
  return out;
}

async function makeUser(plan, i) {
  const email = `bench-${plan.tag}-${i}@example.test`;
  const password = `pw-${crypto.randomBytes(8).toString('hex')}`;
  await call('POST', `${plan.auth_url}/auth/register`, {
    email,
    password,
    display_name: `Bench ${i}`,
  }, null, [201]);
  const login = await call('POST', `${plan.auth_url}/auth/login`, { email, password }, null, [200]);
  return [login.user.id, login.access_token];
}

async function makeRoom(plan, room, ids, tokens) {
  const owner = tokens[room.members[0]];
  if (room.direct) {
    const body = await call('POST', `${plan.rooms_url}/rooms/direct`, {
      user_id: ids[room.members[1]],
    }, owner, [200, 201]);
    return body.id;
  }
  const first = room.members.slice(1, 1 + MAX_INITIAL_MEMBERS).map((u) => ids[u]);
  const body = await call('POST', `${plan.rooms_url}/rooms`, {
    title: `bench ${room.key}`,
    member_ids: first,
  }, owner, [201]);
  const rest = room.members.slice(1 + MAX_INITIAL_MEMBERS);
  await bounded(rest.length, 32, (i) =>
    call('POST', `${plan.rooms_url}/rooms/${body.id}/members`, { user_id: ids[rest[i]] }, owner, [
      200, 201,
    ]),
  );
  return body.id;
}

async function main() {
  const plan = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const concurrency = plan.concurrency || 32;
  const t0 = Date.now();
  const users = await bounded(plan.users, concurrency, (i) => makeUser(plan, i));
  const ids = users.map((u) => u[0]);
  const tokens = users.map((u) => u[1]);
  const t1 = Date.now();
  const made = await bounded(plan.rooms.length, concurrency, (i) =>
    makeRoom(plan, plan.rooms[i], ids, tokens),
  );
  const rooms = {};
  plan.rooms.forEach((room, i) => {
    rooms[room.key] = made[i];
  });
  const seconds = { users: (t1 - t0) / 1000, rooms: (Date.now() - t1) / 1000 };
  process.stdout.write(`${JSON.stringify({ ids, tokens, rooms, seconds })}\n`);
}

main().catch((err) => {
  process.stdout.write(`${JSON.stringify({ error: String(err.message || err) })}\n`);
  process.exit(1);
});
