'use strict';
// CPU time and resident memory of the systems under test, read from /proc for a process and
// all its descendants (the gateway's workers are children of its first process).

const fs = require('node:fs');

const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux this runs on.
const PAGE_SIZE = 4096;

function children(pid) {
  const found = [];
  let tasks = [];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return found;
  }
  for (const tid of tasks) {
    try {
      const text = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) found.push(...text.split(/\s+/).map(Number));
    } catch {
      // The task ended while we looked.
    }
  }
  return found;
}

/** The pid and every descendant still alive. */
function tree(pid) {
  const all = [];
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop();
    all.push(p);
    stack.push(...children(p));
  }
  return all;
}

function statOf(pid) {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name, which may itself hold spaces.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const cpu = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
    const rss = Number(fields[21]) * PAGE_SIZE;
    return { cpu, rss };
  } catch {
    return { cpu: 0, rss: 0 };
  }
}

/** {name: {cpu_s, rss_bytes, processes}} for each named group of root pids. */
function sample(groups) {
  const out = {};
  for (const [name, pids] of Object.entries(groups || {})) {
    let cpu = 0;
    let rss = 0;
    let processes = 0;
    for (const root of pids) {
      for (const pid of tree(root)) {
        const s = statOf(pid);
        cpu += s.cpu;
        rss += s.rss;
        processes += 1;
      }
    }
    out[name] = { cpu_s: cpu, rss_bytes: rss, processes };
  }
  return out;
}

/** Per group: cores used between two samples `seconds` apart, and the RSS at the second. */
function usage(before, after, seconds) {
  const out = {};
  for (const [name, b] of Object.entries(before)) {
    const a = after[name] || b;
    out[name] = {
      cores: seconds > 0 ? (a.cpu_s - b.cpu_s) / seconds : null,
      rss_bytes: a.rss_bytes,
      processes: a.processes,
    };
  }
  return out;
}

/** Machine-wide CPU ticks: [busy, total] from the first line of /proc/stat. */
function machineTicks() {
  try {
    const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1);
    const values = fields.map(Number);
    const total = values.reduce((a, b) => a + b, 0);
    const idle = values[3] + (values[4] || 0); // idle + iowait
    return [total - idle, total];
  } catch {
    return [0, 0];
  }
}

/** Cores busy between two machineTicks() readings, on a machine of `cores` cores. */
function busyCores(before, after, cores) {
  const total = after[1] - before[1];
  return total > 0 ? ((after[0] - before[0]) / total) * cores : null;
}

module.exports = { sample, usage, tree, machineTicks, busyCores };
