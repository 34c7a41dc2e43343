//! The frame slots of an abstract state, with a summary of the names and
//! funcref origins they hold, so that the questions asked of every slot
//! at nearly every step can usually be answered without visiting one.
//!
//! When an instruction gives a register a name again (the next round of a
//! loop), everything tied to the old value with that name goes stale, in
//! registers and in slots alike ([`make_stale`](super::step)); so does
//! everything tied to a funcref loaded again
//! ([`State::retire_origin`](super::value::State::retire_origin)), and a
//! join keeps only the facts about names some location still holds. Each
//! of these asked every slot, and a large function's frame holds dozens:
//! on sqlite3 the scans for names alone were a twentieth of the
//! verifier's instructions. Yet the slots change far less often than those
//! questions come, and they are shared between states until they do.
//!
//! So a slot map carries a summary, worked out from its entries the first
//! time it is asked for and kept until they change:
//!
//! ```text
//!   names:   256 bits   bit h(n) set for the name n & !LOW32 of every
//!                       integer, heap or table index, and element a
//!                       table pointer starts from or adds
//!   origins:  64 bits   bit h(o) set for the origin o of every funcref,
//!                       its type id, code pointer or type match
//! ```
//!
//! A clear bit proves that no slot holds that name (or origin), so the
//! scan is skipped; a set bit only says that one may, and the scan runs
//! as before. The answers the analysis gets are therefore exactly those
//! of the scans, whatever the hash; only their cost changes.
//!
//! Soundness rests on one invariant: a summary describes the entries it
//! sits beside. A stale one would wave through a slot that still holds a
//! name and let its old facts survive a rewrite. Every way to change an
//! entry goes through `DerefMut`, which drops the summary first, and the
//! map itself is private to this module; a clone copies entries and
//! summary together. `summary_follows_every_change` in the tests below
//! holds each way of changing the slots to that.

use super::value::{LOW32, Slot, Sym, Value, index_name, origin_of};
use super::vec_map::VecMap;
use std::cell::Cell;
use std::ops::{Deref, DerefMut};

/// Frame slots by offset from the entry stack pointer, with the summary
/// of what they hold.
#[derive(Debug, Clone, Default)]
pub struct Slots {
    map: VecMap<i64, Slot>,
    /// Worked out on demand; `None` once the entries change.
    summary: Cell<Option<Summary>>,
}

/// What a slot map may hold: a clear bit rules a name or origin out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    names: [u64; 4],
    origins: u64,
}

/// Spreads a name or origin over the bits (Fibonacci hashing: names are
/// offsets times 16 plus a register, so their low bits alone would
/// cluster).
fn hash(x: u64, bits: u32) -> u32 {
    (x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - bits)) as u32
}

impl Summary {
    fn of(map: &VecMap<i64, Slot>) -> Summary {
        let mut summary = Summary::default();
        for slot in map.values() {
            let v = slot.value;
            if let Some(name) = index_name(v) {
                summary.add_name(name);
            }
            if let Value::TableAt { from, plus, .. } = v {
                for name in [from, plus] {
                    if name != 0 {
                        summary.add_name(name);
                    }
                }
            }
            if let Some(origin) = origin_of(v) {
                summary.origins |= 1 << hash(origin, 6);
            }
        }
        summary
    }

    fn add_name(&mut self, name: Sym) {
        let h = hash(name & !LOW32, 8);
        self.names[(h / 64) as usize] |= 1 << (h % 64);
    }

    /// Whether some slot may hold a value named `sym`, or its other half
    /// (the low 32 bits or the whole), as an integer, an index or an
    /// element.
    pub fn may_name(&self, sym: Sym) -> bool {
        let h = hash(sym & !LOW32, 8);
        self.names[(h / 64) as usize] & (1 << (h % 64)) != 0
    }

    /// Whether some slot may hold a value from the funcref with `origin`.
    pub fn may_hold_origin(&self, origin: u64) -> bool {
        self.origins & (1 << hash(origin, 6)) != 0
    }
}

impl Slots {
    /// The summary of the entries as they are now.
    pub fn summary(&self) -> Summary {
        if let Some(summary) = self.summary.get() {
            return summary;
        }
        let summary = Summary::of(&self.map);
        self.summary.set(Some(summary));
        summary
    }
}

impl Slots {
    /// The position of the slot at `at`, when it is `size` bytes wide
    /// and no other slot overlaps `at..at + size`: a store there changes
    /// that slot's value and nothing else.
    pub fn sole_overlap(&self, at: i64, size: i64) -> Option<usize> {
        let i = self.map.position(&at)?;
        if i64::from(self.map.value_at(i).size) != size {
            return None;
        }
        // Sorted by offset, and no slot is wider than 255 bytes: only
        // those starting less than that before `at` can reach into it.
        let entries = self.map.as_slice();
        let reach_in = entries[..i]
            .iter()
            .rev()
            .take_while(|(o, _)| *o > at.saturating_sub(256))
            .any(|(o, s)| o.saturating_add(i64::from(s.size)) > at);
        let overlapped = entries
            .get(i + 1)
            .is_some_and(|(o, _)| *o < at.saturating_add(size));
        (!reach_in && !overlapped).then_some(i)
    }
}

impl Deref for Slots {
    type Target = VecMap<i64, Slot>;

    fn deref(&self) -> &Self::Target {
        &self.map
    }
}

