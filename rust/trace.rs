//! Traced steps (issue 15, part 1): `fit`/`evaluate`/`predict` run a step once eagerly under a
//! recorder that captures, on the calling thread, every kernel the step dispatches (forward
//! ops, the tape's backward ops, the fused optimizer update, variable assignments, metric
//! updates) into a [`Graph`]; later batches of the same signature replay that graph with one
//! call from Python (`TracedGraph.run`), no Python per op and the GIL released.
//!
//! Values are numbered slots. A slot is defined by a recorded node, or enters from outside:
//! - a bound input (the batch tensors, given by position at replay),
//! - a variable (model weights, optimizer slots, metric state: read and written in place at
//!   replay, by identity, under their write locks for the whole step),
//! - a constant (any other tensor the step met: Python scalars and arrays made during the
//!   step, captured once).
//!
//! Tensors made outside the dispatcher are recorded too: a view of a recorded buffer (reshape,
//! `stop_gradient`) becomes a `View` node, a row-major copy (`Tensor::contiguous`) a
//! `Contiguous` node, `Variable.assign` an `Assign` node. What cannot be replayed makes the
//! trace fail with a reason (the trainer then runs the step eagerly and warns): a tensor value
//! read into Python during the step, a gpu tensor, a write to a tensor that is not a listed
//! variable. Random ops are replayed with their streams moved on (`run`'s `random` offsets).
//!
//! Memory: liveness is computed once when the graph is built; each intermediate is dropped
//! right after its last use (its float32 buffer goes back to the size-keyed reuse pool in
//! `tensor/reuse.rs`, where the next step's kernel of the same size takes it), and an in-place
//! update takes its targets without a copy when the update is their last use.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::device::{self, Device};
use crate::error::{Error, Result};
use crate::ops::Op;
use crate::tensor::layout::Layout;
use crate::tensor::pytensor::{to_tensor, PyTensor};
use crate::tensor::{fresh_id, Buffer, DType, Tensor};

pyo3::create_exception!(
    rskeras,
    TraceError,
    pyo3::exceptions::PyRuntimeError,
    "A step that cannot be traced; the message names the reason."
);

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    /// Nesting of dispatches on this thread: only the outermost one is a node (a kernel that
    /// dispatches ops itself is replayed as one).
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    static REC: RefCell<Option<Recorder>> = const { RefCell::new(None) };
}

/// Whether this thread is recording (one thread-local read: the dispatcher asks on every op).
#[inline]
pub fn active() -> bool {
    ACTIVE.with(Cell::get)
}

/// Leaves the dispatch depth as it found it, also when the kernel panics.
struct DepthGuard;

impl Drop for DepthGuard {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Run one dispatch; `Some(result)` when it is the outermost one (to be recorded).
fn outermost<T>(run: impl FnOnce() -> T) -> (T, bool) {
    let depth = DEPTH.with(|d| {
        let v = d.get();
        d.set(v.saturating_add(1));
        v
    });
    let _g = DepthGuard;
    (run(), depth == 0)
}

fn with_rec(f: impl FnOnce(&mut Recorder)) {
    REC.with(|r| {
        if let Ok(mut r) = r.try_borrow_mut() {
            if let Some(rec) = r.as_mut() {
                f(rec);
            }
        }
    });
}

/// `device::execute` while recording: run the kernel, then record it.
pub fn record_execute(
    op: &Op,
    inputs: &[&Tensor],
    run: impl FnOnce() -> Result<Tensor>,
) -> Result<Tensor> {
    let (out, top) = outermost(run);
    if top {
        if let Ok(t) = &out {
            with_rec(|r| r.exec(op, inputs, t));
        }
    }
    out
}

/// `device::update` while recording: run the in-place update, then record it.
pub fn record_update(
    op: &Op,
    targets: &mut [&mut Tensor],
    inputs: &[&Tensor],
    run: impl FnOnce(&mut [&mut Tensor]) -> Result<()>,
) -> Result<()> {
    let (out, top) = outermost(|| run(targets));
    if top && out.is_ok() {
        with_rec(|r| r.update(op, targets, inputs));
    }
    out
}

/// `Tensor::contiguous` made a copy of `src` outside any kernel.
pub fn on_contiguous(src: &Tensor, out: &Tensor) {
    if DEPTH.with(Cell::get) == 0 {
        with_rec(|r| r.contiguous(src, out));
    }
}

/// `Variable.assign`: the variable `after` now holds `value`'s buffer.
pub fn on_assign(value: &Tensor, after: &Tensor) {
    if DEPTH.with(Cell::get) == 0 {
        with_rec(|r| r.assign(value, after));
    }
}

/// A tensor's value was read on the host for Python (`what` says how): the step depends on a
/// value the graph cannot see, so it cannot be traced.
pub fn note_read(what: &str) {
    if active() && DEPTH.with(Cell::get) == 0 {
        with_rec(|r| {
            r.fail(format!(
                "a tensor's value was read into Python during the step ({what}); the step's \
                 Python code may depend on it"
            ))
        });
    }
}

#[derive(Clone, Debug)]
enum Kind {
    Exec(Op),
    /// In place: `inputs[..n_targets]` are the targets (their new values are the outputs).
    Update(Op, usize),
    /// The variable's new value: the input, row-major.
    Assign,
    Contiguous,
    /// A view of the input's buffer, made outside the kernels (reshape, stop_gradient).
    View {
        shape: Vec<usize>,
        layout: Option<Arc<Layout>>,
    },
}

#[derive(Clone, Debug)]
struct Node {
    kind: Kind,
    inputs: Vec<usize>,
    /// Each input's `weak` flag when recorded (a constant's weak typing is part of the op).
    weak: Vec<bool>,
    outputs: Vec<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Node,
    Input(usize),
    Var(usize),
    Const,
}

struct Recorder {
    nodes: Vec<Node>,
    /// The value each slot had when recorded (kept alive while recording, so a buffer's
    /// address names one buffer only).
    values: Vec<Tensor>,
    sources: Vec<Source>,
    by_id: HashMap<u64, usize>,
    by_buf: HashMap<usize, usize>,
    /// Tensor ids written in place (variables), and the latest slot of each variable.
    written: HashSet<u64>,
    var_last: Vec<usize>,
    var_versions: Vec<Vec<usize>>,
    var_cells: Vec<Py<PyTensor>>,
    inputs: Vec<Option<(usize, Vec<usize>, DType)>>,
    reason: Option<String>,
}

fn buf_addr(t: &Tensor) -> usize {
    Arc::as_ptr(&t.data) as *const () as usize
}

impl Recorder {
    fn fail(&mut self, reason: String) {
        if self.reason.is_none() {
            self.reason = Some(reason);
        }
    }

