//! Compile every `shaders/*.wgsl` into the extension (see `device/shaders.rs`), so installed
//! wheels carry the WGSL sources and a new shader family needs no list to be kept in step.

use std::fmt::Write;
use std::path::Path;

fn main() {
    // The manifest folder of this build, read when the script runs: `env!` would bake in the
    // folder the script was compiled in, which another checkout sharing the target folder
    // (a worktree with CARGO_TARGET_DIR) would then keep reading.
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&root).join("shaders");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("the shaders/ folder")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".wgsl").map(str::to_owned))
        .collect();
    names.sort();
    let mut code = String::from("&[\n");
    for n in &names {
        let path = dir.join(format!("{n}.wgsl"));
        println!("cargo:rerun-if-changed={}", path.display());
        writeln!(
            code,
            "    ({n:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    code.push(']');
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("shaders.rs");
    std::fs::write(out, code).expect("write the shader table");
}
