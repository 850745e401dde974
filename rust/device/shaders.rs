//! The WGSL sources of `shaders/`, compiled into the extension by `rust/build.rs` so an
//! installed wheel carries them (a checkout reads the files directly; see
//! `backend/webgpu/pipelines.py`).

static SHADERS: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/shaders.rs"));

/// The source of `shaders/<family>.wgsl`, if there is such a family.
pub fn source(family: &str) -> Option<&'static str> {
    SHADERS.iter().find(|(n, _)| *n == family).map(|(_, s)| *s)
}
