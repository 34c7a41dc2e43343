//! One instruction: the rules it must keep (memory operands, control
//! flow, no system instructions) and what it does to the abstract state.
//!
//! Instructions Cranelift uses to move pointers and indices around (`mov`,
//! `lea`, `add`, `sub`, `and`, `xor`, shifts, `cmp`, `cmov`, `push`,
//! `pop`, calls and branches) are modelled one by one; any other
//! instruction makes every general-purpose register it writes an
//! unknown integer (bounded by 2³²-1 when written as 32 bits, which
//! zero-extends), which is always sound: an integer is never an address
//! on its own.

use super::decode::Operands;
use super::induction;
use super::layout::{Field, HeapId, Layout, Region, TableId};
use super::probe;
use super::relations::{Limit, Linear, Relations, Room, least_len, within_rooms};
use super::rules::Rule;
use super::value::{
    Bound, Flags, LOW32, RBP, RSP, Slot, State, Value, choose, constant_of, index_name,
};
use crate::artifact::inspect::functions::Function;
use iced_x86::{
    Code, ConditionCode, FlowControl, Instruction, Mnemonic, OpAccess, OpKind, Register, UsedMemory,
};
use std::rc::Rc;

/// How far below the entry the frame may grow without a stack-limit
/// check: one page, which the host's own stack keeps beyond the limit.
pub const UNCHECKED_FRAME: i64 = 4096;

/// How far past null a checked (null or in-bounds) pointer may reach and
/// still fault when null: the first page is never mapped.
const NULL_PAGE: u64 = 4096;

/// What the function around the instruction is.
pub struct Context<'a> {
    /// The layout of runtime structures.
    pub layout: &'a Layout,
    /// `.text`.
    pub text: &'a [u8],
    /// The function.
    pub function: &'a Function,
    /// Every function, sorted by start (for call targets).
    pub functions: &'a [Function],
    /// Bytes of incoming stack arguments it may use.
    pub arg_bytes: u64,
    /// Whether it is a wasm function (which must check the stack limit
    /// before it calls).
    pub wasm: bool,
    /// Exception handlers by call return address.
    pub handlers: &'a std::collections::BTreeMap<u64, Vec<(u64, Option<u32>)>>,
}

/// Where control goes after an instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// To the next instruction.
    Fall,
    /// To the next instruction, or to `target` when `cond` holds.
    Branch {
        /// The target.
        target: u64,
        /// The condition.
        cond: ConditionCode,
    },
    /// Only to `target`.
    Jump(u64),
    /// To each of `targets` (a jump table).
    Table(Vec<u64>),
    /// Nowhere in this function (return, trap, tail call).
    Stop,
}

/// A broken rule at the instruction.
pub type Finding = (Rule, String);

/// The general-purpose register `reg` belongs to, numbered as
/// [`State::regs`], with the width it is used at.
pub(super) fn gpr(reg: Register) -> Option<(usize, usize)> {
    if !reg.is_gpr() {
        return None;
    }
    let full = reg.full_register();
    let index = (full as usize).checked_sub(Register::RAX as usize)?;
    (index < 16).then_some((index, reg.size()))
}

/// What reading `reg` gives.
fn read(state: &State, reg: Register) -> Value {
    let high_byte = is_high_byte(reg);
    match gpr(reg) {
        // A type match's claim covers only its low bytes.
        Some((i, size)) if let Value::TypeMatch { origin, bytes } = state.regs[i] => {
            if size <= usize::from(bytes) && !high_byte {
                Value::TypeMatch {
                    origin,
                    bytes: size as u8,
                }
            } else if size == 8 {
                Value::ANY_INT
            } else {
                Value::int((1 << (8 * size)) - 1)
            }
        }
        Some((i, 8)) => state.with_facts(state.regs[i]),
        Some((i, 4)) => state.with_facts(state.regs[i].low32()),
        // The low bits of a constant are a constant (ah..bh are bits 8 to
        // 15, not the low byte: left out).
        Some((i, size))
            if size < 4
                && !high_byte
                && let Some(c) = constant_of(state.regs[i]) =>
        {
            Value::constant(c & ((1 << (8 * size)) - 1))
        }
        Some((_, 2)) => Value::int(0xffff),
        Some((_, _)) => Value::int(0xff),
        None => Value::ANY_INT,
    }
}

/// Whether `reg` is bits 8 to 15 of a register (ah, ch, dh, bh).
fn is_high_byte(reg: Register) -> bool {
    matches!(
        reg,
        Register::AH | Register::CH | Register::DH | Register::BH
    )
}

/// Writes `value` to `reg` (as an instruction at `pc` computes it).
fn write(state: &mut State, reg: Register, value: Value, at: At) {
    let Some((i, size)) = gpr(reg) else {
        return;
    };
    let sym = at.pc.wrapping_mul(16).wrapping_add(i as u64);
    state.forget(i);
    let value = match size {
        8 => value,
        4 => value.low32(),
        // The low byte of a type match: the claim is about that byte.
        1 if !is_high_byte(reg)
            && let Value::TypeMatch { origin, .. } = value =>
        {
            Value::TypeMatch { origin, bytes: 1 }
        }
        _ => {
            // The bits written are low ones (ah..bh: bits 8 to 15, under
            // the low 16), and `max | mask` of a low mask grows with `max`.
            let low = if size == 2 || is_high_byte(reg) {
                0xffff
            } else {
                0xff
            };
            match state.regs[i] {
                Value::Int { max, .. } => Value::int(max | low),
                _ => Value::ANY_INT,
            }
        }
    };
    // Copies of an earlier value with this name (or its low half) are
    // stale now; nothing holds a name this instruction has never given.
    if !at.first {
        make_stale(state, i, sym);
    }
    let value = match value {
        Value::Int { sym: None, .. } => value.named(sym),
        other => other,
    };
    state.regs[i] = value;
}

/// Register `i` is about to be given the name `sym` again (as in a loop):
/// what is tied to its earlier value with that name is made stale.
fn make_stale(state: &mut State, i: usize, sym: u64) {
    let stale = |v: &Value| v.sym().is_some_and(|s| s & !LOW32 == sym);
    if !state.sums.is_empty() {
        state
            .sums
            .retain(|sum, (base, _)| *sum != sym && *base & !LOW32 != sym);
    }
    if !state.wraps.is_empty() {
        state
            .wraps
            .retain(|sum, (base, _)| *sum != sym && *base & !LOW32 != sym);
    }
    state.facts.remove(&sym);
    state.facts.remove(&(sym ^ LOW32));
    Relations::forget(&mut state.rel, sym);
    induction::forget_name(state, sym);
    for (r, v) in state.regs.iter_mut().enumerate() {
        if r != i && stale(v) {
            *v = Value::int(v.int_max().unwrap_or(u64::MAX));
        }
        unindex(v, sym);
    }
    // The slots are copied only when one of them changes, and scanned
    // only when their summary does not rule the name out.
    let touched =
        |v: &Value| index_name(*v).is_some_and(|s| s & !LOW32 == sym) || names_element(v, sym);
    if state.slots.summary().may_name(sym) && state.slots.values().any(|slot| touched(&slot.value))
    {
        for slot in Rc::make_mut(&mut state.slots).values_mut() {
            if stale(&slot.value) {
                slot.value = Value::int(slot.value.int_max().unwrap_or(u64::MAX));
            }
            unindex(&mut slot.value, sym);
        }
    }
}

/// `v`, no longer tied to the integer named `sym` (rewritten: a compare
/// of its new value says nothing about an address made from the old).
/// In place, as this runs for every location on every write.
fn unindex(v: &mut Value, sym: u64) {
    let stale = |idx: &Option<u64>| idx.is_some_and(|s| s & !LOW32 == sym);
    match v {
        Value::Heap { idx, extra, .. } if stale(idx) => {
            *idx = None;
            *extra = 0;
        }
        Value::Table { idx, .. } if stale(idx) => *idx = None,
        _ if names_element(v, sym) => *v = Value::ANY_INT,
        _ => {}
    }
}

/// Whether `v` is a table pointer that starts from, or adds, the
/// elements named `sym` (or its low half).
fn names_element(v: &Value, sym: u64) -> bool {
    match *v {
        Value::TableAt { from, plus, .. } => {
            [from, plus].iter().any(|&s| s != 0 && s & !LOW32 == sym)
        }
        _ => false,
    }
}

/// An address: base and index values, scale and displacement.
struct Address {
    base: Value,
    index: Option<Value>,
    scale: u64,
    disp: i64,
    rip: bool,
}

