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

// Sliding windows along one axis (convolution and pooling), output position `o`, tap `k`, with
// the axis's stride, dilation, leading padding and sizes: the input position the tap reads,
// or -1 in the padding.
fn window_tap(o: u32, k: u32, stride: u32, dilation: u32, pad: u32, size: u32) -> i32 {
    let t = i32(o * stride + k * dilation) - i32(pad);
    return select(-1, t, t >= 0 && t < i32(size));
}

// The inverse, for gathers: the output position whose tap `k` reads input position `t`, or -1
// when none does (between strides, or past the `out_size` outputs).
fn window_out(t: u32, k: u32, stride: u32, dilation: u32, pad: u32, out_size: u32) -> i32 {
    let s = i32(t + pad) - i32(k * dilation);
    if (s < 0 || (u32(s) % stride) != 0u) {
        return -1;
    }
    let o = u32(s) / stride;
    return select(-1, i32(o), o < out_size);
}
