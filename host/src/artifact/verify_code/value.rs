//! The abstract values the analysis tracks (drawn in [`rules`](super::rules)),
//! the state at one point of a function (registers, frame slots, the last
//! comparison, how deep the frame may grow), how two states join where
//! control flow merges, and how a conditional branch or move refines them.

use super::layout::{HeapId, Layout, Region, TableId};
use super::relations::Relations;
use super::slots::Slots;
use super::vec_map::VecMap;
use iced_x86::ConditionCode;
use std::rc::Rc;

/// Names one computed integer, so that a comparison of it refines every
/// copy: the offset of the instruction that made it, times 16, plus the
/// register it went to.
pub type Sym = u64;

/// Marks the name of an integer's low 32 bits.
pub const LOW32: Sym = 1 << 63;

/// Marks the name of a constant: the rest of the name is its value.
pub const CONST: Sym = 1 << 59;

/// The value of a constant's name.
pub fn constant_of(v: Value) -> Option<u64> {
    match v.sym() {
        Some(s) if s & !((1 << 40) - 1) == CONST => Some(s & ((1 << 40) - 1)),
        _ => None,
    }
}

/// The origin of funcrefs whose own origin was given to a newer one: all
/// of them fit to call already, so nothing a compare proves about a type
/// id loaded from one can make an unchecked funcref callable.
pub const RETIRED: u64 = u64::MAX;

/// An upper bound that is another value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// Plus `slack`, at most a heap's current length.
    HeapLen {
        /// The heap.
        heap: HeapId,
        /// What may be added and stay at most the length.
        slack: u64,
    },
    /// Less than a table's length.
    TableLen(TableId),
}

/// What a register or frame slot is known to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// Nothing is known.
    Unknown,
    /// An integer at most `max`.
    Int {
        /// Its largest possible value.
        max: u64,
        /// Its name, if one instruction made exactly it.
        sym: Option<Sym>,
        /// A bound it has been compared against.
        bound: Option<Bound>,
    },
    /// The stack pointer on entry plus `k`.
    Frame(i64),
    /// A runtime structure plus a constant.
    Ptr {
        /// The structure.
        region: Region,
        /// The constant.
        offset: i64,
    },
    /// A heap's base plus at most `max`.
    Heap {
        /// The heap.
        heap: HeapId,
        /// The largest offset.
        max: u64,
        /// The Int that is the whole offset, less `extra`, if one is.
        idx: Option<Sym>,
        /// A constant added to it.
        extra: u64,
    },
    /// Null, or a heap's base plus at most its current length plus `extra`
    /// (negative: that far short of the length, where the compare covered
    /// the access's size, as with no guard region).
    HeapChecked {
        /// The heap.
        heap: HeapId,
        /// The constant beyond the length.
        extra: i64,
    },
    /// Null, or a heap's base plus at most `max` (a `cmov` that nulls an
    /// address on the path where it would be out of bounds).
    HeapOrNull {
        /// The heap.
        heap: HeapId,
        /// The largest offset.
        max: u64,
    },
    /// A heap's current length.
    HeapLen(HeapId),
    /// A heap's current length less `less`, which is no more than the
    /// least length the heap can have (so the difference never wraps):
    /// Cranelift's bound for `index ≤ len - (offset + size)` where no
    /// guard region absorbs the access.
    HeapLenLess {
        /// The heap.
        heap: HeapId,
        /// What is taken off.
        less: u64,
    },
    /// A table's base plus at most `max` bytes.
    Table {
        /// The table.
        table: TableId,
        /// The largest offset in bytes.
        max: u64,
        /// The Int that times the element size is the whole offset.
        idx: Option<Sym>,
    },
    /// A table's base plus `e·(from + plus) + off + stride·n`, where `e`
    /// is the element size, `from` and `plus` name integers (0: none),
    /// and `n` is the number of times the loop at `head` has gone round,
    /// within the range that [`State::loops`] keeps for it, and at most
    /// the bound by a name that [`State::limits`] may keep (stride 0: exactly
    /// the rest, `head` 0).
    TableAt {
        /// The table.
        table: TableId,
        /// The offset in bytes when `n` is 0, beyond the named elements.
        off: i64,
        /// What each round adds.
        stride: i64,
        /// The loop's head.
        head: u64,
        /// An element index this starts from (a 32-bit integer), or 0.
        from: Sym,
        /// A second one, added to it (a count of elements), or 0.
        plus: Sym,
    },
    /// Null, or a table's element below its length.
    TableChecked(TableId),
    /// A table's current length.
    TableLen(TableId),
    /// The current length, in elements, of passive element segment `n`
    /// of the function's module (what `passive_elem_segment_len` answers).
    SegLen(u32),
    /// The stack limit plus `n`.
    StackLimit(u64),
    /// A funcref (or null), maybe with the lazy-initialisation tag bit.
    FuncRef {
        /// Which load (or merge) it came from.
        origin: u64,
        /// Whether it came from a table (and so needs a type check).
        from_table: bool,
        /// Whether its type id compared equal to an expected one.
        checked: bool,
        /// Whether the tag bit may still be set.
        tagged: bool,
    },
    /// The type id of the funcref with this origin.
    FuncRefType(u64),
    /// A type id loaded from the type-ids array.
    ExpectedType,
    /// An integer whose low `bytes` bytes are non-zero only if the type
    /// of the funcref with this origin is acceptable: `sete` after its
    /// type id compared with an expected one, or what Wasmtime's
    /// `is_subtype` builtin answers for the two.
    TypeMatch {
        /// The funcref's origin.
        origin: u64,
        /// How many low bytes the claim is about.
        bytes: u8,
    },
    /// A function pointer from the funcref with this origin.
    FuncRefCode {
        /// The funcref's origin.
        origin: u64,
        /// Whether it may be called.
        callable: bool,
    },
    /// A function pointer fit to call.
    Code,
    /// A pointer to pass on only.
    Opaque,
    /// An address inside the function's own code.
    Text(u64),
    /// An entry of the jump table at `table`: the entry's index is below
    /// `count`.
    JumpEntry {
        /// The table's offset in `.text`.
        table: u64,
        /// How many entries the index can reach.
        count: u64,
    },
    /// The table's address plus one of its entries: a jump target.
    JumpTarget {
        /// The table's offset in `.text`.
        table: u64,
        /// How many entries the index can reach.
        count: u64,
    },
}

