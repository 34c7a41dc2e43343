//! Pointers that step through a table in a loop: Cranelift's inline
//! element loops (`table.copy`, `table.init`, element segments) walk a
//! destination pointer and a source pointer in lockstep and stop when one
//! reaches its end, so no single pointer's bound says where the other
//! stops.
//!
//! Each such pointer is a [`Value::TableAt`]: the table's base plus `off +
//! stride·n`, where `n` counts the rounds of the loop at `head`, one count
//! for the whole state, kept in [`State::loops`] as a range. Where two
//! paths join, pointers at exact offsets on both become steps of a fresh
//! count (`n = 0` on one path, `n = 1` on the other); steps already
//! counted must agree on how far the other path has gone (the back edge
//! one round further for every one of them, say), or they are dropped. A
//! compare of a stepping pointer with an exact one bounds the count: the
//! loop's exit test `p ≠ end` takes the last round off the range, once
//! the range has grown to reach it. Because every stepping pointer shares
//! the count, bounding the one compared bounds all of them, and each
//! access is checked over the whole range of its offsets.
//!
//! Where the loop's arguments are only known by name, a pointer also
//! carries up to two names (`base + e·(from + plus) + off + stride·n`):
//! the start `dst`, and the length `len` for an end `dst + len`. Its exit
//! test then meets the end at a round named `len + k`; the count at the
//! head is widened to that bound ([`State::limits`]) when the entry's
//! round is under it (`len ≠ 0` tested, for `k = -1`), and the joins round
//! the loop keep the bound only while the back edge keeps it too. The
//! accesses are checked over the names by [`relations`](super::relations).

use super::layout::{Layout, TableId};
use super::relations::Linear;
use super::value::{Relation, State, Sym, Value};
use super::vec_map::VecMap;

/// Marks a [`TableId`] that stands for a passive element segment's base
/// as one call answered it: its `module` is this plus the call's offset,
/// its `table` the number of elements the segment was known to have
/// then. (Pointers from one answer compare as their offsets do; from two
/// answers they need not, so each answer has its own id, and a call
/// drops every pointer into a segment, which the callee may have freed.)
pub const SEGMENT: u32 = 1 << 31;

/// The bytes of one element of a passive segment (a `ValRaw`).
pub const SEGMENT_ELEMENT: u64 = 16;

/// The pseudo-table for the segment base that the call at `pc` answers,
/// known to hold at least `len` elements; `None` past 2³¹ bytes of code.
pub fn segment(pc: u64, len: u64) -> Option<TableId> {
    let pc = u32::try_from(pc).ok().filter(|&pc| pc < SEGMENT)?;
    Some(TableId {
        module: SEGMENT | pc,
        table: u32::try_from(len).unwrap_or(u32::MAX),
    })
}

/// Whether `v` points into a passive segment: a call's answer, which the
/// next call may change (so calls make such pointers plain integers).
pub fn in_segment(v: &Value) -> bool {
    parts(*v).is_some_and(|p| p.table.module & SEGMENT != 0)
}

/// The number of bytes a segment pseudo-table is known to hold.
pub fn segment_bytes(table: TableId) -> Option<u64> {
    (table.module & SEGMENT != 0).then(|| u64::from(table.table) * SEGMENT_ELEMENT)
}

/// How many rounds a count may reach before the loop is given up on (its
/// pointers become plain integers, and what they reach is refused),
/// unless the loop's exit test says where it stops.
const MAX_ROUNDS: u64 = 1 << 12;

/// A pointer into a table: `base + e·(from + plus) + off + stride·n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steps {
    /// The table.
    pub table: TableId,
    /// A named element index it starts from, or 0.
    pub from: Sym,
    /// A second named number of elements, or 0.
    pub plus: Sym,
    /// The offset in bytes beyond the named elements when `n` is 0.
    pub off: i64,
    /// What each round adds (0: exact).
    pub stride: i64,
    /// The loop whose count `n` is.
    pub head: u64,
}

impl Steps {
    /// The value.
    pub fn value(self) -> Value {
        Value::TableAt {
            table: self.table,
            off: self.off,
            stride: self.stride,
            head: self.head,
            from: self.from,
            plus: self.plus,
        }
    }

    /// Whether names are part of it (checked by relations, not offsets).
    pub fn named(&self) -> bool {
        self.from != 0 || self.plus != 0
    }

    /// What two pointers must share for their offsets to compare: the
    /// table and the names, in either order (both count elements).
    fn frame(&self) -> (TableId, Sym, Sym) {
        (
            self.table,
            self.from.min(self.plus),
            self.from.max(self.plus),
        )
    }

