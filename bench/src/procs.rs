//! Child server processes and what `/proc` says about them.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Raises the soft open-file limit to the hard one (20 000 here).
pub fn raise_fd_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0)
}

/// In a server child: exits when stdin reaches EOF, i.e. when the parent
/// closed it or died.
pub fn exit_with_parent() {
    std::thread::spawn(|| {
        let mut sink = [0u8; 64];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        std::process::exit(0);
    });
}

/// In a server child: tells [`ServerProc::spawn`] the port (first stdout line).
pub fn announce_port(port: u16) {
    use std::io::Write;
    println!("{port}");
    let _ = std::io::stdout().flush();
}

/// A server running in a child process. Killed when dropped; it also exits
/// by itself when its stdin closes, i.e. when the bench dies.
pub struct ServerProc {
    child: Child,
    /// Its process id.
    pub pid: u32,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
}

impl ServerProc {
    /// Starts `cmd` and waits (up to 60 s) for the port on its first stdout line.
    pub fn spawn(name: &str, mut cmd: Command) -> Result<ServerProc, String> {
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start the {name} server: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let port = rx
            .recv_timeout(Duration::from_secs(60))
            .ok()
            .and_then(|line| line.trim().parse::<u16>().ok());
        let pid = child.id();
        match port {
            Some(port) => Ok(ServerProc { child, pid, port }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("the {name} server did not print its port"))
            }
        }
    }

    /// CPU time (user + system) the process used so far, in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds_of(self.pid)
    }

    /// A `/proc/<pid>/status` field in KiB (`VmRSS`, `VmHWM`).
    pub fn status_kib(&self, field: &str) -> u64 {
        status_kib(self.pid, field).unwrap_or(0)
    }

    /// Open file descriptors of the process.
    pub fn fd_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid)).map_or(0, |d| d.count())
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Clock ticks per second of `/proc/*/stat` (USER_HZ, 100 on Linux).
const TICKS: f64 = 100.0;

fn cpu_seconds(stat_path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    // Fields after the command name (which may hold spaces): state is the
    // 3rd field, utime the 14th and stime the 15th.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS)
}

/// CPU time (user + system) process `pid` used so far, in seconds: the sum
/// of its threads' run time in `/proc/<pid>/task/*/schedstat` (nanoseconds;
/// threads that exited are missed, which the bench's servers do not have
/// while measured), or the 10 ms ticks of `/proc/<pid>/stat`.
pub fn cpu_seconds_of(pid: u32) -> f64 {
    schedstat_seconds(&format!("/proc/{pid}/task"))
        .or_else(|| cpu_seconds(&format!("/proc/{pid}/stat")))
        .unwrap_or(f64::NAN)
}

fn schedstat_seconds(task_dir: &str) -> Option<f64> {
    let mut ns = 0u64;
    for entry in std::fs::read_dir(task_dir).ok()? {
        let path = entry.ok()?.path().join("schedstat");
        // A thread may exit between the listing and the read.
        if let Ok(text) = std::fs::read_to_string(path) {
            ns += text.split_whitespace().next()?.parse::<u64>().ok()?;
        }
    }
    Some(ns as f64 / 1e9)
}

/// CPU time this process (the load generator) used so far, in seconds.
pub fn self_cpu_seconds() -> f64 {
    schedstat_seconds("/proc/self/task")
        .or_else(|| cpu_seconds("/proc/self/stat"))
        .unwrap_or(f64::NAN)
}

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A short description of the CPU, from `/proc/cpuinfo`.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

/// The 1-minute load average.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// Whether `python` imports toxiccore and bcrypt.
pub fn python_has_toxiccore(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import toxiccore, bcrypt"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
