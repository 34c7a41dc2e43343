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

use super::layout::{Layout, TableId};
use super::value::{Relation, State, Value};
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
    parts(*v).is_some_and(|(table, ..)| table.module & SEGMENT != 0)
}

/// The number of bytes a segment pseudo-table is known to hold.
pub fn segment_bytes(table: TableId) -> Option<u64> {
    (table.module & SEGMENT != 0).then(|| u64::from(table.table) * SEGMENT_ELEMENT)
}

/// How many rounds a count may reach before the loop is given up on (its
/// pointers become plain integers, and what they reach is refused).
const MAX_ROUNDS: u64 = 1 << 12;

/// The table, offset, stride and head of a stepping (or exact) pointer.
fn parts(v: Value) -> Option<(TableId, i64, i64, u64)> {
    match v {
        Value::TableAt {
            table,
            off,
            stride,
            head,
        } => Some((table, off, stride, head)),
        // The base itself.
        Value::Table {
            table,
            max: 0,
            idx: None,
        } => Some((table, 0, 0, 0)),
        _ => None,
    }
}

/// The exact pointer `off` bytes into `table`.
pub fn exact(table: TableId, off: i64) -> Value {
    Value::TableAt {
        table,
        off,
        stride: 0,
        head: 0,
    }
}

/// The least and greatest offset `v` may have in `state`, if it is a
/// pointer into a table whose count is known.
pub fn offsets(state: &State, v: Value) -> Option<(TableId, i128, i128)> {
    offsets_in(&state.loops, v)
}

/// [`offsets`], with the counts `loops`.
pub fn offsets_in(loops: &VecMap<u64, (u64, u64)>, v: Value) -> Option<(TableId, i128, i128)> {
    let (table, off, stride, head) = parts(v)?;
    if stride == 0 {
        return Some((table, off.into(), off.into()));
    }
    let &(lo, hi) = loops.get(&head)?;
    let a = i128::from(off) + i128::from(stride) * i128::from(lo);
    let b = i128::from(off) + i128::from(stride) * i128::from(hi);
    Some((table, a.min(b), a.max(b)))
}

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
    let steps = |v: Value| parts(v).is_some_and(|(_, _, s, h)| s != 0 && h == head);
    let (t1, o1, s1, _) = parts(a)?;
    let (t2, o2, s2, _) = parts(b)?;
    if t1 != t2 {
        return None;
    }
    let d = i128::from(o2) - i128::from(o1);
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

/// The joined count of the loop at `head`, from every location's values
/// on both paths.
fn count(pairs: &[(Value, Value)], one: &State, two: &State, head: u64, target: u64) -> Count {
    let steps = |v: Value| parts(v).is_some_and(|(_, _, s, h)| s != 0 && h == head);
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
    let widen = |old: u64, new: u64| match stop {
        Some(m) if head == target && new > old && m >= new => m,
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
    Count {
        range: range.filter(|&(_, hi)| hi <= MAX_ROUNDS),
        shift: match shift {
            Some(Ok(s)) => Some(s),
            _ => None,
        },
        frame_two: r1.is_none(),
    }
}

/// After the join of `one` and `two` at `target` into `joined`: pointers
/// that step with a loop, and pointers at two exact offsets, which become
/// the steps of a fresh count for `target` (0 on `one`, 1 on `two`).
/// Returns whether any value steps with a count the join may have moved.
pub fn keep_steps(joined: &mut State, one: &State, two: &State, target: u64) -> bool {
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
        .filter_map(|v| parts(v).filter(|p| p.2 != 0).map(|p| p.3))
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
        let pa = parts(a).filter(|p| p.2 != 0);
        let pb = parts(b).filter(|p| p.2 != 0);
        if let Some((_, _, _, h)) = pa.or(pb) {
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
            (Some((t1, o1, 0, _)), Some((t2, o2, 0, _))) if fresh && t1 == t2 && o1 != o2 => {
                created = true;
                Value::TableAt {
                    table: t1,
                    off: o1,
                    stride: o2 - o1,
                    head: target,
                }
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
pub fn refine_steps(
    state: &mut State,
    a: Value,
    b: Value,
    relation: Relation,
    layout: &Layout,
) -> bool {
    let (Some((t1, o1, s1, h1)), Some((t2, o2, s2, h2))) = (parts(a), parts(b)) else {
        return true;
    };
    // One base for both: a table that never grows (a growable one may
    // move between the two loads of its base), or one segment answer.
    if t1 != t2 || (segment_bytes(t1).is_none() && !layout.table_fixed(t1)) {
        return true;
    }
    // Addresses compare as their offsets do while every offset they may
    // have is small: table addresses sit far from both ends of the
    // address space, so neither sum wraps.
    let near = |v: Value| offsets(state, v).is_some_and(|(_, lo, hi)| lo >= 0 && hi < 1 << 40);
    if s1 == s2 && (s1 == 0 || h1 == h2) && near(a) && near(b) {
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