    /// The name `end` has beyond `self`'s (sign 1), or `self` beyond
    /// `end`'s (sign -1), when that is their only difference.
    fn one_more_name(&self, end: &Steps) -> Option<(Sym, i64)> {
        let (t1, a1, b1) = self.frame();
        let (t2, a2, b2) = end.frame();
        if t1 != t2 {
            return None;
        }
        // Sorted pairs with 0 for no name: `(0, x)` against `(x, y)` or
        // `(y, x)` differs by `y`.
        let extra = |(a, b): (Sym, Sym), (c, d): (Sym, Sym)| -> Option<Sym> {
            match (a, b) {
                (0, 0) if c == 0 && d != 0 => Some(d),
                (0, x) if x != 0 && c != 0 && d != 0 => {
                    if c == x {
                        Some(d)
                    } else if d == x {
                        Some(c)
                    } else {
                        None
                    }
                }
                _ => None,
            }
        };
        extra((a1, b1), (a2, b2))
            .map(|l| (l, 1))
            .or_else(|| extra((a2, b2), (a1, b1)).map(|l| (l, -1)))
    }

    /// `self` moved by `d` bytes.
    pub fn moved(self, d: i64) -> Option<Steps> {
        Some(Steps {
            off: self.off.checked_add(d)?,
            ..self
        })
    }

    /// `self` plus `e·name`, where `name` is at most 2³² (one more named
    /// part; `None` when it has two already).
    pub fn with_name(self, name: Sym) -> Option<Steps> {
        if name == 0 {
            None
        } else if self.from == 0 {
            Some(Steps { from: name, ..self })
        } else if self.plus == 0 {
            Some(Steps { plus: name, ..self })
        } else {
            None
        }
    }
}

/// The table, offset, stride and head of a stepping (or exact) pointer.
pub fn parts(v: Value) -> Option<Steps> {
    match v {
        Value::TableAt {
            table,
            off,
            stride,
            head,
            from,
            plus,
        } => Some(Steps {
            table,
            from,
            plus,
            off,
            stride,
            head,
        }),
        // The base itself.
        Value::Table {
            table,
            max: 0,
            idx: None,
        } => Some(Steps {
            table,
            from: 0,
            plus: 0,
            off: 0,
            stride: 0,
            head: 0,
        }),
        // The base plus an element index that is at most 2³² (its whole
        // offset, an element's size times it).
        Value::Table {
            table,
            max,
            idx: Some(x),
        } if x != 0 && max <= u64::from(u32::MAX) << 4 => Some(Steps {
            table,
            from: x,
            plus: 0,
            off: 0,
            stride: 0,
            head: 0,
        }),
        _ => None,
    }
}

/// The exact pointer `off` bytes into `table`.
pub fn exact(table: TableId, off: i64) -> Value {
    Steps {
        table,
        from: 0,
        plus: 0,
        off,
        stride: 0,
        head: 0,
    }
    .value()
}

/// The least and greatest offset `v` may have in `state`, if it is a
/// pointer into a table whose count is known and that starts at no name.
pub fn offsets(state: &State, v: Value) -> Option<(TableId, i128, i128)> {
    offsets_in(&state.loops, v)
}

/// [`offsets`], with the counts `loops`.
pub fn offsets_in(loops: &VecMap<u64, (u64, u64)>, v: Value) -> Option<(TableId, i128, i128)> {
    let p = parts(v).filter(|p| !p.named())?;
    if p.stride == 0 {
        return Some((p.table, p.off.into(), p.off.into()));
    }
    let &(lo, hi) = loops.get(&p.head)?;
    let a = i128::from(p.off) + i128::from(p.stride) * i128::from(lo);
    let b = i128::from(p.off) + i128::from(p.stride) * i128::from(hi);
    Some((p.table, a.min(b), a.max(b)))
}

/// The least and greatest offset in bytes of `p`, as linear forms over
/// names: the count runs from its least round to its bound by a name
/// where [`State::limits`] keeps one, else to its greatest. `None` when
/// its loop has no count.
pub fn span(state: &State, p: Steps, element: u64) -> Option<(Linear, Linear)> {
    let e = i128::from(element);
    let at = Linear::constant(p.off.into()).add(p.from, e).add(p.plus, e);
    if p.stride == 0 {
        return Some((at.clone(), at));
    }
    let &(lo, hi) = state.loops.get(&p.head)?;
    let s = i128::from(p.stride);
    let first = at.clone().plus(&Linear::constant(lo.into()), s);
    let last = match state.limits.get(&p.head) {
        Some(&(l, k)) => at.plus(&Linear::constant(k.into()).add(l, 1), s),
        None if hi <= MAX_ROUND_BOUND => at.plus(&Linear::constant(hi.into()), s),
        None => return None,
    };
    Some(if s > 0 { (first, last) } else { (last, first) })
}

