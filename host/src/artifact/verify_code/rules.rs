//! The rules the verifier holds every function to, and which shapes of
//! code each accepts and why they are safe.
//!
//! The analysis ([`analyze`](super::analyze)) walks each function's
//! control-flow graph and tracks, for every general-purpose register and
//! every 8-byte slot of the frame, what the value is known to be:
//!
//! ```text
//! ┌──────────────────┬────────────────────────────────────────────────────┐
//! │ abstract value   │ where it comes from                                │
//! ├──────────────────┼────────────────────────────────────────────────────┤
//! │ Int ≤ max        │ constants, 32-bit writes (≤ 2³²-1), zero-extending │
//! │                  │ loads, `and` with a constant; anything else: ≤ 2⁶⁴ │
//! │ Frame + k        │ rsp on entry (k = 0, the return address), rbp      │
//! │ Struct(S) + k    │ vmctx on entry (S = VMContext), then loads of      │
//! │                  │ pointer fields the VMContext layout names: the     │
//! │                  │ store context, builtins array, memory and table    │
//! │                  │ definitions, imported globals, funcrefs            │
//! │ Heap(m) + ≤ x    │ memory m's base (loaded from its definition), plus │
//! │                  │ Ints; x is the largest offset it can hold          │
//! │ Heap(m) checked  │ 0, or base + i where i ≤ m's current length (an    │
//! │                  │ explicit bounds check, by branch or by `cmov`)     │
//! │ Heap(m) or null  │ a `cmov` of 0 over a Heap(m) + ≤ x on the path     │
//! │                  │ where it would be out of bounds                    │
//! │ Table(t) + ≤ x   │ t's base (loaded from its definition) plus Ints    │
//! │ Table(t) @ o+s·n │ t's base plus a constant, or a pointer stepping    │
//! │                  │ through a loop: n counts its rounds, one count per │
//! │                  │ loop for every pointer that steps with it (see     │
//! │                  │ `induction`); also a passive element segment's     │
//! │                  │ base (`passive_elem_segment_base`, by a constant   │
//! │                  │ index), good for 16 bytes times the least length   │
//! │                  │ `passive_elem_segment_len` was compared to have,   │
//! │                  │ read only                                          │
//! │ Table(t) checked │ 0, or base + 8·i where i < t's length; or a        │
//! │                  │ Table(t) + ≤ x on a path where t's length was      │
//! │                  │ compared above a constant n with x + e ≤ e·n       │
//! │ FuncRef          │ a table entry, a funcref in the VMContext, or what │
//! │                  │ the `table_get_lazy_init_func_ref` and `ref_func`  │
//! │                  │ builtins answer; "checked" once its type id        │
//! │                  │ compared equal to an expected type id loaded from  │
//! │                  │ the type-ids array, or a type match of the two     │
//! │                  │ tested non-zero                                    │
//! │ TypeMatch        │ `sete` after that compare, or `is_subtype(actual,  │
//! │                  │ expected)`'s answer: non-zero only if the funcref's│
//! │                  │ type is acceptable (in its low bytes only: a       │
//! │                  │ `sete` byte, zero-extended; the builtin's 32 bits) │
//! │ Code             │ a function pointer loaded from a field that holds  │
//! │                  │ one (imports, builtins, checked funcrefs)          │
//! │ Opaque           │ a pointer to pass on, never to dereference (another│
//! │                  │ instance's vmctx, the caller's frame pointer)      │
//! └──────────────────┴────────────────────────────────────────────────────┘
//! ```
//!
//! Every memory operand is then held to where its base points:
//!
//! ```text
//! [Frame + k + d]         rsp_now ≤ k+d, k+d+size ≤ 8 + incoming args;
//!                         no store to the return address or saved rbp
//! [Struct(S) + k + d]     k+d+size ≤ size of S; stores only to fields
//!                         Wasmtime's code writes (never the stack limit,
//!                         a memory's or table's base or bound)
//! [Heap(m) + ≤x + i·s + d] i an Int ≤ max, d ≥ 0:
//!                         x + max·s + d + size ≤ reservation + guard
//! [Heap(m) checked + d]   (address = base + i + e, or null; i + c ≤ the
//!                         length compared, e - c may be negative):
//!                         (e - c) + d + size ≤ guard, and d + size ≤ 4 KiB
//!                         (the null page). `i ≤ len - c` counts where c is
//!                         no more than the memory's declared minimum (the
//!                         difference cannot wrap); a constant address
//!                         short of a length the path knows is checked too
//! [Heap(m) or null + d]   x + d + size ≤ reservation + guard, and
//!                         d + size ≤ 4 KiB (the null page)
//! [Table(t) checked + d]  d + size ≤ the element size
//! [Table(t) @ o+s·n + d]  for every n the count allows: 0 ≤ o + s·n + d,
//!                         o + s·n + d + size ≤ e · t's declared minimum
//! [Table(t) + i·e + d]    i·e + d + size ≤ e · t's declared minimum (its
//!                         length never falls below it), or i < t's length
//! [Table(t) @ e·(x+y) + o + s·n + d]  (x, y names of 32-bit integers,
//!                         n ≤ L + k for a name L, as a loop's exit test
//!                         meets it): over the names, the least offset + d
//!                         has no negative coefficient, and the greatest
//!                         + d + size ≤ e·(a + b + c) for a compare that
//!                         proved a + b + c ≤ t's length (or a constant no
//!                         more than its declared minimum); see
//!                         [`relations`](super::relations)
//! [rip + d]               reads inside `.text` (constant pools)
//! [0 + d]                 (null itself: a `cmov` nulled the address on
//!                         every path) d + size ≤ 4 KiB (the null page)
//! anything else           refused: the address is not known to be safe
//! ```
//!
//! The stack: the frame may grow (`sub rsp`, `push`) at most 4 KiB below
//! the entry without a check; beyond that only after the prologue's
//! check: `Struct(store context).stack_limit + n` compared above rsp,
//! with a branch to a trap, which lets the frame grow by `n`.
//!
//! What a compare proves is learnt on each path it guards: an Int's upper
//! bound, its bound by a heap's or table's length, a heap's least length
//! (a length compared with a constant), that a table holds at least `n`
//! elements (its length compared above `n - 1`, or tested non-zero for
//! `n = 1`: addresses within its first `n` elements become checked, as for
//! `call_indirect` through a constant slot), a funcref's checked type; a
//! path that cannot be taken (an unsigned value below zero, above its
//! bound, two constants equal where they differ or the reverse: the
//! branch on a constant to a trap that Cranelift emits where it knows an
//! operation always traps, with the code it would have run left behind)
//! is dropped, and code only such paths reach is never checked, as it
//! never runs. The low 8 or 16 bits of a constant are a constant.
//! Two pointers at known offsets, or stepping with one loop's count, into
//! one table (or one answer of a segment's base) compare as
//! their offsets do (a call drops pointers into a table that may grow,
//! unless the callee is a builtin that never grows one, so two pointers
//! alive at once were made from its current base) (Cranelift's choice of a forward or a backward copy
//! loop is decided); any call drops pointers into segments; a stepping pointer compared with a
//! fixed one bounds the count (`p ≠ end` on the way round the loop takes
//! the round where they meet off it).
//! An integer made by a 64-bit `lea`/`add` of another and a constant is
//! known to equal it plus that constant modulo 2⁶⁴, as address arithmetic
//! does: a compare of `index + c` with a heap's length checks an address
//! `base + index + e` (e ≥ c) as `base + (index + c) + (e - c)` (memory64
//! reusing one index for several accesses). Where the `add` is followed by
//! a branch to a trap on its carry, the sum is known not to wrap, and then
//! `e < c` is checked too: the address lies below `base + (index + c)`
//! (memory64's offsets past 2³², whose `offset + size` comes from the
//! constant pool). A heap's length is a whole number of its pages, so a
//! compare of it with a constant that is not cannot find them equal
//! (Cranelift's fold of an access at an offset near 2⁶⁴, whose address
//! is nulled unless they are). Where paths join, values
//! that came from the same two funcrefs keep one name, so a type match
//! still checks its funcref; and an instruction that makes a funcref anew
//! (in a loop) first retires what the earlier one of that name proved.
//! An address made from an
//! integer loses that tie when the integer's name is given to a new value
//! (an instruction run again in a loop). Integers are named by the instruction that made them, so that
//! copies (a 32-bit move, a spill and reload, a register the two paths of
//! a join both held) learn what a compare of any one of them proves.
//!
//! Control flow: a direct branch lands on an instruction start inside the
//! same function; a direct call or tail jump on the entry of a function
//! the symbol table names. An indirect jump must be Cranelift's jump
//! table (`lea T(%rip)`, `movslq (T, i, 4)`, `add`, `jmp`) with `i` an Int
//! no larger than the table's last entry; an indirect call must go through
//! a Code value. `ret` only with rsp back at the return address.
//!
//! Decoding: every byte control can reach must decode, and no instruction
//! may straddle another, a jump table or the function's end. Bytes no
//! control reaches are data that never runs: jump tables, the constant
//! pool, and the blocks Cranelift leaves behind a jump table's default
//! entry when the analysis proves the index never selects it. They are
//! counted in the report, not refused.

