'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const p = require('./protocols');

const message = (body) =>
  Buffer.from(
    `{"type":"message","message":{"id":"m1","room_id":"r-1","seq":42,"sender_id":"u",` +
      `"body":"${body}","client_msg_id":"c","created_at":"t","edited_at":null,"deleted":false}}`,
  );

test('a stamp is read back from the raw frame of each protocol', () => {
  const body = p.makeBody(123456789, 17, 'xxxx');
  assert.deepEqual(p.parseStamp(message(body)), [123456789, 17]);
  assert.deepEqual(p.parseStamp(Buffer.from(`42["msg","${body}"]`)), [123456789, 17]);
  assert.equal(p.parseStamp(Buffer.from('{"type":"pong"}')), null);
});

test('our frame kinds are told apart without parsing the JSON', () => {
  assert.equal(p.oursKind(message('b')), p.MESSAGE);
  assert.equal(p.oursKind(Buffer.from('{"type":"message_edited","message":{}}')), p.OTHER);
  assert.equal(p.oursKind(Buffer.from('{"type":"member_joined","room_id":"r"}')), p.OTHER);
  assert.equal(p.oursKind(Buffer.from('{"type":"ack","ref":"1","message":{}}')), p.ACK);
  assert.equal(p.oursKind(Buffer.from('{"type":"error","code":"x","message":"y"}')), p.ERROR);
  assert.equal(p.oursKind(Buffer.from('{"type":"ready","rooms":[]}')), p.READY);
  assert.equal(p.oursKind(Buffer.from('{"type":"resumed","rooms":{}}')), p.RESUMED);
  assert.equal(p.oursKind(Buffer.from('{"type":"presence","online":true}')), p.OTHER);
  assert.equal(p.oursKind(Buffer.from('{"ref":"1","type":"ack"}')), p.ACK);
});

test('Socket.IO packets are told apart by their prefix', () => {
  assert.equal(p.sioKind(Buffer.from('42["msg","x"]')), p.MESSAGE);
  assert.equal(p.sioKind(Buffer.from('437[true]')), p.ACK);
  assert.equal(p.sioKind(Buffer.from('2')), p.RESUMED); // Engine.IO ping, answered
  assert.equal(p.sioKind(Buffer.from('44{"message":"no"}')), p.ERROR);
  assert.equal(p.sioKind(Buffer.from('3')), p.OTHER);
});

test('seq and room of a message frame are read for the resume order check', () => {
  assert.deepEqual(p.parseSeq(message('b')), [42, 'r-1']);
  assert.equal(p.parseSeq(Buffer.from('{"type":"pong"}')), null);
});

test('the Channels peer frame kinds are told apart without parsing the JSON', () => {
  assert.equal(p.jsonKind(Buffer.from('{"type":"msg","body":"@T1@S2@x"}')), p.MESSAGE);
  assert.equal(p.jsonKind(Buffer.from('{"type":"ack"}')), p.ACK);
  assert.equal(p.jsonKind(Buffer.from('{"type":"joined"}')), p.READY);
  assert.equal(p.jsonKind(Buffer.from('{"type":"error","code":"bad_frame"}')), p.ERROR);
  assert.equal(p.jsonKind(Buffer.from('{"type":"other"}')), p.OTHER);
});
