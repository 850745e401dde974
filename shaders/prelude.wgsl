// Prepended to every shader family by the pipeline builder (backend/webgpu/pipelines.py), so
// the helpers every kernel needs are written once. Keep it to functions: a binding or a
// workgroup variable here would land in every pipeline.

// The flat index of invocation (or workgroup) `id` in a dispatch of `row` per row of the grid:
// `Executor.grid` folds large dispatches into a second dimension, `id.x + id.y * row`.
fn flat_index(id: vec3<u32>, row: u32) -> u32 {
    return id.x + id.y * row;
}

// Whether `v` is NaN, from its bits: WGSL implementations may assume comparisons never see NaN.
fn is_nan_f32(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}