fn address(state: &State, base: Register, index: Register, scale: u32, disp: u64) -> Address {
    let rip = base == Register::RIP;
    let base_value = if rip {
        Value::Text(disp)
    } else if base == Register::None {
        Value::constant(0)
    } else {
        read(state, base)
    };
    let index_value = (index != Register::None).then(|| read(state, index));
    let disp = if rip { 0 } else { disp as i64 };
    let mut a = Address {
        base: base_value,
        index: index_value,
        scale: u64::from(scale),
        disp,
        rip,
    };
    // `(int, pointer)` reads the same as `(pointer, int)`.
    if a.scale == 1
        && let Some(index) = a.index
        && matches!(a.base, Value::Int { .. })
        && !matches!(index, Value::Int { .. })
    {
        a.index = Some(a.base);
        a.base = index;
    }
    a
}

/// What `lea` of an address computes (no access is made).
fn effective(a: &Address, layout: &Layout) -> Value {
    let index_max = match a.index {
        None => Some(0),
        Some(Value::Int { max, .. }) => max.checked_mul(a.scale),
        Some(_) => None,
    };
    let index_sym = match a.index {
        Some(v) if a.scale == 1 => v.sym(),
        _ => None,
    };
    match (a.base, index_max) {
        (Value::Text(t), Some(0)) => Value::Text(t),
        (Value::Frame(k), Some(0)) => Value::Frame(k.wrapping_add(a.disp)),
        (Value::Ptr { region, offset }, Some(0)) => Value::Ptr {
            region,
            offset: offset.wrapping_add(a.disp),
        },
        (
            Value::Heap {
                heap,
                max,
                idx,
                extra,
            },
            Some(im),
        ) if a.disp >= 0 => {
            let disp = a.disp as u64;
            let whole = max.saturating_add(im).saturating_add(disp);
            let (idx, extra) = match (max, a.index) {
                (0, Some(_)) => (index_sym, disp),
                (_, None) => (idx, extra.saturating_add(disp)),
                _ => (None, 0),
            };
            Value::Heap {
                heap,
                max: whole,
                idx,
                extra,
            }
        }
        // A constant past a table's base, or past a pointer into it.
        (Value::Table { table, max: 0, .. }, Some(0)) if a.disp != 0 && a.index.is_none() => {
            induction::exact(table, a.disp)
        }
        (Value::TableAt { .. } | Value::Table { idx: Some(_), .. }, Some(0))
            if a.index.is_none()
                && let Some(p) = induction::parts(a.base) =>
        {
            p.moved(a.disp)
                .map_or(Value::ANY_INT, induction::Steps::value)
        }
        // A constant in a register past a pointer into a table.
        (Value::TableAt { .. } | Value::Table { idx: Some(_), .. }, Some(_))
            if let Some(p) = induction::parts(a.base)
                && let Some(c) = a.index.and_then(constant_of)
                && let Some(d) = i64::try_from(c)
                    .ok()
                    .and_then(|c| c.checked_mul(i64::try_from(a.scale).ok()?))
                    .and_then(|c| c.checked_add(a.disp)) =>
        {
            p.moved(d).map_or(Value::ANY_INT, induction::Steps::value)
        }
        // A named number of elements past a pointer into a table (the end
        // of an element loop's range): a 32-bit integer times the element
        // size. (From the base itself, with no constant, it is an element
        // index, below.)
        (Value::TableAt { .. } | Value::Table { .. }, Some(_))
            if !(matches!(
                a.base,
                Value::Table {
                    max: 0,
                    idx: None,
                    ..
                }
            ) && a.disp == 0)
                && let Some(p) = induction::parts(a.base)
                && let Some(Value::Int {
                    max, sym: Some(n), ..
                }) = a.index
                && max <= u64::from(u32::MAX)
                && a.scale == induction::element_size(layout, p.table) =>
        {
            p.with_name(n)
                .and_then(|p| p.moved(a.disp))
                .map_or(Value::ANY_INT, induction::Steps::value)
        }
        (Value::Table { table, max: 0, .. }, Some(im)) if a.disp == 0 => Value::Table {
            table,
            max: im,
            // Only an index scaled by the element size is the element's.
            idx: match a.index {
                Some(v) if a.scale == induction::element_size(layout, table) => v.sym(),
                _ => None,
            },
        },
        (Value::Text(t), _) if a.index.is_none() => Value::Text(t),
        (Value::Int { max, .. }, Some(im)) => {
            let sum = max
                .checked_add(im)
                .and_then(|s| s.checked_add_signed(a.disp));
            sum.map_or(Value::ANY_INT, Value::int)
        }
        _ => Value::ANY_INT,
    }
}