impl Value {
    /// Any integer.
    pub const ANY_INT: Value = Value::Int {
        max: u64::MAX,
        sym: None,
        bound: None,
    };

    /// An integer at most `max`.
    pub fn int(max: u64) -> Value {
        Value::Int {
            max,
            sym: None,
            bound: None,
        }
    }

    /// The constant `c`.
    pub fn constant(c: u64) -> Value {
        Value::Int {
            max: c,
            sym: (c < 1 << 40).then_some(CONST | c),
            bound: None,
        }
    }

    /// The largest value an integer may have, if this is one.
    pub fn int_max(self) -> Option<u64> {
        match self {
            Value::Int { max, .. } => Some(max),
            _ => None,
        }
    }

    /// The value's name, if it is a named integer.
    pub fn sym(self) -> Option<Sym> {
        match self {
            Value::Int { sym, .. } => sym,
            _ => None,
        }
    }

    /// What reading the low 32 bits gives.
    pub fn low32(self) -> Value {
        match self {
            Value::Int { max, .. } if max <= u64::from(u32::MAX) => self,
            // Type ids are 32-bit values, and so is a table's length: a
            // table never holds 2³² elements (8 bytes each, 32 GiB).
            Value::FuncRefType(_) | Value::ExpectedType | Value::TableLen(_) => self,
            Value::TypeMatch { origin, bytes } if bytes >= 4 => {
                Value::TypeMatch { origin, bytes: 4 }
            }
            // The low half of a named integer has a name of its own, so
            // that a 32-bit compare of it refines its 32-bit copies.
            Value::Int { sym: Some(sym), .. } => Value::Int {
                max: u64::from(u32::MAX),
                sym: Some(sym ^ LOW32),
                bound: None,
            },
            _ => Value::int(u64::from(u32::MAX)),
        }
    }

    /// Named `sym`, when an integer.
    pub fn named(self, sym: Sym) -> Value {
        match self {
            Value::Int { max, bound, .. } => Value::Int {
                max,
                sym: Some(sym),
                bound,
            },
            other => other,
        }
    }
}

/// What `a relation b` says of the least a length can be, where `length`
/// picks a length out of a value, on either side: `len > c` or `len ≥ c`
/// with `c` a constant gives the length and `c + 1` or `c`.
fn length_at_least<T>(
    a: Value,
    b: Value,
    relation: Relation,
    length: impl Fn(Value) -> Option<T>,
) -> Option<(T, u64)> {
    let (len, c, relation) = match (length(a), length(b)) {
        (Some(len), _) => (len, b, relation),
        (None, Some(len)) => (len, a, relation.flipped()),
        (None, None) => return None,
    };
    let c = constant_of(c)?;
    match relation {
        Relation::Gt => Some((len, c.saturating_add(1))),
        Relation::Ge => Some((len, c)),
        _ => None,
    }
}

/// Rounds an upper bound up to the next of a few widths, so that loops
/// that count up reach a fixed point.
fn widen(max: u64) -> u64 {
    [u64::from(u32::MAX), u64::MAX]
        .into_iter()
        .find(|&w| max <= w)
        .unwrap_or(u64::MAX)
}

/// The join of two values where control flow merges: what is known on
/// both paths, with differing bounds widened.
pub fn join(a: Value, b: Value, merge_origin: u64) -> Value {
    join_with(a, b, merge_origin, Some(merge_origin), widen)
}

/// The join of the two values a conditional move chooses between: no
/// loop runs through it, so bounds are kept exact.
pub fn choose(a: Value, b: Value, merge_origin: u64) -> Value {
    join_with(a, b, merge_origin, None, |max| max)
}

/// `merge_sym` names an integer that differs between the two (each
/// merge point and location has its own, so a later compare of it
/// refines its copies).
fn join_with(
    a: Value,
    b: Value,
    merge_origin: u64,
    merge_sym: Option<Sym>,
    widen: fn(u64) -> u64,
) -> Value {
    use Value::*;
    if a == b {
        return a;
    }
    match (a, b) {
        (
            Int {
                max: m1,
                sym: s1,
                bound: b1,
            },
            Int {
                max: m2,
                sym: s2,
                bound: b2,
            },
        ) => Int {
            max: if m1 == m2 { m1 } else { widen(m1.max(m2)) },
            sym: if s1 == s2 { s1 } else { merge_sym },
            bound: if b1 == b2 { b1 } else { None },
        },
        (
            Heap {
                heap: h1,
                max: m1,
                idx: i1,
                extra: e1,
            },
            Heap {
                heap: h2,
                max: m2,
                idx: i2,
                extra: e2,
            },
        ) if h1 == h2 => Heap {
            heap: h1,
            max: if m1 == m2 { m1 } else { widen(m1.max(m2)) },
            idx: if i1 == i2 && e1 == e2 { i1 } else { None },
            extra: if i1 == i2 && e1 == e2 { e1 } else { 0 },
        },
        (
            HeapChecked {
                heap: h1,
                extra: e1,
            },
            HeapChecked {
                heap: h2,
                extra: e2,
            },
        ) if h1 == h2 => HeapChecked {
            heap: h1,
            extra: e1.max(e2),
        },
        (Heap { heap, max, .. }, Int { max: 0, .. })
        | (Int { max: 0, .. }, Heap { heap, max, .. }) => HeapOrNull { heap, max },
        (HeapOrNull { heap: h1, max: m1 }, HeapOrNull { heap: h2, max: m2 }) if h1 == h2 => {
            HeapOrNull {
                heap: h1,
                max: widen(m1.max(m2)),
            }
        }
        (HeapOrNull { heap, max }, Int { max: 0, .. })
        | (Int { max: 0, .. }, HeapOrNull { heap, max }) => HeapOrNull { heap, max },
        (HeapChecked { heap, extra }, Int { max: 0, .. })
        | (Int { max: 0, .. }, HeapChecked { heap, extra }) => HeapChecked { heap, extra },
        (TableChecked(t), Int { max: 0, .. }) | (Int { max: 0, .. }, TableChecked(t)) => {
            TableChecked(t)
        }
        (
            Table {
                table: t1,
                max: m1,
                idx: i1,
            },
            Table {
                table: t2,
                max: m2,
                idx: i2,
            },
        ) if t1 == t2 => Table {
            table: t1,
            max: widen(m1.max(m2)),
            idx: if i1 == i2 { i1 } else { None },
        },
        (StackLimit(n1), StackLimit(n2)) => StackLimit(n1.min(n2)),
        (
            FuncRef {
                origin: o1,
                from_table: f1,
                checked: c1,
                tagged: t1,
            },
            FuncRef {
                origin: o2,
                from_table: f2,
                checked: c2,
                tagged: t2,
            },
        ) => FuncRef {
            origin: if o1 == o2 { o1 } else { merge_origin },
            from_table: f1 || f2,
            checked: c1 && c2,
            tagged: t1 || t2,
        },
        (FuncRefType(o1), FuncRefType(o2)) if o1 != o2 => FuncRefType(merge_origin),
        (
            TypeMatch {
                origin: o1,
                bytes: b1,
            },
            TypeMatch {
                origin: o2,
                bytes: b2,
            },
        ) => TypeMatch {
            origin: if o1 == o2 { o1 } else { merge_origin },
            bytes: b1.min(b2),
        },
        (
            FuncRefCode {
                origin: o1,
                callable: c1,
            },
            FuncRefCode {
                origin: o2,
                callable: c2,
            },
        ) => FuncRefCode {
            origin: if o1 == o2 { o1 } else { merge_origin },
            callable: c1 && c2,
        },
        (Code, FuncRefCode { callable: true, .. }) | (FuncRefCode { callable: true, .. }, Code) => {
            Code
        }
        // Different kinds of value: only an integer, which can never be
        // dereferenced; named, so that copies of it stay one value.
        _ => Int {
            max: u64::MAX,
            sym: merge_sym,
            bound: None,
        },
    }
}

