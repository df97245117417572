/**
 * Builds the ONNX graphs netanomaly runs and exports: nearest-centroid search as one matrix
 * product (‖x‖² − 2x·cᵀ + ‖c‖²). The same builder serves the ONNX Runtime distance engine
 * (centres as a graph input, changing every Lloyd iteration) and the exported model (centres
 * and score scaling baked in as initializers). Models are plain data: no custom operators.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
const FLOAT = 1;
const INT64 = 7;
const INT32 = 6;
export const OPSET = 13;

type Dim = number | string;

function valueInfo(name: string, elemType: number, dims: Dim[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType,
        shape: onnx.TensorShapeProto.create({
          dim: dims.map((d) =>
            typeof d === 'number'
              ? onnx.TensorShapeProto.Dimension.create({ dimValue: d })
              : onnx.TensorShapeProto.Dimension.create({ dimParam: d }),
          ),
        }),
      }),
    }),
  });
}

function floatTensor(name: string, dims: number[], values: ArrayLike<number>) {
  return onnx.TensorProto.create({ name, dataType: FLOAT, dims, floatData: Array.from(values) });
}

function int64Tensor(name: string, dims: number[], values: number[]) {
  return onnx.TensorProto.create({ name, dataType: INT64, dims, int64Data: values });
}

function node(
  opType: string,
  inputs: string[],
  outputs: string[],
  attrs: Record<string, number | number[]> = {},
) {
  const attribute = Object.entries(attrs).map(([name, v]) =>
    Array.isArray(v)
      ? onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v })
      : onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: v }),
  );
  return onnx.NodeProto.create({ opType, input: inputs, output: outputs, name: outputs[0], attribute });
}

/** Nodes computing clamped squared distances `${p}d2` [N,K] between X [N,D] and centres C [K,D]. */
function distanceNodes(x: string, c: string, p: string) {
  return [
    node('Mul', [x, x], [`${p}xx`]),
    node('ReduceSum', [`${p}xx`, 'axes_1'], [`${p}x2`], { keepdims: 1 }),
    node('Mul', [c, c], [`${p}cc`]),
    node('ReduceSum', [`${p}cc`, 'axes_1'], [`${p}c2`], { keepdims: 0 }),
    node('Transpose', [c], [`${p}ct`], { perm: [1, 0] }),
    node('MatMul', [x, `${p}ct`], [`${p}xc`]),
    node('Mul', [`${p}xc`, 'minus_two'], [`${p}m2xc`]),
    node('Add', [`${p}m2xc`, `${p}x2`], [`${p}s1`]),
    node('Add', [`${p}s1`, `${p}c2`], [`${p}s2`]),
    node('Max', [`${p}s2`, 'zero'], [`${p}d2`]),
  ];
}

const sharedConstants = () => [
  int64Tensor('axes_1', [1], [1]),
  floatTensor('minus_two', [], [-2]),
  floatTensor('zero', [], [0]),
];

function model(graph: ReturnType<typeof onnx.GraphProto.create>, docString: string): Uint8Array {
  const m = onnx.ModelProto.create({
    irVersion: 7,
    producerName: 'netanomaly',
    producerVersion: '0.1.0',
    docString,
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: OPSET })],
    graph,
  });
  return onnx.ModelProto.encode(m).finish();
}

/**
 * The engine graph: inputs X [N,D], `C_m2` = −2·C [K,D] and `c2` = ‖c‖² [K]; one Gemm gives
 * s = ‖c‖² − 2x·c [N,K], whose argmin over centres is the nearest centre (‖x‖² is the same for
 * every centre, so the caller adds it back). Outputs `labels` (int32 [N]) and `s_min` [N]; mode
 * 'full' adds `s` [N,K].
 */
export function nearestCentroidGraph(d: number, mode: 'nearest' | 'full' = 'nearest'): Uint8Array {
  const outputs = [valueInfo('labels', INT32, ['N']), valueInfo('s_min', FLOAT, ['N'])];
  if (mode === 'full') outputs.push(valueInfo('s', FLOAT, ['N', 'K']));
  const nodes = [
    node('Gemm', ['X', 'C_m2', 'c2'], ['s'], { transB: 1 }),
    node('ArgMin', ['s'], ['labels64'], { axis: 1, keepdims: 0 }),
    node('Cast', ['labels64'], ['labels'], { to: INT32 }),
    node('ReduceMin', ['s'], ['s_min'], { axes: [1], keepdims: 0 }),
  ];
  const graph = onnx.GraphProto.create({
    name: 'nearest_centroid',
    node: nodes,
    input: [
      valueInfo('X', FLOAT, ['N', d]),
      valueInfo('C_m2', FLOAT, ['K', d]),
      valueInfo('c2', FLOAT, ['K']),
    ],
    output: outputs,
  });
  return model(graph, 'netanomaly nearest-centroid engine graph');
}

/** One K-Means run of a detector, as the exported model sees it. */
export interface ExportRun {
  centers: Float32Array;
  k: number;
  /** The run's distances are divided by this before runs are averaged. */
  scale: number;
}

/**
 * The exported detector: input `features` [N,D] (the preprocessed matrix, see model.json for the
 * preprocessing), outputs `distances` [N,K0] (Euclidean, to the first run's centres), `cluster`
 * (int64 [N], nearest centre of the first run) and `anomaly_score` [N] (mean over runs of the
 * distance to the run's nearest centre divided by its scale; higher = more anomalous).
 */
