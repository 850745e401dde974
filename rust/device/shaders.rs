//! The WGSL sources of `shaders/`, compiled into the extension so an installed wheel carries
//! them (a checkout reads the files directly; see `backend/webgpu/pipelines.py`).

macro_rules! shaders {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../shaders/", $name, ".wgsl")))),*]
    };
}

static SHADERS: &[(&str, &str)] = shaders!["unary", "binary"];

/// The source of `shaders/<family>.wgsl`, if there is such a family.
pub fn source(family: &str) -> Option<&'static str> {
    SHADERS.iter().find(|(n, _)| *n == family).map(|(_, s)| *s)
}
