import { ProtoWriter } from './wire';
import { SUMMARY_VALUE_FIELD, TENSOR_FIELD, DT_FLOAT, writePluginMetadata, type SummaryValue } from './summary';

/**
 * The HParams plugin's data. Its payload lives in the summary's metadata, not its value:
 * `SummaryMetadata.plugin_data {plugin_name: "hparams", content: HParamsPluginData}`, under the
 * tags of tensorboard/plugins/hparams/metadata.py. Field numbers from
 * tensorboard/plugins/hparams/plugin_data.proto (HParamsPluginData, SessionStartInfo,
 * SessionEndInfo), api.proto (Experiment, HParamInfo, MetricInfo, MetricName, Interval and the
 * DataType, DatasetType and Status enums) and google/protobuf/struct.proto (Value, ListValue).
 *
 * How TensorBoard puts it together: the experiment (which hyperparameters and metrics to show)
 * may sit in any run, such as the sweep's root; each trial's run holds its session start info
 * (that trial's values) and end info (its status); a metric named {group, tag} is the scalar
 * `tag` of the run `<trial run><group>`, so with the trial's scalars in its own run, group is ''.
 * TensorBoard keeps the first metadata of each tag per run, so each is written once per run.
 */

export const HPARAMS_PLUGIN_NAME = 'hparams';
export const HPARAMS_EXPERIMENT_TAG = '_hparams_/experiment';
export const HPARAMS_SESSION_START_TAG = '_hparams_/session_start_info';
export const HPARAMS_SESSION_END_TAG = '_hparams_/session_end_info';

export const HPARAMS_PLUGIN_DATA_FIELD = { version: 1, experiment: 2, sessionStartInfo: 3, sessionEndInfo: 4 } as const;
export const EXPERIMENT_FIELD = { description: 1, user: 2, timeCreatedSecs: 3, hparamInfos: 4, metricInfos: 5, name: 6 } as const;
export const HPARAM_INFO_FIELD = { name: 1, displayName: 2, description: 3, type: 4, domainDiscrete: 5, domainInterval: 6 } as const;
export const INTERVAL_FIELD = { minValue: 1, maxValue: 2 } as const;
export const METRIC_INFO_FIELD = { name: 1, displayName: 3, description: 4, datasetType: 5 } as const;
export const METRIC_NAME_FIELD = { group: 1, tag: 2 } as const;
export const SESSION_START_FIELD = { hparams: 1, modelUri: 2, monitorUrl: 3, groupName: 4, startTimeSecs: 5 } as const;
export const SESSION_END_FIELD = { status: 1, endTimeSecs: 2 } as const;
export const STRUCT_VALUE_FIELD = { nullValue: 1, numberValue: 2, stringValue: 3, boolValue: 4, listValue: 6 } as const;
export const LIST_VALUE_FIELD = { values: 1 } as const;

/** hparams api.proto DataType. */
const HPARAM_TYPES = { string: 1, bool: 2, number: 3 } as const;
/** hparams api.proto DatasetType. */
const DATASET_TYPES = { unknown: 0, training: 1, validation: 2 } as const;
/** hparams api.proto Status. */
const SESSION_STATUSES = { unknown: 0, success: 1, failure: 2, running: 3 } as const;

export type HParamValue = number | string | boolean;

export interface HParamInfo {
  name: string;
  displayName?: string;
  description?: string;
  /** The value type; inferred from the domain when a discrete domain is given. */
  type?: 'number' | 'string' | 'bool';
  /** Either the values tried (a discrete domain) or a real interval. */
  domain?: { values: readonly HParamValue[] } | { min: number; max: number };
}

export interface MetricInfo {
  /** The scalar's tag, e.g. `validation/accuracy`. */
  tag: string;
  /** The run suffix holding the scalar, relative to each trial's run; '' when in the trial's own run. */
  group?: string;
  displayName?: string;
  description?: string;
  datasetType?: 'training' | 'validation' | 'unknown';
}