/// The most rounds a count may have by constants alone (beyond it, a
/// count is kept only with a bound by a name).
const MAX_ROUND_BOUND: u64 = 1 << 40;

/// How one path's count relates to the joined count: `None` while
/// nothing says, `Some(Err(()))` once two locations disagree.
type Shift = Option<Result<Shift1, ()>>;

/// One path's count in terms of the joined one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shift1 {
    /// Its count is the joined count's value at this round, fixed.
    At(i64),
    /// Its count plus this is the joined count.
    By(i64),
}

fn agree(shift: &mut Shift, found: Shift1) {
    match shift {
        None => *shift = Some(Ok(found)),
        Some(Ok(s)) if *s == found => {}
        _ => *shift = Some(Err(())),
    }
}

/// What the join decides for one loop's count.
struct Count {
    /// The joined range, or `None` when its steps are dropped.
    range: Option<(u64, u64)>,
    /// The joined bound by a name, if any.
    limit: Option<(Sym, i64)>,
    /// How the other path's count maps into the joined one.
    shift: Option<Shift1>,
    /// Whether the joined steps are written in `two`'s frame (`one` has
    /// no count for the loop).
    frame_two: bool,
}

/// How `b` (on path two) relates to `a` (on path one) through the count
/// of the loop at `head`, when one or both step with it: `None` when they
/// do not correspond (the location then joins to a plain integer).
fn relate(a: Value, b: Value, head: u64, r1: bool, r2: bool) -> Option<Shift1> {
    let steps = |v: Value| parts(v).is_some_and(|p| p.stride != 0 && p.head == head);
    let (p1, p2) = (parts(a)?, parts(b)?);
    if p1.frame() != p2.frame() {
        return None;
    }
    let (s1, s2) = (p1.stride, p2.stride);
    let d = i128::from(p2.off) - i128::from(p1.off);
    let whole = |d: i128, s: i64| (d % i128::from(s) == 0).then(|| d / i128::from(s));
    let k = match (steps(a), steps(b)) {
        (true, true) if s1 == s2 => Shift1::By(i64::try_from(whole(d, s1)?).ok()?),
        // A path with no count for this loop: its exact pointer is one
        // round of the other's.
        (true, false) if s2 == 0 && !r2 => Shift1::At(i64::try_from(whole(d, s1)?).ok()?),
        (false, true) if s1 == 0 && !r1 => Shift1::At(i64::try_from(whole(-d, s2)?).ok()?),
        _ => return None,
    };
    Some(k)
}

/// Whether `n ≤ L + k` holds for every `n ≤ hi` in `state`: `hi ≤ k`, or
/// `hi ≤ k + 1` where `L` is known not to be zero.
fn under(state: &State, hi: i128, (l, k): (Sym, i64)) -> bool {
    let k = i128::from(k);
    hi <= k || (hi <= k + 1 && state.rel.is_nonzero(l))
}

