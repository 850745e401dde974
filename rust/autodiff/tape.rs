//! The tape and the thread's stack of recording tapes.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::ops;
use crate::tensor::Tensor;

/// Maps the gradient of an op's output to the gradients of its inputs (`None`: no gradient).
/// The second argument says which inputs need one, so a rule can skip work (matmul skips the
/// gradient of a data batch).
pub type Backward = Arc<dyn Fn(&Tensor, &[bool]) -> Result<Vec<Option<Tensor>>> + Send + Sync>;

struct Input {
    id: u64,
    /// A gradient has its input's dtype (rules that mix dtypes may return a wider one).
    dtype: crate::tensor::DType,
    /// Whether this tape tracked the input when the op ran (float, watched or downstream of a
    /// watched tensor).
    needed: bool,
}

struct Node {
    out: u64,
    inputs: Vec<Input>,
    backward: Backward,
}

#[derive(Default)]
pub struct TapeState {
    nodes: Vec<Node>,
    tracked: HashSet<u64>,
    pub persistent: bool,
    pub watch_accessed_variables: bool,
    recording: bool,
    used: bool,
}

pub type SharedTape = Arc<Mutex<TapeState>>;

thread_local! {
    /// Tapes inside their `with` block on this thread, innermost last.
    static ACTIVE: RefCell<Vec<SharedTape>> = const { RefCell::new(Vec::new()) };
}

fn lock(t: &SharedTape) -> std::sync::MutexGuard<'_, TapeState> {
    // A poisoned tape only means a panic happened while it was held; its data is still usable.
    t.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn new_tape(persistent: bool, watch_accessed_variables: bool) -> SharedTape {
    Arc::new(Mutex::new(TapeState {
        persistent,
        watch_accessed_variables,
        ..Default::default()
    }))
}

pub fn push(t: &SharedTape) {
    lock(t).recording = true;
    ACTIVE.with(|a| a.borrow_mut().push(t.clone()));
}

pub fn pop(t: &SharedTape) {
    lock(t).recording = false;
    ACTIVE.with(|a| a.borrow_mut().retain(|x| !Arc::ptr_eq(x, t)));
}

pub fn watch(t: &SharedTape, x: &Tensor) {
    lock(t).tracked.insert(x.id);
}

/// Whether any tape on this thread is recording (cheap; lets callers skip work).
pub fn any_recording() -> bool {
    ACTIVE.with(|a| !a.borrow().is_empty())
}

/// Whether a recording tape tracks one of `inputs` (an op recorded now would need a gradient
/// rule), so ops can pick a forward pass that keeps what their backward pass reuses.
pub fn tracks(inputs: &[&Tensor]) -> bool {
    ACTIVE.with(|a| {
        a.borrow().iter().any(|tape| {
            let st = lock(tape);
            st.recording
                && inputs.iter().any(|x| {
                    x.dtype().is_float()
                        && (st.tracked.contains(&x.id)
                            || (st.watch_accessed_variables && x.trainable_variable))
                })
        })
    })
}

/// Record `out = op(inputs)` on every recording tape that tracks one of `inputs`.
/// `make` builds the gradient rule and is called at most once, only when some tape needs it.
pub fn record(inputs: &[&Tensor], out: &Tensor, make: impl FnOnce() -> Backward) {
    ACTIVE.with(|a| {
        let active = a.borrow();
        if active.is_empty() {
            return;
        }
        let mut rule: Option<Backward> = None;
        let mut make = Some(make);
        for tape in active.iter() {
            let mut st = lock(tape);
            if !st.recording {
                continue;
            }
            let needs: Vec<bool> = inputs
                .iter()
                .map(|x| {
                    x.dtype().is_float()
                        && (st.tracked.contains(&x.id)
                            || (st.watch_accessed_variables && x.trainable_variable))
                })
                .collect();
            if !needs.iter().any(|&n| n) {
                continue;
            }
            let backward = rule
                .get_or_insert_with(|| (make.take().expect("rule built once"))())
                .clone();
            st.tracked.insert(out.id);
            st.nodes.push(Node {
                out: out.id,
                inputs: inputs
                    .iter()
                    .zip(needs)
                    .map(|(x, needed)| Input {
                        id: x.id,
                        dtype: x.dtype(),
                        needed,
                    })
                    .collect(),
                backward,
            });
        }
    });
}

/// d(target)/d(source) for each source, seeded with `output_gradient` (default: ones, i.e. the
/// gradient of `sum(target)` as in `tf.GradientTape`). Unconnected sources give `None`.
pub fn gradient(
    tape: &SharedTape,
    target: &Tensor,
    sources: &[Tensor],
    output_gradient: Option<Tensor>,
) -> Result<Vec<Option<Tensor>>> {
    if !target.dtype().is_float() {
        return Err(Error::Type(format!(
            "GradientTape.gradient: the target must be a float tensor, got {}",
            target.dtype().name()
        )));
    }
    // Take the nodes out so the rules can run ops (which consult the tape) without deadlock,
    // and stop this tape from recording its own backward pass.
    let (nodes, was_recording) = {
        let mut st = lock(tape);
        if st.used && !st.persistent {
            return Err(Error::Runtime(
                "GradientTape.gradient can only be called once on a non-persistent tape; \
                 create the tape with persistent=True to call it several times"
                    .into(),
            ));
        }
        st.used = true;
        let was = st.recording;
        st.recording = false;
        (std::mem::take(&mut st.nodes), was)
    };

    let result = walk(&nodes, target, sources, output_gradient);

    let mut st = lock(tape);
    st.recording = was_recording;
    if st.persistent {
        st.nodes = nodes;
    } else {
        st.tracked.clear();
    }
    result
}

fn walk(
    nodes: &[Node],
    target: &Tensor,
    sources: &[Tensor],
    output_gradient: Option<Tensor>,
) -> Result<Vec<Option<Tensor>>> {
    let seed = match output_gradient {
        Some(g) => {
            if g.shape != target.shape {
                return Err(Error::Value(format!(
                    "GradientTape.gradient: output_gradients shape {:?} does not match target shape {:?}",
                    g.shape, target.shape
                )));
            }
            g
        }
        None => ops::fill_like(target, 1.0)?,
    };
    let keep: HashSet<u64> = sources.iter().map(|s| s.id).collect();
    let mut grads: HashMap<u64, Tensor> = HashMap::new();
    grads.insert(target.id, seed);
    for node in nodes.iter().rev() {
        let g = if keep.contains(&node.out) {
            match grads.get(&node.out) {
                Some(g) => g.clone(),
                None => continue,
            }
        } else {
            match grads.remove(&node.out) {
                Some(g) => g,
                None => continue,
            }
        };
        let needs: Vec<bool> = node.inputs.iter().map(|i| i.needed).collect();
        let input_grads = (node.backward)(&g, &needs)?;
        for (input, ig) in node.inputs.iter().zip(input_grads) {
            let (Some(mut ig), true) = (ig, input.needed) else {
                continue;
            };
            if ig.dtype() != input.dtype {
                ig = ops::cast(&ig, input.dtype)?;
            }
            let acc = match grads.remove(&input.id) {
                Some(prev) => ops::add(&prev, &ig)?,
                None => ig,
            };
            grads.insert(input.id, acc);
        }
    }
    Ok(sources.iter().map(|s| grads.get(&s.id).cloned()).collect())
}