/// Checks one memory access of `size` bytes; returns what an 8-byte (or
/// type-id) load from it yields.
#[allow(clippy::too_many_arguments)]
fn access(
    cx: &Context<'_>,
    state: &State,
    a: &Address,
    size: u64,
    write: bool,
    pc: u64,
    load_size: u64,
) -> Result<Value, Finding> {
    let loaded = |field: Field, base: Value| -> Value {
        let pointer = load_size == 8;
        match field {
            Field::Data => Value::ANY_INT,
            Field::Ptr(region) if pointer => Value::Ptr { region, offset: 0 },
            Field::Code if pointer => Value::Code,
            Field::Opaque if pointer => Value::Opaque,
            Field::HeapBase(heap) if pointer => Value::Heap {
                heap,
                max: 0,
                idx: None,
                extra: 0,
            },
            Field::HeapLen(heap) if pointer => Value::HeapLen(heap),
            Field::TableBase(table) if pointer => Value::Table {
                table,
                max: 0,
                idx: None,
            },
            Field::TableLen(table) if pointer => Value::TableLen(table),
            Field::StackLimit if pointer => Value::StackLimit(0),
            Field::FuncRef if pointer => Value::FuncRef {
                origin: pc,
                from_table: false,
                checked: false,
                tagged: false,
            },
            Field::ExpectedType => Value::ExpectedType,
            Field::AtMost(max) => Value::int(max),
            Field::FuncRefType => match base {
                Value::FuncRef { origin, .. } => Value::FuncRefType(origin),
                _ => Value::ANY_INT,
            },
            Field::FuncRefCode if pointer => match base {
                Value::FuncRef {
                    origin,
                    from_table,
                    checked,
                    ..
                } => Value::FuncRefCode {
                    origin,
                    callable: checked || !from_table,
                },
                _ => Value::Code,
            },
            _ => Value::ANY_INT,
        }
    };
    let index_max = match a.index {
        None => 0,
        Some(Value::Int { max, .. }) => max.saturating_mul(a.scale),
        Some(other) => {
            return Err((
                Rule::UnknownPointer,
                format!("address indexed by a pointer ({other:?})"),
            ));
        }
    };
    let no_index = |rule: Rule, what: &str| -> Result<(), Finding> {
        if a.index.is_some() {
            return Err((rule, format!("{what} indexed by a register")));
        }
        Ok(())
    };
    match a.base {
        Value::Text(target) if a.rip || a.index.is_some() => {
            let end = target.saturating_add(index_max).saturating_add(size);
            if write {
                return Err((Rule::UnknownPointer, "store into code".to_string()));
            }
            // Constants are read from the function's pool, which may lie
            // past the symbol's end; any read of `.text` discloses only
            // the artifact's own code.
            if end > cx.text.len() as u64 {
                return Err((
                    Rule::UnknownPointer,
                    format!("read of .text+{target:#x} outside .text"),
                ));
            }
            // A whole 4- or 8-byte operand from the pool (no extension to
            // get wrong) is the constant the code will read: `.text` is
            // mapped read-only. Cranelift compares an index with a bound
            // too large for an immediate this way (an offset past the
            // guard, memory64).
            if a.index.is_none() && size == load_size && (size == 4 || size == 8) {
                let len = size as usize;
                if let Some(bytes) = usize::try_from(target)
                    .ok()
                    .and_then(|at| cx.text.get(at..at.checked_add(len)?))
                {
                    let mut word = [0; 8];
                    word[..len].copy_from_slice(bytes);
                    return Ok(Value::constant(u64::from_le_bytes(word)));
                }
            }
            Ok(Value::ANY_INT)
        }
        Value::Frame(k) => {
            no_index(Rule::StackAccess, "frame access")?;
            let Value::Frame(sp) = state.regs[RSP] else {
                return Err((Rule::StackAccess, "stack pointer unknown".to_string()));
            };
            let lo = k.saturating_add(a.disp);
            let hi = lo.saturating_add(size as i64);
            let top = 8 + cx.arg_bytes as i64;
            if lo < sp {
                return Err((
                    Rule::StackAccess,
                    format!("access {} bytes below the stack pointer", sp - lo),
                ));
            }
            if hi > top {
                return Err((
                    Rule::StackAccess,
                    format!(
                        "access {} bytes above the frame and its arguments",
                        hi - top
                    ),
                ));
            }
            if write && lo < 8 && hi > -8 {
                return Err((
                    Rule::StackAccess,
                    "store to the return address or saved frame pointer".to_string(),
                ));
            }
            Ok(state
                .slots
                .get(&lo)
                .filter(|s| u64::from(s.size) == load_size && load_size == 8)
                .map_or(Value::ANY_INT, |s| s.value))
        }
        Value::Ptr { region, offset } => {
            no_index(Rule::VmctxAccess, "runtime structure")?;
            let at = offset.saturating_add(a.disp);
            let limit = cx.layout.size(region);
            let Ok(at) = u64::try_from(at) else {
                return Err((
                    Rule::VmctxAccess,
                    format!("{region:?} at negative offset {at}"),
                ));
            };
            if at.saturating_add(size) > limit {
                return Err((
                    Rule::VmctxAccess,
                    format!("{region:?}+{at:#x} ({size} bytes) past its size {limit:#x}"),
                ));
            }
            if write && !cx.layout.writable(region, at, size) {
                return Err((
                    Rule::VmctxAccess,
                    format!("store to read-only {region:?}+{at:#x}"),
                ));
            }
            Ok(loaded(cx.layout.field(region, at), a.base))
        }
        Value::FuncRef { tagged: false, .. } => {
            no_index(Rule::VmctxAccess, "funcref")?;
            let at = u64::try_from(a.disp).unwrap_or(u64::MAX);
            let limit = cx.layout.size(Region::FuncRef);
            if at.saturating_add(size) > limit || write {
                return Err((
                    Rule::VmctxAccess,
                    format!("funcref+{:#x} ({size} bytes, store: {write})", a.disp),
                ));
            }
            Ok(loaded(cx.layout.field(Region::FuncRef, at), a.base))
        }
        Value::Heap {
            heap, max, extra, ..
        } => {
            let (_, guard) = cx.layout.heap_bounds(heap);
            if a.disp < 0 {
                return Err((Rule::HeapAccess, format!("negative offset {}", a.disp)));
            }
            // An index checked against the length: `index + slack ≤ len`,
            // so the access ends within `len + guard` when the constant
            // part is within `slack + guard`.
            if max == extra
                && a.scale == 1
                && let Some(Value::Int {
                    bound: Some(Bound::HeapLen { heap: h, slack }),
                    ..
                }) = a.index
                && h == heap
                && extra.saturating_add(a.disp as u64).saturating_add(size)
                    <= slack.saturating_add(guard)
            {
                return Ok(Value::ANY_INT);
            }
            let end = max
                .saturating_add(index_max)
                .saturating_add(a.disp as u64)
                .saturating_add(size);
            let reserved = mapped_bytes(state, cx.layout, heap);
            if end > reserved {
                return Err((
                    Rule::HeapAccess,
                    format!(
                        "{} may reach {end:#x} bytes past the base, beyond the {reserved:#x} reserved and guarded",
                        heap_name(heap)
                    ),
                ));
            }
            Ok(Value::ANY_INT)
        }
        Value::HeapOrNull { heap, max } => {
            no_index(Rule::HeapAccess, "heap address or null")?;
            let reserved = mapped_bytes(state, cx.layout, heap);
            let disp = u64::try_from(a.disp).unwrap_or(u64::MAX);
            let end = max.saturating_add(disp).saturating_add(size);
            if end > reserved || disp.saturating_add(size) > NULL_PAGE {
                return Err((
                    Rule::HeapAccess,
                    format!(
                        "{} access may reach {end:#x} bytes past the base, or {:#x} past null",
                        heap_name(heap),
                        disp.saturating_add(size)
                    ),
                ));
            }
            Ok(Value::ANY_INT)
        }
        Value::HeapChecked { heap, extra } => {
            no_index(Rule::HeapAccess, "checked heap address")?;
            let (_, guard) = cx.layout.heap_bounds(heap);
            if a.disp < 0 {
                return Err((Rule::HeapAccess, format!("negative offset {}", a.disp)));
            }
            // In bounds: at most the length plus `extra + disp + size`,
            // which the guard covers (or, short of the length, needs no
            // guard); out of bounds the address is null and only `disp +
            // size` is added, inside the null page.
            let end = i128::from(extra) + i128::from(a.disp) + i128::from(size);
            let from_null = (a.disp as u64).saturating_add(size);
            if end > i128::from(guard) || from_null > NULL_PAGE {
                return Err((
                    Rule::HeapAccess,
                    format!(
                        "{} access {end:#x} bytes past a checked address, beyond the guard",
                        heap_name(heap)
                    ),
                ));
            }
            Ok(Value::ANY_INT)
        }
        // A pointer at a known offset, or stepping through a loop: every
        // offset it may have, inside the elements the table always has.
        Value::TableAt { .. } => {
            no_index(Rule::TableAccess, "table pointer")?;
            if let Some(p) = induction::parts(a.base)
                && (p.named() || (p.stride != 0 && state.limits.get(&p.head).is_some()))
            {
                return named_access(cx, state, p, a.disp, size, write, pc, load_size);
            }
            let Some((table, lo, hi)) = induction::offsets(state, a.base) else {
                return Err((
                    Rule::TableAccess,
                    "table pointer stepping with a loop of unknown count".to_string(),
                ));
            };
            // A passive segment's elements: read only, as many as its
            // length was compared at least when its base was taken.
            let segment = induction::segment_bytes(table);
            if segment.is_some() && write {
                return Err((
                    Rule::TableAccess,
                    "store into a passive element segment".to_string(),
                ));
            }
            let bytes = match segment {
                Some(bytes) => i128::from(bytes),
                None => {
                    i128::from(induction::element_size(cx.layout, table))
                        * i128::from(cx.layout.table_min(table))
                }
            };
            let first = lo + i128::from(a.disp);
            let end = hi + i128::from(a.disp) + i128::from(size);
            if first < 0 || end > bytes {
                return Err((
                    Rule::TableAccess,
                    format!(
                        "table {} of module {} accessed at offsets {first}..{end}, beyond its {bytes} bytes",
                        table.table, table.module
                    ),
                ));
            }
            if segment.is_some() {
                return Ok(Value::ANY_INT);
            }
            Ok(table_element(cx.layout, table, pc, load_size))
        }
        Value::TableChecked(table) => {
            no_index(Rule::TableAccess, "checked table address")?;
            let element = induction::element_size(cx.layout, table);
            let at = u64::try_from(a.disp).unwrap_or(u64::MAX);
            if at.saturating_add(size) > element {
                return Err((
                    Rule::TableAccess,
                    format!("table element access past the element ({at}+{size})"),
                ));
            }
            Ok(table_element(cx.layout, table, pc, load_size))
        }
        // An index compared below the table's length, scaled by the
        // element size, from the base: one element.
        Value::Table { table, max: 0, .. }
            if a.scale == induction::element_size(cx.layout, table)
                && matches!(a.index, Some(Value::Int { bound: Some(Bound::TableLen(t)), .. }) if t == table)
                && u64::try_from(a.disp).is_ok_and(|d| {
                    d.saturating_add(size) <= induction::element_size(cx.layout, table)
                }) =>
        {
            Ok(table_element(cx.layout, table, pc, load_size))
        }
        // An element below the table's declared minimum needs no check:
        // the table never has fewer elements.
        Value::Table { table, max, .. }
            if u64::try_from(a.disp).is_ok_and(|d| {
                max.saturating_add(index_max)
                    .saturating_add(d)
                    .saturating_add(size)
                    <= induction::element_size(cx.layout, table)
                        .saturating_mul(cx.layout.table_min(table))
            }) =>
        {
            Ok(table_element(cx.layout, table, pc, load_size))
        }
        // An element index by name that a compare of a sum bounded.
        Value::Table { idx: Some(_), .. }
            if a.index.is_none()
                && let Some(p) = induction::parts(a.base)
                && let Ok(loaded) =
                    named_access(cx, state, p, a.disp, size, write, pc, load_size) =>
        {
            Ok(loaded)
        }
        Value::Table { table, .. } => Err((
            Rule::TableAccess,
            format!(
                "table {} of module {} accessed with no bounds check",
                table.table, table.module
            ),
        )),
        // Null itself (an address a `cmov` nulled on every path, where
        // the compare that keeps it cannot hold): inside the null page,
        // the access faults.
        Value::Int { max: 0, .. }
            if a.index.is_none()
                && u64::try_from(a.disp).is_ok_and(|d| d.saturating_add(size) <= NULL_PAGE) =>
        {
            Ok(Value::ANY_INT)
        }
        other => Err((
            Rule::UnknownPointer,
            format!("access through {}", describe(other)),
        )),
    }
}

/// What a load of a table element gives: a funcref (maybe with its
/// lazy-initialisation tag) from a funcref table, an integer otherwise.
fn table_element(layout: &Layout, table: TableId, pc: u64, load_size: u64) -> Value {
    if layout.table_holds_func_refs(table) && load_size == 8 {
        Value::FuncRef {
            origin: pc,
            from_table: true,
            checked: false,
            tagged: true,
        }
    } else {
        Value::ANY_INT
    }
}

