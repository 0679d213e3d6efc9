//! The build cache: one shared library per content hash.
//!
//! A build runs in a temporary directory inside the cache directory and its library is
//! renamed into place (atomic on one file system), so concurrent processes building the same
//! design never see a half-written file; the temporary directory is removed on success,
//! on failure and, if a process was killed, by a later build. Builds take a slot (a lock
//! file) so few run at once across processes: each already runs `make -j`.

use crate::tool::{self, Verilator};
use crate::{shim, BuildOptions, Design, SimError};
use sha2::{Digest, Sha256};
use std::fs::{self, File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Environment variable: cache directory (beats the defaults, not `BuildOptions::cache_dir`).
pub const CACHE_ENV: &str = "HDLGEN_SIM_CACHE";
/// Environment variable: how many builds may run at once per cache directory.
pub const BUILDS_ENV: &str = "HDLGEN_SIM_BUILDS";

const TEMP_PREFIX: &str = ".build-";
/// A temporary build directory older than this belongs to a killed process.
const STALE: Duration = Duration::from_secs(3600);

/// `opts.cache_dir`, else `$HDLGEN_SIM_CACHE`, else `<cargo target dir>/hdlgen-sim-cache`
/// under cargo, else `$XDG_CACHE_HOME/hdlgen/sim` or `~/.cache/hdlgen/sim`.
pub fn cache_dir(opts: &BuildOptions) -> PathBuf {
    if let Some(d) = &opts.cache_dir {
        return d.clone();
    }
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = env(CACHE_ENV) {
        return d;
    }
    if env("CARGO").is_some() || env("CARGO_MANIFEST_DIR").is_some() {
        if let Some(t) = cargo_target_dir() {
            return t.join("hdlgen-sim-cache");
        }
    }
    if let Some(x) = env("XDG_CACHE_HOME").filter(|p| p.is_absolute()) {
        return x.join("hdlgen").join("sim");
    }
    if let Some(h) = env("HOME") {
        return h.join(".cache").join("hdlgen").join("sim");
    }
    std::env::temp_dir().join("hdlgen-sim-cache")
}

/// The target directory of the running test or binary: the nearest ancestor of the
/// executable holding cargo's `CACHEDIR.TAG` (this also finds a `CARGO_TARGET_DIR`).
fn cargo_target_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .skip(1)
        .find(|d| d.join("CACHEDIR.TAG").is_file())
        .map(Path::to_path_buf)
        .or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        })
}

/// Everything that can change the library: sources, tool, shim, options.
pub(crate) fn key(
    design: &Design,
    texts: &[(String, String)],
    tool: &Verilator,
    opts: &BuildOptions,
) -> String {
    let mut h = Sha256::new();
    let mut field = |b: &[u8]| {
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    };
    // The shim for a sample of every port kind: any change to the generator changes it.
    field(shim::fingerprint(opts.trace).as_bytes());
    field(tool::CFLAGS.as_bytes());
    field(tool::LDFLAGS.as_bytes());
    field(tool.path().as_os_str().as_encoded_bytes());
    field(tool.version().as_bytes());
    field(design.top.as_bytes());
    field(format!("{:?}", opts.trace).as_bytes());
    field(opts.cxx_opt.as_bytes());
    for a in &opts.verilator_args {
        field(a.as_bytes());
    }
    for (name, text) in texts {
        field(name.as_bytes());
        field(text.as_bytes());
    }
    let d = h.finalize();
    d[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the library for `key` lives.
pub(crate) fn lib_path(dir: &Path, top: &str, key: &str) -> PathBuf {
    dir.join(format!("{top}-{key}.so"))
}

/// Waits for a build slot; the lock is released when the file is dropped.
pub(crate) fn acquire_slot(dir: &Path, slots: usize) -> Result<File, SimError> {
    let mut files = Vec::new();
    for i in 0..slots.max(1) {
        let p = dir.join(format!(".lock-{i}"));
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(|e| SimError::io("open lock file", &p, e))?;
        files.push((f, p));
    }
    // Polling keeps this simple with several slots; builds take seconds.
    loop {
        for i in 0..files.len() {
            match files[i].0.try_lock() {
                Ok(()) => return Ok(files.swap_remove(i).0),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(SimError::io("lock", &files[i].1, e)),
            }
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Number of build slots: `$HDLGEN_SIM_BUILDS`, else the option, else cores / jobs.
pub(crate) fn slots(opts: &BuildOptions, jobs: usize) -> usize {
    if let Some(n) = std::env::var(BUILDS_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        return n.max(1);
    }
    if opts.max_builds > 0 {
        return opts.max_builds;
    }
    (crate::cores() / jobs.max(1)).max(1)
}

/// Removes temporary build directories left by killed processes.
pub(crate) fn remove_stale(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let stale = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age > STALE);
        if stale && e.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// Verilates and compiles `design` into `dest`. Returns Verilator's and make's output.
pub(crate) fn build_into(
    design: &Design,
    tool: &Verilator,
    opts: &BuildOptions,
    jobs: usize,
    dir: &Path,
    dest: &Path,
) -> Result<String, SimError> {
    // Dropping `tmp` removes the directory, also on every early error return below.
    let tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempdir_in(dir)
        .map_err(|e| SimError::io("create build directory in", dir, e))?;
    let work = tmp.path();
    let files = crate::write_sources(design, work)?;
    let mut log = tool.verilate(&design.top, &files, opts.trace, &opts.verilator_args, work)?;

    let obj = work.join("obj");
    let header = obj.join(format!("V{}.h", design.top));
    let text = fs::read_to_string(&header).map_err(|e| SimError::io("read", &header, e))?;
    let ports = shim::parse_header(&text);
    let shim_src = shim::generate(&design.top, &ports, opts.trace);
    let shim_path = work.join(tool::SHIM_FILE);
    fs::write(&shim_path, shim_src).map_err(|e| SimError::io("write", &shim_path, e))?;

    log.push_str(&tool::make(&design.top, &obj, jobs, &opts.cxx_opt)?);
    let built = obj.join(tool::lib_name(&design.top));
    fs::rename(&built, dest).map_err(|e| SimError::io("move library to", dest, e))?;
    let work = work.to_path_buf();
    tmp.close()
        .map_err(|e| SimError::io("remove build directory", work, e))?;
    Ok(log)
}
