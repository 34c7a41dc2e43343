//! SHA-256 with the API of the `sha2` 0.10 crate, standing in for it in
//! Kiln's build (`[patch.crates-io]` in the workspace manifest).
//!
//! # Why
//!
//! Wasmtime hashes inside the compiler: the checksum of every input module
//! (`wasmtime-environ`), and, with the incremental cache on, the key of
//! every function (Cranelift hashes the function's whole IR). Inside the
//! sandbox that SHA-256 runs as wasm, with no SHA instructions: in a
//! profile of a recompile of the Sightglass `sqlite3` module it was 18% of
//! the threaded guest's time, the largest single item. The checksum alone
//! is a serial step of every compile, tens of milliseconds for a module
//! of a few megabytes.
//!
//! The hash function itself is the same everywhere; only the block
//! function (64 bytes into the eight-word state) moves. With the
//! `kiln-host` feature, which only the threaded guest turns on (and which
//! does nothing off wasm, so that `--all-features` builds natively), each
//! run of blocks is handed to the host through the `kiln.sha256_compress`
//! import, where it runs natively, with the CPU's SHA instructions when it
//! has them. Everywhere else the block function is `sha2` 0.11's.
//!
//! Only SHA-256 is provided: it is all that Kiln's dependencies use of the
//! crate. The digests are checked against the standard's test vectors and
//! against `sha2` 0.11 in this crate's tests, and every artifact Kiln
//! makes is checked byte-identical with a native compile.

#![no_std]

#[cfg(feature = "std")]
extern crate std;

pub use digest::{self, Digest};

use core::fmt;
use digest::block_buffer::Eager;
use digest::consts::{U32, U64};
use digest::core_api::{
    AlgorithmName, Block, BlockSizeUser, Buffer, BufferKindUser, CoreWrapper, FixedOutputCore,
    OutputSizeUser, Reset, UpdateCore,
};
use digest::{HashMarker, Output};

/// SHA-256, as `sha2::Sha256`.
pub type Sha256 = CoreWrapper<Sha256Core>;

/// The initial hash value of SHA-256 (FIPS 180-4, section 5.3.3).
const INITIAL_STATE: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// SHA-256's state between blocks; [`Sha256`] adds the partial block.
#[derive(Clone)]
pub struct Sha256Core {
    state: [u32; 8],
    /// Whole blocks compressed so far.
    blocks: u64,
}

impl Default for Sha256Core {
    fn default() -> Self {
        Sha256Core {
            state: INITIAL_STATE,
            blocks: 0,
        }
    }
}

impl HashMarker for Sha256Core {}

impl BlockSizeUser for Sha256Core {
    type BlockSize = U64;
}

impl BufferKindUser for Sha256Core {
    type BufferKind = Eager;
}

impl OutputSizeUser for Sha256Core {
    type OutputSize = U32;
}

impl UpdateCore for Sha256Core {
    fn update_blocks(&mut self, blocks: &[Block<Self>]) {
        self.blocks += blocks.len() as u64;
        compress256(&mut self.state, blocks);
    }
}

impl FixedOutputCore for Sha256Core {
    fn finalize_fixed_core(&mut self, buffer: &mut Buffer<Self>, out: &mut Output<Self>) {
        let bits = (self.blocks * 64 + buffer.get_pos() as u64) * 8;
        let mut state = self.state;
        buffer.len64_padding_be(bits, |block| {
            compress256(&mut state, core::slice::from_ref(block));
        });
        for (bytes, word) in out.chunks_exact_mut(4).zip(state) {
            bytes.copy_from_slice(&word.to_be_bytes());
        }
    }
}

impl Reset for Sha256Core {
    fn reset(&mut self) {
        *self = Self::default();
    }
}

impl AlgorithmName for Sha256Core {
    fn write_alg_name(f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sha256")
    }
}

impl fmt::Debug for Sha256Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sha256Core { .. }")
    }
}

/// SHA-256's block function: compresses `blocks` into `state`, as
/// `sha2::compress256`.
pub fn compress256(state: &mut [u32; 8], blocks: &[Block<Sha256Core>]) {
    if blocks.is_empty() {
        return;
    }
    #[cfg(all(feature = "kiln-host", target_arch = "wasm32"))]
    {
        #[link(wasm_import_module = "kiln")]
        unsafe extern "C" {
            /// Compresses `count` 64-byte blocks at `blocks` into the eight
            /// words at `state`.
            fn sha256_compress(state: *mut u32, blocks: *const u8, count: usize);
        }
        // SAFETY: `state` is eight writable words and `blocks` is
        // `blocks.len()` contiguous 64-byte arrays.
        unsafe { sha256_compress(state.as_mut_ptr(), blocks.as_ptr().cast(), blocks.len()) };
    }
    #[cfg(not(all(feature = "kiln-host", target_arch = "wasm32")))]
    {
        // SAFETY: a `GenericArray<u8, U64>` is laid out as `[u8; 64]`.
        let blocks: &[[u8; 64]] =
            unsafe { core::slice::from_raw_parts(blocks.as_ptr().cast(), blocks.len()) };
        sha2_blocks::block_api::compress256(state, blocks);
    }
}
