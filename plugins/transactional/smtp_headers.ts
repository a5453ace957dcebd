// The X-Skicka-* headers a submitted message may carry to choose its stream, tags, metadata and
// tracking: read, validated, and taken out of the message before it is queued (they are
// instructions to us, not part of the mail the recipient gets).
import { headerBlock } from "../../core/send/raw_message.ts";
import { STREAM_NAME } from "../../core/send/stream_message.ts";

export interface MessageOptions {
  stream?: string;
  tags?: string[];
  metadata?: Record<string, string>;
  tracking?: boolean;
}

/** A header we cannot follow: the message is refused (5xx) with this text, naming the header. */
export class SubmissionHeaderError extends Error {
  override name = "SubmissionHeaderError";
  constructor(readonly header: string, readonly problem: string) {
    super(`${header}: ${problem}`);
  }
}

export const HEADERS = {
  stream: "X-Skicka-Stream",
  tags: "X-Skicka-Tags",
  track: "X-Skicka-Track",
  metadata: "X-Skicka-Metadata",
} as const;

const TAG = /^[\p{L}\p{N}_.:\/-]{1,64}$/u;
const META_KEY = /^[A-Za-z0-9_.-]{1,40}$/;
const MAX_TAGS = 10;
const MAX_META = 20;

/**
 * Splits the header block off `raw`, removes every X-Skicka-* field (with its folded lines) and
 * returns what they asked for with the message as it will be queued.
 */
export function takeSubmissionHeaders(raw: string): { raw: string; options: MessageOptions } {
  // Where the header ends is decided once for the whole pipeline (core/send/raw_message.ts).
  const head = headerBlock(raw);
  const end = head.length;
  const lines = head.split(/(?<=\n)/); // keeps each line's own ending
  const kept: string[] = [];
  const found = new Map<string, string>();
  let dropping = false;
  for (const line of lines) {
    if (/^[ \t]/.test(line)) {
      // A folded continuation belongs to the field before it.
      if (dropping) {
        const [name, value] = [...found].at(-1)!;
        found.set(name, value + " " + line.trim());
      } else kept.push(line);
      continue;
    }
    const m = /^(x-skicka-[a-z0-9-]*)[ \t]*:(.*)$/is.exec(line);
    dropping = m !== null;
    if (!m) {
      kept.push(line);
      continue;
    }
    const name = m[1]!.toLowerCase();
    if (found.has(name)) throw new SubmissionHeaderError(m[1]!, "given more than once");
    found.set(name, m[2]!.trim());
  }
  const options: MessageOptions = {};
  for (const [name, value] of found) {
    switch (name) {
      case HEADERS.stream.toLowerCase():
        if (!STREAM_NAME.test(value)) {
          throw new SubmissionHeaderError(
            HEADERS.stream,
            "expected a stream name of lower-case letters, digits, - and _ (e.g. transactional)",
          );
        }
        options.stream = value;
        break;
      case HEADERS.tags.toLowerCase():
        options.tags = parseTags(value);
        break;
      case HEADERS.track.toLowerCase():
        options.tracking = parseTrack(value);
        break;
      case HEADERS.metadata.toLowerCase():
        options.metadata = parseMetadata(value);
        break;
      default:
        throw new SubmissionHeaderError(
          name,
          `unknown; Skicka reads ${Object.values(HEADERS).join(", ")}`,
        );
    }
  }
  return { raw: kept.join("") + raw.slice(end), options };
}

function parseTags(value: string): string[] {
  const tags = [...new Set(value.split(",").map((t) => t.trim()).filter(Boolean))];
  if (tags.length > MAX_TAGS) {
    throw new SubmissionHeaderError(HEADERS.tags, `at most ${MAX_TAGS} tags`);
  }
  const bad = tags.find((t) => !TAG.test(t));
  if (bad !== undefined) {
    throw new SubmissionHeaderError(
      HEADERS.tags,
      `"${bad.slice(0, 70)}" is not a tag (1-64 letters, digits or _ . : / -, comma-separated)`,
    );
  }
  return tags;
}

/**
 * "opens,clicks", "opens", "clicks" or "none". The pipeline tracks a message wholly or not at
 * all, so naming either turns tracking on.
 */
function parseTrack(value: string): boolean {
  const words = value.toLowerCase().split(",").map((w) => w.trim()).filter(Boolean);
  if (!words.length || words.some((w) => !["opens", "clicks", "none"].includes(w))) {
    throw new SubmissionHeaderError(HEADERS.track, "expected opens, clicks, opens,clicks or none");
  }
  if (words.includes("none") && words.length > 1) {
    throw new SubmissionHeaderError(HEADERS.track, "none cannot be combined with opens or clicks");
  }
  return !words.includes("none");
}

/** "key=value; key2=value2": returned in events and webhooks with the message. */
function parseMetadata(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  const pairs = value.split(";").map((p) => p.trim()).filter(Boolean);
  if (pairs.length > MAX_META) {
    throw new SubmissionHeaderError(HEADERS.metadata, `at most ${MAX_META} key=value pairs`);
  }
  for (const pair of pairs) {
    const i = pair.indexOf("=");
    const key = i < 0 ? pair : pair.slice(0, i).trim();
    const v = i < 0 ? "" : pair.slice(i + 1).trim();
    if (i < 0 || !META_KEY.test(key) || v.length > 256) {
      throw new SubmissionHeaderError(
        HEADERS.metadata,
        `expected key=value pairs separated by ; (keys of letters, digits, _ . -; values up to 256 characters), not "${
          pair.slice(0, 70)
        }"`,
      );
    }
    out[key] = v;
  }
  return out;
}