/// The joined count of the loop at `head`, from every location's values
/// on both paths.
fn count(pairs: &[(Value, Value)], one: &State, two: &State, head: u64, target: u64) -> Count {
    let steps = |v: Value| parts(v).is_some_and(|p| p.stride != 0 && p.head == head);
    let r1 = one.loops.get(&head).copied();
    let r2 = two.loops.get(&head).copied();
    // The joined count is in the frame of `one`'s when it has one, else
    // of `two`'s; the other path's count must map into it the same way
    // at every location that keeps its step.
    let mut shift: Shift = None;
    for &(a, b) in pairs {
        if (steps(a) || steps(b))
            && let Some(found) = relate(a, b, head, r1.is_some(), r2.is_some())
        {
            agree(&mut shift, found);
        }
    }
    // Where a growing count is widened to, at the loop's head only: the
    // round its exit test meets, when that is further still (any wider
    // range is sound; elsewhere it would undo what the test proved).
    let stop = one.stops.get(&head).max(two.stops.get(&head)).copied();
    let at_head = head == target;
    let widen = |old: u64, new: u64| match stop {
        Some(m) if at_head && new > old && m >= new => m,
        _ => new,
    };
    let range = match (shift, r1, r2) {
        (Some(Ok(Shift1::By(k))), Some((lo1, hi1)), Some((lo2, hi2))) => {
            let lo = i128::from(lo2) + i128::from(k);
            let hi = i128::from(hi2) + i128::from(k);
            (lo >= 0).then(|| {
                let hi = hi1.max(u64::try_from(hi).unwrap_or(u64::MAX));
                (lo1.min(lo as u64), widen(hi1, hi))
            })
        }
        (Some(Ok(Shift1::At(m))), Some((lo, hi)), None)
        | (Some(Ok(Shift1::At(m))), None, Some((lo, hi))) => {
            u64::try_from(m).ok().map(|m| (lo.min(m), hi.max(m)))
        }
        _ => None,
    };
    // The bound by a name: kept where both paths keep it (`two`'s moved
    // into the joined frame). A path whose count has no bound by a name
    // while the other's has is stale: a state from a walk before the
    // head's count was bounded (every state walked from the bounded head
    // keeps the bound, and a count whose name is given to a new value is
    // dropped whole, not left unbounded, [`forget_name`]). The states
    // walked from the bounded head cover every round the loop can run once
    // the bound holds round the loop, which the joins at the head check;
    // what the stale state adds are rounds the old, looser head allowed,
    // not rounds the code runs. At the head, a growing count is widened to
    // the round its exit test meets by a name, when the joined count
    // starts under it: a claim the next walk round the loop must keep, as
    // the count on the back edge is joined with it again, and the bound
    // goes when it does not hold there.
    let (l1, l2) = (
        one.limits.get(&head).copied(),
        two.limits.get(&head).copied(),
    );
    let moved = |l: Option<(Sym, i64)>| match (l, shift) {
        (Some((l, k)), Some(Ok(Shift1::By(s)))) => k.checked_add(s).map(|k| (l, k)),
        _ => None,
    };
    let stale = |r: Option<(u64, u64)>| r.is_some_and(|(_, hi)| hi != u64::MAX);
    let limit = match (l1, moved(l2)) {
        (Some((a, k1)), Some((b, k2))) if a == b => Some((a, k1.max(k2))),
        (Some(l), None) if stale(r2) && l2.is_none() => Some(l),
        (None, Some(l)) if stale(r1) => Some(l),
        _ => None,
    };
    let sym_stop = one
        .sym_stops
        .get(&head)
        .or(two.sym_stops.get(&head))
        .copied();
    let limit = match (limit, sym_stop, range) {
        (None, Some(stop), Some((lo, _)))
            if at_head
                && under(one, lo.into(), stop)
                && under(two, lo.into(), stop)
                && [l1, moved(l2)]
                    .iter()
                    .flatten()
                    .all(|&(l, k)| l == stop.0 && k <= stop.1) =>
        {
            Some(stop)
        }
        (limit, ..) => limit,
    };
    let range = match (range, limit) {
        // Bounded by the name: the constant range no longer says where
        // the count ends.
        (Some((lo, _)), Some(_)) => Some((lo, u64::MAX)),
        (Some((lo, hi)), None) if hi <= MAX_ROUNDS || stop.is_some_and(|m| hi <= m) => {
            Some((lo, hi))
        }
        _ => None,
    };
    Count {
        range,
        limit,
        shift: match shift {
            Some(Ok(s)) => Some(s),
            _ => None,
        },
        frame_two: r1.is_none(),
    }
}