    fn new_slot(&mut self, t: &Tensor, source: Source) -> usize {
        self.values.push(t.clone());
        self.sources.push(source);
        let s = self.values.len() - 1;
        self.by_id.insert(t.id, s);
        self.by_buf.entry(buf_addr(t)).or_insert(s);
        s
    }

    /// The slot of `t`: recorded, a view of a recorded buffer, or a new constant.
    fn resolve(&mut self, t: &Tensor) -> usize {
        if t.device == Device::Gpu {
            self.fail(
                "a tensor lives on the gpu device (traced steps run on the CPU in this \
                 release)"
                    .into(),
            );
        }
        if let Some(&s) = self.by_id.get(&t.id) {
            if !self.written.contains(&t.id) || Arc::ptr_eq(&self.values[s].data, &t.data) {
                return s;
            }
            // A variable's value from before an in-place write, used after it.
            match self.by_buf.get(&buf_addr(t)) {
                Some(&old) if self.values[old].id == t.id => return old,
                _ => {
                    self.fail(format!(
                        "a variable's value (shape {:?}) was used after it was overwritten, and \
                         the recorder cannot tell which version it is",
                        t.shape
                    ));
                    return s;
                }
            }
        }
        if let Some(&src) = self.by_buf.get(&buf_addr(t)) {
            let s = self.new_slot(t, Source::Node);
            self.nodes.push(Node {
                kind: Kind::View {
                    shape: t.shape.clone(),
                    layout: t.layout.clone(),
                },
                inputs: vec![src],
                // A view's own flag (stop_gradient clears it), not its source's.
                weak: vec![t.weak],
                outputs: vec![s],
            });
            return s;
        }
        self.new_slot(t, Source::Const)
    }

    fn exec(&mut self, op: &Op, inputs: &[&Tensor], out: &Tensor) {
        if self.reason.is_some() {
            return;
        }
        let ins: Vec<usize> = inputs.iter().map(|t| self.resolve(t)).collect();
        if out.device == Device::Gpu {
            self.resolve(out);
        }
        let s = self.new_slot(out, Source::Node);
        self.nodes.push(Node {
            kind: Kind::Exec(op.clone()),
            inputs: ins,
            weak: inputs.iter().map(|t| t.weak).collect(),
            outputs: vec![s],
        });
    }

    /// A write to the tensor whose id is `id`: it must be a listed variable.
    fn check_writable(&mut self, id: u64, slot: usize) -> bool {
        if self.var_of(id).is_some() {
            return true;
        }
        self.fail(format!(
            "the step writes in place to a tensor of shape {:?} that is not one of the model's, \
             optimizer's or metrics' variables (a variable created during the step, or kept \
             outside them)",
            self.values[slot].shape
        ));
        false
    }

    fn var_of(&self, id: u64) -> Option<usize> {
        self.sources
            .iter()
            .enumerate()
            .find_map(|(s, src)| match src {
                Source::Var(j) if self.values[s].id == id => Some(*j),
                _ => None,
            })
    }

