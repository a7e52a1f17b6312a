//! The wasm module of the authbridge npm package: the crate with its JavaScript API (the `js-api` feature:
//! `AuthClient`, `decodeJwt`, `decodeJwtHeader`, `parseTokenResponse`), and the zero-on-free allocator, so that no
//! token bytes outlive their use in the module's memory. A Rust app depends on `authbridge` itself, not on this.
#![cfg(target_arch = "wasm32")]

// The exports come from the dependency; this names it so that it is linked in.
pub use authbridge::web::AuthClient;

use authbridge::web::ZeroOnFree;
use lol_alloc::{AssumeSingleThreaded, FreeListAllocator};

/// lol_alloc's free-list allocator (smaller than Rust's default dlmalloc in the module), wiped on free.
#[global_allocator]
static ALLOCATOR: ZeroOnFree<AssumeSingleThreaded<FreeListAllocator>> =
    // SAFETY: a wasm module without threads (the package is built without the atomics feature).
    ZeroOnFree::new(unsafe { AssumeSingleThreaded::new(FreeListAllocator::new()) });
