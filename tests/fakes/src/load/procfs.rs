//! A process's resources as Linux shows them in `/proc` (anywhere else: zeros). Tokio's tasks
//! are not visible from outside; the proxy's own `/metrics` says how many streams are open.

use std::collections::HashMap;

/// Open descriptors, resident memory and threads of a process (or a process tree, summed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resources {
    /// Entries of `/proc/PID/fd`.
    pub fds: u64,
    /// `VmRSS`, KiB.
    pub rss_kb: u64,
    /// `Threads`.
    pub threads: u64,
}

impl Resources {
    /// Each field's larger value.
    pub fn max(self, o: Resources) -> Resources {
        Resources {
            fds: self.fds.max(o.fds),
            rss_kb: self.rss_kb.max(o.rss_kb),
            threads: self.threads.max(o.threads),
        }
    }

    fn add(self, o: Resources) -> Resources {
        Resources {
            fds: self.fds + o.fds,
            rss_kb: self.rss_kb + o.rss_kb,
            threads: self.threads + o.threads,
        }
    }
}

/// A `Key:   value kB` field of `/proc/PID/status`.
fn status_field(status: &str, key: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// One process's resources now.
pub fn resources(pid: u32) -> Resources {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64);
    Resources {
        fds,
        rss_kb: status_field(&status, "VmRSS"),
        threads: status_field(&status, "Threads"),
    }
}

/// The fields of `/proc/PID/stat` after the command's closing parenthesis (the command may
/// itself hold spaces and parentheses).
fn stat_fields(pid: u32) -> Vec<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    rest.split_whitespace().map(str::to_owned).collect()
}

/// CPU time a process has used (user + system), in clock ticks (1/100 s on Linux).
pub fn cpu_ticks(pid: u32) -> u64 {
    let (user, system) = cpu_split(pid);
    user + system
}

/// CPU time a process has used, `(user, system)`, in clock ticks.
pub fn cpu_split(pid: u32) -> (u64, u64) {
    let f = stat_fields(pid);
    // utime and stime are the 14th and 15th fields: 12th and 13th after the command.
    let field = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (field(11), field(12))
}

/// The summed `(user, system)` CPU ticks of several processes.
pub fn cpu_split_of(pids: &[u32]) -> (u64, u64) {
    pids.iter()
        .map(|&p| cpu_split(p))
        .fold((0, 0), |(u, s), (u2, s2)| (u + u2, s + s2))
}

/// `root` and every process below it (a command started through `sh -c`, or a runtime that
/// forks workers, is measured whole).
pub fn tree(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for pid in std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
    {
        // The parent is the 2nd field after the command.
        if let Some(ppid) = stat_fields(pid).get(1).and_then(|p| p.parse().ok()) {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        out.extend(children.get(&out[i]).into_iter().flatten());
        i += 1;
    }
    out
}

/// The summed resources of several processes.
pub fn resources_of(pids: &[u32]) -> Resources {
    pids.iter()
        .map(|&p| resources(p))
        .fold(Resources::default(), Resources::add)
}

/// The summed CPU ticks of several processes.
pub fn cpu_ticks_of(pids: &[u32]) -> u64 {
    pids.iter().map(|&p| cpu_ticks(p)).sum()
}

/// Peak RSS of `pids` (KiB), sampled every 5 ms until the returned task is aborted.
pub fn sample_peak_rss(
    pids: &[u32],
) -> (
    std::sync::Arc<std::sync::atomic::AtomicU64>,
    tokio::task::JoinHandle<()>,
) {
    use std::sync::atomic::{AtomicU64, Ordering};
    let peak = std::sync::Arc::new(AtomicU64::new(resources_of(pids).rss_kb));
    let (p, pids) = (peak.clone(), pids.to_vec());
    let task = tokio::spawn(async move {
        loop {
            p.fetch_max(resources_of(&pids).rss_kb, Ordering::Relaxed);
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    });
    (peak, task)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_seen() {
        let me = resources(std::process::id());
        if cfg!(target_os = "linux") {
            assert!(me.fds > 0 && me.rss_kb > 0 && me.threads > 0, "{me:?}");
            assert_eq!(tree(std::process::id())[0], std::process::id());
        }
    }

    #[test]
    fn status_fields_are_read_by_key() {
        let s = "Name:\tx\nVmRSS:\t  1234 kB\nThreads:\t7\n";
        assert_eq!(status_field(s, "VmRSS"), 1234);
        assert_eq!(status_field(s, "Threads"), 7);
        assert_eq!(status_field(s, "VmHWM"), 0);
    }
}
