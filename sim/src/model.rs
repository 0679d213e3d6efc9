//! A loaded model library and its instances.

use crate::{shim, Dir, Port, SimError};
use libloading::Library;
use std::cell::Cell;
use std::ffi::{c_char, c_void, CStr, CString};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

type AbiFn = unsafe extern "C" fn() -> u32;
type PortsFn = unsafe extern "C" fn(*mut usize) -> *const RawPort;
type NewFn = unsafe extern "C" fn() -> *mut c_void;
type DeleteFn = unsafe extern "C" fn(*mut c_void);
type EvalFn = unsafe extern "C" fn(*mut c_void) -> u32;
type StatusFn = unsafe extern "C" fn(*const c_void) -> u32;
type MessageFn = unsafe extern "C" fn(*const c_void) -> *const c_char;
type TimeFn = unsafe extern "C" fn(*const c_void) -> u64;
type TraceOpenFn = unsafe extern "C" fn(*mut c_void, *const c_char) -> i32;
type TraceCloseFn = unsafe extern "C" fn(*mut c_void);
type Set64 = unsafe extern "C" fn(*mut c_void, u64);
type Get64 = unsafe extern "C" fn(*const c_void) -> u64;
type SetW = unsafe extern "C" fn(*mut c_void, *const u32, usize);
type GetW = unsafe extern "C" fn(*const c_void, *mut u32, usize);

/// `HsPort` in the shim.
#[repr(C)]
struct RawPort {
    name: *const c_char,
    width: u32,
    dir: u32,
    set64: Option<Set64>,
    get64: Option<Get64>,
    setw: Option<SetW>,
    getw: Option<GetW>,
}

/// A port's accessors: `*64` for ports up to 64 bits, `*w` for wider ones; no setters on
/// outputs.
#[derive(Clone, Copy)]
struct PortFns {
    set64: Option<Set64>,
    get64: Option<Get64>,
    setw: Option<SetW>,
    getw: Option<GetW>,
}

const FINISHED: u32 = 1;
const ERROR: u32 = 2;

/// The loaded library with every symbol looked up once.
struct Lib {
    id: u64,
    top: String,
    ports: Vec<Port>,
    fns: Vec<PortFns>,
    new: NewFn,
    delete: DeleteFn,
    eval: EvalFn,
    status: StatusFn,
    message: MessageFn,
    time: TimeFn,
    trace_open: TraceOpenFn,
    trace_close: TraceCloseFn,
    // Keeps the code behind the function pointers above mapped.
    _lib: Library,
}

/// How a [`Model`] came to be.
#[derive(Debug, Clone)]
pub struct BuildInfo {
    /// Loaded from the cache without running Verilator.
    pub cached: bool,
    /// Wall time of [`build`](crate::build), including waiting for a build slot.
    pub seconds: f64,
    /// The shared library.
    pub path: PathBuf,
    /// `verilator --version`.
    pub verilator: String,
    /// Verilator's and make's output (warnings) for a fresh build; empty when cached.
    pub log: String,
}

/// A built and loaded design. Cheap to clone; `Send + Sync`: create [`Instance`]s on any
/// thread.
#[derive(Clone)]
pub struct Model {
    lib: Arc<Lib>,
    info: Arc<BuildInfo>,
}

/// A port of a [`Model`], valid for every instance of that model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortHandle {
    model: u64,
    index: u32,
    width: u32,
}

impl PortHandle {
    pub fn width(self) -> u32 {
        self.width
    }

    /// 32-bit words needed for the port's value (for [`Instance::get_wide`]).
    pub fn words(self) -> usize {
        self.width.div_ceil(32) as usize
    }
}