export interface HParamsExperiment {
  hparams: readonly HParamInfo[];
  metrics: readonly MetricInfo[];
  name?: string;
  description?: string;
  user?: string;
  /** Seconds since the epoch. */
  timeCreatedSecs?: number;
}

export interface HParamsSessionStart {
  /** The trial's hyperparameters, by name (dotted config paths are fine). */
  hparams: Readonly<Record<string, HParamValue>>;
  /** Trials with the same group name are repeats of one configuration; default: the session itself. */
  groupName?: string;
  /** Where the trial's model is saved (shown, not opened). */
  modelUri?: string;
  monitorUrl?: string;
  startTimeSecs?: number;
}

export type SessionStatus = 'success' | 'failure' | 'running' | 'unknown';

export interface HParamsSessionEnd {
  status: SessionStatus;
  endTimeSecs?: number;
}

function writeStructValue(writer: ProtoWriter, where: string, value: HParamValue): void {
  if (typeof value === 'number') writer.double(STRUCT_VALUE_FIELD.numberValue, value);
  else if (typeof value === 'string') writer.string(STRUCT_VALUE_FIELD.stringValue, value);
  else if (typeof value === 'boolean') writer.bool(STRUCT_VALUE_FIELD.boolValue, value);
  else throw new TypeError(`${where}: a hyperparameter value is a number, string or boolean, got ${value === null ? 'null' : typeof value}`);
}

function typeOf(value: HParamValue): 'number' | 'string' | 'bool' {
  return typeof value === 'boolean' ? 'bool' : typeof value === 'number' ? 'number' : 'string';
}

function pluginDataValue(tag: string, build: (data: ProtoWriter) => void): SummaryValue {
  const data = new ProtoWriter();
  // version 0 (the only one) is proto3's default and so is not written.
  build(data);
  const writer = new ProtoWriter().string(SUMMARY_VALUE_FIELD.tag, tag);
  writePluginMetadata(writer, HPARAMS_PLUGIN_NAME, data.finish());
  // The value itself is unused; TensorBoard's own writer stores an empty float vector here.
  writer.message(SUMMARY_VALUE_FIELD.tensor, (tensor) => {
    tensor.uint(TENSOR_FIELD.dtype, DT_FLOAT);
    tensor.message(TENSOR_FIELD.tensorShape, (shape) => shape.message(2, () => undefined));
  });
  return { tag, encoded: writer.finish() };
}

function nonEmpty(writer: ProtoWriter, field: number, text: string | undefined): void {
  if (text !== undefined && text !== '') writer.string(field, text);
}