/// Checks an access at `disp` past a table pointer with named parts (or
/// a count bounded by a name), as linear forms over the names: its least
/// offset never below the base, its greatest plus the access at most the
/// table's length by a room ([`relations`](super::relations)), or within
/// the elements the table always has when no name is left in it.
#[allow(clippy::too_many_arguments)]
fn named_access(
    cx: &Context<'_>,
    state: &State,
    p: induction::Steps,
    disp: i64,
    size: u64,
    write: bool,
    pc: u64,
    load_size: u64,
) -> Result<Value, Finding> {
    let table = p.table;
    let refuse = |why: &str| {
        Err((
            Rule::TableAccess,
            format!(
                "table {} of module {} accessed {why}",
                table.table, table.module
            ),
        ))
    };
    // A passive segment's elements are read only.
    if induction::segment_bytes(table).is_some() && write {
        return refuse("by a store into a passive element segment");
    }
    let element = induction::element_size(cx.layout, table);
    let Some((least, most)) = induction::span(state, p, element) else {
        return refuse("through a pointer stepping with a loop of unknown count");
    };
    let at = Linear::constant(disp.into());
    if !least.plus(&at, 1).never_negative() {
        return refuse("below its base, as far as the names say");
    }
    let end = most.plus(&at, 1).plus(&Linear::constant(size.into()), 1);
    let always = i128::from(element) * i128::from(least_len(cx.layout, table));
    let fits = if end.terms.is_empty() {
        end.c <= always
    } else {
        within_rooms(&state.rel, &end, table, element, cx.layout)
    };
    if !fits {
        return refuse("past what any compare of its length bounds");
    }
    if induction::segment_bytes(table).is_some() {
        return Ok(Value::ANY_INT);
    }
    Ok(table_element(cx.layout, table, pc, load_size))
}

fn heap_name(heap: HeapId) -> String {
    match heap {
        HeapId::Memory { module, memory } => format!("memory {memory} of module {module}"),
        HeapId::Gc => "the GC heap".to_string(),
    }
}

fn describe(value: Value) -> String {
    match value {
        Value::Unknown => "an unknown value".to_string(),
        Value::Int { .. } => "an integer".to_string(),
        Value::Opaque => "a pointer that must not be dereferenced".to_string(),
        other => format!("{other:?}"),
    }
}

/// The system and privileged instructions Wasmtime never emits.
fn privileged(insn: &Instruction) -> bool {
    use Mnemonic as M;
    matches!(insn.flow_control(), FlowControl::Interrupt)
        || matches!(
            insn.mnemonic(),
            M::Syscall
                | M::Sysenter
                | M::Sysexit
                | M::Sysret
                | M::Int
                | M::Int1
                | M::Int3
                | M::Into
                | M::In
                | M::Insb
                | M::Insw
                | M::Insd
                | M::Out
                | M::Outsb
                | M::Outsw
                | M::Outsd
                | M::Hlt
                | M::Cli
                | M::Sti
                | M::Lgdt
                | M::Lidt
                | M::Lldt
                | M::Ltr
                | M::Rdmsr
                | M::Wrmsr
                | M::Invlpg
                | M::Wbinvd
                | M::Invd
                | M::Iret
                | M::Iretd
                | M::Iretq
                | M::Swapgs
                | M::Clts
                | M::Lmsw
                | M::Wrfsbase
                | M::Wrgsbase
                | M::Rdfsbase
                | M::Rdgsbase
                | M::Vmcall
                | M::Vmmcall
                | M::Xsetbv
                | M::Rdpmc
                | M::Sgdt
                | M::Sidt
        )
        || matches!(
            insn.code(),
            Code::Mov_r64_cr | Code::Mov_cr_r64 | Code::Mov_r64_dr | Code::Mov_dr_r64
        )
}

