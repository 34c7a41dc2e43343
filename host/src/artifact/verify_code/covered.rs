//! Which bytes of one function the instructions decoded so far cover.
//!
//! The analysis decodes a function as control reaches it, and each new
//! instruction must neither overlap one already decoded nor be found
//! again when a second path reaches it. Kept in a sorted map, every
//! decode cost several searches of a map as large as the function (half
//! of the verification of a function of 80,000 instructions); kept as
//! one entry per byte, each is a look at the bytes the instruction spans.
//! The table costs four bytes per byte of the function, for as long as
//! its analysis runs.

/// Set on the first byte of an instruction.
const START: u32 = 1 << 31;

/// For each byte of a function: the instruction that covers it, if any.
pub struct Covered {
    start: u64,
    /// `index + 1` of the covering instruction (0: none), with [`START`]
    /// on its first byte.
    by: Vec<u32>,
}

impl Covered {
    /// Nothing covered yet, for the function at `start` whose bytes in
    /// the text run to `end` (bytes past the text are never covered:
    /// nothing decodes there).
    pub fn new(start: u64, end: u64) -> Covered {
        let len = usize::try_from(end.saturating_sub(start)).unwrap_or(0);
        Covered {
            start,
            by: vec![0; len],
        }
    }

    fn slot(&self, pc: u64) -> Option<usize> {
        usize::try_from(pc.checked_sub(self.start)?)
            .ok()
            .filter(|&i| i < self.by.len())
    }

    /// The index of the instruction that starts at `pc`.
    pub fn at(&self, pc: u64) -> Option<usize> {
        let entry = self.by[self.slot(pc)?];
        (entry & START != 0).then(|| (entry & !START) as usize - 1)
    }

    /// Whether any byte of `pc..end` is covered.
    pub fn any(&self, pc: u64, end: u64) -> bool {
        (pc..end).any(|b| self.slot(b).is_some_and(|i| self.by[i] != 0))
    }

    /// Marks `pc..end` as covered by instruction `index` (which must
    /// have been checked not to overlap: see [`Covered::any`]).
    pub fn cover(&mut self, pc: u64, end: u64, index: usize) {
        let Ok(entry) = u32::try_from(index + 1) else {
            return;
        };
        if entry & START != 0 {
            return;
        }
        for b in pc..end {
            if let Some(i) = self.slot(b) {
                self.by[i] = if b == pc { entry | START } else { entry };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Covered;

    #[test]
    fn finds_starts_and_overlaps() {
        let mut covered = Covered::new(100, 120);
        assert!(!covered.any(100, 120));
        covered.cover(104, 107, 0);
        covered.cover(107, 108, 1);
        assert_eq!(covered.at(104), Some(0));
        assert_eq!(covered.at(107), Some(1));
        assert_eq!(covered.at(105), None, "inside, not a start");
        assert_eq!(covered.at(99), None);
        assert_eq!(covered.at(500), None);
        assert!(covered.any(102, 105));
        assert!(covered.any(106, 110));
        assert!(!covered.any(108, 130), "past the end counts as free");
        assert!(!covered.any(90, 104));
    }
}