/// After the join of `one` and `two` at `target` into `joined`: pointers
/// that step with a loop, and pointers at two exact offsets, which become
/// the steps of a fresh count for `target`: 0 on the path that came
/// first round the loop, 1 on the other. That is `one` (the state kept
/// at `target`), unless `two` arrives by an edge from before `target`
/// (the loop's entry, whose back edge reached the head first because the
/// entry ran into it mid-block): a count the wrong way round would have
/// the next back edge arrive a round behind it, and be dropped.
/// Returns whether any value steps with a count the join may have moved.
pub fn keep_steps(
    joined: &mut State,
    one: &State,
    two: &State,
    target: u64,
    two_first: bool,
) -> bool {
    // Most joins hold no table pointer at a known offset: nothing to do.
    let holds = |state: &State| {
        !state.loops.is_empty()
            || state
                .regs
                .iter()
                .chain(state.slots.values().map(|s| &s.value))
                .any(|v| matches!(v, Value::TableAt { .. }))
    };
    if !holds(one) && !holds(two) {
        return false;
    }
    // Every location, with its values on both paths.
    let mut pairs: Vec<(Value, Value)> = (0..one.regs.len())
        .map(|i| (one.regs[i], two.regs[i]))
        .collect();
    pairs.extend(
        one.slots
            .common(&two.slots)
            .filter(|(_, a, b)| a.size == b.size)
            .map(|(_, a, b)| (a.value, b.value)),
    );
    let mut heads: Vec<u64> = pairs
        .iter()
        .flat_map(|&(a, b)| [a, b])
        .filter_map(|v| parts(v).filter(|p| p.stride != 0).map(|p| p.head))
        .collect();
    heads.sort_unstable();
    heads.dedup();
    let counts: Vec<(u64, Count)> = heads
        .iter()
        .map(|&h| (h, count(&pairs, one, two, h, target)))
        .collect();
    let decided = |h: u64| counts.iter().find(|(head, _)| *head == h).map(|(_, c)| c);
    // A fresh count for `target` only where no step of it exists yet.
    let fresh = !heads.contains(&target)
        && one.loops.get(&target).is_none()
        && two.loops.get(&target).is_none();
    let mut moved = false;
    let mut created = false;
    let mut fix = |a: Value, b: Value, joined_value: Value| -> Value {
        let pa = parts(a).filter(|p| p.stride != 0);
        let pb = parts(b).filter(|p| p.stride != 0);
        if let Some(p) = pa.or(pb) {
            let h = p.head;
            // Kept only where it corresponds as the whole count does.
            let kept = decided(h).filter(|c| {
                c.range.is_some()
                    && c.shift.is_some()
                    && relate(
                        a,
                        b,
                        h,
                        one.loops.get(&h).is_some(),
                        two.loops.get(&h).is_some(),
                    ) == c.shift
            });
            let Some(c) = kept else {
                return Value::ANY_INT;
            };
            moved = true;
            return if c.frame_two { b } else { a };
        }
        match (parts(a), parts(b)) {
            (Some(p1), Some(p2))
                if fresh
                    && p1.stride == 0
                    && p2.stride == 0
                    && p1.frame() == p2.frame()
                    && p1.off != p2.off =>
            {
                created = true;
                let (first, second) = if two_first { (p2, p1) } else { (p1, p2) };
                Steps {
                    stride: second.off - first.off,
                    head: target,
                    ..first
                }
                .value()
            }
            _ => joined_value,
        }
    };
    for i in 0..joined.regs.len() {
        joined.regs[i] = fix(one.regs[i], two.regs[i], joined.regs[i]);
    }
    let both = one
        .slots
        .common(&two.slots)
        .filter(|(_, a, b)| a.size == b.size);
    for ((_, a, b), (_, slot)) in both.zip(std::rc::Rc::make_mut(&mut joined.slots).iter_mut()) {
        slot.value = fix(a.value, b.value, slot.value);
    }
    for (head, c) in &counts {
        if let Some(range) = c.range {
            joined.loops.insert(*head, range);
            if let Some(limit) = c.limit {
                joined.limits.insert(*head, limit);
            }
        }
    }
    if created {
        joined.loops.insert(target, (0, 1));
    }
    moved || created
}

