//! A fixed-capacity ring of the last `n` values, allocated once.

/// The last `capacity` values pushed, oldest first; pushing onto a full ring evicts
/// the oldest. Never grows after construction.
#[derive(Debug, Clone)]
pub(crate) struct Ring {
    buf: Box<[f64]>,
    /// Index of the oldest value.
    head: usize,
    len: usize,
}

impl Ring {
    /// An empty ring holding up to `capacity` (>= 1) values.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            buf: vec![0.0; capacity.max(1)].into_boxed_slice(),
            head: 0,
            len: 0,
        }
    }

    /// Appends `v`; returns the value it evicted when the ring was full.
    pub(crate) fn push(&mut self, v: f64) -> Option<f64> {
        let cap = self.buf.len();
        if self.len < cap {
            let at = (self.head + self.len) % cap;
            self.buf[at] = v;
            self.len += 1;
            None
        } else {
            let old = std::mem::replace(&mut self.buf[self.head], v);
            self.head = (self.head + 1) % cap;
            Some(old)
        }
    }

    /// The `i`-th value, oldest first (`i < len`).
    pub(crate) fn get(&self, i: usize) -> f64 {
        self.buf[(self.head + i) % self.buf.len()]
    }

    /// The oldest value, if any.
    pub(crate) fn oldest(&self) -> Option<f64> {
        (self.len > 0).then(|| self.get(0))
    }

    /// How many values are held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// True when `capacity` values are held.
    pub(crate) fn is_full(&self) -> bool {
        self.len == self.buf.len()
    }

    /// Empties the ring, keeping its allocation.
    pub(crate) fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    /// The values oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = f64> + '_ {
        (0..self.len).map(move |i| self.get(i))
    }
}
