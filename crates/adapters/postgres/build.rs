//! Rebuilds this crate when a migration is added, changed or removed: `embed_migrations!` reads
//! the folder at compile time, and cargo would otherwise not see a new migration's folder, so a
//! binary built before it would lack it.

fn main() {
    println!("cargo:rerun-if-changed=../../../migrations");
}
