//! The shipped collections are built into the binary (`baton demo`, `baton init
//! --example`): rebuild when they change.

fn main() {
    println!("cargo:rerun-if-changed=collections");
}