    fn written_slot(&mut self, after: &Tensor) -> usize {
        self.written.insert(after.id);
        let s = self.new_slot(after, Source::Node);
        self.by_buf.insert(buf_addr(after), s);
        if let Some(j) = self.var_of(after.id) {
            self.var_last[j] = s;
            self.var_versions[j].push(s);
        }
        s
    }

    fn update(&mut self, op: &Op, targets: &[&mut Tensor], inputs: &[&Tensor]) {
        if self.reason.is_some() {
            return;
        }
        let mut ins = Vec::with_capacity(targets.len() + inputs.len());
        for t in targets.iter() {
            let s = match self.by_id.get(&t.id) {
                Some(&s) => s,
                None => self.resolve(t),
            };
            if !self.check_writable(t.id, s) {
                return;
            }
            ins.push(s);
        }
        for t in inputs {
            ins.push(self.resolve(t));
        }
        let weak = targets
            .iter()
            .map(|t| t.weak)
            .chain(inputs.iter().map(|t| t.weak))
            .collect();
        let outs: Vec<usize> = targets.iter().map(|t| self.written_slot(t)).collect();
        self.nodes.push(Node {
            kind: Kind::Update(op.clone(), targets.len()),
            inputs: ins,
            weak,
            outputs: outs,
        });
    }

    fn contiguous(&mut self, src: &Tensor, out: &Tensor) {
        if self.reason.is_some() {
            return;
        }
        let i = self.resolve(src);
        let s = self.new_slot(out, Source::Node);
        self.nodes.push(Node {
            kind: Kind::Contiguous,
            inputs: vec![i],
            weak: vec![src.weak],
            outputs: vec![s],
        });
    }

    fn assign(&mut self, value: &Tensor, after: &Tensor) {
        if self.reason.is_some() {
            return;
        }
        let i = self.resolve(value);
        let cur = match self.by_id.get(&after.id) {
            Some(&s) => s,
            None => {
                self.fail(format!(
                    "the step assigns to a tensor of shape {:?} that is not one of the model's, \
                     optimizer's or metrics' variables",
                    after.shape
                ));
                return;
            }
        };
        if !self.check_writable(after.id, cur) {
            return;
        }
        let s = self.written_slot(after);
        self.nodes.push(Node {
            kind: Kind::Assign,
            inputs: vec![i],
            weak: vec![value.weak],
            outputs: vec![s],
        });
    }

