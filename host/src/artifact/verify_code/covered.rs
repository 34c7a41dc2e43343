//! Which bytes of one function the instructions decoded so far cover,
//! and where blocks start.
//!
//! The analysis decodes a function as control reaches it, and each new
//! instruction must neither overlap one already decoded nor be found
//! again when a second path reaches it. Kept in a sorted map, every
//! decode cost several searches of a map as large as the function (half
//! of the verification of a function of 80,000 instructions); kept as
//! one entry per byte, each is a look at the bytes the instruction spans.
//! Whether a block starts at an offset, asked at every instruction that
//! falls through, is a bit of the same entry.
//! The table costs four bytes per byte of the function, for as long as
//! its analysis runs.

/// Set on the first byte of an instruction.
const START: u32 = 1 << 31;

/// Set where a block starts.
const BLOCK: u32 = 1 << 30;

/// The bits of an entry that name its instruction.
const INDEX: u32 = BLOCK - 1;

/// For each byte of a function: the instruction that covers it, if any.
pub struct Covered {
    start: u64,
    /// `index + 1` of the covering instruction (0: none), with [`START`]
    /// on its first byte and [`BLOCK`] where a block starts.
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
        (entry & START != 0).then(|| (entry & INDEX) as usize - 1)
    }

    /// Whether a block starts at `pc`.
    pub fn is_block(&self, pc: u64) -> bool {
        self.slot(pc).is_some_and(|i| self.by[i] & BLOCK != 0)
    }

    /// Marks `pc` as where a block starts (ignored outside the function,
    /// where no instruction decodes either).
    pub fn mark_block(&mut self, pc: u64) {
        if let Some(i) = self.slot(pc) {
            self.by[i] |= BLOCK;
        }
    }

    /// Whether any byte of `pc..end` is covered.
    pub fn any(&self, pc: u64, end: u64) -> bool {
        (pc..end).any(|b| self.slot(b).is_some_and(|i| self.by[i] & INDEX != 0))
    }

    /// Marks `pc..end` as covered by instruction `index` (which must
    /// have been checked not to overlap: see [`Covered::any`]).
    pub fn cover(&mut self, pc: u64, end: u64, index: usize) {
        let Ok(entry) = u32::try_from(index + 1) else {
            return;
        };
        if entry & !INDEX != 0 {
            return;
        }
        for b in pc..end {
            if let Some(i) = self.slot(b) {
                let block = self.by[i] & BLOCK;
                self.by[i] = block | if b == pc { entry | START } else { entry };
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
        covered.mark_block(107);
        covered.mark_block(110);
        covered.mark_block(5000);
        assert!(covered.is_block(107) && covered.is_block(110));
        assert!(!covered.is_block(104) && !covered.is_block(5000));
        assert_eq!(
            covered.at(107),
            Some(1),
            "a block start keeps its instruction"
        );
        assert!(!covered.any(110, 111), "a block start alone covers nothing");
        covered.cover(110, 112, 2);
        assert!(covered.is_block(110));
        assert_eq!(covered.at(110), Some(2));
    }
}
