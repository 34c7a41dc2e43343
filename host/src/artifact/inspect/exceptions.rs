//! The exception tables (`.wasmtime.exceptions`): for each call site that
//! may unwind, the handlers that catch there, so that a thrown exception
//! finds its `catch` without running any code of the frames it passes.
//!
//! Wasmtime 48's layout, all little-endian 32-bit words:
//!
//! ```text
//! ┌──────────────────────────────────┬─── 0x00
//! │ call_site_count: C               │
//! │ handler_count: H                 │
//! ├──────────────────────────────────┼─── 0x08
//! │ call_site[0..C]                  │   return addresses in .text, sorted
//! │ frame_offset[0..C]               │   SP-to-FP distance, or 0xFFFFFFFF
//! │ handler_end[0..C]                │   call site i owns handlers
//! │                                  │   handler_end[i-1] .. handler_end[i]
//! ├──────────────────────────────────┼─── 0x08 + 12 * C
//! │ tag[0..H]                        │   0xFFFFFFFF: catches everything
//! │ context[0..H]                    │   SP offset of the tag's context,
//! │                                  │   or 0xFFFFFFFF for none
//! │ handler[0..H]                    │   the handler's offset in .text
//! └──────────────────────────────────┴─── 0x08 + 12 * C + 12 * H: the end
//! ```

use super::error::InspectError;
use super::reader::Reader;
use serde::Serialize;

/// The section's name.
pub const SECTION: &str = ".wasmtime.exceptions";

/// One handler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Handler {
    /// The tag it catches, or `None` for a catch-all.
    pub tag: Option<u32>,
    /// Where the tag's dynamic context lies, from SP, if it has one.
    pub context: Option<u32>,
    /// The handler's offset in `.text`.
    pub offset: u32,
}

/// One call site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallSite {
    /// The call's return address, as an offset in `.text`.
    pub offset: u32,
    /// SP-to-FP distance at the call, if recorded.
    pub frame_offset: Option<u32>,
    /// The end (exclusive) of its handlers in [`Exceptions::handlers`]; they
    /// start where the previous call site's end.
    pub handler_end: u32,
}

/// The decoded section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Exceptions {
    /// The call sites, in the section's order.
    pub call_sites: Vec<CallSite>,
    /// Every handler.
    pub handlers: Vec<Handler>,
}

fn optional(value: u32) -> Option<u32> {
    (value != u32::MAX).then_some(value)
}

/// Decodes the exception tables.
///
/// # Errors
///
/// [`InspectError::Malformed`] when an array is cut short or bytes follow
/// the last one.
pub fn parse(data: &[u8], file_offset: u64) -> Result<Exceptions, InspectError> {
    let mut reader = Reader::new(SECTION, data, file_offset);
    let call_site_count = reader.u32("call site count")?;
    let handler_count = reader.u32("handler count")?;
    let call_sites = reader.u32_array(call_site_count, "call sites")?;
    let frame_offsets = reader.u32_array(call_site_count, "frame offsets")?;
    let ends = reader.u32_array(call_site_count, "handler ranges")?;
    let tags = reader.u32_array(handler_count, "tags")?;
    let contexts = reader.u32_array(handler_count, "contexts")?;
    let handlers = reader.u32_array(handler_count, "handlers")?;
    if reader.remaining() != 0 {
        return Err(reader.error(format!(
            "{} bytes follow the last handler",
            reader.remaining()
        )));
    }
    Ok(Exceptions {
        call_sites: call_sites
            .iter()
            .zip(frame_offsets.iter())
            .zip(ends.iter())
            .map(|((offset, frame), handler_end)| CallSite {
                offset,
                frame_offset: optional(frame),
                handler_end,
            })
            .collect(),
        handlers: tags
            .iter()
            .zip(contexts.iter())
            .zip(handlers.iter())
            .map(|((tag, context), offset)| Handler {
                tag: optional(tag),
                context: optional(context),
                offset,
            })
            .collect(),
    })
}