/// The flags, as far as the analysis follows them: the operands of the
/// last `cmp`, in Intel order (`cmp a, b` sets the flags of `a - b`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flags {
    /// Set by something else.
    Unknown,
    /// Set by `cmp a, b`.
    Cmp(Value, Value),
    /// Set by the 64-bit `add` of a constant that made the integer named
    /// here, kept in [`State::wraps`]: where the carry is clear, the sum
    /// did not wrap, and it moves to [`State::sums`] (memory64's `index +
    /// offset`, checked for overflow before it is compared with the
    /// length).
    Carry(Sym),
    /// Set by a 64-bit `add` of two constants: whether it carried (the
    /// branch to a trap on a carry that always happens is always taken).
    Carried(bool),
    /// Set by a compare of two values that are never equal: a heap's
    /// length and a constant that is no whole number of its pages (as
    /// Cranelift folds an access at an offset near 2⁶⁴ into a compare of
    /// the length with such a constant, the address nulled unless equal).
    Unequal,
}

/// What a comparison proved about a named integer, kept for copies made
/// after it (a 32-bit move of the compared register, say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fact {
    /// Its largest possible value.
    pub max: u64,
    /// A bound it has been compared against.
    pub bound: Option<Bound>,
}

/// The number of general-purpose registers.
pub const GPRS: usize = 16;
/// rsp's number.
pub const RSP: usize = 4;
/// rbp's number.
pub const RBP: usize = 5;

/// A frame slot: what was stored there and how wide the store was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// The value.
    pub value: Value,
    /// The store's width in bytes.
    pub size: u8,
}

/// Everything known at one point of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8..r15.
    pub regs: [Value; GPRS],
    /// Frame slots by offset from the entry stack pointer.
    ///
    /// Shared between states until one of them changes a slot: a block's
    /// walk starts from a copy of its state, and the paths that leave a
    /// branch start from copies of one state, yet most blocks write no
    /// slot. A copy is then a count, and a join of two states that share
    /// their slots is a join of their registers (the slots join to
    /// themselves). They carry a summary of the names and funcref
    /// origins they hold ([`Slots`]), worked out once per version.
    pub slots: Rc<Slots>,
    /// The last comparison.
    pub flags: Flags,
    /// The lowest the stack pointer may go (offset from entry).
    pub floor: i64,
    /// Whether the prologue's stack-limit check has run.
    pub stack_checked: bool,
    /// What comparisons proved about named integers.
    pub facts: VecMap<Sym, Fact>,
    /// Registers known to hold the same 64 bits: bit `j` of `copies[i]`
    /// (a `mov` between them, neither written since).
    pub copies: [u16; GPRS],
    /// The least current length each heap is known to have (from a
    /// comparison of its length with a constant).
    pub min_len: VecMap<HeapId, u64>,
    /// Integers known to be another plus a constant: `sum = base + c`,
    /// with no wrap-around (64-bit sums of values far below 2⁶⁴).
    pub sums: VecMap<Sym, (Sym, u64)>,
    /// Integers known to be another plus a constant modulo 2⁶⁴ (a 64-bit
    /// `lea` or `add` of a value that may be near 2⁶⁴; the others are in
    /// `sums`, which hold modulo 2⁶⁴ too): `sum ≡ base + c`. An address `heap +
    /// base + e` is then `heap + sum + (e - c)`, as the processor's
    /// address arithmetic wraps the same way, so a compare of `sum`
    /// checks it (memory64's `index + offset` compared with the length).
    pub wraps: VecMap<Sym, (Sym, u64)>,
    /// Whether the last instruction was a call: a callee with stack
    /// arguments pops them (Cranelift's `tail` convention), and the
    /// caller's next `sub rsp` reserves them again.
    pub after_call: bool,
    /// How many times each loop (by its head) may have gone round, for
    /// the [`Value::TableAt`] values that step with it: `n` in `lo..=hi`.
    pub loops: VecMap<u64, (u64, u64)>,
    /// The round at which a loop's stepping pointer meets what its exit
    /// test compares it with (`p ≠ end`): where a growing count is
    /// widened to, so that the loop reaches its fixed point in a few
    /// walks rather than one per round.
    pub stops: VecMap<u64, u64>,
    /// The least length each passive element segment is known to have
    /// (its length compared with a constant).
    pub seg_min: VecMap<u32, u64>,
    /// A bound on a loop's count by a name: `n ≤ L + k`, for loops whose
    /// number of rounds is an argument (a `table.copy`'s length).
    pub limits: VecMap<u64, (Sym, i64)>,
    /// The round, by a name, at which a loop's stepping pointer meets the
    /// end its exit test compares it with: [`State::stops`] for such
    /// loops.
    pub sym_stops: VecMap<u64, (Sym, i64)>,
    /// Sums of names and what compares proved of them: shared between
    /// states until one of them learns or forgets something, as the
    /// slots are (most walks change nothing here).
    pub rel: Rc<Relations>,
}