    fn finish(mut self, outputs: &[Option<Tensor>]) -> Result<Graph> {
        let outs: Vec<Option<usize>> = outputs
            .iter()
            .map(|o| o.as_ref().map(|t| self.resolve(t)))
            .collect();
        if let Some(r) = self.reason.take() {
            return Err(Error::Runtime(r));
        }
        let n = self.values.len();
        // Slots that must survive to the end: outputs and each variable's last value.
        let mut keep = vec![false; n];
        for s in outs.iter().flatten() {
            keep[*s] = true;
        }
        for &s in &self.var_last {
            keep[s] = true;
        }
        let mut last_use = vec![usize::MAX; n];
        for (i, node) in self.nodes.iter().enumerate() {
            for &s in &node.inputs {
                last_use[s] = i;
            }
        }
        let mut free_after = vec![Vec::new(); self.nodes.len()];
        for s in 0..n {
            if keep[s] {
                continue;
            }
            match last_use[s] {
                usize::MAX => {
                    // Never read: dropped as soon as it is made.
                    if let Some(i) = self.nodes.iter().position(|nd| nd.outputs.contains(&s)) {
                        free_after[i].push(s);
                    }
                }
                i => free_after[i].push(s),
            }
        }
        let mut consts = Vec::new();
        let mut var_first = vec![usize::MAX; self.var_cells.len()];
        for (s, src) in self.sources.iter().enumerate() {
            match src {
                Source::Const if last_use[s] != usize::MAX || keep[s] => {
                    consts.push((s, self.values[s].clone()))
                }
                Source::Var(j) => var_first[*j] = s,
                _ => {}
            }
        }
        let updates = self
            .nodes
            .iter()
            .filter(|nd| matches!(&nd.kind, Kind::Update(op, _) if !matches!(op, Op::Ema { .. })))
            .count();
        let mut vars = Vec::new();
        for (j, (cell, versions)) in self
            .var_cells
            .into_iter()
            .zip(self.var_versions)
            .enumerate()
        {
            let first = var_first[j];
            if versions.len() > 1 || last_use[first] != usize::MAX || keep[first] {
                vars.push(VarUse {
                    cell,
                    first,
                    last: self.var_last[j],
                    versions,
                });
            }
        }
        Ok(Graph {
            nodes: self.nodes,
            n_slots: n,
            inputs: self.inputs,
            vars,
            consts,
            outputs: outs,
            last_use,
            keep,
            free_after,
            updates,
        })
    }
}

struct VarUse {
    cell: Py<PyTensor>,
    first: usize,
    last: usize,
    /// Every slot that holds a value of the variable, first to last.
    versions: Vec<usize>,
}

/// A recorded step: nodes in execution order over numbered value slots.
pub struct Graph {
    nodes: Vec<Node>,
    n_slots: usize,
    inputs: Vec<Option<(usize, Vec<usize>, DType)>>,
    vars: Vec<VarUse>,
    consts: Vec<(usize, Tensor)>,
    outputs: Vec<Option<usize>>,
    last_use: Vec<usize>,
    /// Slots alive to the end (outputs, the variables' last values).
    keep: Vec<bool>,
    free_after: Vec<Vec<usize>>,
    /// Optimizer updates (the nodes whose learning rate and step a replay refreshes).
    updates: usize,
}

/// The optimizer's hyperparameters that change from step to step.
#[derive(Clone, Copy, Debug)]
pub struct StepParams {
    pub learning_rate: f32,
    pub step: u64,
}

/// A random op with its stream moved on: `counter + offset` for the offset given for its
/// seed (a `SeedGenerator` advanced since the trace), unchanged for another seed (an int
/// seed draws the same numbers at every call).
fn advanced(op: &Op, offsets: &[(u64, u64)]) -> Option<Op> {
    let (Op::RandomUniform { seed, .. } | Op::RandomNormal { seed, .. }) = op else {
        return None;
    };
    let off = offsets.iter().find(|(s, _)| s == seed)?.1;
    let mut op = op.clone();
    if let Op::RandomUniform { counter, .. } | Op::RandomNormal { counter, .. } = &mut op {
        *counter = counter.wrapping_add(off);
    }
    Some(op)
}

/// `op` with this step's learning rate and step count (the other fields are constants).
fn refreshed(op: &Op, p: Option<StepParams>) -> Result<Op> {
    let mut op = op.clone();
    if matches!(op, Op::Ema { .. }) {
        return Ok(op);
    }
    let Some(p) = p else {
        return Err(Error::Value(format!(
            "traced step: the graph updates variables with {}, but no learning rate and step \
             were given",
            op.name()
        )));
    };
    match &mut op {
        Op::Adam {
            learning_rate,
            step,
            ..
        }
        | Op::Adamax {
            learning_rate,
            step,
            ..
        }
        | Op::Lamb {
            learning_rate,
            step,
            ..
        } => {
            *learning_rate = p.learning_rate;
            *step = p.step;
        }
        Op::Sgd { learning_rate, .. }
        | Op::Rmsprop { learning_rate, .. }
        | Op::Adagrad { learning_rate, .. }
        | Op::Adadelta { learning_rate, .. }
        | Op::Ftrl { learning_rate, .. }
        | Op::Lion { learning_rate, .. } => *learning_rate = p.learning_rate,
        other => {
            return Err(Error::Value(format!(
                "traced step: {} cannot be refreshed per step",
                other.name()
            )))
        }
    }
    Ok(op)
}

impl Graph {
    fn check_inputs(&self, inputs: &[Option<Tensor>]) -> Result<()> {
        if inputs.len() != self.inputs.len() {
            return Err(Error::Value(format!(
                "traced step: expected {} inputs, got {}",
                self.inputs.len(),
                inputs.len()
            )));
        }
        for (k, (want, got)) in self.inputs.iter().zip(inputs).enumerate() {
            match (want, got) {
                (None, None) => {}
                (Some((_, shape, dtype)), Some(t))
                    if &t.shape == shape && t.dtype() == *dtype && t.device == Device::Cpu => {}
                (w, g) => {
                    return Err(Error::Value(format!(
                        "traced step: input {k} is {}, the graph was traced for {}",
                        g.as_ref().map_or("None".to_string(), |t| format!(
                            "{} {:?} on {}",
                            t.dtype().name(),
                            t.shape,
                            t.device.name()
                        )),
                        w.as_ref().map_or("None".to_string(), |(_, s, d)| format!(
                            "{} {s:?}",
                            d.name()
                        ))
                    )))
                }
            }
        }
        Ok(())
    }

