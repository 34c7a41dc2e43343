//! What compares prove about sums of named integers, for the loops that
//! walk a table from an index only known by name.
//!
//! Cranelift's inline element loops (`table.copy`, `table.init`, the fill
//! of `table.grow`) check the whole operation once, before the loop:
//! `dst + len ≤ table length` (a 64-bit `lea` of two zero-extended 32-bit
//! integers, compared with the length), and `len ≠ 0` before the first
//! round. The loop then walks a pointer from `base + e·dst` and stops
//! when a pointer (the same one or one moving in step with it) meets the
//! end. No single compare bounds the pointer the store goes through; a
//! relation between names does:
//!
//! ```text
//!   pairs    s = x + y          a sum of two names, neither above 2³²
//!                               (so the 64-bit sum never wraps)
//!   rooms    x + y + c ≤ limit  from a compare of such a sum (or of a
//!                               name plus a constant, `State::sums`)
//!                               with a table's length or a constant
//!   nonzero  x ≠ 0              from `test x, x` and a branch past zero
//!   scaled   s = x · 2^k        a count shifted into bytes (`shl 4` for
//!                               a passive segment's 16-byte elements)
//! ```
//!
//! A room's limit is a table's length, a constant (at most the table's
//! declared minimum to count), or a passive segment's length: the
//! builtin that answers the segment's base turns those into rooms of
//! the pseudo-table it answers, and any call that may drop the segment
//! forgets both.
//!
//! A pointer `base + e·(from + plus) + off + stride·n`
//! ([`Value::TableAt`](super::value::Value::TableAt)) is then checked as
//! a linear form over the names ([`Linear`]): its least offset must have
//! no negative coefficient (names are unsigned), and its greatest, plus
//! the access, must be at most `e` times some room's left side, whose
//! limit is at most the table's length. A name given to a new value (an
//! instruction run again in a loop) takes every relation about it along.

use super::layout::{Layout, TableId};
use super::value::{LOW32, Sym};
use super::vec_map::VecMap;
use std::rc::Rc;

/// What a room's sum is at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// A table's current length (in elements).
    Len(TableId),
    /// A constant.
    Const(u64),
    /// The current length (in elements) of passive element segment `n`
    /// of the function's module, until a call that may drop it.
    Seg(u32),
}

/// `x + y + c ≤ limit` (`y` 0: no second name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Room {
    /// A name.
    pub x: Sym,
    /// A second name, or 0.
    pub y: Sym,
    /// A constant added to them.
    pub c: i64,
    /// What the sum is at most.
    pub limit: Limit,
}

/// The relations one analysis state holds (few: only around element
/// loops, so plain vectors).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Relations {
    /// `sum = x + y`, neither above 2³².
    pub pairs: VecMap<Sym, (Sym, Sym)>,
    /// What compares proved of sums.
    pub rooms: Vec<Room>,
    /// Names known not to be zero.
    pub nonzero: Vec<Sym>,
    /// `s = x · 2^k`, `x` not above 2³² (a count of elements shifted
    /// into bytes, for an element size no `lea` scale reaches).
    pub scaled: VecMap<Sym, (Sym, u8)>,
}

/// Whether `s` is `sym` or its low half.
fn is(s: Sym, sym: Sym) -> bool {
    s != 0 && s & !LOW32 == sym
}

impl Relations {
    /// What both paths of a join hold.
    pub fn join(&self, other: &Relations) -> Relations {
        if self == other {
            return self.clone();
        }
        Relations {
            pairs: self.pairs.agreed(&other.pairs),
            rooms: self
                .rooms
                .iter()
                .filter(|r| other.rooms.contains(r))
                .copied()
                .collect(),
            nonzero: self
                .nonzero
                .iter()
                .filter(|s| other.nonzero.contains(s))
                .copied()
                .collect(),
            scaled: self.scaled.agreed(&other.scaled),
        }
    }