impl State {
    /// The join of two states, or `None` when they disagree on the stack
    /// pointer (which the analysis reports).
    pub fn join(&self, other: &State, target: u64, other_first: bool) -> Option<State> {
        // One name per merge point and location, apart from instruction
        // results (`pc·16 + register`) and arguments (bit 62).
        let merge_origin = (1 << 61) | (target << 20);
        if self.regs[RSP] != other.regs[RSP] {
            return None;
        }
        let mut regs = self.regs;
        for (i, reg) in regs.iter_mut().enumerate() {
            *reg = join(*reg, other.regs[i], merge_origin + i as u64);
        }
        let slots = if Rc::ptr_eq(&self.slots, &other.slots) {
            Rc::clone(&self.slots)
        } else {
            Rc::new(
                self.slots
                    .common(&other.slots)
                    .filter(|(_, a, b)| a.size == b.size)
                    .map(|(offset, a, b)| {
                        (
                            offset,
                            Slot {
                                value: join(
                                    a.value,
                                    b.value,
                                    merge_origin + 16 + (offset as u64 & 0xffff),
                                ),
                                size: a.size,
                            },
                        )
                    })
                    .collect(),
            )
        };
        let mut joined = State {
            regs,
            slots,
            flags: Flags::Unknown,
            floor: 0,
            stack_checked: false,
            facts: VecMap::new(),
            copies: [0; GPRS],
            min_len: VecMap::new(),
            sums: VecMap::new(),
            wraps: VecMap::new(),
            after_call: false,
            loops: VecMap::new(),
            stops: VecMap::new(),
            seg_min: VecMap::new(),
            limits: VecMap::new(),
            sym_stops: VecMap::new(),
            rel: if self.rel == other.rel {
                Rc::clone(&self.rel)
            } else {
                Rc::new(self.rel.join(&other.rel))
            },
        };
        joined.keep_indices(self, other);
        joined.keep_origins(self, other, target);
        let stepped = super::induction::keep_steps(&mut joined, self, other, target, other_first);
        let State {
            regs,
            slots,
            loops,
            limits,
            rel,
            ..
        } = joined;
        let mut sym_stops = self.sym_stops.clone();
        for (h, &(l, k)) in other.sym_stops.iter() {
            let kept = sym_stops.get_or_insert_with(*h, || (l, k));
            if kept.0 == l {
                kept.1 = kept.1.max(k);
            }
        }
        let mut stops: VecMap<u64, u64> = self.stops.iter().map(|(h, m)| (*h, *m)).collect();
        for (h, m) in other.stops.iter() {
            let kept = stops.get_or_insert_with(*h, || *m);
            *kept = (*kept).max(*m);
        }
        // Facts only matter for names something still holds (or whose low
        // half it holds); the rest would only slow the fixed point.
        // (Facts in common are few: each is looked for among the values.)
        let live = |sym: Sym| {
            let held = |value: &Value| {
                index_name(*value).is_some_and(|name| name == sym || name ^ LOW32 == sym)
            };
            regs.iter().any(held)
                || (slots.summary().may_name(sym) && slots.values().any(|s| held(&s.value)))
        };
        let facts = self
            .facts
            .common(&other.facts)
            .filter(|&(s, _, _)| live(s))
            .map(|(s, a, b)| {
                (
                    s,
                    Fact {
                        max: if a.max == b.max {
                            a.max
                        } else {
                            widen(a.max.max(b.max))
                        },
                        bound: if a.bound == b.bound { a.bound } else { None },
                    },
                )
            })
            .collect();
        Some(State {
            regs,
            slots,
            // (Compared values that step with this loop would be in the
            // frame of one path's count only.)
            flags: if self.flags == other.flags && !stepped {
                self.flags
            } else {
                Flags::Unknown
            },
            floor: self.floor.max(other.floor),
            stack_checked: self.stack_checked && other.stack_checked,
            copies: std::array::from_fn(|i| self.copies[i] & other.copies[i]),
            facts,
            min_len: self
                .min_len
                .common(&other.min_len)
                .map(|(h, a, b)| (h, (*a).min(*b)))
                .collect(),
            sums: self.sums.agreed(&other.sums),
            wraps: self.wraps.agreed(&other.wraps),
            after_call: false,
            loops,
            stops,
            seg_min: self
                .seg_min
                .common(&other.seg_min)
                .map(|(n, a, b)| (n, (*a).min(*b)))
                .collect(),
            limits,
            sym_stops,
            rel,
        })
    }

