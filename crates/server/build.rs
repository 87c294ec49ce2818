//! Rebuild when the embedded desktop (`web/dist`) changes: `include_dir!` alone does not tell
//! cargo to watch those files.
fn main() {
    println!("cargo:rerun-if-changed=../../web/dist");
}
