//! A file added to `static/` is a new asset: rebuild the embedded set when the folder changes
//! (the derive alone notices edits to files it already knew, not new ones).
fn main() {
    println!("cargo:rerun-if-changed=static");
}
