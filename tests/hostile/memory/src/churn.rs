//! `{"churn_mib": N}`: allocates, frees, grows and zero-allocates blocks in a
//! fixed pseudo-random order until N MiB have been asked for, checking every
//! block's contents as it goes. It exercises the SDK's heap where a bug would
//! corrupt an evaluator's data silently — the arena's in-place growth, its
//! giving back of the latest block, zeroed blocks over reused memory, and the
//! hand-over to dlmalloc once the initial memory is used up.

/// Every block holds one byte value throughout, so an overlap shows.
struct Block(Vec<u8>);

impl Block {
    fn new(tag: u8, len: usize) -> Self {
        Self(vec![tag; len])
    }

    fn intact(&self) -> bool {
        self.0.iter().all(|&b| b == self.0[0])
    }

    fn grow(&mut self, by: usize) {
        let tag = self.0[0];
        self.0.extend(std::iter::repeat_n(tag, by));
    }
}

/// xorshift32: the same sequence on every run.
struct Sequence(u32);

impl Sequence {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0 as usize % below
    }
}

/// Runs the churn; `Ok` says what it did, `Err` what it found broken.
pub fn run(mib: usize) -> Result<String, String> {
    let budget = mib << 20;
    let mut sequence = Sequence(0x9e37_79b9);
    let mut live: Vec<Block> = Vec::new();
    let (mut asked, mut steps, mut zeroed) = (0usize, 0usize, 0usize);
    while asked < budget {
        steps += 1;
        let tag = (steps % 255) as u8 + 1;
        match sequence.next(6) {
            0 | 1 => {
                let len = if sequence.next(50) == 0 {
                    64 * 1024
                } else {
                    1 + sequence.next(4096)
                };
                asked += len;
                live.push(Block::new(tag, len));
            }
            2 if !live.is_empty() => {
                let block = live.swap_remove(sequence.next(live.len()));
                if !block.intact() {
                    return Err(format!("a block was overwritten before step {steps}"));
                }
            }
            3 if !live.is_empty() => {
                // The most recent block: the arena grows it in place.
                let by = 1 + sequence.next(2048);
                asked += by;
                if let Some(block) = live.last_mut() {
                    block.grow(by);
                }
            }
            4 if !live.is_empty() => {
                // Any block: usually moved to grow.
                let by = 1 + sequence.next(2048);
                asked += by;
                let index = sequence.next(live.len());
                live[index].grow(by);
            }
            _ => {
                let len = 1 + sequence.next(8192);
                asked += len;
                let zeros = vec![0u8; len];
                if zeros.iter().any(|&b| b != 0) {
                    return Err(format!(
                        "a zeroed block of {len} bytes was not zero at step {steps}"
                    ));
                }
                zeroed += 1;
                let mut block = Block(zeros);
                block.0.fill(tag);
                live.push(block);
            }
        }
    }
    if let Some(at) = live.iter().position(|b| !b.intact()) {
        return Err(format!("block {at} of {} was overwritten", live.len()));
    }
    Ok(format!(
        "intact after {steps} steps ({zeroed} zeroed blocks, {} live), memory {} pages",
        live.len(),
        memory_pages()
    ))
}

#[cfg(target_arch = "wasm32")]
fn memory_pages() -> usize {
    core::arch::wasm32::memory_size(0)
}

#[cfg(not(target_arch = "wasm32"))]
fn memory_pages() -> usize {
    0
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_churn_finds_the_native_allocator_sound() {
        let report = super::run(4).expect("intact");
        assert!(report.starts_with("intact after "), "{report}");
    }
}
