// When to retry a deferred (4xx) delivery, and when to give up and bounce it.

export interface RetryPolicy {
  /** Base delay after each failed attempt, in ms; past the end the last one repeats. */
  delaysMs: readonly number[];
  /** No attempt is scheduled later than this long after the first one (then it bounces). */
  maxAgeMs: number;
  /** Each delay is spread by ± this fraction so deferred mail does not return in one wave. */
  jitter: number;
}

export interface RetryOptions {
  policy?: RetryPolicy;
  /** When the first attempt was made; without it the give-up point counts nominal delays. */
  firstAttemptAt?: Date;
  /** Uniform in [0, 1); pass a fixed source for deterministic schedules. */
  random?: () => number;
}

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a schedule written as data, in Haraka's style: "5m,15m,1h*2,3h,6h" is
 * 5 minutes, 15 minutes, 1 hour twice, 3 hours, then 6 hours.
 */
export function parseSchedule(text: string): number[] {
  const delays: number[] = [];
  for (const item of text.split(",")) {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*(?:\*\s*(\d+))?\s*$/.exec(item);
    if (!m) throw new SyntaxError(`Invalid retry schedule item "${item.trim()}" in "${text}"`);
    const ms = Number(m[1]) * UNITS[m[2]!]!;
    for (let i = 0; i < Number(m[3] ?? 1); i++) delays.push(ms);
  }
  return delays;
}

/** Roughly tripling from 5 minutes to a 6-hour cap; gives up three days after the first try. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  delaysMs: parseSchedule("5m,15m,1h,3h,6h"),
  maxAgeMs: 3 * UNITS.d!,
  jitter: 0.2,
};

/**
 * The time of the next attempt after `attempt` attempts have failed (1 after the first), or
 * null when the message should bounce. The last try is moved up to the deadline rather than
 * dropped, so every message gets a try close to the end of its allowed age.
 */
export function nextAttempt(attempt: number, now: Date, options: RetryOptions = {}): Date | null {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError(`Attempt must be a positive integer, got ${attempt}`);
  }
  const policy = options.policy ?? DEFAULT_RETRY_POLICY;
  const { delaysMs, maxAgeMs, jitter } = policy;
  if (delaysMs.length === 0) return null;
  const base = (i: number) => delaysMs[Math.min(i, delaysMs.length - 1)]!;

  let first = options.firstAttemptAt?.getTime();
  if (first === undefined) {
    // Without the real start, assume the earlier retries ran on their nominal schedule.
    let elapsed = 0;
    for (let i = 0; i < attempt - 1; i++) elapsed += base(i);
    first = now.getTime() - elapsed;
  }
  const deadline = first + maxAgeMs;
  if (now.getTime() >= deadline) return null;

  const random = options.random ?? Math.random;
  const spread = 1 - jitter + 2 * jitter * random();
  const delay = Math.round(base(attempt - 1) * spread);
  return new Date(Math.min(now.getTime() + delay, deadline));
}