/** The experiment: which hyperparameters and metrics the HParams tab shows as columns. */
export function hparamsExperimentValue(experiment: HParamsExperiment): SummaryValue {
  return pluginDataValue(HPARAMS_EXPERIMENT_TAG, (data) =>
    data.message(HPARAMS_PLUGIN_DATA_FIELD.experiment, (e) => {
      nonEmpty(e, EXPERIMENT_FIELD.description, experiment.description);
      nonEmpty(e, EXPERIMENT_FIELD.user, experiment.user);
      if (experiment.timeCreatedSecs !== undefined) e.double(EXPERIMENT_FIELD.timeCreatedSecs, experiment.timeCreatedSecs);
      for (const info of experiment.hparams) {
        const where = `hparam '${info.name}'`;
        if (typeof info.name !== 'string' || info.name === '') throw new TypeError('an hparam needs a non-empty name');
        e.message(EXPERIMENT_FIELD.hparamInfos, (h) => {
          h.string(HPARAM_INFO_FIELD.name, info.name);
          nonEmpty(h, HPARAM_INFO_FIELD.displayName, info.displayName);
          nonEmpty(h, HPARAM_INFO_FIELD.description, info.description);
          const domain = info.domain;
          const type = info.type ?? (domain !== undefined && 'values' in domain && domain.values.length > 0 ? typeOf(domain.values[0]!) : domain !== undefined && 'min' in domain ? 'number' : undefined);
          if (type !== undefined) h.uint(HPARAM_INFO_FIELD.type, HPARAM_TYPES[type]);
          if (domain !== undefined && 'values' in domain) {
            for (const value of domain.values) {
              if (typeOf(value) !== type) throw new TypeError(`${where}: the domain mixes types (${JSON.stringify(value)} is not a ${type})`);
            }
            h.message(HPARAM_INFO_FIELD.domainDiscrete, (list) => {
              for (const value of domain.values) list.message(LIST_VALUE_FIELD.values, (v) => writeStructValue(v, where, value));
            });
          } else if (domain !== undefined) {
            if (!(domain.min <= domain.max)) throw new RangeError(`${where}: the interval [${domain.min}, ${domain.max}] is empty`);
            h.message(HPARAM_INFO_FIELD.domainInterval, (interval) => {
              interval.double(INTERVAL_FIELD.minValue, domain.min);
              interval.double(INTERVAL_FIELD.maxValue, domain.max);
            });
          }
        });
      }
      for (const metric of experiment.metrics) {
        if (typeof metric.tag !== 'string' || metric.tag === '') throw new TypeError('a metric needs a non-empty tag');
        e.message(EXPERIMENT_FIELD.metricInfos, (m) => {
          m.message(METRIC_INFO_FIELD.name, (name) => {
            nonEmpty(name, METRIC_NAME_FIELD.group, metric.group);
            name.string(METRIC_NAME_FIELD.tag, metric.tag);
          });
          nonEmpty(m, METRIC_INFO_FIELD.displayName, metric.displayName);
          nonEmpty(m, METRIC_INFO_FIELD.description, metric.description);
          const datasetType = DATASET_TYPES[metric.datasetType ?? 'unknown'];
          if (datasetType !== 0) m.uint(METRIC_INFO_FIELD.datasetType, datasetType);
        });
      }
      nonEmpty(e, EXPERIMENT_FIELD.name, experiment.name);
    }),
  );
}

/** A trial's hyperparameter values, written in the trial's own run. */
export function hparamsSessionStartValue(start: HParamsSessionStart): SummaryValue {
  return pluginDataValue(HPARAMS_SESSION_START_TAG, (data) =>
    data.message(HPARAMS_PLUGIN_DATA_FIELD.sessionStartInfo, (s) => {
      // Sorted: the same trial always encodes to the same bytes.
      for (const name of Object.keys(start.hparams).sort()) {
        s.message(SESSION_START_FIELD.hparams, (entry) => {
          entry.string(1, name);
          entry.message(2, (v) => writeStructValue(v, `hparam '${name}'`, start.hparams[name]!));
        });
      }
      nonEmpty(s, SESSION_START_FIELD.modelUri, start.modelUri);
      nonEmpty(s, SESSION_START_FIELD.monitorUrl, start.monitorUrl);
      nonEmpty(s, SESSION_START_FIELD.groupName, start.groupName);
      if (start.startTimeSecs !== undefined) s.double(SESSION_START_FIELD.startTimeSecs, start.startTimeSecs);
    }),
  );
}

/** How a trial ended. */
export function hparamsSessionEndValue(end: HParamsSessionEnd): SummaryValue {
  const status = SESSION_STATUSES[end.status];
  if (status === undefined) throw new TypeError(`unknown session status '${String(end.status)}' (expected success, failure, running or unknown)`);
  return pluginDataValue(HPARAMS_SESSION_END_TAG, (data) =>
    data.message(HPARAMS_PLUGIN_DATA_FIELD.sessionEndInfo, (s) => {
      if (status !== 0) s.uint(SESSION_END_FIELD.status, status);
      if (end.endTimeSecs !== undefined) s.double(SESSION_END_FIELD.endTimeSecs, end.endTimeSecs);
    }),
  );
}