    /// Drops what `relations` say of `sym` (or its low half): it names a
    /// new value now. Relations shared between states are copied only
    /// when they say something of it.
    pub fn forget(relations: &mut Rc<Relations>, sym: Sym) {
        let pair = |s: &Sym, (x, y): &(Sym, Sym)| is(*s, sym) || is(*x, sym) || is(*y, sym);
        let scaled = |s: &Sym, (x, _): &(Sym, u8)| is(*s, sym) || is(*x, sym);
        let room = |r: &Room| is(r.x, sym) || is(r.y, sym);
        let nonzero = |s: &Sym| is(*s, sym);
        let mentioned = relations.pairs.iter().any(|(s, v)| pair(s, v))
            || relations.scaled.iter().any(|(s, v)| scaled(s, v))
            || relations.rooms.iter().any(room)
            || relations.nonzero.iter().any(nonzero);
        if !mentioned {
            return;
        }
        let relations = Rc::make_mut(relations);
        relations.pairs.retain(|s, v| !pair(s, v));
        relations.scaled.retain(|s, v| !scaled(s, v));
        relations.rooms.retain(|r| !room(r));
        relations.nonzero.retain(|s| !nonzero(s));
    }

    /// Learns that `x + y + c ≤ limit`.
    pub fn add_room(&mut self, room: Room) {
        if !self.rooms.contains(&room) {
            self.rooms.push(room);
        }
    }

    /// Learns that `sym` is not zero.
    pub fn add_nonzero(&mut self, sym: Sym) {
        if !self.nonzero.contains(&sym) {
            self.nonzero.push(sym);
        }
    }

    /// Whether `sym` is known not to be zero.
    pub fn is_nonzero(&self, sym: Sym) -> bool {
        self.nonzero.contains(&sym)
    }
}

/// `c + Σ k·name`, in bytes, exact (names are at most 2³², coefficients
/// small: no overflow in `i128`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linear {
    /// The constant.
    pub c: i128,
    /// Each name with its coefficient (no name twice).
    pub terms: Vec<(Sym, i128)>,
}

impl Linear {
    /// The constant `c`.
    pub fn constant(c: i128) -> Linear {
        Linear {
            c,
            terms: Vec::new(),
        }
    }

    /// Adds `k·sym` (nothing for the name 0).
    pub fn add(mut self, sym: Sym, k: i128) -> Linear {
        if sym == 0 || k == 0 {
            return self;
        }
        match self.terms.iter_mut().find(|(s, _)| *s == sym) {
            Some((_, kk)) => *kk += k,
            None => self.terms.push((sym, k)),
        }
        self.terms.retain(|&(_, k)| k != 0);
        self
    }

    /// `self + k·other`.
    pub fn plus(mut self, other: &Linear, k: i128) -> Linear {
        self.c += k * other.c;
        for &(s, kk) in &other.terms {
            self = self.add(s, k * kk);
        }
        self
    }

    /// Whether it is at least 0 for any values of its names.
    pub fn never_negative(&self) -> bool {
        self.c >= 0 && self.terms.iter().all(|&(_, k)| k >= 0)
    }

    /// Whether it is at most 0 for any values of its names.
    pub fn never_positive(&self) -> bool {
        self.c <= 0 && self.terms.iter().all(|&(_, k)| k <= 0)
    }
}

/// Whether `end` (the offset in bytes just past an access into `table`,
/// `e` bytes an element) is at most the table's length in bytes, by some
/// room: `end ≤ e·(x + y + c) ≤ e·limit ≤ e·length`.
pub fn within_rooms(
    relations: &Relations,
    end: &Linear,
    table: TableId,
    element: u64,
    layout: &Layout,
) -> bool {
    let e = i128::from(element);
    relations.rooms.iter().any(|room| {
        let limit_fits = match room.limit {
            Limit::Len(t) => t == table,
            // The length never falls below the least it is known to have.
            Limit::Const(c) => c <= least_len(layout, table),
            // A segment's rooms hold for its base once a call answers it
            // (as `Len` of that answer's pseudo-table).
            Limit::Seg(_) => false,
        };
        let sum = Linear::constant(i128::from(room.c))
            .add(room.x, 1)
            .add(room.y, 1);
        limit_fits && end.clone().plus(&sum, -e).never_positive()
    })
}

/// The fewest elements `table` ever has: its declared minimum, or for a
/// passive segment's pseudo-table, the length known when its base was
/// taken.
pub fn least_len(layout: &Layout, table: TableId) -> u64 {
    match super::induction::segment_bytes(table) {
        Some(bytes) => bytes / super::induction::SEGMENT_ELEMENT,
        None => layout.table_min(table),
    }
}