export function detectorGraph(d: number, runs: ExportRun[]): Uint8Array {
  if (runs.length === 0) throw new Error('detectorGraph needs at least one run');
  const nodes = [];
  const initializer = sharedConstants();
  const runScores: string[] = [];
  runs.forEach((run, r) => {
    const p = `r${r}_`;
    initializer.push(floatTensor(`${p}C`, [run.k, d], run.centers));
    initializer.push(floatTensor(`${p}inv_scale`, [], [1 / run.scale]));
    nodes.push(...distanceNodes('features', `${p}C`, p));
    nodes.push(node('ReduceMin', [`${p}d2`], [`${p}min_d2`], { axes: [1], keepdims: 0 }));
    nodes.push(node('Sqrt', [`${p}min_d2`], [`${p}min_d`]));
    nodes.push(node('Mul', [`${p}min_d`, `${p}inv_scale`], [`${p}score`]));
    runScores.push(`${p}score`);
  });
  nodes.push(node('Sqrt', ['r0_d2'], ['distances']));
  nodes.push(node('ArgMin', ['r0_d2'], ['cluster'], { axis: 1, keepdims: 0 }));
  nodes.push(node('Mean', runScores, ['anomaly_score']));
  const graph = onnx.GraphProto.create({
    name: 'netanomaly_detector',
    node: nodes,
    initializer,
    input: [valueInfo('features', FLOAT, ['N', d])],
    output: [
      valueInfo('distances', FLOAT, ['N', runs[0]!.k]),
      valueInfo('cluster', INT64, ['N']),
      valueInfo('anomaly_score', FLOAT, ['N']),
    ],
  });
  return model(graph, 'netanomaly K-Means anomaly detector: higher anomaly_score = more anomalous');
}

/** How the encoded graph adds the categorical part of the distances (see nearestEncodedGraph). */
export type CategoricalBias = { mode: 'combo' } | { mode: 'fields'; fields: number };

/**
 * The engine graph for encoded rows (src/features/encoded.ts), for several centre sets at once
 * (the runs of an ensemble): input `X` [N,D] holds the numeric columns only. With bias
 * {mode:'combo'}, `combo` (int32 [N]) indexes the rows of each run's `B_r` [combos,K_r]: the
 * squared norm of each centre plus the categorical part of the distance for that combination of
 * category codes; with {mode:'fields', fields: F}, inputs `code_f` (int32 [N]) index per-field
 * tables `B_r_f` [width_f,K_r] (−2·w_f·c) that are summed with `c2_r` [K_r]. Per run r, one Gemm
 * gives s = bias − 2·x·c [N,K_r] (‖x‖² left out: it does not change the argmin); output
 * `labels_r` (int32 [N], nearest centre). The exact float64 distance to that centre is the
 * caller's (engine-encoded.ts, encodedDist2): in this graph it took a quarter of the kernel time.
 */
export function nearestEncodedGraph(d: number, ks: readonly number[], bias: CategoricalBias): Uint8Array {
  const inputs = [valueInfo('X', FLOAT, ['N', d])];
  const outputs: ReturnType<typeof valueInfo>[] = [];
  const nodes: ReturnType<typeof node>[] = [];
  if (bias.mode === 'combo') inputs.push(valueInfo('combo', INT32, ['N']));
  else for (let f = 0; f < bias.fields; f++) inputs.push(valueInfo(`code_${f}`, INT32, ['N']));
  ks.forEach((k, r) => {
    inputs.push(valueInfo(`C_m2_${r}`, FLOAT, [k, d]));
    if (bias.mode === 'combo') {
      inputs.push(valueInfo(`B_${r}`, FLOAT, ['M', k]));
      nodes.push(node('Gather', [`B_${r}`, 'combo'], [`g_${r}`], { axis: 0 }));
    } else {
      inputs.push(valueInfo(`c2_${r}`, FLOAT, [k]));
      let acc = `c2_${r}`;
      for (let f = 0; f < bias.fields; f++) {
        inputs.push(valueInfo(`B_${r}_${f}`, FLOAT, [`W${f}`, k]));
        nodes.push(node('Gather', [`B_${r}_${f}`, `code_${f}`], [`g_${r}_${f}`], { axis: 0 }));
        nodes.push(node('Add', [`g_${r}_${f}`, acc], [`a_${r}_${f}`]));
        acc = `a_${r}_${f}`;
      }
      nodes.push(node('Identity', [acc], [`g_${r}`]));
    }
    nodes.push(
      node('Gemm', ['X', `C_m2_${r}`, `g_${r}`], [`s_${r}`], { transB: 1 }),
      node('ArgMin', [`s_${r}`], [`arg_${r}`], { axis: 1, keepdims: 0 }),
      node('Cast', [`arg_${r}`], [`labels_${r}`], { to: INT32 }),
    );
    outputs.push(valueInfo(`labels_${r}`, INT32, ['N']));
  });
  const graph = onnx.GraphProto.create({
    name: 'nearest_centroid_encoded',
    node: nodes,
    input: inputs,
    output: outputs,
  });
  return model(graph, 'netanomaly nearest-centroid engine graph for encoded rows');
}
