//! The one dispatch point between ops and kernels. Every op builds an [`Op`] and calls
//! [`execute`]; the device of its inputs decides which backend runs it. Only the CPU exists
//! today; a GPU executor registers here later, so layers and autodiff never change.

pub mod cpu;
pub mod pool;

use crate::error::{Error, Result};
use crate::ops::Op;
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    Cpu,
}

impl Device {
    pub fn name(self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
        }
    }
}

/// The device all `tensors` live on, or a ValueError naming `op` when they disagree.
fn common_device<'a>(op: &Op, tensors: impl IntoIterator<Item = &'a Tensor>) -> Result<Device> {
    let mut tensors = tensors.into_iter();
    let first = tensors.next().map_or(Device::Cpu, |t| t.device);
    if let Some(t) = tensors.find(|t| t.device != first) {
        return Err(Error::Value(format!(
            "{}: inputs live on different devices ({} and {})",
            op.name(),
            first.name(),
            t.device.name()
        )));
    }
    Ok(first)
}

/// Run `op` on `inputs` where they live and return its single output.
pub fn execute(op: &Op, inputs: &[&Tensor]) -> Result<Tensor> {
    match common_device(op, inputs.iter().copied())? {
        Device::Cpu => cpu::execute(op, inputs),
    }
}

/// Run an op with no tensor inputs (random fills, ranges) on `device`.
pub fn execute_on(device: Device, op: &Op) -> Result<Tensor> {
    match device {
        Device::Cpu => cpu::execute(op, &[]),
    }
}

/// Run an in-place update (`targets` are overwritten, e.g. by an optimizer step).
pub fn update(op: &Op, targets: &mut [&mut Tensor], inputs: &[&Tensor]) -> Result<()> {
    // Borrow, never clone, the targets: a second reference to their buffers would make the
    // in-place update copy them (copy-on-write).
    let all = inputs.iter().copied().chain(targets.iter().map(|t| &**t));
    match common_device(op, all)? {
        Device::Cpu => cpu::update(op, targets, inputs),
    }
}