impl DerefMut for Slots {
    /// The entries, to change: the summary no longer holds.
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.summary.set(None);
        &mut self.map
    }
}

impl PartialEq for Slots {
    fn eq(&self, other: &Self) -> bool {
        self.map == other.map
    }
}

impl Eq for Slots {}

impl FromIterator<(i64, Slot)> for Slots {
    fn from_iter<I: IntoIterator<Item = (i64, Slot)>>(iter: I) -> Self {
        Slots {
            map: iter.into_iter().collect(),
            summary: Cell::new(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Slots, Summary};
    use crate::artifact::verify_code::layout::TableId;
    use crate::artifact::verify_code::value::{LOW32, Slot, Value};

    fn int(sym: u64) -> Slot {
        Slot {
            value: Value::ANY_INT.named(sym),
            size: 8,
        }
    }

    fn funcref(origin: u64) -> Slot {
        Slot {
            value: Value::FuncRefCode {
                origin,
                callable: false,
            },
            size: 8,
        }
    }

    /// What the scans the summary stands in for would find.
    fn scanned(slots: &Slots) -> Summary {
        let mut expected = Summary::default();
        for (_, slot) in slots.iter() {
            let mut one = Slots::default();
            one.insert(0, *slot);
            let s = Summary::of(&one);
            for i in 0..4 {
                expected.names[i] |= s.names[i];
            }
            expected.origins |= s.origins;
        }
        expected
    }

    #[test]
    fn summary_follows_every_change() {
        let mut slots: Slots = [(-8, int(0x120)), (-16, funcref(0x340))]
            .into_iter()
            .collect();
        assert!(slots.summary().may_name(0x120));
        assert!(slots.summary().may_name(0x120 ^ LOW32));
        assert!(slots.summary().may_hold_origin(0x340));
        // Each change, made after the summary was worked out, must show
        // in the next one.
        slots.insert(-24, int(0x560));
        assert!(slots.summary().may_name(0x560));
        slots.value_at_mut(0).value = Value::ANY_INT.named(0x780);
        assert!(slots.summary().may_name(0x780));
        for slot in slots.values_mut() {
            slot.value = funcref(0x9a0).value;
        }
        assert!(slots.summary().may_hold_origin(0x9a0));
        for (_, slot) in slots.iter_mut() {
            slot.value = Value::TableAt {
                table: TableId {
                    module: 0,
                    table: 0,
                },
                off: 0,
                stride: 8,
                head: 0,
                from: 0xbc0,
                plus: 0xde0,
            };
        }
        assert!(slots.summary().may_name(0xbc0));
        assert!(slots.summary().may_name(0xde0));
        slots.retain(|_, _| false);
        assert_eq!(slots.summary(), Summary::default());
        slots.get_or_insert_with(-8, || int(0x1010));
        assert_eq!(slots.summary(), scanned(&slots));
        // A clone carries entries and summary together; changing the clone
        // leaves the original's summary alone.
        let copy = slots.clone();
        let mut changed = copy.clone();
        changed.insert(-32, int(0x2020));
        assert_eq!(copy.summary(), scanned(&copy));
        assert_eq!(changed.summary(), scanned(&changed));
        assert!(changed.summary().may_name(0x2020));
    }

    #[test]
    fn a_store_changes_one_slot_only_where_nothing_else_overlaps() {
        let sized = |size: u8| Slot {
            value: Value::ANY_INT,
            size,
        };
        let slots: Slots = [
            (-64, sized(16)),
            (-40, sized(8)),
            (-32, sized(8)),
            (-20, sized(4)),
        ]
        .into_iter()
        .collect();
        // Alone in its place, at the store's width.
        assert_eq!(slots.sole_overlap(-40, 8), Some(1));
        assert_eq!(slots.sole_overlap(-32, 8), Some(2));
        // Another width, or no slot there.
        assert_eq!(slots.sole_overlap(-40, 4), None);
        assert_eq!(slots.sole_overlap(-48, 8), None);
        // A wide slot before it reaches in; one after it starts inside.
        let overlapping: Slots = [(-64, sized(32)), (-40, sized(8)), (-36, sized(4))]
            .into_iter()
            .collect();
        assert_eq!(overlapping.sole_overlap(-40, 8), None);
        let reaching: Slots = [(-48, sized(16)), (-40, sized(8))].into_iter().collect();
        assert_eq!(reaching.sole_overlap(-40, 8), None);
        // The widest slot, ending just before.
        let widest: Slots = [(-300, sized(255)), (-40, sized(8))].into_iter().collect();
        assert_eq!(widest.sole_overlap(-40, 8), Some(1));
        let into: Slots = [(-290, sized(255)), (-40, sized(8))].into_iter().collect();
        assert_eq!(into.sole_overlap(-40, 8), None);
    }

    #[test]
    fn a_clear_bit_rules_out_and_a_set_one_does_not() {
        let slots: Slots = (0..40).map(|i| (-8 * i, int(0x10 * i as u64))).collect();
        let summary = slots.summary();
        for i in 0..40 {
            assert!(summary.may_name(0x10 * i));
        }
        // Most names not held are ruled out by 256 bits for 40 names.
        let ruled_out = (1000..2000).filter(|i| !summary.may_name(0x10 * i)).count();
        assert!(ruled_out > 700, "only {ruled_out} of 1000 ruled out");
    }
}
