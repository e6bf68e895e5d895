import { ProtoWriter } from './wire';
import type { SummaryValue } from './summary';

/**
 * `Event` records, field numbers from tensorboard/compat/proto/event.proto: wall_time 1 (double,
 * seconds), step 2 (int64), and one of file_version 3, graph_def 4 (a serialized GraphDef),
 * summary 5, session_log 7; source_metadata 10 (only beside file_version).
 */
export const EVENT_FIELD = {
  wallTime: 1,
  step: 2,
  fileVersion: 3,
  graphDef: 4,
  summary: 5,
  sessionLog: 7,
  sourceMetadata: 10,
} as const;
export const SUMMARY_FIELD = { value: 1 } as const;
export const SESSION_LOG_FIELD = { status: 1, checkpointPath: 2, msg: 3 } as const;
export const SOURCE_METADATA_FIELD = { writer: 1 } as const;
/** SessionLog.SessionStatus. */
export const SESSION_LOG_START = 1;

export const FILE_VERSION = 'brain.Event:2';

export type EventBody =
  | { kind: 'fileVersion'; writer: string }
  | { kind: 'graphDef'; graphDef: Uint8Array }
  | { kind: 'summary'; values: readonly SummaryValue[] }
  | { kind: 'sessionStart' };

export function encodeEvent(wallTimeSeconds: number, step: number, body: EventBody): Uint8Array {
  const writer = new ProtoWriter().double(EVENT_FIELD.wallTime, wallTimeSeconds);
  if (step !== 0) writer.int64(EVENT_FIELD.step, step);
  switch (body.kind) {
    case 'fileVersion':
      writer.string(EVENT_FIELD.fileVersion, FILE_VERSION);
      writer.message(EVENT_FIELD.sourceMetadata, (source) => source.string(SOURCE_METADATA_FIELD.writer, body.writer));
      break;
    case 'graphDef':
      writer.bytes(EVENT_FIELD.graphDef, body.graphDef);
      break;
    case 'summary':
      writer.message(EVENT_FIELD.summary, (summary) => {
        for (const value of body.values) summary.bytes(SUMMARY_FIELD.value, value.encoded);
      });
      break;
    case 'sessionStart':
      writer.message(EVENT_FIELD.sessionLog, (log) => log.uint(SESSION_LOG_FIELD.status, SESSION_LOG_START));
      break;
  }
  return writer.finish();
}
