//! Cranelift's stack-probe loop, stepped as one instruction.
//!
//! A function whose frame spans more than four guard pages touches each
//! page of it, top down, before it sets the frame up, so that the
//! guard page below the stack is hit in order rather than jumped over:
//!
//! ```text
//!         mov  r11, rsp                r11 = Frame(k - n·4096)
//!         sub  r11, n·4096
//! loop:   sub  rsp, 4096           ◄── here, rsp = Frame(k)
//!         mov  dword [rsp], 0          one probe per page
//!         cmp  r11, rsp                (or `cmp rsp, r11`)
//!         jne  loop
//!         add  rsp, n·4096         ◄── control goes on here, rsp = Frame(k - n·4096)
//! ```
//!
//! Walked as a loop, the stack pointer would differ at each turn, which
//! the analysis refuses at the join. Stepped as one instruction, its
//! effect is exact: rsp ends at `r11`, and four zero bytes are written at
//! `Frame(k - 4096·i)` for `i` in `1..=n`, nothing else. `n` is the frame
//! size rounded *up* to whole pages, so the last probe may lie up to
//! 4095 bytes below what the stack-limit check covered. Once that check
//! has run, it is allowed as far as [`UNCHECKED_FRAME`] below the checked
//! floor, the same slack every frame has before its check (below the
//! limit the stack is still this thread's: Wasmtime keeps room there for
//! the host functions that wasm calls). Anything else about the shape
//! (another register, a stride that is not the page, a bottom not a whole
//! number of pages below, deeper than that slack, or no check before it)
//! is not this loop, and is walked as code.

use super::decode;
use super::step::{Context, Next, UNCHECKED_FRAME, gpr};
use super::value::{Flags, RSP, State, Value};
use iced_x86::{Instruction, Mnemonic, OpKind, Register};
use std::rc::Rc;

/// The page the loop steps by.
const PAGE: u64 = 4096;

/// The most pages one loop may probe (a frame of 1 GiB).
const MAX_PAGES: i64 = 1 << 18;

/// When `sub` (of rsp) starts a probe loop in `state`: its effect applied
/// to `state`, and where control goes on.
pub fn step(cx: &Context<'_>, sub: &Instruction, state: &mut State) -> Option<Next> {
    if sub.op_kind(1) != OpKind::Immediate32to64 && sub.op_kind(1) != OpKind::Immediate32 {
        return None;
    }
    if sub.immediate(1) != PAGE || sub.op0_register() != Register::RSP {
        return None;
    }
    let end = cx.function.end();
    let probe = decode::at(cx.text, sub.next_ip(), end).ok()?;
    let cmp = decode::at(cx.text, probe.next_ip(), end).ok()?;
    let jne = decode::at(cx.text, cmp.next_ip(), end).ok()?;
    let zero_store = probe.mnemonic() == Mnemonic::Mov
        && probe.op_kind(0) == OpKind::Memory
        && probe.memory_base() == Register::RSP
        && probe.memory_index() == Register::None
        && probe.memory_displacement64() == 0
        && probe.segment_prefix() == Register::None
        && probe.op_kind(1) == OpKind::Immediate32
        && probe.immediate(1) == 0;
    let bound = match (cmp.mnemonic(), cmp.op_kind(0), cmp.op_kind(1)) {
        (Mnemonic::Cmp, OpKind::Register, OpKind::Register) => {
            match (cmp.op0_register(), cmp.op1_register()) {
                (Register::RSP, other) | (other, Register::RSP) => other,
                _ => return None,
            }
        }
        _ => return None,
    };
    let back = jne.mnemonic() == Mnemonic::Jne
        && jne.op_kind(0) == OpKind::NearBranch64
        && jne.near_branch_target() == sub.ip();
    if !zero_store || !back || bound.size() != 8 || bound == Register::RSP {
        return None;
    }
    let (Value::Frame(k), Value::Frame(bottom)) = (state.regs[RSP], state.regs[gpr(bound)?.0])
    else {
        return None;
    };
    let span = k.checked_sub(bottom)?;
    let page = PAGE as i64;
    if span <= 0 || span % page != 0 || span / page > MAX_PAGES {
        return None;
    }
    // Only after the stack-limit check: before it, the frame's own 4 KiB
    // of slack is all there is.
    if !state.stack_checked || bottom < state.floor.saturating_sub(UNCHECKED_FRAME) {
        return None;
    }
    // The probes' zeros overwrite whatever the frame held in the span.
    Rc::make_mut(&mut state.slots)
        .retain(|o, s| *o >= k || o.saturating_add(i64::from(s.size)) <= bottom);
    state.regs[RSP] = Value::Frame(bottom);
    state.forget(RSP);
    state.flags = Flags::Unknown;
    Some(Next::Jump(jne.next_ip()))
}