    /// Run the recorded nodes. `vars[j]` are the variables (held for writing by the caller):
    /// read at their first slot, written back from their last.
    fn run(
        &self,
        inputs: &[Option<Tensor>],
        vars: &mut [&mut Tensor],
        params: Option<StepParams>,
        offsets: &[(u64, u64)],
    ) -> Result<Vec<Option<Tensor>>> {
        let mut table: Vec<Option<Tensor>> = vec![None; self.n_slots];
        for (want, got) in self.inputs.iter().zip(inputs) {
            if let (Some((s, _, _)), Some(t)) = (want, got) {
                table[*s] = Some(t.clone());
            }
        }
        for (s, t) in &self.consts {
            table[*s] = Some(t.clone());
        }
        // A variable that is written moves into the table (so the update owns its buffer and
        // writes it without a copy); a placeholder holds its place until the write-back.
        let mut meta = Vec::with_capacity(self.vars.len());
        for (v, cell) in self.vars.iter().zip(vars.iter_mut()) {
            let written = v.first != v.last;
            let t: Tensor = if written {
                std::mem::replace(&mut **cell, Tensor::new(vec![0], Buffer::F32(Vec::new())))
            } else {
                (**cell).clone()
            };
            meta.push((t.id, t.trainable_variable, t.weak, t.shape.clone(), written));
            table[v.first] = Some(t);
        }
        let result = self.run_nodes(&mut table, params, offsets);
        let outputs = match &result {
            Ok(()) => self
                .outputs
                .iter()
                .map(|o| o.and_then(|s| table[s].clone()))
                .collect(),
            Err(_) => Vec::new(),
        };
        // Write back (also after an error: each variable gets its latest value, so it never
        // keeps the placeholder).
        for ((v, cell), (id, trainable, weak, shape, written)) in
            self.vars.iter().zip(vars.iter_mut()).zip(meta)
        {
            if !written {
                continue;
            }
            // The last version (after an error: the newest one still held).
            let value = v.versions.iter().rev().find_map(|&s| table[s].take());
            if let Some(value) = value {
                let value = value.contiguous();
                **cell = Tensor {
                    id,
                    shape,
                    data: value.data,
                    device: value.device,
                    trainable_variable: trainable,
                    weak,
                    layout: None,
                    gpu: value.gpu,
                };
            }
        }
        result.map(|()| outputs)
    }

    fn take_or_clone(&self, table: &mut [Option<Tensor>], s: usize, node: usize) -> Result<Tensor> {
        let missing = || Error::Runtime(format!("traced step: value {s} is missing (a bug)"));
        if self.last_use[s] == node && !self.keep[s] {
            table[s].take().ok_or_else(missing)
        } else {
            table[s].clone().ok_or_else(missing)
        }
    }