/// Checks `insn` and applies it to `state`; pushes what it breaks onto
/// `findings`.
pub fn step(
    cx: &Context<'_>,
    decoded: &Operands<'_>,
    state: &mut State,
    findings: &mut Vec<Finding>,
) -> Next {
    let insn = decoded.insn;
    let pc = insn.ip();
    let at = At {
        pc,
        first: decoded.first,
    };
    let after_call = std::mem::take(&mut state.after_call);
    // Only a load of a pointer, or a call, makes a funcref named `pc`
    // (and only one stepped before has made one).
    if !decoded.first
        && (insn.mnemonic() == Mnemonic::Call
            || (!decoded.memory.is_empty() && insn.op0_register().size() == 8))
    {
        state.retire_origin(pc);
    }
    if privileged(insn) {
        findings.push((Rule::Privileged, format!("{:?}", insn.mnemonic())));
        return Next::Stop;
    }
    if matches!(insn.segment_prefix(), Register::FS | Register::GS)
        || matches!(insn.memory_segment(), Register::FS | Register::GS)
    {
        findings.push((Rule::Privileged, "FS/GS segment override".to_string()));
    }
    let mnemonic = insn.mnemonic();
    // The memory the instruction touches, checked; the value a load gives.
    let mut loaded = Value::ANY_INT;
    let implicit_stack = matches!(
        mnemonic,
        Mnemonic::Push | Mnemonic::Pop | Mnemonic::Call | Mnemonic::Ret
    );
    let memory: &[UsedMemory] = if matches!(mnemonic, Mnemonic::Lea | Mnemonic::Nop) {
        &[]
    } else {
        decoded.memory
    };
    let load_size = (0..insn.op_count())
        .find(|&i| insn.op_kind(i) == OpKind::Register)
        .map_or(0, |i| insn.op_register(i).size() as u64);
    for m in memory {
        if implicit_stack && m.base() == Register::RSP && m.index() == Register::None {
            continue;
        }
        let a = if insn.is_ip_rel_memory_operand() {
            Address {
                base: Value::Text(insn.ip_rel_memory_address()),
                index: None,
                scale: 1,
                disp: 0,
                rip: true,
            }
        } else {
            address(state, m.base(), m.index(), m.scale(), m.displacement())
        };
        let write = matches!(
            m.access(),
            OpAccess::Write | OpAccess::CondWrite | OpAccess::ReadWrite | OpAccess::ReadCondWrite
        );
        let size = m.memory_size().size() as u64;
        match access(cx, state, &a, size.max(1), write, pc, load_size) {
            Ok(value) => loaded = value,
            Err(finding) => {
                findings.push(finding);
                loaded = Value::ANY_INT;
            }
        }
    }
    let op0 = insn.op0_register();
    let op_value = |state: &State, i: u32| -> Value {
        match insn.op_kind(i) {
            OpKind::Register => read(state, insn.op_register(i)),
            OpKind::Memory => loaded,
            OpKind::Immediate8
            | OpKind::Immediate16
            | OpKind::Immediate32
            | OpKind::Immediate64
            | OpKind::Immediate8to16
            | OpKind::Immediate8to32
            | OpKind::Immediate8to64
            | OpKind::Immediate32to64 => {
                let imm = insn.immediate(i);
                let width = insn.op_register(0).size();
                Value::constant(if width == 4 { imm & 0xffff_ffff } else { imm })
            }
            _ => Value::ANY_INT,
        }
    };
    let writes_rsp = gpr(op0).is_some_and(|(i, _)| i == RSP) && insn.op_kind(0) == OpKind::Register;
    let flags_touched = insn.rflags_modified() != 0;
    if mnemonic == Mnemonic::Sub
        && writes_rsp
        && let Some(next) = probe::step(cx, insn, state)
    {
        return next;
    }
    match mnemonic {
        Mnemonic::Mov if insn.op_kind(0) == OpKind::Register => {
            let value = op_value(state, 1);
            set(state, op0, value, at, findings);
            if insn.op_kind(1) == OpKind::Register
                && let (Some((i, 8)), Some((j, 8))) = (gpr(op0), gpr(insn.op_register(1)))
                && i != j
            {
                state.copied(i, j);
            }
        }
        Mnemonic::Mov => store(state, insn, op_value(state, 1)),
        Mnemonic::Movzx => {
            let max = if insn.op_kind(1) == OpKind::Register {
                (1u64 << (8 * insn.op_register(1).size())) - 1
            } else {
                (1u64 << (8 * insn.memory_size().size())).saturating_sub(1)
            };
            // Zero-extending a type match's byte: the whole value is
            // non-zero exactly when the byte is.
            let value = match op_value(state, 1) {
                Value::TypeMatch { origin, .. } => Value::TypeMatch {
                    origin,
                    bytes: op0.size() as u8,
                },
                _ => Value::int(max),
            };
            set(state, op0, value, at, findings);
        }
        // `sete` after a funcref's type id compared with an expected one.
        Mnemonic::Sete if insn.op_kind(0) == OpKind::Register => {
            let value = match state.flags {
                Flags::Cmp(Value::FuncRefType(origin), Value::ExpectedType)
                | Flags::Cmp(Value::ExpectedType, Value::FuncRefType(origin)) => {
                    Value::TypeMatch { origin, bytes: 1 }
                }
                _ => Value::int(0xff),
            };
            set(state, op0, value, at, findings);
            return Next::Fall;
        }
        Mnemonic::Movsxd | Mnemonic::Movsx => {
            // Only an entry of a jump table (read from `.text`, indexed
            // by a bounded Int times 4) is more than an integer.
            let value = if insn.op_kind(1) == OpKind::Memory
                && let Some(m) = memory.first()
                && let a = address(state, m.base(), m.index(), m.scale(), m.displacement())
                && let (Value::Text(table), Some(Value::Int { max, .. })) = (a.base, a.index)
                && a.scale == 4
                && a.disp == 0
            {
                Value::JumpEntry {
                    table,
                    count: max.saturating_add(1),
                }
            } else {
                Value::ANY_INT
            };
            set(state, op0, value, at, findings);
        }
        Mnemonic::Lea => {
            let a = address(
                state,
                insn.memory_base(),
                insn.memory_index(),
                insn.memory_index_scale(),
                insn.memory_displacement64(),
            );
            let mut a = if a.rip {
                Address {
                    base: Value::Text(insn.memory_displacement64()),
                    ..a
                }
            } else {
                a
            };
            // An index that is a name shifted left: the name, scaled.
            if let Some(Value::Int { sym: Some(s), .. }) = a.index
                && let Some(&(x, k)) = state.rel.scaled.get(&s)
                && let Some(scale) = a.scale.checked_shl(u32::from(k))
            {
                a.index = Some(Value::Int {
                    max: u64::from(u32::MAX),
                    sym: Some(x),
                    bound: None,
                });
                a.scale = scale;
            }
            let base_sym = match (a.base, a.index) {
                (
                    Value::Int {
                        max, sym: Some(s), ..
                    },
                    None,
                ) => Some((s, max < 1 << 62)),
                _ => None,
            };
            set(state, op0, effective(&a, cx.layout), at, findings);
            // `x + y` of two 32-bit names: a sum that never wraps, which a
            // compare with a table's length relates to both.
            if op0.size() == 8
                && a.scale == 1
                && a.disp == 0
                && let (
                    Value::Int {
                        max: mx,
                        sym: Some(x),
                        ..
                    },
                    Some(Value::Int {
                        max: my,
                        sym: Some(y),
                        ..
                    }),
                ) = (a.base, a.index)
                && mx <= u64::from(u32::MAX)
                && my <= u64::from(u32::MAX)
                && let Some(sum) = read(state, op0).sym()
                && sum != x
                && sum != y
            {
                Rc::make_mut(&mut state.rel).pairs.insert(sum, (x, y));
            }
            if op0.size() == 8
                && let Some((base, no_wrap)) = base_sym
                && let Ok(c) = u64::try_from(a.disp)
                && c < 1 << 32
                && let Some(sum) = read(state, op0).sym()
            {
                // A sum that cannot wrap is a sum modulo 2⁶⁴ too: only
                // the others are kept apart (and not when the instruction
                // renames its own operand, in a loop: `x ≡ x + c` would
                // be false).
                if no_wrap {
                    state.sums.insert(sum, (base, c));
                } else if sum != base {
                    state.wraps.insert(sum, (base, c));
                }
            }
        }
        Mnemonic::Add | Mnemonic::Sub if insn.op_kind(0) == OpKind::Register => {
            let a = read(state, op0);
            let b = op_value(state, 1);
            // A heap's length less a constant no more than the least it
            // can be: a bound that never wraps.
            if mnemonic == Mnemonic::Sub
                && op0.size() == 8
                && let Value::HeapLen(heap) = a
                && let Some(less) = constant_value(insn, b)
                && less <= least_heap_len(state, cx.layout, heap)
            {
                set(state, op0, Value::HeapLenLess { heap, less }, at, findings);
                state.flags = Flags::Unknown;
                return Next::Fall;
            }
            // A pointer into a table plus a name shifted into elements'
            // bytes: the pointer, that many elements on.
            // (From the base itself, either way round, it is an element
            // index, as a `lea` of the base and the index scaled makes.)
            let scaled = |v: Value| match v {
                Value::Int { sym: Some(s), .. } => state.rel.scaled.get(&s).copied(),
                _ => None,
            };
            let named = match (mnemonic, a, b) {
                (
                    Mnemonic::Add,
                    Value::Table {
                        table,
                        max: 0,
                        idx: None,
                    },
                    n,
                )
                | (
                    Mnemonic::Add,
                    n,
                    Value::Table {
                        table,
                        max: 0,
                        idx: None,
                    },
                ) if op0.size() == 8
                    && let Some((x, k)) = scaled(n)
                    && 1u64 << k == induction::element_size(cx.layout, table) =>
                {
                    Some(Value::Table {
                        table,
                        max: u64::from(u32::MAX) << k,
                        idx: Some(x),
                    })
                }
                (Mnemonic::Add, p, n)
                    if op0.size() == 8
                        && let Some(p) = induction::parts(p)
                        && let Some((x, k)) = scaled(n)
                        && 1u64 << k == induction::element_size(cx.layout, p.table) =>
                {
                    p.with_name(x).map(induction::Steps::value)
                }
                _ => None,
            };
            // `int + pointer` is `pointer + int` (a constant or index in
            // the register, the base from memory).
            let value = named.unwrap_or_else(|| match (mnemonic, a, b) {
                (Mnemonic::Add, Value::Int { .. }, pointer)
                    if !matches!(pointer, Value::Int { .. } | Value::Unknown) =>
                {
                    arith(true, pointer, a, op0.size())
                }
                _ => arith(mnemonic == Mnemonic::Add, a, b, op0.size()),
            });
            if writes_rsp && after_call && mnemonic == Mnemonic::Sub {
                // The callee popped its stack arguments; this reserves
                // the same space again.
            } else if writes_rsp {
                adjust_rsp(state, value, findings);
            } else {
                set(state, op0, value, at, findings);
                // `c + x` is `x + c` (a constant moved to a register
                // first, and the name added to it).
                let (a, b) = match (constant_of(a), b) {
                    (Some(_), Value::Int { sym: Some(_), .. })
                        if insn.op_kind(1) == OpKind::Register =>
                    {
                        (b, a)
                    }
                    _ => (a, b),
                };
                let c = match constant_of(b) {
                    Some(c) if insn.op_kind(1) == OpKind::Register => Some(c),
                    _ => constant_value(insn, b),
                };
                // Two constants: whether the sum carried is known.
                if mnemonic == Mnemonic::Add
                    && op0.size() == 8
                    && let (Some(x), Some(y)) = (constant_of(a), c)
                {
                    state.flags = Flags::Carried(x.checked_add(y).is_none());
                    return Next::Fall;
                }
                if mnemonic == Mnemonic::Add
                    && op0.size() == 8
                    && let (
                        Value::Int {
                            max,
                            sym: Some(base),
                            ..
                        },
                        Some(c),
                    ) = (a, c)
                    && c < 1 << 40
                    && let Some(sum) = read(state, op0).sym()
                {
                    if max < 1 << 62 {
                        state.sums.insert(sum, (base, c));
                    } else if sum != base {
                        state.wraps.insert(sum, (base, c));
                        state.flags = Flags::Carry(sum);
                        return Next::Fall;
                    }
                }
            }
        }
        // A funcref with its lazy-initialisation tag set (`ref.func`'s
        // answer, tagged as it is stored into a table and kept on).
        Mnemonic::Or
            if insn.op_kind(0) == OpKind::Register
                && op0.size() == 8
                && let Value::FuncRef {
                    origin,
                    from_table,
                    checked,
                    ..
                } = read(state, op0)
                && constant_of(op_value(state, 1)) == Some(1)
                && insn.op_kind(1) != OpKind::Register =>
        {
            let tagged = Value::FuncRef {
                origin,
                from_table,
                checked,
                tagged: true,
            };
            set(state, op0, tagged, at, findings);
        }
        Mnemonic::And if insn.op_kind(0) == OpKind::Register => {
            let a = read(state, op0);
            let b = op_value(state, 1);
            let value = match (a, b) {
                (
                    Value::FuncRef {
                        origin,
                        from_table,
                        checked,
                        ..
                    },
                    Value::Int { max, .. },
                ) if op0.size() == 8 && max == u64::MAX - 1 => Value::FuncRef {
                    origin,
                    from_table,
                    checked,
                    tagged: false,
                },
                (Value::Int { max: m1, .. }, Value::Int { max: m2, .. }) => Value::int(m1.min(m2)),
                (_, Value::Int { max, .. })
                    if max != u64::MAX && insn.op_kind(1) != OpKind::Register =>
                {
                    Value::int(max)
                }
                _ => Value::ANY_INT,
            };
            set(state, op0, value, at, findings);
        }
        // `x ^ x` is zero, whether both operands are one register or two
        // copies of one value.
        Mnemonic::Xor
            if insn.op_kind(0) == OpKind::Register
                && insn.op_kind(1) == OpKind::Register
                && (insn.op_register(1) == op0
                    || gpr(op0)
                        .zip(gpr(insn.op_register(1)))
                        .is_some_and(|((i, _), (j, _))| state.copies[i] & (1 << j) != 0)
                    || (op0.size() == insn.op_register(1).size()
                        && read(state, op0).sym().is_some()
                        && read(state, op0).sym() == read(state, insn.op_register(1)).sym())) =>
        {
            set(state, op0, Value::constant(0), at, findings);
        }
        Mnemonic::Shr | Mnemonic::Shl
            if insn.op_kind(0) == OpKind::Register && insn.op_kind(1) != OpKind::Register =>
        {
            let shift = insn.immediate(1) & 63;
            let before = read(state, op0);
            let value = match before {
                Value::Int { max, .. } if mnemonic == Mnemonic::Shr => Value::int(max >> shift),
                Value::Int { max, .. } if max.leading_zeros() as u64 > shift => {
                    Value::int(((max + 1) << shift) - 1)
                }
                _ => Value::ANY_INT,
            };
            set(state, op0, value, at, findings);
            // A 32-bit name shifted into a byte count (of 16-byte segment
            // elements, say): the product is known by the name.
            if mnemonic == Mnemonic::Shl
                && op0.size() == 8
                && (1..=8).contains(&shift)
                && let Value::Int {
                    max, sym: Some(x), ..
                } = before
                && max <= u64::from(u32::MAX)
                && let Some(product) = read(state, op0).sym()
                && product != x
            {
                Rc::make_mut(&mut state.rel)
                    .scaled
                    .insert(product, (x, shift as u8));
            }
        }
        Mnemonic::Cmp => {
            let (a, b) = (op_value(state, 0), op_value(state, 1));
            state.flags = match (a, insn.op_kind(1)) {
                // A constant too large to be named exactly (so `b` says
                // only that it is at most itself) that no length can be.
                (Value::HeapLen(heap), kind)
                    if kind != OpKind::Register && kind != OpKind::Memory =>
                {
                    let c = insn.immediate(1);
                    if c >= 1 << 40 && !c.is_multiple_of(cx.layout.heap_page_size(heap)) {
                        Flags::Unequal
                    } else {
                        Flags::Cmp(a, b)
                    }
                }
                _ => Flags::Cmp(a, b),
            };
            return Next::Fall;
        }
        // `test r, r` sets the zero flag as `cmp r, 0` does.
        Mnemonic::Test
            if insn.op_kind(0) == OpKind::Register
                && insn.op_kind(1) == OpKind::Register
                && insn.op_register(1) == op0 =>
        {
            state.flags = Flags::Cmp(read(state, op0), Value::constant(0));
            return Next::Fall;
        }
        Mnemonic::Push => {
            let value = op_value(state, 0);
            let Value::Frame(sp) = state.regs[RSP] else {
                findings.push((
                    Rule::StackCheck,
                    "push with the stack pointer unknown".into(),
                ));
                return Next::Stop;
            };
            adjust_rsp(state, Value::Frame(sp - 8), findings);
            let slots = Rc::make_mut(&mut state.slots);
            slots.retain(|o, _| *o <= sp - 16 || *o >= sp);
            slots.insert(sp - 8, Slot { value, size: 8 });
        }
        Mnemonic::Pop => {
            let Value::Frame(sp) = state.regs[RSP] else {
                findings.push((
                    Rule::StackCheck,
                    "pop with the stack pointer unknown".into(),
                ));
                return Next::Stop;
            };
            let value = state.slots.get(&sp).map_or(Value::ANY_INT, |s| s.value);
            state.forget(RSP);
            state.regs[RSP] = Value::Frame(sp + 8);
            if insn.op_kind(0) == OpKind::Register && !writes_rsp {
                set(state, op0, value, at, findings);
            }
        }
        Mnemonic::Ret => {
            if state.regs[RSP] != Value::Frame(0) {
                findings.push((
                    Rule::Return,
                    format!("return with the stack pointer at {:?}", state.regs[RSP]),
                ));
            }
            return Next::Stop;
        }
        Mnemonic::Ud2 => return Next::Stop,
        Mnemonic::Call => return call(cx, insn, at, state, loaded, findings),
        Mnemonic::Jmp => return jump(cx, insn, state, loaded, findings),
        _ if insn.is_jcc_short_or_near() => {
            let target = insn.near_branch_target();
            if !cx.function.contains(target) {
                findings.push((
                    Rule::BranchTarget,
                    format!("conditional branch to .text+{target:#x} outside the function"),
                ));
                return Next::Fall;
            }
            return Next::Branch {
                target,
                cond: insn.condition_code(),
            };
        }
        _ if is_cmov(mnemonic) => {
            let cond = insn.condition_code();
            let mut kept = state.clone();
            let keeps = kept.refine(cond, false, cx.layout);
            let mut moved = state.clone();
            let moves = moved.refine(cond, true, cx.layout);
            // An address at a constant offset is checked by the least
            // length the path it is chosen on knows (a `test` of the
            // length before an access at offset 0, with no guard).
            // (Only against null: a choice between two addresses keeps
            // them as they are, for the arithmetic that may follow.)
            let null = |v: Value| matches!(v, Value::Int { max: 0, .. });
            let (kept_value, moved_value) = (read(&kept, op0), op_value(&moved, 1));
            let (kept_value, moved_value) = match (null(kept_value), null(moved_value)) {
                (false, true) => (checked_by_least(&kept, cx.layout, kept_value), moved_value),
                (true, false) => (kept_value, checked_by_least(&moved, cx.layout, moved_value)),
                _ => (kept_value, moved_value),
            };
            let value = match (keeps, moves) {
                (true, false) => kept_value,
                (false, true) => moved_value,
                _ => choose(kept_value, moved_value, pc),
            };
            set(state, op0, value, at, findings);
            return Next::Fall;
        }
        _ => {
            // Anything else: every register it writes becomes an integer.
            for &reg in decoded.written {
                if gpr(reg).is_some_and(|(i, _)| i == RSP) {
                    findings.push((
                        Rule::StackCheck,
                        format!("{mnemonic:?} changes the stack pointer"),
                    ));
                    state.forget(RSP);
                    state.regs[RSP] = Value::Unknown;
                    continue;
                }
                // iced-x86 names the full register of a 32-bit write
                // (which clears the upper half); the operand says the width.
                let reg = if insn.op_kind(0) == OpKind::Register
                    && op0.is_gpr()
                    && op0.full_register() == reg.full_register()
                {
                    op0
                } else {
                    reg
                };
                let max = if reg.size() == 4 {
                    u64::from(u32::MAX)
                } else {
                    u64::MAX
                };
                set(state, reg, Value::int(max), at, findings);
            }
        }
    }
    if flags_touched {
        state.flags = Flags::Unknown;
    }
    Next::Fall
}

