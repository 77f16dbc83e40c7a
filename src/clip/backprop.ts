// Reverse-mode gradients that free as they go. tfjs's own backward (engine.gradients) keeps every
// intermediate gradient and every tensor the forward saved for the backward until the whole backward
// ends, so its peak is all activations plus all their gradients. Here the backward walks the same tape
// in the same order, running the same gradient functions and summing each tensor's contributions in
// the same order, so every value is bitwise tfjs's; but once a node is done, its outputs' gradients
// and the tensors it saved are freed, since nothing later reads them. Peak memory is then the
// activations not yet reached plus a few gradients at a time.
//
// It reads tfjs's engine state (4.x: activeTape, gradientDepth, a node's inputs/outputs/gradient/
// saved), as recompute.ts does; test/unit/backprop.test.ts checks values and memory against
// tf.variableGrads, and fails if that state changes. Inside a higher-order gradient (a tape still
// recording around this one) it defers to tfjs's own backward, which must keep the tape.
import * as tf from '@tensorflow/tfjs';

/** The fields of a tfjs tape node this file reads. */
interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  startTape(): void;
  endTape(): void;
  tidy<T extends tf.TensorContainer>(f: () => T): T;
}

const engine = () => tf.engine() as unknown as EngineInternals;

/** The nodes on a path from some x in `xs` to y, in tape order, their inputs cut to those that depend on an x. */
function nodesFromXToY(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      for (const o of node.outputs) fromX.add(o.id);
      nodesFromX.add(node.id);
    }
  }
  const toY = new Set<number>([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.outputs.some((o) => toY.has(o.id))) {
      for (const t of Object.values(node.inputs)) toY.add(t.id);
      nodesToY.add(node.id);
    }
  }
  const out: TapeNode[] = [];
  for (const node of tape) {
    if (!nodesFromX.has(node.id) || !nodesToY.has(node.id)) continue;
    const inputs: Record<string, tf.Tensor> = {};
    for (const name in node.inputs) if (fromX.has(node.inputs[name].id)) inputs[name] = node.inputs[name];
    out.push({ ...node, inputs });
  }
  return out;
}

/**
 * tfjs's engine.gradients(f, xs, dy, true), freeing each node's output gradients and saved tensors
 * once the node is done. Returns y = f() and dy/dx for each x (undefined where y does not depend on x).
 */
export function gradientsFreeing(f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor): { value: tf.Tensor; grads: (tf.Tensor | undefined)[] } {
  if (xs.length === 0) throw new Error('gradientsFreeing: no xs to take the gradient with respect to');
  if (dy !== undefined && dy.dtype !== 'float32') throw new Error(`gradientsFreeing: dy must be float32, got ${dy.dtype}`);
  const e = engine();
  if (e.state.gradientDepth > 0) {
    // a higher-order gradient: the outer tape needs this one's nodes and saved tensors
    const r = tf.engine().gradients(f, xs, dy, true);
    return { value: r.value, grads: r.grads.map((g) => g ?? undefined) };
  }
  let y: tf.Tensor;
  e.startTape();
  try {
    y = e.tidy(f);
  } finally {
    e.endTape();
  }
  if (!(y instanceof tf.Tensor)) throw new Error('gradientsFreeing: f must return a tensor');
  const tape = e.state.activeTape as TapeNode[];
  const nodes = nodesFromXToY(tape, xs, y);
  const keepIds = new Set(xs.map((x) => x.id));
  return e.tidy(() => {
    const grad = new Map<number, tf.Tensor>();
    const seed = dy ?? tf.ones(y.shape);
    grad.set(y.id, seed);
    for (let i = nodes.length - 1; i >= 0; i--) {
      const node = nodes[i];
      if (!node.gradient) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
      const dys = node.outputs.map((o) => grad.get(o.id) ?? null);
      const names = Object.keys(node.inputs);
      // the node's gradient and each input's dx, as tfjs runs them; what they make besides the dxs dies here
      const dxs = e.tidy(() => {
        const g = (node.gradient as NonNullable<TapeNode['gradient']>)(dys);
        return names.map((name) => {
          if (!(name in g)) throw new Error(`Cannot backprop through input ${name}. Available gradients found: ${Object.keys(g)}.`);
          return g[name]();
        });
      });
      const spent: tf.Tensor[] = []; // dxs summed into a gradient: garbage unless held elsewhere
      names.forEach((name, k) => {
        const x = node.inputs[name];
        const dx = dxs[k];
        if (dx.dtype !== 'float32') throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input ${name} must have 'float32' dtype, but has '${dx.dtype}'`);
        if (!tf.util.arraysEqual(dx.shape, x.shape)) throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input '${name}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`);
        const cur = grad.get(x.id);
        if (cur === undefined) {
          grad.set(x.id, dx);
        } else {
          grad.set(x.id, tf.add(cur, dx));
          cur.dispose(); // as tfjs does
          spent.push(dx);
        }
      });
      // done with this node: its outputs' gradients (unless wanted) and the spent dxs, where no
      // gradient still pending is the same tensor (a gradient function may pass dy on as a dx)
      node.outputs.forEach((o, k) => { if (dys[k] && !keepIds.has(o.id)) grad.delete(o.id); });
      const pending = new Set(grad.values());
      for (const t of new Set([...dys, ...spent])) if (t && t !== dy && !pending.has(t)) t.dispose();
      for (const t of node.saved ?? []) t.dispose();
    }
    const grads = xs.map((x) => grad.get(x.id));
    // the whole tape's saved tensors (nodes off the path included), as tfjs frees them at the end
    for (const node of tape) for (const t of node.saved ?? []) t.dispose();
    e.state.activeTape = null;
    return { value: y, grads: grads as tf.Tensor[] };
  }) as { value: tf.Tensor; grads: (tf.Tensor | undefined)[] };
}

/** tf.variableGrads(f, vars) through gradientsFreeing: the same values, a lower peak. */
export function variableGradsFreeing(f: () => tf.Scalar, vars: tf.Variable[]): { value: tf.Scalar; grads: Record<string, tf.Tensor> } {
  const trainable = vars.filter((v) => v.trainable);
  if (trainable.length === 0) throw new Error(`variableGradsFreeing: none of the ${vars.length} variables is trainable`);
  const { value, grads } = gradientsFreeing(f, trainable);
  if (!grads.some((g) => g !== undefined)) {
    tf.dispose(value);
    throw new Error('variableGradsFreeing: the loss does not depend on any of the variables');
  }
  if (value.rank !== 0) {
    tf.dispose([value, ...grads.filter((g): g is tf.Tensor => g !== undefined)]);
    throw new Error(`variableGradsFreeing: f must return a scalar, but it returned a rank-${value.rank} tensor`);
  }
  const named: Record<string, tf.Tensor> = {};
  trainable.forEach((v, i) => { if (grads[i]) named[v.name] = grads[i] as tf.Tensor; });
  return { value: value as tf.Scalar, grads: named };
}
