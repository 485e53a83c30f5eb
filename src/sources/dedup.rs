//! De-duplication of frames an engine replays after a reconnect: a bounded
//! window of the most recent frame ids per subscription.

use std::collections::{HashSet, VecDeque};

/// Frame ids are already uniform (BLAKE3): the first 8 bytes of the hex id
/// serve as the hash, without hashing again.
#[derive(Default, Clone, Copy)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes.iter().take(8) {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

type IdBuild = std::hash::BuildHasherDefault<IdHasher>;

/// Parses a 32-hex id; other ids hash their bytes.
fn key(id: &str) -> u128 {
    u128::from_str_radix(id, 16).unwrap_or_else(|_| {
        let h = blake3::hash(id.as_bytes());
        let mut b = [0u8; 16];
        b.copy_from_slice(&h.as_bytes()[..16]);
        u128::from_le_bytes(b)
    })
}

/// Default number of frame ids remembered per subscription.
pub const DEFAULT_WINDOW: usize = 4096;

/// The last `capacity` frame ids seen.
#[derive(Debug)]
pub struct DedupWindow {
    seen: HashSet<u128, IdBuild>,
    order: VecDeque<u128>,
    capacity: usize,
}

impl DedupWindow {
    /// A window remembering `capacity` ids (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            seen: HashSet::with_capacity_and_hasher(capacity.min(1024), IdBuild::default()),
            order: VecDeque::with_capacity(capacity.min(1024)),
            capacity,
        }
    }

    /// Records `id`; false when it was already in the window (a duplicate).
    pub fn insert(&mut self, id: &str) -> bool {
        let k = key(id);
        if !self.seen.insert(k) {
            return false;
        }
        if self.order.len() == self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        self.order.push_back(k);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_a_bounded_window() {
        let mut w = DedupWindow::new(2);
        assert!(w.insert("a"));
        assert!(!w.insert("a"));
        assert!(w.insert("b"));
        assert!(w.insert("c")); // evicts a
        assert!(w.insert("a"));
        assert!(!w.insert("c"));
    }
}
