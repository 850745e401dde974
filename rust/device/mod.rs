//! The one dispatch point between ops and kernels. Every op builds an [`Op`] and calls
//! [`execute`]; the device of its inputs decides which backend runs it: the CPU kernels, or
//! the GPU executor registered from Python (`gpu`). Layers and autodiff never change.

pub mod cpu;
pub mod gpu;
pub mod pool;
pub mod shaders;

use crate::error::{Error, Result};
use crate::ops::Op;
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    Cpu,
    Gpu,
}

impl Device {
    pub fn name(self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
            Device::Gpu => "gpu",
        }
    }

    pub fn parse(name: &str) -> Result<Device> {
        match name.to_ascii_lowercase().split(':').next().unwrap_or("") {
            "cpu" => Ok(Device::Cpu),
            "gpu" => Ok(Device::Gpu),
            _ => Err(Error::Value(format!(
                "unknown device {name:?}: expected 'cpu' or 'gpu'"
            ))),
        }
    }
}

/// The device an op on `tensors` runs on: the GPU when any input lives there (host inputs,
/// such as the constants inside gradient rules, are sent along), else the CPU.
fn device_of<'a>(tensors: impl IntoIterator<Item = &'a Tensor>) -> Device {
    let on_gpu = tensors.into_iter().any(|t| t.device == Device::Gpu);
    if on_gpu {
        Device::Gpu
    } else {
        Device::Cpu
    }
}

/// Run `op` on `inputs` where they live and return its single output.
pub fn execute(op: &Op, inputs: &[&Tensor]) -> Result<Tensor> {
    if crate::trace::active() {
        return crate::trace::record_execute(op, inputs, || execute_now(op, inputs));
    }
    execute_now(op, inputs)
}

fn execute_now(op: &Op, inputs: &[&Tensor]) -> Result<Tensor> {
    match device_of(inputs.iter().copied()) {
        Device::Cpu => cpu::execute(op, inputs),
        Device::Gpu => gpu::execute(op, inputs),
    }
}

/// Run an op with no tensor inputs (random fills, ranges) on `device`.
pub fn execute_on(device: Device, op: &Op) -> Result<Tensor> {
    if crate::trace::active() {
        return crate::trace::record_execute(op, &[], || execute_on_now(device, op));
    }
    execute_on_now(device, op)
}

fn execute_on_now(device: Device, op: &Op) -> Result<Tensor> {
    match device {
        Device::Cpu => cpu::execute(op, &[]),
        Device::Gpu => gpu::execute(op, &[]),
    }
}

/// Run an in-place update (`targets` are overwritten, e.g. by an optimizer step).
pub fn update(op: &Op, targets: &mut [&mut Tensor], inputs: &[&Tensor]) -> Result<()> {
    if crate::trace::active() {
        return crate::trace::record_update(op, targets, inputs, |t| update_now(op, t, inputs));
    }
    update_now(op, targets, inputs)
}

fn update_now(op: &Op, targets: &mut [&mut Tensor], inputs: &[&Tensor]) -> Result<()> {
    // Borrow, never clone, the targets: a second reference to their buffers would make the
    // in-place update copy them (copy-on-write).
    let all = inputs.iter().copied().chain(targets.iter().map(|t| &**t));
    match device_of(all) {
        Device::Cpu => cpu::update(op, targets, inputs),
        Device::Gpu => gpu::update(op, targets, inputs),
    }
}