/// The constant an instruction's second operand is, if an immediate.
fn constant_value(insn: &Instruction, value: Value) -> Option<u64> {
    match (insn.op_kind(1), value) {
        // A constant from the function's pool (memory64's `offset +
        // size` past 2³²) is named as one when it is read.
        (OpKind::Memory, _) => super::value::constant_of(value),
        (OpKind::Register, _) => None,
        (_, Value::Int { max, .. }) => Some(max),
        _ => None,
    }
}

/// Whether `m` is a conditional move.
fn is_cmov(m: Mnemonic) -> bool {
    use Mnemonic as M;
    matches!(
        m,
        M::Cmova
            | M::Cmovae
            | M::Cmovb
            | M::Cmovbe
            | M::Cmove
            | M::Cmovne
            | M::Cmovg
            | M::Cmovge
            | M::Cmovl
            | M::Cmovle
            | M::Cmovo
            | M::Cmovno
            | M::Cmovp
            | M::Cmovnp
            | M::Cmovs
            | M::Cmovns
    )
}

/// The instruction a register is written by: its names are `pc·16 +
/// register`.
#[derive(Debug, Clone, Copy)]
struct At {
    pc: u64,
    /// Whether it is stepped for the first time in this analysis: then no
    /// location holds a name it gave, and nothing needs to be made stale.
    first: bool,
}

/// Writes a register, keeping rsp and rbp to the frame discipline.
fn set(state: &mut State, reg: Register, value: Value, at: At, findings: &mut Vec<Finding>) {
    if let Some((i, _)) = gpr(reg) {
        state.forget(i);
    }
    match gpr(reg) {
        Some((RSP, _)) => {
            if !matches!(value, Value::Frame(_)) {
                findings.push((
                    Rule::StackCheck,
                    format!("stack pointer set to {}", describe(value)),
                ));
            }
            state.regs[RSP] = value;
        }
        Some((RBP, 8)) => state.regs[RBP] = value,
        _ => write(state, reg, value, at),
    }
}

