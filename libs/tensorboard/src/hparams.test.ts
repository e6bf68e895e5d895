import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEventWriter, hparamsExperimentValue, hparamsSessionEndValue, type HParamValue } from './index';
import { decodeMessage, doubleField, messageField, messageFields, readEventFile, readSummaryValue, stringField, varintField, type TestSummaryValue, type WireMessage } from './test-reader';

const root = mkdtempSync(join(tmpdir(), 'dlexp-tensorboard-hparams-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** google.protobuf.Value (struct.proto): number_value 2, string_value 3, bool_value 4. */
function readStructValue(value: WireMessage): HParamValue {
  const number = doubleField(value, 2);
  if (number !== undefined) return number;
  const text = stringField(value, 3);
  if (text !== undefined) return text;
  const flag = varintField(value, 4);
  if (flag !== undefined) return flag === 1n;
  throw new Error('a Value with no kind set');
}

/** HParamsPluginData (plugin_data.proto): version 1, experiment 2, session_start_info 3, session_end_info 4. */
function pluginData(value: TestSummaryValue): WireMessage {
  expect(value.pluginName).toBe('hparams');
  // The value itself is TensorBoard's null tensor: an empty float vector (dtype 1, shape [0]).
  expect(value.tensor).toEqual({ dtype: 1, shape: [0], stringVal: [], floatVal: [] });
  const data = decodeMessage(value.pluginContent!);
  // version 0, proto3's default, written as nothing.
  expect(varintField(data, 1) ?? 0n).toBe(0n);
  return data;
}

function hparamValues(): Record<string, HParamValue> {
  return { 'optimizer.learningRate': 0.01, 'optimizer.type': 'adam', 'model.batchNorm': true, 'training.batchSize': 64 };
}

function writeSweepTrial(): string {
  const writer = createEventWriter({ logdir: join(root, `trial-${Math.random().toString(36).slice(2)}`), hostname: 'h', now: () => 1_700_000_000_000 });
  writer.addHParamsExperiment({
    name: 'lr-sweep',
    description: 'learning rate against batch norm',
    timeCreatedSecs: 1_700_000_000,
    hparams: [
      { name: 'optimizer.learningRate', displayName: 'learning rate', domain: { min: 1e-4, max: 1e-1 } },
      { name: 'optimizer.type', domain: { values: ['adam', 'sgd'] } },
      { name: 'model.batchNorm', domain: { values: [true, false] } },
      { name: 'training.batchSize', domain: { values: [32, 64, 128] }, description: 'examples per step' },
      { name: 'untyped' },
    ],
    metrics: [
      { tag: 'accuracy/validation', displayName: 'validation accuracy', datasetType: 'validation' },
      { tag: 'loss', group: '/train', datasetType: 'training', description: 'cross-entropy' },
    ],
  });
  writer.addHParamsSessionStart({ hparams: hparamValues(), groupName: 'group-1', modelUri: 'runs/trial-1/model', startTimeSecs: 1_700_000_001 });
  writer.addScalar('accuracy/validation', 0.9, 100);
  writer.addHParamsSessionEnd({ status: 'success', endTimeSecs: 1_700_000_500 });
  writer.close();
  return writer.path;
}

describe('hparams plugin data', () => {
  const { events } = readEventFile(readFileSync(writeSweepTrial()));
  const values = events.flatMap((e) => (e.summary ?? []).map((value) => ({ step: e.step, value })));
  const byTag = new Map(values.map((v) => [v.value.tag, v]));

  it('uses the plugin\'s tags, the session end at the step the run reached', () => {
    expect(values.map((v) => v.value.tag)).toEqual(['_hparams_/experiment', '_hparams_/session_start_info', 'accuracy/validation', '_hparams_/session_end_info']);
    expect(byTag.get('_hparams_/session_end_info')!.step).toBe(100);
  });

  it('describes the experiment: hyperparameters with their types and domains, metrics with their names', () => {
    const experiment = messageField(pluginData(byTag.get('_hparams_/experiment')!.value), 2)!;
    // Experiment (api.proto): name 6, description 1, time_created_secs 3, hparam_infos 4, metric_infos 5.
    expect(stringField(experiment, 6)).toBe('lr-sweep');
    expect(stringField(experiment, 1)).toBe('learning rate against batch norm');
    expect(doubleField(experiment, 3)).toBe(1_700_000_000);
    // HParamInfo: name 1, display_name 2, description 3, type 4 (STRING 1, BOOL 2, FLOAT64 3), domain_discrete 5, domain_interval 6.
    const infos = messageFields(experiment, 4);
    expect(infos.map((h) => [stringField(h, 1), Number(varintField(h, 4) ?? 0n)])).toEqual([
      ['optimizer.learningRate', 3],
      ['optimizer.type', 1],
      ['model.batchNorm', 2],
      ['training.batchSize', 3],
      ['untyped', 0],
    ]);
    expect(stringField(infos[0]!, 2)).toBe('learning rate');
    const interval = messageField(infos[0]!, 6)!;
    expect([doubleField(interval, 1), doubleField(interval, 2)]).toEqual([1e-4, 1e-1]);
    // ListValue: values 1.
    const discrete = (h: WireMessage) => messageFields(messageField(h, 5)!, 1).map(readStructValue);
    expect(discrete(infos[1]!)).toEqual(['adam', 'sgd']);
    expect(discrete(infos[2]!)).toEqual([true, false]);
    expect(discrete(infos[3]!)).toEqual([32, 64, 128]);
    expect(stringField(infos[3]!, 3)).toBe('examples per step');
    expect(infos[4]!.has(5) || infos[4]!.has(6)).toBe(false);
    // MetricInfo: name 1 (MetricName: group 1, tag 2), display_name 3, description 4, dataset_type 5 (TRAINING 1, VALIDATION 2).
    const metrics = messageFields(experiment, 5);
    expect(metrics.map((m) => [stringField(messageField(m, 1)!, 1) ?? '', stringField(messageField(m, 1)!, 2), Number(varintField(m, 5))])).toEqual([
      ['', 'accuracy/validation', 2],
      ['/train', 'loss', 1],
    ]);
    expect(stringField(metrics[0]!, 3)).toBe('validation accuracy');
    expect(stringField(metrics[1]!, 4)).toBe('cross-entropy');
  });

  it('records the trial\'s hyperparameters in its session start info', () => {
    const start = messageField(pluginData(byTag.get('_hparams_/session_start_info')!.value), 3)!;
    // SessionStartInfo: hparams 1 (map entries key 1, value 2), model_uri 2, group_name 4, start_time_secs 5.
    const hparams = Object.fromEntries(messageFields(start, 1).map((entry) => [stringField(entry, 1), readStructValue(messageField(entry, 2)!)]));
    expect(hparams).toEqual(hparamValues());
    expect(stringField(start, 2)).toBe('runs/trial-1/model');
    expect(stringField(start, 4)).toBe('group-1');
    expect(doubleField(start, 5)).toBe(1_700_000_001);
  });

  it('records how the trial ended in its session end info', () => {
    const end = messageField(pluginData(byTag.get('_hparams_/session_end_info')!.value), 4)!;
    // SessionEndInfo: status 1 (SUCCESS 1, FAILURE 2, RUNNING 3), end_time_secs 2.
    expect(varintField(end, 1)).toBe(1n);
    expect(doubleField(end, 2)).toBe(1_700_000_500);
    const statuses = (['unknown', 'success', 'failure', 'running'] as const).map((status) => {
      const data = pluginData(readSummaryValue(decodeMessage(hparamsSessionEndValue({ status }).encoded)));
      return Number(varintField(messageField(data, 4)!, 1) ?? 0n);
    });
    expect(statuses).toEqual([0, 1, 2, 3]);
  });

  it('rejects values the plugin cannot hold', () => {
    expect(() => hparamsExperimentValue({ hparams: [{ name: 'x', domain: { values: [1, 'a'] } }], metrics: [] })).toThrow(/hparam 'x': the domain mixes types \("a" is not a number\)/);
    expect(() => hparamsExperimentValue({ hparams: [{ name: 'x', domain: { min: 2, max: 1 } }], metrics: [] })).toThrow(/hparam 'x': the interval \[2, 1\] is empty/);
    expect(() => hparamsExperimentValue({ hparams: [{ name: '' }], metrics: [] })).toThrow(/non-empty name/);
    expect(() => hparamsExperimentValue({ hparams: [], metrics: [{ tag: '' }] })).toThrow(/non-empty tag/);
    expect(() => hparamsSessionEndValue({ status: 'done' as 'success' })).toThrow(/unknown session status 'done'/);
    const writer = createEventWriter({ logdir: join(root, 'bad'), hostname: 'h' });
    expect(() => writer.addHParamsSessionStart({ hparams: { dropout: null as unknown as number } })).toThrow(/hparam 'dropout': a hyperparameter value is a number, string or boolean, got null/);
    writer.close();
  });
});
