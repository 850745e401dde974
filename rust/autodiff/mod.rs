//! Reverse-mode autodiff: a tape records the ops run on tracked tensors; `gradient` walks it
//! backwards. Each op's gradient rule lives beside the op (in `ops/`) and is written with ops,
//! so it runs on any device and can itself be recorded by an outer tape (second order).

pub mod gradient_tape;
pub mod tape;

pub use tape::{record, Backward};