/// `add`/`sub` of two values.
fn arith(add: bool, a: Value, b: Value, width: usize) -> Value {
    if width != 8 {
        return Value::int(if width == 4 {
            u64::from(u32::MAX)
        } else {
            u64::MAX
        });
    }
    // A constant only: an Int at most `max` moves a pointer by any amount
    // up to it, not by exactly `max`.
    let exact = |v: Value| v.int_max().is_some_and(|max| constant_of(v) == Some(max));
    match (a, b) {
        (Value::Frame(k), Value::Int { max, .. }) if max < 1 << 31 && exact(b) => {
            let d = max as i64;
            Value::Frame(if add { k + d } else { k - d })
        }
        (Value::Ptr { region, offset }, Value::Int { max, .. }) if max < 1 << 31 && exact(b) => {
            Value::Ptr {
                region,
                offset: if add {
                    offset + max as i64
                } else {
                    offset - max as i64
                },
            }
        }
        // A pointer into a table moved by a constant.
        (Value::TableAt { .. } | Value::Table { idx: Some(_), .. }, Value::Int { .. })
            if let Some(c) = super::value::constant_of(b)
                && let Some(p) = induction::parts(a)
                && let Ok(c) = i64::try_from(c) =>
        {
            p.moved(if add { c } else { -c })
                .map_or(Value::ANY_INT, induction::Steps::value)
        }
        (Value::Table { table, max: 0, .. }, Value::Int { .. })
            if let Some(c) = super::value::constant_of(b)
                && c > 0
                && let Ok(c) = i64::try_from(c) =>
        {
            induction::exact(table, if add { c } else { -c })
        }
        // A table's base plus an Int is still inside the table's
        // allocation only as far as a bound on the sum says: `max`
        // grows by the Int's bound, and the offset is no element index.
        (Value::Table { table, max, .. }, Value::Int { max: m, .. }) if add => Value::Table {
            table,
            max: max.saturating_add(m),
            idx: None,
        },
        (Value::StackLimit(n), Value::Int { max, .. }) if add && exact(b) => {
            Value::StackLimit(n.saturating_add(max))
        }
        (
            Value::Heap {
                heap,
                max,
                idx,
                extra,
            },
            Value::Int { max: m, sym, .. },
        ) if add => {
            // `base + i + e` plus a constant c is `base + i + (e + c)`;
            // the pure base plus an Int `j` is `base + j`; anything else
            // keeps only its bound.
            let (idx, extra) = match (super::value::constant_of(b), max) {
                (Some(c), _) => (idx, extra.saturating_add(c)),
                (None, 0) => (sym, 0),
                (None, _) => (None, 0),
            };
            Value::Heap {
                heap,
                max: max.saturating_add(m),
                idx,
                extra,
            }
        }
        (Value::Int { max: m, sym, .. }, Value::Heap { heap, max: 0, .. }) if add => Value::Heap {
            heap,
            max: m,
            idx: sym,
            extra: 0,
        },
        (Value::Text(t), Value::JumpEntry { table, count }) if add && t == table => {
            Value::JumpTarget { table, count }
        }
        (Value::JumpEntry { table, count }, Value::Text(t)) if add && t == table => {
            Value::JumpTarget { table, count }
        }
        (Value::Int { max: m1, .. }, Value::Int { max: m2, .. }) if add => {
            m1.checked_add(m2).map_or(Value::ANY_INT, Value::int)
        }
        // A 64-bit subtraction may wrap: nothing is known.
        _ => Value::ANY_INT,
    }
}

/// Moves rsp to `value`, holding it above the floor.
fn adjust_rsp(state: &mut State, value: Value, findings: &mut Vec<Finding>) {
    state.forget(RSP);
    match value {
        Value::Frame(k) if k < state.floor => {
            findings.push((
                Rule::StackCheck,
                format!(
                    "frame grows to {} bytes, {} past what the stack-limit check allows",
                    -k,
                    state.floor - k
                ),
            ));
            state.regs[RSP] = value;
        }
        Value::Frame(_) => state.regs[RSP] = value,
        other => {
            findings.push((
                Rule::StackCheck,
                format!("stack pointer set to {}", describe(other)),
            ));
            state.regs[RSP] = Value::Unknown;
        }
    }
}

/// A store to memory: into a frame slot, the value is remembered.
fn store(state: &mut State, insn: &Instruction, value: Value) {
    let a = address(
        state,
        insn.memory_base(),
        insn.memory_index(),
        insn.memory_index_scale(),
        insn.memory_displacement64(),
    );
    if let (Value::Frame(k), None) = (a.base, a.index) {
        let at = k.saturating_add(a.disp);
        let size = insn.memory_size().size() as i64;
        let value = if size == 8 { value } else { Value::ANY_INT };
        let slot = Slot {
            value,
            size: u8::try_from(size).unwrap_or(u8::MAX),
        };
        // Most stores to the frame overwrite a slot of the same place and
        // width that nothing else overlaps: only its value changes, and
        // when that is what it held already, the shared slots are not
        // copied at all.
        match state.slots.sole_overlap(at, size) {
            Some(i) if state.slots.value_at(i) == &slot => {}
            Some(i) => *Rc::make_mut(&mut state.slots).value_at_mut(i) = slot,
            None => {
                let slots = Rc::make_mut(&mut state.slots);
                slots.retain(|o, s| o.saturating_add(i64::from(s.size)) <= at || *o >= at + size);
                slots.insert(at, slot);
            }
        }
    }
}

/// The 64-bit registers, numbered as [`State::regs`].
const GPR64: [Register; 16] = [
    Register::RAX,
    Register::RCX,
    Register::RDX,
    Register::RBX,
    Register::RSP,
    Register::RBP,
    Register::RSI,
    Register::RDI,
    Register::R8,
    Register::R9,
    Register::R10,
    Register::R11,
    Register::R12,
    Register::R13,
    Register::R14,
    Register::R15,
];

/// Registers a call may change (System V caller-saved).
const CALLER_SAVED: [usize; 9] = [0, 1, 2, 6, 7, 8, 9, 10, 11];