impl Model {
    pub(crate) fn load(path: &Path, top: &str, info: BuildInfo) -> Result<Self, SimError> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let err = |detail: String| SimError::Load {
            path: path.to_path_buf(),
            detail,
        };
        // SAFETY: the library is one this crate generated and built; its initialisers are
        // Verilator's and the C++ runtime's.
        let lib = unsafe { Library::new(path) }.map_err(|e| err(e.to_string()))?;
        macro_rules! sym {
            ($name:literal, $ty:ty) => {
                // SAFETY: the shim defines the symbol with exactly this signature (same ABI).
                *unsafe { lib.get::<$ty>($name) }.map_err(|e| err(e.to_string()))?
            };
        }
        let abi = sym!(b"hs_abi\0", AbiFn);
        // SAFETY: no arguments, returns a constant.
        let got = unsafe { abi() };
        if got != shim::ABI {
            return Err(err(format!(
                "shim ABI {got}, this crate expects {}",
                shim::ABI
            )));
        }
        let ports_fn = sym!(b"hs_ports\0", PortsFn);
        let mut n = 0usize;
        // SAFETY: returns a static array of `n` entries (plus a terminator) that lives as
        // long as the library.
        let raw = unsafe { std::slice::from_raw_parts(ports_fn(&mut n), n) };
        let mut ports = Vec::with_capacity(n);
        let mut fns = Vec::with_capacity(n);
        for r in raw {
            // SAFETY: a NUL-terminated string literal in the library.
            let name = unsafe { CStr::from_ptr(r.name) }
                .to_string_lossy()
                .into_owned();
            let dir = match r.dir {
                0 => Dir::In,
                1 => Dir::Out,
                _ => Dir::InOut,
            };
            ports.push(Port {
                name,
                width: r.width,
                dir,
            });
            fns.push(PortFns {
                set64: r.set64,
                get64: r.get64,
                setw: r.setw,
                getw: r.getw,
            });
        }
        let lib = Lib {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            top: top.to_string(),
            ports,
            fns,
            new: sym!(b"hs_new\0", NewFn),
            delete: sym!(b"hs_delete\0", DeleteFn),
            eval: sym!(b"hs_eval\0", EvalFn),
            status: sym!(b"hs_status\0", StatusFn),
            message: sym!(b"hs_message\0", MessageFn),
            time: sym!(b"hs_time\0", TimeFn),
            trace_open: sym!(b"hs_trace_open\0", TraceOpenFn),
            trace_close: sym!(b"hs_trace_close\0", TraceCloseFn),
            _lib: lib,
        };
        Ok(Self {
            lib: Arc::new(lib),
            info: Arc::new(info),
        })
    }

    pub fn info(&self) -> &BuildInfo {
        &self.info
    }

    /// The top module's ports as Verilator sees them, in its header's order (grouped by
    /// C++ type, not declaration order).
    pub fn ports(&self) -> &[Port] {
        &self.lib.ports
    }

    pub fn port(&self, name: &str) -> Result<PortHandle, SimError> {
        self.lib.port(name)
    }

    /// A fresh instance (its own Verilator context: time, `$finish` state, trace).
    pub fn instance(&self) -> Result<Instance, SimError> {
        // SAFETY: `hs_new` has no preconditions; null means construction failed.
        let ptr = unsafe { (self.lib.new)() };
        let ptr = NonNull::new(ptr).ok_or_else(|| SimError::Load {
            path: self.info.path.clone(),
            detail: format!("cannot construct an instance of `{}`", self.lib.top),
        })?;
        Ok(Instance {
            lib: self.lib.clone(),
            ptr,
            _not_sync: PhantomData,
        })
    }
}

