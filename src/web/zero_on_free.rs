//! The zero-on-free allocator: opt-in. The crate sets no global allocator; the npm package installs this one
//! (`npm/src/lib.rs`), and a Rust app may install it too.

use std::alloc::{GlobalAlloc, Layout};

/// A global allocator that wipes every allocation when it is freed, over any other allocator `A`.
///
/// Tokens pass through many short-lived buffers in wasm memory (strings wasm-bindgen copies in and out, header
/// values, JSON, stored entries); zeroing them one by one would miss some, and freed memory otherwise keeps its
/// bytes until it is reused. A volatile wipe (zeroize) cannot be optimised away. Every `realloc` moves the block,
/// so that the old one is wiped too.
///
/// The crate does not install it: depending on authbridge leaves the app's allocator alone. An app that wants
/// freed token bytes wiped installs it over the allocator it uses:
///
/// ```ignore
/// #[global_allocator]
/// static ALLOCATOR: authbridge::web::ZeroOnFree<std::alloc::System> =
///     authbridge::web::ZeroOnFree::new(std::alloc::System);
/// ```
///
/// It costs the app a wipe of every freed block and a copy on every `realloc` (`Vec` and `String` growth).
pub struct ZeroOnFree<A>(A);

impl<A> ZeroOnFree<A> {
    /// Wraps `inner`, which does the allocating.
    pub const fn new(inner: A) -> Self {
        ZeroOnFree(inner)
    }
}

// SAFETY: every call is forwarded to `A` with the layout it was given; `dealloc` writes only within the block it
// releases, before releasing it, and `realloc` allocates a block of the new layout, copies at most the smaller of
// the two sizes and releases the old block through `dealloc`.
unsafe impl<A: GlobalAlloc> GlobalAlloc for ZeroOnFree<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.0.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        zeroize::Zeroize::zeroize(std::slice::from_raw_parts_mut(ptr, layout.size()));
        self.0.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Always move, so that the old block goes through `dealloc` and is wiped.
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        let new = self.alloc(new_layout);
        if !new.is_null() {
            std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            self.dealloc(ptr, layout);
        }
        new
    }
}