    /// After a join: an address `base + i` whose index was `a` on one
    /// path and `b` on the other is `base + j`, where `j` names the
    /// location that held `a` and `b` (so a later compare of `j` still
    /// checks the address).
    fn keep_indices(&mut self, one: &State, two: &State) {
        // For each pair, the name of the first location (registers, then
        // slots by offset) that held it: each candidate with its place in
        // that order, so that sorting and keeping the first of each pair
        // keeps that location's.
        // (Sized for every location at once: most joins rename many of
        // them, and growing the vectors step by step cost 1.5-3% of the
        // verifier's instructions.)
        let locations = GPRS + self.slots.len();
        let mut pairs: Vec<((Sym, Sym), usize, Sym)> = Vec::with_capacity(locations);
        // The locations (registers, then joined slots, by position) whose
        // two values have index names that differ: only these can change
        // below, so only these are visited again.
        let mut candidates: Vec<(usize, Value, Value)> = Vec::with_capacity(locations);
        let mut pair = |at: usize, a: Value, b: Value, joined: Value| {
            if let (Some(a), Some(b), Some(j)) = (a.sym(), b.sym(), joined.sym())
                && a != b
            {
                pairs.push(((a, b), pairs.len(), j));
            }
            if let (Some(ia), Some(ib)) = (index_name(a), index_name(b))
                && ia != ib
            {
                candidates.push((at, a, b));
            }
        };
        for i in 0..GPRS {
            pair(i, one.regs[i], two.regs[i], self.regs[i]);
        }
        // The joined slots are the slots of the same size on both paths,
        // in order: walked in step with those, no lookups. Slots the two
        // paths share hold the same values, which give no pair.
        if !Rc::ptr_eq(&one.slots, &two.slots) {
            let both = one
                .slots
                .common(&two.slots)
                .filter(|(_, a, b)| a.size == b.size);
            for (k, ((offset, a, b), (joined, slot))) in both.zip(self.slots.iter()).enumerate() {
                debug_assert_eq!(offset, *joined);
                pair(GPRS + k, a.value, b.value, slot.value);
            }
        }
        if pairs.is_empty() {
            return;
        }
        pairs.sort_unstable_by_key(|&(p, order, _)| (p, order));
        pairs.dedup_by_key(|(p, _, _)| *p);
        let pairs = |key: (Sym, Sym)| {
            pairs
                .binary_search_by_key(&key, |(p, _, _)| *p)
                .ok()
                .map(|i| &pairs[i].2)
        };
        // Locations that held the same values on both paths hold the same
        // value after the join: one name for all of them.
        let fix = |a: Value, b: Value, joined: Value| match (a, b, joined) {
            (
                Value::Int { sym: Some(s1), .. },
                Value::Int { sym: Some(s2), .. },
                Value::Int { max, bound, .. },
            ) if s1 != s2 => match pairs((s1, s2)) {
                Some(&j) => Value::Int {
                    max,
                    sym: Some(j),
                    bound,
                },
                None => joined,
            },
            (
                Value::Heap {
                    heap,
                    idx: Some(i1),
                    extra: e1,
                    ..
                },
                Value::Heap {
                    idx: Some(i2),
                    extra: e2,
                    ..
                },
                Value::Heap { max, .. },
            ) if e1 == e2 => match pairs((i1, i2)) {
                Some(&j) => Value::Heap {
                    heap,
                    max,
                    idx: Some(j),
                    extra: e1,
                },
                None => joined,
            },
            (
                Value::Table {
                    table,
                    idx: Some(i1),
                    ..
                },
                Value::Table { idx: Some(i2), .. },
                Value::Table { max, .. },
            ) => match pairs((i1, i2)) {
                Some(&j) => Value::Table {
                    table,
                    max,
                    idx: Some(j),
                },
                None => joined,
            },
            _ => joined,
        };
        for (at, a, b) in candidates {
            if at < GPRS {
                self.regs[at] = fix(a, b, self.regs[at]);
            } else {
                let slot = Rc::make_mut(&mut self.slots).value_at_mut(at - GPRS);
                slot.value = fix(a, b, slot.value);
            }
        }
    }

    /// The instruction at `pc` is about to make a funcref (or a type id
    /// or function pointer of one) named `pc` again, as in a loop: what
    /// the earlier one with that name proves must not pass to the new.
    /// Funcrefs already fit to call keep that under a retired name;
    /// unchecked ones, and type ids and matches, become plain integers.
    pub fn retire_origin(&mut self, pc: u64) {
        let named = |v: &Value| match *v {
            Value::FuncRef { origin, .. }
            | Value::FuncRefType(origin)
            | Value::FuncRefCode { origin, .. }
            | Value::TypeMatch { origin, .. } => origin == pc,
            _ => false,
        };
        // (The slots' summary rules most origins out without a scan.)
        let in_slots = || {
            self.slots.summary().may_hold_origin(pc) && self.slots.values().any(|s| named(&s.value))
        };
        if !self.regs.iter().any(named) && !in_slots() {
            return;
        }
        self.map_values(|v| match v {
            Value::FuncRef {
                origin,
                from_table,
                checked,
                tagged,
            } if origin == pc && (checked || !from_table) => Value::FuncRef {
                origin: RETIRED,
                from_table,
                checked,
                tagged,
            },
            Value::FuncRefCode {
                origin,
                callable: true,
            } if origin == pc => Value::FuncRefCode {
                origin: RETIRED,
                callable: true,
            },
            other if named(&other) => Value::ANY_INT,
            other => other,
        });
    }

    /// After a join: values that came from the same two funcrefs (origin
    /// `a` on one path, `b` on the other) share one origin, so that a
    /// funcref, its type id and a type match stay tied wherever they
    /// are held (each location's own merge origin would part them).
    fn keep_origins(&mut self, one: &State, two: &State, target: u64) {
        // Only a joined value with an origin can need one: most joins
        // hold no funcref at all.
        let has_origin = |v: &Value| origin_of(*v).is_some();
        if !self.regs.iter().any(has_origin) && !self.slots.values().any(|s| has_origin(&s.value)) {
            return;
        }
        let mut pairs: Vec<(u64, u64)> = Vec::new();
        let mut fix = |a: Value, b: Value, joined: Value| -> Value {
            match (origin_of(a), origin_of(b), origin_of(joined)) {
                (Some(o1), Some(o2), Some(_)) if o1 != o2 => {
                    let k = pairs
                        .iter()
                        .position(|&p| p == (o1, o2))
                        .unwrap_or_else(|| {
                            pairs.push((o1, o2));
                            pairs.len() - 1
                        });
                    // Bit 19 sets these apart from the per-location merge
                    // origins (offsets below 2¹⁷ under the same target).
                    with_origin(joined, (1 << 61) | (target << 20) | (1 << 19) | k as u64)
                }
                _ => joined,
            }
        };
        for i in 0..GPRS {
            self.regs[i] = fix(one.regs[i], two.regs[i], self.regs[i]);
        }
        let both = one
            .slots
            .common(&two.slots)
            .filter(|(_, a, b)| a.size == b.size);
        if !Rc::ptr_eq(&one.slots, &two.slots) {
            let slots = Rc::make_mut(&mut self.slots);
            for ((_, a, b), (_, slot)) in both.zip(slots.iter_mut()) {
                slot.value = fix(a.value, b.value, slot.value);
            }
        }
    }

    /// Keeps what a comparison proved about `sym`.
    fn learn(&mut self, sym: Sym, max: u64, bound: Option<Bound>) {
        let fact = self.facts.get_or_insert_with(sym, || Fact {
            max: u64::MAX,
            bound: None,
        });
        fact.max = fact.max.min(max);
        if bound.is_some() {
            fact.bound = bound;
        }
    }

    /// Keeps that `sym` is within `bound`, for it and every copy of it.
    fn set_bound(&mut self, sym: Sym, bound: Bound) {
        self.learn(sym, u64::MAX, Some(bound));
        self.map_named(sym, |v| match v {
            Value::Int {
                max, sym: Some(s), ..
            } if s == sym => Value::Int {
                max,
                sym: Some(s),
                bound: Some(bound),
            },
            other => other,
        });
    }