impl Lib {
    fn port(&self, name: &str) -> Result<PortHandle, SimError> {
        match self.ports.iter().position(|p| p.name == name) {
            Some(i) => Ok(PortHandle {
                model: self.id,
                index: i as u32,
                width: self.ports[i].width,
            }),
            None => Err(SimError::NoPort {
                top: self.top.clone(),
                name: name.to_string(),
                known: self
                    .ports
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}

/// One simulation of a [`Model`].
///
/// `Send` but not `Sync`: a Verilated model must not be used from two threads at once.
/// Use one instance per thread.
///
/// Time advances by one on every [`eval`](Self::eval); with tracing on, each `eval` dumps
/// the settled values at the current time, so [`tick`](Self::tick) shows as a clock of
/// period 2.
pub struct Instance {
    lib: Arc<Lib>,
    ptr: NonNull<c_void>,
    _not_sync: PhantomData<Cell<()>>,
}

// SAFETY: the instance owns its C++ objects (model, context, trace file) exclusively and
// Verilator keeps no thread affinity for them; `&mut self` on every mutating call and the
// missing `Sync` keep calls on one thread at a time.
unsafe impl Send for Instance {}

impl Instance {
    #[inline]
    fn fns(&self, p: PortHandle) -> &PortFns {
        assert_eq!(p.model, self.lib.id, "port handle belongs to another model");
        &self.lib.fns[p.index as usize]
    }

    #[cold]
    fn not_writable(&self, p: PortHandle) -> ! {
        panic!(
            "port `{}` of `{}` is an output",
            self.lib.ports[p.index as usize].name, self.lib.top
        )
    }

    pub fn port(&self, name: &str) -> Result<PortHandle, SimError> {
        self.lib.port(name)
    }

    pub fn ports(&self) -> &[Port] {
        &self.lib.ports
    }

    /// Sets an input to `v`; bits above the port width are dropped (for wider ports, the
    /// upper bits become 0).
    ///
    /// # Panics
    /// If `p` is an output or belongs to another model.
    #[inline]
    pub fn set(&mut self, p: PortHandle, v: u64) {
        let f = *self.fns(p);
        // SAFETY (all accessors): `ptr` is a live instance of the library the functions
        // come from; wide accessors read/write at most the given number of words.
        if let Some(s) = f.set64 {
            unsafe { s(self.ptr.as_ptr(), v) }
        } else if let Some(s) = f.setw {
            let w = [v as u32, (v >> 32) as u32];
            unsafe { s(self.ptr.as_ptr(), w.as_ptr(), w.len()) }
        } else {
            self.not_writable(p)
        }
    }

    /// The port's value; for ports wider than 64 bits, the low 64 bits.
    #[inline]
    pub fn get(&self, p: PortHandle) -> u64 {
        let f = self.fns(p);
        if let Some(g) = f.get64 {
            unsafe { g(self.ptr.as_ptr()) }
        } else if let Some(g) = f.getw {
            let mut w = [0u32; 2];
            unsafe { g(self.ptr.as_ptr(), w.as_mut_ptr(), w.len()) };
            u64::from(w[0]) | (u64::from(w[1]) << 32)
        } else {
            0
        }
    }

    /// Sets an input from 32-bit words, least significant first. Missing words are 0, words
    /// and bits beyond the width are dropped (Verilog assignment semantics).
    ///
    /// # Panics
    /// If `p` is an output or belongs to another model.
    pub fn set_wide(&mut self, p: PortHandle, words: &[u32]) {
        let f = *self.fns(p);
        if let Some(s) = f.setw {
            unsafe { s(self.ptr.as_ptr(), words.as_ptr(), words.len()) }
        } else if let Some(s) = f.set64 {
            let w = |i: usize| u64::from(words.get(i).copied().unwrap_or(0));
            unsafe { s(self.ptr.as_ptr(), w(0) | (w(1) << 32)) }
        } else {
            self.not_writable(p)
        }
    }

    /// Writes the port's value as 32-bit words, least significant first, into
    /// `out[..p.words()]`, and zeros the rest of `out`.
    ///
    /// # Panics
    /// If `out` is shorter than [`PortHandle::words`] or `p` belongs to another model.
    pub fn get_wide(&self, p: PortHandle, out: &mut [u32]) {
        assert!(
            out.len() >= p.words(),
            "port `{}` needs {} words, got a buffer of {}",
            self.lib.ports[p.index as usize].name,
            p.words(),
            out.len()
        );
        let f = self.fns(p);
        if let Some(g) = f.getw {
            unsafe { g(self.ptr.as_ptr(), out.as_mut_ptr(), out.len()) }
        } else {
            let v = self.get(p);
            out.fill(0);
            out[0] = v as u32;
            if let Some(hi) = out.get_mut(1).filter(|_| p.width > 32) {
                *hi = (v >> 32) as u32;
            }
        }
    }

    /// [`get_wide`](Self::get_wide) into a new vector of [`PortHandle::words`] words.
    pub fn get_words(&self, p: PortHandle) -> Vec<u32> {
        let mut v = vec![0; p.words()];
        self.get_wide(p, &mut v);
        v
    }

    /// Evaluates the model, dumps the trace (if open) and advances time by one.
    #[inline]
    pub fn eval(&mut self) {
        // SAFETY: live instance. The returned status is read by `finished`/`error` instead.
        unsafe { (self.lib.eval)(self.ptr.as_ptr()) };
    }

    /// One clock cycle: `clk` = 0, eval, `clk` = 1, eval (the rising edge).
    #[inline]
    pub fn tick(&mut self, clk: PortHandle) {
        self.set(clk, 0);
        self.eval();
        self.set(clk, 1);
        self.eval();
    }

    /// `n` clock cycles.
    pub fn ticks(&mut self, clk: PortHandle, n: u64) {
        for _ in 0..n {
            self.tick(clk);
        }
    }

    /// Simulation time: the number of `eval` calls so far.
    pub fn time(&self) -> u64 {
        // SAFETY: live instance.
        unsafe { (self.lib.time)(self.ptr.as_ptr()) }
    }

    /// The design ran `$finish`, `$stop` or hit a fatal error (e.g. a failed assertion with
    /// `--assert`). Verilator's default would have ended the process.
    pub fn finished(&self) -> bool {
        self.status() & FINISHED != 0
    }

    fn status(&self) -> u32 {
        // SAFETY: live instance.
        unsafe { (self.lib.status)(self.ptr.as_ptr()) }
    }

    /// The messages of `$stop`, `$fatal` or failed assertions so far (file:line: what), if any.
    pub fn error(&self) -> Option<String> {
        if self.status() & ERROR == 0 {
            return None;
        }
        // SAFETY: live instance; the message is owned by it and copied before any other call.
        let msg = unsafe { CStr::from_ptr((self.lib.message)(self.ptr.as_ptr())) };
        Some(msg.to_string_lossy().trim_end().to_string())
    }

    /// Starts writing a waveform (VCD or FST, as built) to `path`, replacing any open one.
    /// Needs [`BuildOptions::trace`](crate::BuildOptions::trace).
    pub fn trace_to(&mut self, path: &Path) -> Result<(), SimError> {
        use std::os::unix::ffi::OsStrExt;
        let c = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| SimError::Trace(format!("path {} contains NUL", path.display())))?;
        // SAFETY: live instance, NUL-terminated path that outlives the call.
        match unsafe { (self.lib.trace_open)(self.ptr.as_ptr(), c.as_ptr()) } {
            0 => Ok(()),
            -1 => Err(SimError::Trace(format!(
                "`{}` was built without trace support; set BuildOptions::trace",
                self.lib.top
            ))),
            _ => Err(SimError::Trace(format!(
                "cannot open {} for writing",
                path.display()
            ))),
        }
    }

    /// Closes (and flushes) the waveform; dropping the instance does the same.
    pub fn trace_close(&mut self) {
        // SAFETY: live instance.
        unsafe { (self.lib.trace_close)(self.ptr.as_ptr()) }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `hs_new` of this library and is deleted once.
        unsafe { (self.lib.delete)(self.ptr.as_ptr()) }
    }
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("top", &self.lib.top)
            .field("time", &self.time())
            .finish()
    }
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("top", &self.lib.top)
            .field("ports", &self.lib.ports)
            .field("info", &self.info)
            .finish()
    }
}
