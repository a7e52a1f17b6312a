//! A Rust wasm app that depends on authbridge and sets its own global allocator. `make test-native` checks it
//! for wasm32 (`cargo check --target wasm32-unknown-unknown -p authbridge-test-own-allocator`): if authbridge set
//! one, rustc would refuse this crate ("the #[global_allocator] in this crate conflicts with global allocator in:
//! authbridge"). The app's allocator here is the crate's documented opt-in, the zero-on-free wrapper over the
//! system allocator; any other (talc, lol_alloc, a counting one) would do the same.
#![cfg(target_arch = "wasm32")]

use authbridge::web::{Client, ZeroOnFree};

#[global_allocator]
static ALLOCATOR: ZeroOnFree<std::alloc::System> = ZeroOnFree::new(std::alloc::System);

/// The app uses the Rust API (a client the app keeps), so that the crate is linked in, not only named.
pub fn keep(client: Client) -> Option<Client> {
    Some(client)
}