    /// `value`, with what comparisons proved about its name.
    pub fn with_facts(&self, value: Value) -> Value {
        match value {
            Value::Int {
                max,
                sym: Some(s),
                bound,
            } => match self.facts.get(&s) {
                Some(fact) => Value::Int {
                    max: max.min(fact.max),
                    sym: Some(s),
                    bound: bound.or(fact.bound),
                },
                None => value,
            },
            other => other,
        }
    }

    /// Register `i` was written: it is no copy of any other now.
    pub fn forget(&mut self, i: usize) {
        for copies in &mut self.copies {
            *copies &= !(1 << i);
        }
        self.copies[i] = 0;
    }

    /// Register `i` was just set to a copy of register `j`.
    pub fn copied(&mut self, i: usize, j: usize) {
        let group = self.copies[j] | (1 << j);
        self.copies[i] = group & !(1 << i);
        for k in 0..GPRS {
            if group & (1 << k) != 0 && k != i {
                self.copies[k] |= 1 << i;
            }
        }
    }

    /// Applies `f` to every register and slot that is the integer named
    /// `sym` or is indexed by it; the rest are left as they are. The
    /// slots are not visited at all when their summary rules `sym` out.
    fn map_named(&mut self, sym: Sym, f: impl Fn(Value) -> Value) {
        let f = |v: Value| if index_name(v) == Some(sym) { f(v) } else { v };
        if self.slots.summary().may_name(sym) {
            self.map_values(f);
        } else {
            for reg in &mut self.regs {
                *reg = f(*reg);
            }
        }
    }

    /// Applies `f` to every register and slot.
    pub fn map_values(&mut self, f: impl Fn(Value) -> Value) {
        for reg in &mut self.regs {
            *reg = f(*reg);
        }
        // The slots are copied only when `f` changes one of them.
        let first = self.slots.values().position(|s| f(s.value) != s.value);
        if let Some(first) = first {
            for slot in Rc::make_mut(&mut self.slots).values_mut().skip(first) {
                slot.value = f(slot.value);
            }
        }
    }

    /// What the flags say on the path where `cond` is `holds`; `false`
    /// when that path cannot be taken (an unsigned value below zero).
    pub fn refine(&mut self, cond: ConditionCode, holds: bool, layout: &Layout) -> bool {
        if let Flags::Carry(sum) = self.flags {
            // `jb` not taken, or `jae` taken: no carry.
            let clear = match cond {
                ConditionCode::b => !holds,
                ConditionCode::ae => holds,
                _ => false,
            };
            if clear && let Some(&exact) = self.wraps.get(&sum) {
                self.wraps.remove(&sum);
                self.sums.insert(sum, exact);
            }
            return true;
        }
        if let Flags::Carried(carried) = self.flags {
            let carry_path = match cond {
                ConditionCode::b => holds,
                ConditionCode::ae => !holds,
                _ => return true,
            };
            return carry_path == carried;
        }
        if self.flags == Flags::Unequal {
            return Relation::of(cond, holds) != Some(Relation::Eq);
        }
        let Flags::Cmp(a, b) = self.flags else {
            return true;
        };
        let Some(relation) = Relation::of(cond, holds) else {
            return true;
        };
        if !super::induction::refine_steps(self, a, b, relation, layout) {
            return false;
        }
        let zero = |v: Value| matches!(v, Value::Int { max: 0, .. });
        if (relation == Relation::Lt && zero(b)) || (relation == Relation::Gt && zero(a)) {
            return false;
        }
        // `x ≥ c` (or `> c`) for an x that is at most m < c: no such path.
        let below = |x: Value, c: Value, strict: bool| match (x.int_max(), constant_of(c)) {
            (Some(m), Some(c)) => m < c || (strict && m == c),
            _ => false,
        };
        // Two constants are equal or not: the other path cannot be taken
        // (a branch on a constant, such as the one to a trap that
        // Cranelift emits where it knows an operation always traps).
        if let (Some(x), Some(y)) = (constant_of(a), constant_of(b)) {
            let equal = x == y;
            match relation {
                Relation::Eq if !equal => return false,
                Relation::Ne if equal => return false,
                _ => {}
            }
        }
        // A heap's length equal to a constant it can never be (no whole
        // number of its pages, or below its declared minimum): no such
        // path (Cranelift's fold of an access whose offset and size pass
        // any length the memory can have, its address nulled unless the
        // compare is equal).
        if relation == Relation::Eq
            && let (Value::HeapLen(heap), c) | (c, Value::HeapLen(heap)) = (a, b)
            && let Some(c) = constant_of(c)
            && (!c.is_multiple_of(layout.heap_page_size(heap)) || c < layout.heap_min_bytes(heap))
        {
            return false;
        }
        // `x ≠ 0` for an x at most 0 (a `test` of a register a compare
        // already proved zero): no such path.
        let nothing = |x: Value, z: Value| x.int_max() == Some(0) && constant_of(z) == Some(0);
        if relation == Relation::Ne && (nothing(a, b) || nothing(b, a)) {
            return false;
        }
        match relation {
            Relation::Ge if below(a, b, false) => return false,
            Relation::Gt if below(a, b, true) => return false,
            Relation::Le if below(b, a, false) => return false,
            Relation::Lt if below(b, a, true) => return false,
            _ => {}
        }
        let limit = match (a, b, relation) {
            (Value::StackLimit(n), Value::Frame(k), Relation::Le | Relation::Lt)
            | (Value::Frame(k), Value::StackLimit(n), Relation::Ge | Relation::Gt) => {
                i64::try_from(n).ok().and_then(|n| k.checked_sub(n))
            }
            _ => None,
        };
        if let Some(lowest) = limit {
            self.floor = self.floor.min(lowest);
            self.stack_checked = true;
        }
        // `len ≥ c`: a heap address at constant offset e is at most
        // `e - c` past the length.
        let at_least = match (a, b, relation) {
            (Value::HeapLen(h), c, Relation::Ge) | (c, Value::HeapLen(h), Relation::Le) => {
                constant_of(c).map(|c| (h, c))
            }
            (Value::HeapLen(h), c, Relation::Gt) | (c, Value::HeapLen(h), Relation::Lt) => {
                constant_of(c).map(|c| (h, c.saturating_add(1)))
            }
            // `len ≠ 0` (a `test` of the length): at least one byte.
            (Value::HeapLen(h), z, Relation::Ne) | (z, Value::HeapLen(h), Relation::Ne)
                if constant_of(z) == Some(0) =>
            {
                Some((h, 1))
            }
            _ => None,
        };
        if let Some((heap, c)) = at_least {
            let known = self.min_len.get_or_insert_with(heap, || 0);
            *known = (*known).max(c);
            self.map_values(|v| match v {
                Value::Heap {
                    heap: h,
                    max,
                    idx: None,
                    extra,
                } if h == heap
                    && max == extra
                    && extra > 0
                    && let Some(extra) = signed_less(extra, c) =>
                {
                    Value::HeapChecked { heap, extra }
                }
                other => other,
            });
        }
        // `len > c` (or `≥ c`): the table has at least `n` elements, so an
        // address at most `(n - 1)` elements past its base is null or
        // (on this path) one of them.
        let table_len = |v: Value| match v {
            Value::TableLen(t) => Some(t),
            _ => None,
        };
        let table_least = length_at_least(a, b, relation, table_len).or_else(|| {
            // `len ≠ 0` (a `test` of the length): at least one element.
            match (a, b, relation) {
                (Value::TableLen(t), c, Relation::Ne) | (c, Value::TableLen(t), Relation::Ne)
                    if constant_of(c) == Some(0) =>
                {
                    Some((t, 1))
                }
                _ => None,
            }
        });
        // A segment's length `≥ c` (or `> c`).
        let seg_least = length_at_least(a, b, relation, |v| match v {
            Value::SegLen(n) => Some(n),
            _ => None,
        });
        if let Some((segment, least)) = seg_least {
            let known = self.seg_min.get_or_insert_with(segment, || 0);
            *known = (*known).max(least);
        }
        if let Some((table, n)) = table_least {
            let element = layout.table_element_size(table);
            let loops = self.loops.clone();
            let within = |v: Value| {
                super::induction::offsets_in(&loops, v).is_some_and(|(t, lo, hi)| {
                    t == table
                        && lo >= 0
                        && hi + i128::from(element) <= i128::from(element) * i128::from(n)
                })
            };
            self.map_values(|v| match v {
                Value::Table { table: t, max, .. }
                    if t == table && max.saturating_add(element) <= element.saturating_mul(n) =>
                {
                    Value::TableChecked(table)
                }
                Value::TableAt { .. } if within(v) => Value::TableChecked(table),
                other => other,
            });
        }
        self.learn_relations(a, relation, b);
        self.apply(a, relation, b, layout);
        self.apply(b, relation.flipped(), a, layout);
        let matched = match (a, b, relation) {
            (Value::FuncRefType(o), Value::ExpectedType, Relation::Eq)
            | (Value::ExpectedType, Value::FuncRefType(o), Relation::Eq) => Some(o),
            // A type match tested non-zero.
            (Value::TypeMatch { origin, .. }, z, Relation::Ne)
            | (z, Value::TypeMatch { origin, .. }, Relation::Ne)
                if constant_of(z) == Some(0) =>
            {
                Some(origin)
            }
            _ => None,
        };
        if let Some(origin) = matched {
            self.map_values(|v| mark_checked(v, origin));
        }
        true
    }

