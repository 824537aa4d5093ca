'use strict';
// Latency histograms that merge across worker processes, and the one clock every process
// reads. process.hrtime is CLOCK_MONOTONIC, shared by every process on the machine, so a
// timestamp taken by the sender's worker and one taken by a receiver's worker subtract
// without any clock transfer.

/** Microseconds on the machine-wide monotonic clock. */
function nowUs() {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * Values bucketed to three significant digits (0.1% to 1% error), so a histogram is at most
 * about 900 buckets per decade and merges by adding counts.
 */
class Histogram {
  constructor() {
    this.counts = new Map();
    this.total = 0;
    this.max = 0;
    this.min = Infinity;
  }

  static bucket(value) {
    if (value < 1000) return Math.max(0, Math.floor(value));
    const mag = 10 ** (Math.floor(Math.log10(value)) - 2);
    return Math.floor(value / mag) * mag;
  }

  record(value) {
    const key = Histogram.bucket(value);
    this.counts.set(key, (this.counts.get(key) || 0) + 1);
    this.total += 1;
    if (value > this.max) this.max = value;
    if (value < this.min) this.min = value;
  }

  merge(other) {
    for (const [key, count] of other.counts) {
      this.counts.set(key, (this.counts.get(key) || 0) + count);
    }
    this.total += other.total;
    this.max = Math.max(this.max, other.max);
    this.min = Math.min(this.min, other.min);
    return this;
  }

  /** The smallest bucket value at or below which a fraction q of the samples lie. */
  quantile(q) {
    if (this.total === 0) return null;
    const keys = [...this.counts.keys()].sort((a, b) => a - b);
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (const key of keys) {
      seen += this.counts.get(key);
      if (seen >= rank) return key;
    }
    return keys[keys.length - 1];
  }

  /** p50/p99/p999/max in milliseconds (null when there were no samples). */
  summary() {
    const ms = (v) => (v === null ? null : Math.round(v) / 1000);
    return {
      samples: this.total,
      p50_ms: ms(this.quantile(0.5)),
      p99_ms: ms(this.quantile(0.99)),
      p999_ms: ms(this.quantile(0.999)),
      max_ms: this.total ? ms(this.max) : null,
    };
  }

  toJSON() {
    return { counts: [...this.counts], total: this.total, max: this.max, min: this.min };
  }

  static fromJSON(data) {
    const h = new Histogram();
    h.counts = new Map(data.counts);
    h.total = data.total;
    h.max = data.max;
    h.min = data.min === null ? Infinity : data.min;
    return h;
  }
}

module.exports = { Histogram, nowUs };
