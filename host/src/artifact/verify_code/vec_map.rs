//! A small map kept as one vector sorted by key: what the analysis state
//! holds per frame slot, per named integer and per heap.
//!
//! The fixed point copies a state at every block it walks and at every
//! edge it follows, compares states to see whether a join changed
//! anything, and joins them key by key. Those maps hold a few dozen
//! entries at most. A `BTreeMap` pays an allocation per node on every
//! copy and pointer chasing on every comparison; one sorted vector is one
//! allocation and a `memcpy` to copy, compares as a slice, and joins by
//! walking two slices in step. Lookups are binary searches, as fast as a
//! tree's at these sizes.
//!
//! The map offers only what the analysis uses, with `BTreeMap`'s
//! meaning: keys are unique, iteration is in key order, equality is
//! equality of the ordered entries.

/// A map from `K` to `V`, as a vector sorted by key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VecMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap {
            entries: Vec::new(),
        }
    }
}

impl<K: Ord + Copy, V> VecMap<K, V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    fn find(&self, key: &K) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.cmp(key))
    }

    /// The value at `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    /// Sets `key` to `value`.
    pub fn insert(&mut self, key: K, value: V) {
        match self.find(&key) {
            Ok(i) => self.entries[i].1 = value,
            Err(i) => self.entries.insert(i, (key, value)),
        }
    }

    /// The value at `key`, set to `default()` first if there is none.
    pub fn get_or_insert_with(&mut self, key: K, default: impl FnOnce() -> V) -> &mut V {
        let i = match self.find(&key) {
            Ok(i) => i,
            Err(i) => {
                self.entries.insert(i, (key, default()));
                i
            }
        };
        &mut self.entries[i].1
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &K) {
        if let Ok(i) = self.find(key) {
            self.entries.remove(i);
        }
    }

    /// Keeps the entries `keep` holds for.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The values, in key order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }

    /// The values, in key order, to change.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.entries.iter_mut().map(|(_, v)| v)
    }

    /// The entries, in key order, as a slice.
    pub fn as_slice(&self) -> &[(K, V)] {
        &self.entries
    }

    /// Where `key` is in key order, if it is there.
    pub fn position(&self, key: &K) -> Option<usize> {
        self.find(key).ok()
    }

    /// The value of the `i`th entry in key order.
    ///
    /// # Panics
    ///
    /// When there are not more than `i` entries.
    pub fn value_at(&self, i: usize) -> &V {
        &self.entries[i].1
    }

    /// The value of the `i`th entry in key order, to change.
    ///
    /// # Panics
    ///
    /// When there are not more than `i` entries.
    pub fn value_at_mut(&mut self, i: usize) -> &mut V {
        &mut self.entries[i].1
    }

    /// The entries, in key order, their values to change.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    /// For each key of `self` that `other` also has, in key order: the
    /// key and both values. One pass over both, as both are sorted.
    pub fn common<'a, W>(
        &'a self,
        other: &'a VecMap<K, W>,
    ) -> impl Iterator<Item = (K, &'a V, &'a W)> + 'a {
        let mut rest = other.entries.as_slice();
        self.entries.iter().filter_map(move |(k, a)| {
            while let Some(((k2, _), tail)) = rest.split_first() {
                if k2 < k {
                    rest = tail;
                } else {
                    break;
                }
            }
            match rest.first() {
                Some((k2, b)) if k2 == k => Some((*k, a, b)),
                _ => None,
            }
        })
    }
}

impl<K: Ord + Copy, V: PartialEq + Copy> VecMap<K, V> {
    /// The entries `self` and `other` both hold, with the same value.
    pub fn agreed(&self, other: &VecMap<K, V>) -> VecMap<K, V> {
        self.common(other)
            .filter(|(_, a, b)| a == b)
            .map(|(k, v, _)| (k, *v))
            .collect()
    }
}

impl<K: Ord + Copy, V> FromIterator<(K, V)> for VecMap<K, V> {
    /// Collects entries; as with `BTreeMap`, a later entry for a key
    /// replaces an earlier one. Entries already in key order (as the
    /// joins give them) cost no sorting.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        // The joins filter one map by another: the upper bound is the
        // size that avoids growing the vector step by step.
        let iter = iter.into_iter();
        let (low, high) = iter.size_hint();
        let mut entries = Vec::with_capacity(high.unwrap_or(low));
        entries.extend(iter);
        if !entries.is_sorted_by(|a, b| a.0 < b.0) {
            entries.sort_by_key(|a| a.0);
            // Keep the last of equal keys.
            entries.reverse();
            entries.dedup_by(|later, earlier| later.0 == earlier.0);
            entries.reverse();
        }
        VecMap { entries }
    }
}

#[cfg(test)]
mod tests {
    use super::VecMap;
    use std::collections::BTreeMap;

    #[test]
    fn behaves_as_a_btree_map() {
        let ops: [(i64, u32); 9] = [
            (5, 1),
            (-3, 2),
            (5, 3),
            (9, 4),
            (0, 5),
            (-3, 6),
            (7, 7),
            (1, 8),
            (9, 9),
        ];
        let mut ours = VecMap::new();
        let mut theirs = BTreeMap::new();
        for (k, v) in ops {
            ours.insert(k, v);
            theirs.insert(k, v);
            assert!(ours.iter().eq(theirs.iter()));
        }
        ours.remove(&0);
        theirs.remove(&0);
        ours.retain(|k, _| *k != 7);
        theirs.retain(|k, _| *k != 7);
        *ours.get_or_insert_with(2, || 10) += 1;
        *theirs.entry(2).or_insert(10) += 1;
        *ours.get_or_insert_with(5, || 10) += 1;
        *theirs.entry(5).or_insert(10) += 1;
        assert!(ours.iter().eq(theirs.iter()));
        assert_eq!(ours.get(&-3), theirs.get(&-3));
        assert_eq!(ours.get(&4), None);
        let collected: VecMap<i64, u32> = ops.into_iter().collect();
        let expected: BTreeMap<i64, u32> = ops.into_iter().collect();
        assert!(collected.iter().eq(expected.iter()));
    }

    #[test]
    fn common_keys_in_order() {
        let a: VecMap<u32, char> = [(1, 'a'), (3, 'b'), (5, 'c'), (8, 'd')]
            .into_iter()
            .collect();
        let b: VecMap<u32, u8> = [(0, 0), (3, 1), (4, 2), (8, 3), (9, 4)]
            .into_iter()
            .collect();
        let both: Vec<(u32, char, u8)> = a.common(&b).map(|(k, x, y)| (k, *x, *y)).collect();
        assert_eq!(both, [(3, 'b', 1), (8, 'd', 3)]);
        let c: VecMap<u32, char> = [(1, 'a'), (3, 'x'), (8, 'd')].into_iter().collect();
        let agreed: Vec<(u32, char)> = a.agreed(&c).iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(agreed, [(1, 'a'), (8, 'd')]);
    }
}