    fn run_nodes(
        &self,
        table: &mut [Option<Tensor>],
        params: Option<StepParams>,
        offsets: &[(u64, u64)],
    ) -> Result<()> {
        let missing =
            |s: usize| Error::Runtime(format!("traced step: value {s} is missing (a bug)"));
        for (i, node) in self.nodes.iter().enumerate() {
            match &node.kind {
                Kind::Exec(op) => {
                    let ins: Vec<Tensor> = node
                        .inputs
                        .iter()
                        .zip(&node.weak)
                        .map(|(&s, &weak)| {
                            let t = table[s].as_ref().ok_or_else(|| missing(s))?;
                            Ok(if t.weak == weak {
                                t.clone()
                            } else {
                                Tensor { weak, ..t.clone() }
                            })
                        })
                        .collect::<Result<_>>()?;
                    let refs: Vec<&Tensor> = ins.iter().collect();
                    let moved = advanced(op, offsets);
                    let op = moved.as_ref().unwrap_or(op);
                    let out = if refs.is_empty() {
                        device::execute_on(Device::Cpu, op)?
                    } else {
                        device::execute(op, &refs)?
                    };
                    table[node.outputs[0]] = Some(out);
                }
                Kind::Update(op, n_targets) => {
                    let op = refreshed(op, params)?;
                    let mut targets = Vec::with_capacity(*n_targets);
                    for &s in &node.inputs[..*n_targets] {
                        targets.push(self.take_or_clone(table, s, i)?);
                    }
                    let ins: Vec<Tensor> = node.inputs[*n_targets..]
                        .iter()
                        .map(|&s| table[s].clone().ok_or_else(|| missing(s)))
                        .collect::<Result<_>>()?;
                    let refs: Vec<&Tensor> = ins.iter().collect();
                    let mut tm: Vec<&mut Tensor> = targets.iter_mut().collect();
                    if let Err(e) = device::update(&op, &mut tm, &refs) {
                        for (&s, t) in node.inputs.iter().zip(targets) {
                            table[s].get_or_insert(t);
                        }
                        return Err(e);
                    }
                    for (&s, t) in node.outputs.iter().zip(targets) {
                        table[s] = Some(t);
                    }
                }
                Kind::Assign | Kind::Contiguous => {
                    let t = self.take_or_clone(table, node.inputs[0], i)?;
                    table[node.outputs[0]] = Some(t.contiguous());
                }
                Kind::View { shape, layout } => {
                    let s = node.inputs[0];
                    let src = table[s].as_ref().ok_or_else(|| missing(s))?;
                    table[node.outputs[0]] = Some(Tensor {
                        id: fresh_id(),
                        shape: shape.clone(),
                        data: src.data.clone(),
                        device: src.device,
                        trainable_variable: false,
                        weak: node.weak.first().copied().unwrap_or(false),
                        layout: layout.clone(),
                        gpu: src.gpu.clone(),
                    });
                }
            }
            for &s in &self.free_after[i] {
                table[s] = None;
            }
        }
        Ok(())
    }
}

/// Start recording this thread's dispatches. `inputs` are the step's bound inputs (the batch,
/// flattened; None for absent parts), `variables` every variable the step may read or write.
#[pyfunction]
fn trace_begin(inputs: &Bound<'_, PyList>, variables: &Bound<'_, PyList>) -> PyResult<()> {
    crate::error::guard("trace_begin", || {
        if active() {
            return Err(TraceError::new_err(
                "a step is already being traced on this thread (nested traces are not supported)",
            ));
        }
        let mut rec = Recorder {
            nodes: Vec::new(),
            values: Vec::new(),
            sources: Vec::new(),
            by_id: HashMap::new(),
            by_buf: HashMap::new(),
            written: HashSet::new(),
            var_last: Vec::new(),
            var_versions: Vec::new(),
            var_cells: Vec::new(),
            inputs: Vec::new(),
            reason: None,
        };
        for x in inputs.iter() {
            if x.is_none() {
                rec.inputs.push(None);
                continue;
            }
            let t = to_tensor(&x, None)?;
            let k = rec.inputs.len();
            let s = rec.new_slot(&t, Source::Input(k));
            rec.inputs.push(Some((s, t.shape.clone(), t.dtype())));
        }
        let mut seen = HashSet::new();
        for v in variables.iter() {
            let cell = v.cast::<PyTensor>()?;
            let t = cell.get().get();
            if !seen.insert(t.id) {
                continue; // listed twice (a metric shared by two lists)
            }
            let j = rec.var_cells.len();
            let s = rec.new_slot(&t, Source::Var(j));
            rec.var_cells.push(cell.clone().unbind());
            rec.var_last.push(s);
            rec.var_versions.push(vec![s]);
        }
        REC.with(|r| *r.borrow_mut() = Some(rec));
        ACTIVE.with(|a| a.set(true));
        Ok(())
    })
}

fn stop() -> Option<Recorder> {
    ACTIVE.with(|a| a.set(false));
    REC.with(|r| r.borrow_mut().take())
}

/// Stop recording without a graph (the step raised).
#[pyfunction]
fn trace_abort() {
    drop(stop());
}

/// Whether this thread is recording a step.
#[pyfunction]
fn trace_active() -> bool {
    active()
}

/// Stop (`paused=True`) or resume recording on this thread without ending the trace: what
/// runs in between is neither recorded nor checked (a check the trainer repeats eagerly
/// before each replay, such as the label checks of the losses). Returns whether a trace was
/// active before the call.
#[pyfunction]
fn trace_pause(paused: bool) -> bool {
    let recording = REC.with(|r| r.try_borrow().map(|r| r.is_some()).unwrap_or(false));
    let was = active();
    ACTIVE.with(|a| a.set(recording && !paused));
    was
}

/// Stop recording and build the graph; `outputs` are the step's result tensors (flattened;
/// None for parts that are not tensors). Raises TraceError naming why the step cannot be
/// replayed.
#[pyfunction]
fn trace_end(outputs: &Bound<'_, PyList>) -> PyResult<TracedGraph> {
    let rec = stop();
    crate::error::guard("trace_end", || {
        let Some(rec) = rec else {
            return Err(TraceError::new_err("trace_end: no step is being traced"));
        };
        let outs: Vec<Option<Tensor>> = outputs
            .iter()
            .map(|o| {
                if o.is_instance_of::<PyTensor>() {
                    Ok(Some(to_tensor(&o, None)?))
                } else {
                    Ok(None)
                }
            })
            .collect::<PyResult<_>>()?;
        match rec.finish(&outs) {
            Ok(graph) => Ok(TracedGraph { graph }),
            Err(Error::Runtime(reason)) => Err(TraceError::new_err(reason)),
            Err(e) => Err(e.into()),
        }
    })
}

/// A traced step: `run(inputs, learning_rate=None, step=None)` replays it.
#[pyclass(module = "rskeras._core", name = "TracedGraph", frozen)]
pub struct TracedGraph {
    graph: Graph,
}

#[pymethods]
impl TracedGraph {
    /// Replay the step on `inputs` (the batch, flattened as when traced) and return the
    /// outputs (None where the traced output was not a tensor). `learning_rate` and `step`
    /// refresh the optimizer update (required when the graph holds one); `random` lists
    /// `(seed, offset)`: each random op of that seed draws from its traced counter + offset.
    /// The variables are held for writing for the whole step (another thread's reader waits,
    /// then sees the values of before or after the step) and the GIL is released while it
    /// runs.
    ///
    /// Raises:
    ///     ValueError: inputs of other shapes or dtypes than traced, a missing step.
    #[pyo3(signature = (inputs, learning_rate=None, step=None, random=None))]
    fn run(
        &self,
        py: Python<'_>,
        inputs: &Bound<'_, PyList>,
        learning_rate: Option<f32>,
        step: Option<u64>,
        random: Option<Vec<(u64, u64)>>,
    ) -> PyResult<Vec<Option<PyTensor>>> {
        crate::error::guard("traced step", || {
            let ins: Vec<Option<Tensor>> = inputs
                .iter()
                .map(|x| {
                    if x.is_none() {
                        Ok(None)
                    } else {
                        Ok(Some(to_tensor(&x, None)?))
                    }
                })
                .collect::<PyResult<_>>()?;
            let g = &self.graph;
            g.check_inputs(&ins)?;
            let params = match (learning_rate, step) {
                (Some(learning_rate), Some(step)) => Some(StepParams {
                    learning_rate,
                    step,
                }),
                (None, None) => None,
                _ => {
                    return Err(Error::Value(
                        "traced step: give both learning_rate and step, or neither".into(),
                    )
                    .into())
                }
            };
            if g.updates > 0 && params.is_none() {
                return Err(Error::Value(
                    "traced step: the graph holds an optimizer update: learning_rate and step \
                     are required"
                        .into(),
                )
                .into());
            }
            let cells: Vec<Bound<'_, PyTensor>> =
                g.vars.iter().map(|v| v.cell.bind(py).clone()).collect();
            // All or none, as the fused optimizer update takes them.
            let mut guards = loop {
                let got: Vec<_> = cells.iter().map(|c| c.get().try_write()).collect();
                if got.iter().all(Option::is_some) {
                    break got.into_iter().flatten().collect::<Vec<_>>();
                }
                drop(got);
                py.detach(|| std::thread::sleep(std::time::Duration::from_micros(50)));
            };
            let mut refs: Vec<&mut Tensor> = guards.iter_mut().map(|g| &mut **g).collect();
            let offsets = random.unwrap_or_default();
            let outs = py.detach(|| g.run(&ins, &mut refs, params, &offsets))?;
            drop(refs);
            drop(guards);
            Ok(outs.into_iter().map(|o| o.map(PyTensor::new)).collect())
        })
    }