    /// What `a relation b` proves of names for element loops
    /// ([`relations`](super::relations)): a sum (of two names, or of a
    /// name and a constant) at most a table's length or a constant, and a
    /// name that is not zero.
    fn learn_relations(&mut self, a: Value, relation: Relation, b: Value) {
        use super::relations::{Limit, Room};
        let (x, limit, strict) = match (a, relation, b) {
            (Value::Int { sym: Some(x), .. }, Relation::Le | Relation::Lt, limit)
            | (limit, Relation::Ge | Relation::Gt, Value::Int { sym: Some(x), .. }) => {
                let limit = match limit {
                    Value::TableLen(t) => Limit::Len(t),
                    Value::SegLen(n) => Limit::Seg(n),
                    c => match constant_of(c) {
                        Some(c) => Limit::Const(c),
                        None => return,
                    },
                };
                (x, limit, matches!(relation, Relation::Lt | Relation::Gt))
            }
            (Value::Int { sym: Some(x), .. }, Relation::Ne | Relation::Gt, z)
            | (z, Relation::Ne | Relation::Lt, Value::Int { sym: Some(x), .. })
                if constant_of(z) == Some(0) =>
            {
                Rc::make_mut(&mut self.rel).add_nonzero(x);
                return;
            }
            _ => return,
        };
        // Sums; and a name alone where nothing else keeps the bound (a
        // name below a table's length is its Int's `bound`; one below a
        // constant, its `max`).
        let (x, y, c) = match (self.rel.pairs.get(&x), self.sums.get(&x)) {
            (Some(&(x, y)), _) => (x, y, 0),
            (None, Some(&(base, c))) => match i64::try_from(c) {
                Ok(c) => (base, 0, c),
                Err(_) => return,
            },
            (None, None) => match limit {
                Limit::Seg(_) => (x, 0, 0),
                Limit::Len(_) if !strict => (x, 0, 0),
                _ => return,
            },
        };
        Rc::make_mut(&mut self.rel).add_room(Room {
            x,
            y,
            c: c + i64::from(strict),
            limit,
        });
    }

    /// After `sym + less ≤ len(heap)`: every address `base + sym + e` of
    /// that heap that `wanted(max, e)` picks (one the reservation does not
    /// already cover, say) is checked, `e - less` from the length.
    fn check_index(
        &mut self,
        sym: Sym,
        heap: HeapId,
        less: u64,
        wanted: impl Fn(u64, u64) -> bool,
    ) {
        self.map_named(sym, |v| match v {
            Value::Heap {
                heap: h,
                max,
                idx: Some(s),
                extra,
            } if s == sym
                && h == heap
                && wanted(max, extra)
                && let Some(extra) = signed_less(extra, less) =>
            {
                Value::HeapChecked { heap, extra }
            }
            other => other,
        });
    }