use serde::Serialize;

/// A rule the code can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// Bytes that control reaches do not decode, or an instruction
    /// straddles another or the function's end, or control falls off it.
    Decode,
    /// A privileged or system instruction, or a segment override.
    Privileged,
    /// A direct branch that does not land on an instruction start of the
    /// same function or a function entry.
    BranchTarget,
    /// A direct call that does not land on a function entry.
    CallTarget,
    /// An indirect jump that is not a bounds-checked jump table.
    JumpTable,
    /// An indirect call through anything but a function pointer from the
    /// VMContext, the builtins array or a type-checked funcref.
    IndirectCall,
    /// A stack access outside the frame, or a store to the return address.
    StackAccess,
    /// The frame grows past what the stack-limit check allows.
    StackCheck,
    /// An access outside a runtime structure, or a store to one of its
    /// read-only fields.
    VmctxAccess,
    /// A linear-memory (or GC heap) access that may leave the reservation
    /// and guard, or that no bounds check dominates.
    HeapAccess,
    /// A table access without its bounds check.
    TableAccess,
    /// A memory access through a value not known to point anywhere safe.
    UnknownPointer,
    /// A return with the stack pointer not at the return address.
    Return,
    /// The analysis could not finish within its limits.
    Limit,
}

impl Rule {
    /// The rule's name, as reports print it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Decode => "decode",
            Self::Privileged => "privileged",
            Self::BranchTarget => "branch-target",
            Self::CallTarget => "call-target",
            Self::JumpTable => "jump-table",
            Self::IndirectCall => "indirect-call",
            Self::StackAccess => "stack-access",
            Self::StackCheck => "stack-check",
            Self::VmctxAccess => "vmctx-access",
            Self::HeapAccess => "heap-access",
            Self::TableAccess => "table-access",
            Self::UnknownPointer => "unknown-pointer",
            Self::Return => "return",
            Self::Limit => "limit",
        }
    }
}
