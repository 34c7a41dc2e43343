//! Decoding one x86_64 instruction of a function, with `iced-x86`, from
//! an offset the analysis has proved is an instruction start, and what
//! `iced-x86` says about its operands.
//!
//! Offsets are `.text` offsets throughout: each instruction is decoded
//! with its instruction pointer set to its `.text` offset, so branch
//! targets and RIP-relative addresses come out as `.text` offsets too.

use iced_x86::{Decoder, DecoderOptions, Instruction};

/// Decodes the instruction at `offset` of `text`, which must end by `end`
/// (the function's end).
///
/// # Errors
///
/// A description when the bytes do not decode or the instruction would
/// cross `end`.
pub fn at(text: &[u8], offset: u64, end: u64) -> Result<Instruction, String> {
    let (Ok(start), Ok(stop)) = (usize::try_from(offset), usize::try_from(end)) else {
        return Err("offset out of range".to_string());
    };
    let Some(bytes) = text.get(start..stop.min(text.len())) else {
        return Err("outside .text".to_string());
    };
    if bytes.is_empty() {
        return Err("control reaches the function's end".to_string());
    }
    let mut decoder = Decoder::with_ip(64, bytes, offset, DecoderOptions::NONE);
    let instruction = decoder.decode();
    if instruction.is_invalid() {
        let shown: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
        return Err(format!(
            "bytes {} do not decode ({:?})",
            shown.join(" "),
            decoder.last_error()
        ));
    }
    Ok(instruction)
}