/// What `a relation b` says of pointers into one table: decided when
/// both offsets are known exactly or step together, and a bound on the
/// count when one steps and the other is exact. `false` when the path
/// cannot be taken.
///
/// Pointers into a table that may grow compare too: a call drops every
/// pointer into such a table (unless the callee is a builtin that never
/// grows one), and nothing else moves its elements, so two pointers live
/// at once were both made from the base it has now.
pub fn refine_steps(
    state: &mut State,
    a: Value,
    b: Value,
    relation: Relation,
    layout: &Layout,
) -> bool {
    let (Some(p1), Some(p2)) = (parts(a), parts(b)) else {
        return true;
    };
    if p1.frame() != p2.frame() {
        return refine_by_name(state, p1, p2, relation, layout);
    }
    let (o1, s1, h1) = (p1.off, p1.stride, p1.head);
    let (o2, s2, h2) = (p2.off, p2.stride, p2.head);
    // Addresses compare as their offsets do while every offset they may
    // have is small: table addresses sit far from both ends of the
    // address space, so neither sum wraps (named parts are the same on
    // both sides, and small too).
    let near = |p: Steps| {
        let unnamed = Steps {
            from: 0,
            plus: 0,
            ..p
        };
        offsets(state, unnamed.value()).is_some_and(|(_, lo, hi)| lo >= 0 && hi < 1 << 40)
    };
    if s1 == s2 && (s1 == 0 || h1 == h2) && near(p1) && near(p2) {
        let (x, y) = (o1, o2);
        return match relation {
            Relation::Lt => x < y,
            Relation::Le => x <= y,
            Relation::Gt => x > y,
            Relation::Ge => x >= y,
            Relation::Eq => x == y,
            Relation::Ne => x != y,
        };
    }
    // One steps, the other is exact: the round where they meet.
    let (o, s, h, e) = match (s1, s2) {
        (0, s) if s != 0 => (o2, s, h2, o1),
        (s, 0) if s != 0 => (o1, s, h1, o2),
        _ => return true,
    };
    let Some(&(lo, hi)) = state.loops.get(&h) else {
        return true;
    };
    let d = i128::from(e) - i128::from(o);
    let meet = (d % i128::from(s) == 0)
        .then(|| d / i128::from(s))
        .and_then(|m| u64::try_from(m).ok());
    let range = match (relation, meet) {
        (Relation::Eq, Some(m)) if (lo..=hi).contains(&m) => (m, m),
        (Relation::Eq, _) => return false,
        (Relation::Ne, Some(m)) if m >= lo => {
            let stop = state.stops.get_or_insert_with(h, || m);
            *stop = (*stop).max(m);
            if m == lo && m == hi {
                return false;
            } else if m == lo {
                (lo + 1, hi)
            } else if m == hi {
                (lo, hi - 1)
            } else {
                return true;
            }
        }
        _ => return true,
    };
    state.loops.insert(h, range);
    true
}

/// A stepping pointer compared with an exact one whose frame has one more
/// (or one less) named count `L`: they meet at round `L + k`. `p ≠ end`
/// takes that round off a count bounded there, and says where to widen
/// it to ([`State::sym_stops`]).
fn refine_by_name(
    state: &mut State,
    p1: Steps,
    p2: Steps,
    relation: Relation,
    layout: &Layout,
) -> bool {
    if relation != Relation::Ne {
        return true;
    }
    let (step, end) = match (p1.stride, p2.stride) {
        (0, s) if s != 0 => (p2, p1),
        (s, 0) if s != 0 => (p1, p2),
        _ => return true,
    };
    // `e·P + o + s·n = e·P' + o'`, with `P' - P = σ·L`: only a step of
    // `σ·e` meets, at `n = L + (o' - o)/s`. The element size is the only
    // stride Cranelift's loops take; a step of another size says nothing.
    let Some((l, sign)) = step.one_more_name(&end) else {
        return true;
    };
    if state.loops.get(&step.head).is_none() {
        return true;
    }
    let element = step.stride * sign;
    if u64::try_from(element).ok() != Some(element_size(layout, step.table)) {
        return true;
    }
    let d = i128::from(end.off) - i128::from(step.off);
    let s = i128::from(step.stride);
    if d % s != 0 {
        return true;
    }
    let Ok(k) = i64::try_from(d / s) else {
        return true;
    };
    let h = step.head;
    let stop = state.sym_stops.get_or_insert_with(h, || (l, k));
    if stop.0 == l {
        stop.1 = stop.1.max(k);
    }
    if state.limits.get(&h) == Some(&(l, k)) {
        state.limits.insert(h, (l, k - 1));
    }
    true
}

/// The bytes of one element of `table` (a passive segment's, for the
/// pseudo-tables of [`segment`]).
pub fn element_size(layout: &Layout, table: TableId) -> u64 {
    if table.module & SEGMENT != 0 {
        SEGMENT_ELEMENT
    } else {
        layout.table_element_size(table)
    }
}

/// Drops what is bounded by the name `sym` (or its low half), now given
/// to a new value: the bound and the count it bounds, so that the loop's
/// pointers step with no known count (refused where used) rather than
/// with one that a stale bound could be mistaken for.
pub fn forget_name(state: &mut State, sym: Sym) {
    if state.limits.is_empty() && state.sym_stops.is_empty() {
        return;
    }
    let stale = |l: Sym| l & !super::value::LOW32 == sym;
    let heads: Vec<u64> = state
        .limits
        .iter()
        .filter(|(_, (l, _))| stale(*l))
        .map(|(h, _)| *h)
        .collect();
    for h in heads {
        state.limits.remove(&h);
        state.loops.remove(&h);
    }
    state.sym_stops.retain(|_, (l, _)| !stale(*l));
}