fn call(
    cx: &Context<'_>,
    insn: &Instruction,
    at: At,
    state: &mut State,
    loaded: Value,
    findings: &mut Vec<Finding>,
) -> Next {
    let pc = insn.ip();
    // A wasm function checks the stack limit before it calls anything that
    // may call back into wasm; Wasmtime's builtins run host code on the
    // host's own checks (and raise traps, the stack overflow's among them).
    let builtin = insn.op_kind(0) == OpKind::NearBranch64
        && function_at(cx.functions, insn.near_branch_target())
            .is_some_and(|f| f.symbol.starts_with("wasmtime_builtin_"));
    if cx.wasm && !state.stack_checked && !builtin {
        findings.push((
            Rule::StackCheck,
            "call before the stack-limit check".to_string(),
        ));
    }
    let mut result = Value::ANY_INT;
    // Builtins that never grow a table nor drop an element segment:
    // pointers into a table stay good across them (the lazy
    // initialisation of an element, called inside `table.copy`'s loop,
    // writes the element in place), and so do segments' lengths.
    let keeps_tables = insn.op_kind(0) == OpKind::NearBranch64
        && function_at(cx.functions, insn.near_branch_target()).is_some_and(|f| {
            f.start == insn.near_branch_target()
                && matches!(
                    f.symbol.as_str(),
                    "wasmtime_builtin_table_get_lazy_init_func_ref"
                        | "wasmtime_builtin_ref_func"
                        | "wasmtime_builtin_is_subtype"
                        | "wasmtime_builtin_passive_elem_segment_len"
                        | "wasmtime_builtin_passive_elem_segment_base"
                )
        });
    match insn.op_kind(0) {
        OpKind::NearBranch64 => {
            let target = insn.near_branch_target();
            match function_at(cx.functions, target) {
                Some(f) if f.start == target => {
                    // Both builtins answer a funcref (or null): the lazily
                    // initialised table entry, and `ref.func`'s funcref of
                    // the function whose index the caller passes. Which
                    // function is not checked, so neither is callable
                    // before its type id compares equal to an expected one.
                    // A passive element segment of this module, by a
                    // constant index: its length, and its base, good for
                    // as many elements as the length was compared at least.
                    let own = matches!(
                        read(state, Register::RDI),
                        Value::Ptr {
                            region: Region::VmCtx(Some(_)),
                            offset: 0
                        }
                    );
                    let segment = constant_of(read(state, Register::ESI))
                        .and_then(|n| u32::try_from(n).ok())
                        .filter(|&n| own && n < 1 << 20);
                    if let Some(n) = segment {
                        match f.symbol.as_str() {
                            "wasmtime_builtin_passive_elem_segment_len" => {
                                result = Value::SegLen(n);
                            }
                            "wasmtime_builtin_passive_elem_segment_base" => {
                                let len = state.seg_min.get(&n).copied().unwrap_or(0);
                                if let Some(table) = induction::segment(pc, len) {
                                    result = induction::exact(table, 0);
                                    // What compares proved of the segment's
                                    // length bounds this answer's elements.
                                    let rooms: Vec<Room> = state
                                        .rel
                                        .rooms
                                        .iter()
                                        .filter(|r| r.limit == Limit::Seg(n))
                                        .map(|r| Room {
                                            limit: Limit::Len(table),
                                            ..*r
                                        })
                                        .collect();
                                    for room in rooms {
                                        Rc::make_mut(&mut state.rel).add_room(room);
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                    // `is_subtype(vmctx, actual, expected)` answers in
                    // 32 bits whether the actual type is acceptable.
                    if f.symbol == "wasmtime_builtin_is_subtype"
                        && let Value::FuncRefType(origin) = read(state, Register::ESI)
                        && read(state, Register::EDX) == Value::ExpectedType
                    {
                        result = Value::TypeMatch { origin, bytes: 4 };
                    }
                    if matches!(
                        f.symbol.as_str(),
                        "wasmtime_builtin_table_get_lazy_init_func_ref"
                            | "wasmtime_builtin_ref_func"
                    ) {
                        result = Value::FuncRef {
                            origin: pc,
                            from_table: true,
                            checked: false,
                            tagged: false,
                        };
                    }
                }
                _ => findings.push((
                    Rule::CallTarget,
                    format!("call to .text+{target:#x}, not a function entry"),
                )),
            }
        }
        OpKind::Register | OpKind::Memory => {
            let target = if insn.op_kind(0) == OpKind::Register {
                read(state, insn.op0_register())
            } else {
                loaded
            };
            if !matches!(
                target,
                Value::Code | Value::FuncRefCode { callable: true, .. }
            ) {
                findings.push((
                    Rule::IndirectCall,
                    format!("indirect call through {}", describe(target)),
                ));
            }
        }
        _ => findings.push((Rule::CallTarget, "far call".to_string())),
    }
    forget_across_call(state, cx.layout, keeps_tables);
    for r in CALLER_SAVED {
        write(state, GPR64[r], Value::ANY_INT, at);
    }
    write(state, Register::RAX, result, at);
    state.flags = Flags::Unknown;
    state.after_call = true;
    Next::Fall
}

/// What a call may make stale in the locations it keeps (the
/// callee-saved registers and the frame): pointers into passive segments
/// (the answer of an earlier call), into a memory whose base may move
/// when it grows, and into a table that may grow (its elements may move
/// with it). They become plain integers, so that code that uses one
/// after the call, rather than loading the base again, is refused.
/// Lengths stay: memories and tables never shrink, so a length read
/// before the call still bounds what is there after it. A passive element
/// segment's does not: the callee may drop the segment (`elem.drop`), and
/// a length compared before the call says nothing of it after, so what is
/// known of segment lengths goes too. A callee that neither grows a table
/// nor drops a segment (`keeps_tables`: the builtins that answer a
/// segment's length and base, and a few others) leaves table pointers
/// and segment lengths as they are.
fn forget_across_call(state: &mut State, layout: &Layout, keeps_tables: bool) {
    if !keeps_tables {
        forget_segment_lengths(state);
    }
    let stale = |v: &Value| match *v {
        Value::Heap { heap, .. }
        | Value::HeapChecked { heap, .. }
        | Value::HeapOrNull { heap, .. } => layout.heap_may_move(heap),
        Value::Table { table, .. } | Value::TableAt { table, .. } | Value::TableChecked(table) => {
            induction::in_segment(v) || (!keeps_tables && !layout.table_fixed(table))
        }
        _ => false,
    };
    // Calls are many and such pointers few: look before rewriting.
    if !state.regs.iter().any(stale) && !state.slots.values().any(|s| stale(&s.value)) {
        return;
    }
    state.map_values(|v| if stale(&v) { Value::ANY_INT } else { v });
}

fn jump(
    cx: &Context<'_>,
    insn: &Instruction,
    state: &mut State,
    loaded: Value,
    findings: &mut Vec<Finding>,
) -> Next {
    match insn.op_kind(0) {
        OpKind::NearBranch64 => {
            let target = insn.near_branch_target();
            if cx.function.contains(target) {
                return Next::Jump(target);
            }
            match function_at(cx.functions, target) {
                Some(f) if f.start == target => {
                    if state.regs[RSP] != Value::Frame(0) {
                        findings.push((
                            Rule::Return,
                            "tail call with the frame still set up".to_string(),
                        ));
                    }
                }
                _ => findings.push((
                    Rule::BranchTarget,
                    format!("jump to .text+{target:#x}, not an instruction of this function or a function entry"),
                )),
            }
            Next::Stop
        }
        OpKind::Register => match read(state, insn.op0_register()) {
            Value::JumpTarget { table, count } => jump_table(cx, table, count, findings),
            // An indirect tail call: a callable pointer, with the frame
            // torn down.
            Value::Code | Value::FuncRefCode { callable: true, .. } => {
                if state.regs[RSP] != Value::Frame(0) {
                    findings.push((
                        Rule::Return,
                        "tail call with the frame still set up".to_string(),
                    ));
                }
                Next::Stop
            }
            other => {
                findings.push((
                    Rule::JumpTable,
                    format!("indirect jump through {}", describe(other)),
                ));
                Next::Stop
            }
        },
        _ => {
            findings.push((
                Rule::JumpTable,
                format!("indirect jump through memory ({})", describe(loaded)),
            ));
            Next::Stop
        }
    }
}

/// The targets of a jump table of `count` reachable entries at `table`.
fn jump_table(cx: &Context<'_>, table: u64, count: u64, findings: &mut Vec<Finding>) -> Next {
    let end = count.checked_mul(4).and_then(|n| n.checked_add(table));
    let Some(end) = end.filter(|&e| table >= cx.function.start && e <= cx.function.end()) else {
        findings.push((
            Rule::JumpTable,
            format!(
                "jump table at .text+{table:#x} with {count} reachable entries leaves the function"
            ),
        ));
        return Next::Stop;
    };
    let mut targets = Vec::new();
    for at in (table..end).step_by(4) {
        let Some(bytes) = usize::try_from(at)
            .ok()
            .and_then(|at| cx.text.get(at..at + 4))
        else {
            findings.push((Rule::JumpTable, "jump table outside .text".to_string()));
            return Next::Stop;
        };
        let entry = i32::from_le_bytes(bytes.try_into().unwrap_or([0; 4]));
        let target = table.wrapping_add_signed(i64::from(entry));
        if !cx.function.contains(target) {
            findings.push((
                Rule::JumpTable,
                format!("jump-table entry at .text+{at:#x} targets .text+{target:#x} outside the function"),
            ));
            return Next::Stop;
        }
        targets.push(target);
    }
    Next::Table(targets)
}

/// The function whose range holds `offset`.
pub fn function_at(functions: &[Function], offset: u64) -> Option<&Function> {
    let after = functions.partition_point(|f| f.start <= offset);
    functions[..after]
        .iter()
        .rev()
        .find(|f| f.contains(offset) || f.start == offset)
}

/// Forgets every segment length: known least lengths, the lengths held as
/// values, and what compares proved of them.
fn forget_segment_lengths(state: &mut State) {
    state.seg_min = Default::default();
    let kept = |r: &Room| match r.limit {
        Limit::Seg(_) => false,
        Limit::Len(t) => induction::segment_bytes(t).is_none(),
        Limit::Const(_) => true,
    };
    if !state.rel.rooms.iter().all(kept) {
        Rc::make_mut(&mut state.rel).rooms.retain(kept);
    }
    let held = |v: &Value| matches!(v, Value::SegLen(_));
    if state.regs.iter().any(held) || state.slots.values().any(|s| held(&s.value)) {
        state.map_values(|v| if held(&v) { Value::ANY_INT } else { v });
    }
}

/// `v`, where it is a heap's base plus a constant, as a checked address
/// when `state` knows the heap holds more than the constant: the address
/// is then that much short of the length.
fn checked_by_least(state: &State, layout: &Layout, v: Value) -> Value {
    match v {
        Value::Heap {
            heap,
            max,
            idx: None,
            extra,
        } if max == extra => {
            let least = least_heap_len(state, layout, heap);
            match i64::try_from(i128::from(extra) - i128::from(least)) {
                Ok(short) if least > 0 && short < 0 => Value::HeapChecked { heap, extra: short },
                _ => v,
            }
        }
        other => other,
    }
}

/// The fewest bytes heap `heap` holds on this path: what a compare of its
/// length proved, or its declared minimum (a memory never shrinks).
fn least_heap_len(state: &State, layout: &Layout, heap: HeapId) -> u64 {
    state
        .min_len
        .get(&heap)
        .copied()
        .unwrap_or(0)
        .max(layout.heap_min_bytes(heap))
}

/// The bytes after heap `heap`'s base that are mapped or guarded on this
/// path: its reservation and guard, or the least length it holds and the
/// guard after it, whichever is more.
fn mapped_bytes(state: &State, layout: &Layout, heap: HeapId) -> u64 {
    let (reserved, guard) = layout.heap_bounds(heap);
    reserved.max(least_heap_len(state, layout, heap).saturating_add(guard))
}