    /// Learns `x relation y` about every copy of `x`.
    fn apply(&mut self, x: Value, relation: Relation, y: Value, layout: &Layout) {
        let Some(sym) = x.sym() else {
            return;
        };
        let below = match relation {
            Relation::Lt => Some(true),
            Relation::Le | Relation::Eq => Some(false),
            _ => None,
        };
        let Some(strict) = below else {
            return;
        };
        match y {
            Value::Int { max, .. } => {
                let limit = if strict {
                    max.checked_sub(1)
                } else {
                    Some(max)
                };
                let Some(limit) = limit else {
                    return;
                };
                self.learn(sym, limit, None);
                self.map_named(sym, |v| match v {
                    Value::Int {
                        max,
                        sym: Some(s),
                        bound,
                    } if s == sym => Value::Int {
                        max: max.min(limit),
                        sym: Some(s),
                        bound,
                    },
                    Value::Table {
                        table,
                        idx: Some(s),
                        ..
                    } if s == sym && limit < layout.table_min(table) => Value::TableChecked(table),
                    Value::Heap {
                        heap,
                        max,
                        idx: Some(s),
                        extra,
                    } if s == sym => Value::Heap {
                        heap,
                        max: max.min(limit.saturating_add(extra)),
                        idx: Some(s),
                        extra,
                    },
                    other => other,
                });
            }
            Value::HeapLen(heap) => {
                // `x < len` is `x + 1 ≤ len`.
                let below = u64::from(strict);
                // When `sym` is `base + slack`, `base` is `slack` below.
                if let Some(&(base, slack)) = self.sums.get(&sym) {
                    self.set_bound(
                        base,
                        Bound::HeapLen {
                            heap,
                            slack: slack.saturating_add(below),
                        },
                    );
                }
                self.set_bound(sym, Bound::HeapLen { heap, slack: below });
                // An address from `base` where `sym ≡ base + c`: the
                // same address from `sym`, `c` less beyond it (or short
                // of it, where the address adds less than `c`: at most
                // the length still bounds it, when `sym` did not wrap:
                // a wrapped `sym` may be small while the address is not).
                let alias = match self.wraps.get(&sym) {
                    Some(&(base, c)) => Some((base, c, false)),
                    None => self.sums.get(&sym).map(|&(base, c)| (base, c, true)),
                };
                self.check_index(sym, heap, below, |max, _| max > 0);
                // (Short of the sum only where the address is not safe as
                // it is: a checked address joins with an unchecked one to
                // an integer, so one that the reservation already covers
                // stays as it is.)
                if let Some((base, c, exact)) = alias {
                    let reserved = layout.heap_bounds(heap).0;
                    self.check_index(base, heap, c.saturating_add(below), |max, extra| {
                        extra >= c || (exact && max > reserved)
                    });
                }
            }
            // `x ≤ len - less`: `x + less ≤ len`.
            Value::HeapLenLess { heap, less } => {
                let less = less.saturating_add(u64::from(strict));
                self.set_bound(sym, Bound::HeapLen { heap, slack: less });
                let reserved = layout.heap_bounds(heap).0;
                self.check_index(sym, heap, less, |max, _| max > reserved);
            }
            Value::TableLen(table) if strict => {
                self.set_bound(sym, Bound::TableLen(table));
                self.map_named(sym, |v| match v {
                    Value::Table {
                        table: t,
                        idx: Some(s),
                        ..
                    } if s == sym && t == table => Value::TableChecked(table),
                    other => other,
                });
            }
            _ => {}
        }
    }
}

/// The name of the integer a value is, or is indexed by.
pub(super) fn index_name(v: Value) -> Option<Sym> {
    match v {
        Value::Heap { idx, .. } | Value::Table { idx, .. } => idx,
        other => other.sym(),
    }
}

/// The funcref a value comes from, if it is one or comes from one.
pub(super) fn origin_of(v: Value) -> Option<u64> {
    match v {
        Value::FuncRef { origin, .. }
        | Value::FuncRefType(origin)
        | Value::FuncRefCode { origin, .. }
        | Value::TypeMatch { origin, .. } => Some(origin),
        _ => None,
    }
}

/// `v`, from the funcref with `origin`.
fn with_origin(v: Value, origin: u64) -> Value {
    match v {
        Value::FuncRef {
            from_table,
            checked,
            tagged,
            ..
        } => Value::FuncRef {
            origin,
            from_table,
            checked,
            tagged,
        },
        Value::FuncRefType(_) => Value::FuncRefType(origin),
        Value::FuncRefCode { callable, .. } => Value::FuncRefCode { origin, callable },
        Value::TypeMatch { bytes, .. } => Value::TypeMatch { origin, bytes },
        other => other,
    }
}

/// Marks the funcref with `origin`, and what came from it, as checked.
fn mark_checked(v: Value, origin: u64) -> Value {
    match v {
        Value::FuncRef {
            origin: o,
            from_table,
            tagged,
            ..
        } if o == origin => Value::FuncRef {
            origin,
            from_table,
            checked: true,
            tagged,
        },
        Value::FuncRefCode { origin: o, .. } if o == origin => Value::FuncRefCode {
            origin,
            callable: true,
        },
        other => other,
    }
}

/// An unsigned relation between the two operands of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// Below.
    Lt,
    /// Below or equal.
    Le,
    /// Above.
    Gt,
    /// Above or equal.
    Ge,
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
}

impl Relation {
    /// `a R b` after `cmp a, b` and a branch on `cond` that is `holds`.
    fn of(cond: ConditionCode, holds: bool) -> Option<Relation> {
        use ConditionCode as C;
        let r = match cond {
            C::b => Relation::Lt,
            C::be => Relation::Le,
            C::a => Relation::Gt,
            C::ae => Relation::Ge,
            C::e => Relation::Eq,
            C::ne => Relation::Ne,
            _ => return None,
        };
        Some(if holds { r } else { r.negated() })
    }

    fn negated(self) -> Relation {
        match self {
            Relation::Lt => Relation::Ge,
            Relation::Le => Relation::Gt,
            Relation::Gt => Relation::Le,
            Relation::Ge => Relation::Lt,
            Relation::Eq => Relation::Ne,
            Relation::Ne => Relation::Eq,
        }
    }

    fn flipped(self) -> Relation {
        match self {
            Relation::Lt => Relation::Gt,
            Relation::Le => Relation::Ge,
            Relation::Gt => Relation::Lt,
            Relation::Ge => Relation::Le,
            r => r,
        }
    }
}

/// `extra - c` as a signed offset from the length, if it fits.
fn signed_less(extra: u64, c: u64) -> Option<i64> {
    i64::try_from(i128::from(extra) - i128::from(c)).ok()
}