    /// Recorded nodes (kernels, in-place updates, assignments, views).
    #[getter]
    fn num_nodes(&self) -> usize {
        self.graph.nodes.len()
    }

    /// Kernel dispatches per replay (the `Exec` and `Update` nodes).
    #[getter]
    fn num_kernels(&self) -> usize {
        self.graph
            .nodes
            .iter()
            .filter(|n| matches!(n.kind, Kind::Exec(_) | Kind::Update(..)))
            .count()
    }

    /// Random ops in the graph (their streams move on by the offsets `run` is given).
    #[getter]
    fn num_random(&self) -> usize {
        self.graph
            .nodes
            .iter()
            .filter(|n| {
                matches!(
                    n.kind,
                    Kind::Exec(Op::RandomUniform { .. } | Op::RandomNormal { .. })
                )
            })
            .count()
    }

    /// Optimizer updates in the graph (0 or 1 for a trainer's step).
    #[getter]
    fn num_updates(&self) -> usize {
        self.graph.updates
    }

    /// Variables the step reads or writes.
    #[getter]
    fn num_variables(&self) -> usize {
        self.graph.vars.len()
    }

    /// Constants captured when traced.
    #[getter]
    fn num_constants(&self) -> usize {
        self.graph.consts.len()
    }

    /// Op name per kernel node, in order (for tests and profiles).
    fn op_names(&self) -> Vec<&'static str> {
        self.graph
            .nodes
            .iter()
            .filter_map(|n| match &n.kind {
                Kind::Exec(op) | Kind::Update(op, _) => Some(op.name()),
                _ => None,
            })
            .collect()
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("TraceError", m.py().get_type::<TraceError>())?;
    m.add_class::<TracedGraph>()?;
    m.add_function(wrap_pyfunction!(trace_begin, m)?)?;
    m.add_function(wrap_pyfunction!(trace_end, m)?)?;
    m.add_function(wrap_pyfunction!(trace_abort, m)?)?;
    m.add_function(wrap_pyfunction!(trace_active, m)?)?;
    m.add_function(wrap_pyfunction!(trace_pause, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{self, BinaryOp, UnaryOp};

    fn t(shape: &[usize], v: &[f32]) -> Tensor {
        Tensor::from_f32(shape.to_vec(), v.to_vec())
    }

    /// Record `step` on `inputs` (no variables) and return its eager outputs and the graph.
    fn record(
        inputs: &[Tensor],
        step: impl Fn(&[Tensor]) -> Result<Vec<Tensor>>,
    ) -> (Vec<Tensor>, Result<Graph>) {
        let mut rec = Recorder {
            nodes: Vec::new(),
            values: Vec::new(),
            sources: Vec::new(),
            by_id: HashMap::new(),
            by_buf: HashMap::new(),
            written: HashSet::new(),
            var_last: Vec::new(),
            var_versions: Vec::new(),
            var_cells: Vec::new(),
            inputs: Vec::new(),
            reason: None,
        };
        for (k, x) in inputs.iter().enumerate() {
            let s = rec.new_slot(x, Source::Input(k));
            rec.inputs.push(Some((s, x.shape.clone(), x.dtype())));
        }
        REC.with(|r| *r.borrow_mut() = Some(rec));
        ACTIVE.with(|a| a.set(true));
        let outs = step(inputs);
        let rec = stop().expect("recording");
        let outs = outs.expect("the eager step runs");
        let graph = rec.finish(&outs.iter().cloned().map(Some).collect::<Vec<_>>());
        (outs, graph)
    }

    fn values(t: &Tensor) -> Vec<f32> {
        t.contiguous().f32s("test").unwrap().to_vec()
    }

    #[test]
    fn replays_kernels_views_and_copies_on_new_inputs() {
        // relu(x @ w) reshaped (a view made outside the kernels), transposed (a view kernel),
        // made row-major outside the kernels, then added to a constant.
        let step = |x: &[Tensor]| -> Result<Vec<Tensor>> {
            let h = ops::unary(UnaryOp::Relu, &ops::matmul::matmul(&x[0], &x[1])?)?;
            let r = ops::reshape(&h, &[3, 2])?;
            let tr = ops::transpose(&r, None)?.contiguous();
            let c = t(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
            Ok(vec![ops::binary(BinaryOp::Add, &tr, &c)?, h])
        };
        let x = t(&[2, 2], &[1.0, -2.0, 3.0, 4.0]);
        let w = t(&[2, 3], &[1.0, 0.5, -1.0, 2.0, -0.5, 1.0]);
        let (eager, graph) = record(&[x.clone(), w.clone()], step);
        let graph = graph.expect("traceable");
        assert!(graph
            .nodes
            .iter()
            .any(|n| matches!(n.kind, Kind::View { .. })));
        assert!(graph
            .nodes
            .iter()
            .any(|n| matches!(n.kind, Kind::Contiguous)));
        // The same inputs give the eager outputs; new inputs give what eager gives on them.
        let run = |ins: &[Tensor]| {
            let ins: Vec<Option<Tensor>> = ins.iter().cloned().map(Some).collect();
            graph.check_inputs(&ins).unwrap();
            graph.run(&ins, &mut [], None, &[]).unwrap()
        };
        let outs = run(&[x, w.clone()]);
        for (a, b) in eager.iter().zip(&outs) {
            assert_eq!(values(a), values(b.as_ref().unwrap()));
        }
        let x2 = t(&[2, 2], &[0.5, 1.0, -3.0, 2.0]);
        let want = step(&[x2.clone(), w.clone()]).unwrap();
        let got = run(&[x2, w]);
        for (a, b) in want.iter().zip(&got) {
            assert_eq!(values(a), values(b.as_ref().unwrap()));
        }
    }

    #[test]
    fn frees_each_value_after_its_last_use_and_refuses_other_inputs() {
        let step = |x: &[Tensor]| -> Result<Vec<Tensor>> {
            let a = ops::unary(UnaryOp::Neg, &x[0])?;
            let b = ops::unary(UnaryOp::Exp, &a)?;
            Ok(vec![ops::unary(UnaryOp::Neg, &b)?])
        };
        let (_, graph) = record(&[t(&[3], &[1.0, 2.0, 3.0])], step);
        let graph = graph.unwrap();
        // `a` is freed after `exp`, `b` after the last `negative`; the output is kept.
        let freed: usize = graph.free_after.iter().map(Vec::len).sum();
        assert_eq!(freed, 3, "{:?}", graph.free_after);
        let err = graph.check_inputs(&[Some(t(&[4], &[0.0; 4]))]).unwrap_err();
        assert!(matches!(err, Error::Value(m) if m.contains("traced for")));
    }

    #[test]
    fn a_host_read_makes_the_step_untraceable() {
        let step = |x: &[Tensor]| -> Result<Vec<Tensor>> {
            note_read("float()");
            Ok(vec![ops::unary(UnaryOp::Neg, &x[0])?])
        };
        let (_, graph) = record(&[t(&[1], &[1.0])], step);
        assert!(matches!(graph, Err(Error::Runtime(m)) if m.contains("float()")));
        assert!(!active());
    }

    #[test]
    fn random_ops_replay_with_their_stream_moved_on() {
        let step = |_: &[Tensor]| -> Result<Vec<Tensor>> {
            Ok(vec![ops::random::uniform(&[4], 0.0, 1.0, 7, 3)?])
        };
        let (eager, graph) = record(&[], step);
        let graph = graph.unwrap();
        let same = graph.run(&[], &mut [], None, &[]).unwrap();
        assert_eq!(values(&eager[0]), values(same[0].as_ref().unwrap()));
        let moved = graph.run(&[], &mut [], None, &[(7, 2)]).unwrap();
        let want = ops::random::uniform(&[4], 0.0, 1.0, 7, 5).unwrap();
        assert_eq!(values(&want), values(moved[0].as_ref().unwrap()));
    }
}
