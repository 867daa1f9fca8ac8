/**
 * When the server beats whom (PROTOCOL.md section 6): the connections are beaten a slice at a time, one
 * slice per turn and `slices` turns per interval, the turns falling by the clock rather than by the
 * count of timer runs, so a late sweep catches up. Its own module so that the bench's floor
 * (bench/targets/raw-bun-beat.ts) beats on exactly the schedule the heartbeat sweep (heartbeat.ts) keeps.
 * @module
 */

/** A sweep's share of the timeout: a silent peer is closed at most this fraction of the timeout late (plus timer delay). */
const SWEEP_FRACTION = 20;

/** Sweeps (and slices) per interval: a sweep about every `min(interval, timeout / 20)` ms, a whole fraction of the interval. */
export function slicesOf({ interval, timeout }: { interval: number; timeout: number }): number {
  return Math.ceil(interval / Math.max(1, Math.min(interval, timeout / SWEEP_FRACTION)));
}

/** The slices due at a sweep: `count` of them from slice `first` on, modulo the slices. */
export interface DueSlices {
  first: number;
  count: number;
}

/** The beat schedule: turn `n` (from 1) falls at `origin + n × period` and beats slice `(n - 1) % slices`. */
export class BeatSchedule {
  /** When the schedule started (ms on the caller's monotonic clock). */
  private origin = 0;
  /** The turns taken so far since {@link BeatSchedule.origin}. */
  private turns = 0;

  /**
   * @param slices turns per interval ({@link slicesOf})
   * @param period milliseconds between turns: the interval over the slices
   */
  constructor(readonly slices: number, readonly period: number) {}

  /** Starts the schedule at `now` (ms on a monotonic clock: `performance.now()`): the first turn falls one period later. */
  start(now: number): void {
    this.origin = now;
    this.turns = 0;
  }

  /**
   * The slices to beat at `now`: one per turn that fell since the last call, each slice at most once (a
   * sweep a whole interval late beats everyone once, not twice); the schedule moves on to `now`.
   */
  due(now: number): DueSlices {
    const period = this.period;
    // Rounded, not floored: an interval timer may fire a millisecond early, and the period is fractional.
    const turn = Math.max(this.turns, Math.round((now - this.origin) / period));
    const first = this.turns % this.slices;
    const count = Math.min(turn - this.turns, this.slices);
    this.turns = turn;
    return { first, count };
  }
}
