//! What the process knows about itself: resident memory from `/proc` (Linux), for the
//! detailed health report, the memory alert rule and the `process_*` metrics.

use callvisor_actors::ports::ProcessProbe;

/// Resident set size of this process, from `/proc/self/statm`; `None` elsewhere.
pub fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

/// The memory page size; 4 KiB, the size on every platform with `/proc/self/statm`
/// that callvisor runs on.
fn page_size() -> u64 {
    4096
}

/// The [`ProcessProbe`] of this process.
#[derive(Clone, Copy, Debug, Default)]
pub struct ThisProcess;

impl ProcessProbe for ThisProcess {
    fn resident_memory_bytes(&self) -> Option<u64> {
        resident_memory_bytes()
    }
}
