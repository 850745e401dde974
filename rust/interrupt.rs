//! Ctrl-C inside a long kernel. Python's SIGINT handler only sets a flag that the interpreter
//! reads between bytecodes, so a kernel running with the GIL released would finish before
//! KeyboardInterrupt is raised (minutes for an absurd pooling window). The core chains its own
//! handler in front of Python's: it counts signals, then calls Python's handler as before.
//! A kernel started by `pytensor::maybe_detach` on the main thread carries a [`Token`] (the
//! count when it started); the parallel loops in `device::pool` skip their remaining work once
//! the count moves, and the entry point then returns `Error::Interrupted`, which raises what
//! Python's handler decided (KeyboardInterrupt by default). In-place updates (the optimizer)
//! never carry a token, so an interrupt never leaves weights half updated.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

static SIGNALS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static CURRENT: Cell<Option<u64>> = const { Cell::new(None) };
}

/// The interrupt state of one kernel call: `Some(count at start)` when it may be interrupted.
#[derive(Clone, Copy, Debug, Default)]
pub struct Token(Option<u64>);

impl Token {
    /// Whether a SIGINT arrived since the kernel started (a relaxed load: cheap enough to poll
    /// once per chunk of work).
    #[inline]
    pub fn fired(self) -> bool {
        matches!(self.0, Some(start) if SIGNALS.load(Ordering::Relaxed) != start)
    }
}

/// The token of the kernel running on this thread (none outside `run`).
#[inline]
pub fn current() -> Token {
    Token(CURRENT.with(Cell::get))
}

/// Run `f` with `token` as this thread's current token (how `pool::par` hands it to a pool
/// thread).
pub fn with_token<R>(token: Token, f: impl FnOnce() -> R) -> R {
    let before = CURRENT.with(|c| c.replace(token.0));
    let r = f();
    CURRENT.with(|c| c.set(before));
    r
}

/// Run the kernel `f` interruptibly when called from the main thread: `Err(Interrupted)` when
/// a SIGINT arrived while it ran (its result, possibly incomplete, is dropped).
pub fn run<T>(f: impl FnOnce() -> crate::error::Result<T>) -> crate::error::Result<T> {
    if !on_main_thread() || !handler_installed() {
        return f();
    }
    let token = Token(Some(SIGNALS.load(Ordering::Relaxed)));
    let r = with_token(token, f);
    if token.fired() {
        return Err(crate::error::Error::Interrupted);
    }
    r
}

/// Only the main thread receives KeyboardInterrupt; a kernel on another thread runs to its end.
/// Cached per thread: a syscall per kernel costs microseconds in a VM.
fn on_main_thread() -> bool {
    thread_local! {
        static MAIN: bool = main_thread_now();
    }
    MAIN.with(|m| *m)
}

fn main_thread_now() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain syscalls without arguments.
        unsafe { libc::gettid() == libc::getpid() }
    }
    #[cfg(target_os = "macos")]
    {
        // SAFETY: no arguments; returns 1 on the main thread.
        unsafe { libc::pthread_main_np() == 1 }
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos")))]
    {
        false
    }
}

/// Python's SIGINT handler as it was when ours was put in front of it.
static PREVIOUS: AtomicUsize = AtomicUsize::new(0);
static PREVIOUS_FLAGS: AtomicUsize = AtomicUsize::new(0);

#[cfg(unix)]
extern "C" fn on_sigint(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    SIGNALS.fetch_add(1, Ordering::Relaxed);
    let prev = PREVIOUS.load(Ordering::Relaxed);
    if prev == libc::SIG_DFL || prev == libc::SIG_IGN || prev == 0 {
        return;
    }
    // SAFETY: `prev` is the handler the OS held before ours, called as it was registered.
    unsafe {
        if PREVIOUS_FLAGS.load(Ordering::Relaxed) & libc::SA_SIGINFO as usize != 0 {
            let h: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                std::mem::transmute(prev);
            h(sig, info, ctx);
        } else {
            let h: extern "C" fn(libc::c_int) = std::mem::transmute(prev);
            h(sig);
        }
    }
}

/// Put our handler in front of the current SIGINT handler when it is not there already (Python
/// replaces it whenever a program calls `signal.signal(SIGINT, ...)`). Leaves SIG_DFL and
/// SIG_IGN alone. Called with the GIL held on the main thread, so never concurrently.
#[cfg(unix)]
fn handler_installed() -> bool {
    use std::time::{Duration, Instant};
    thread_local! {
        static LAST: Cell<Option<(Instant, bool)>> = const { Cell::new(None) };
    }
    // Python replaces the handler only when a program calls signal.signal: looking again
    // every 100 ms keeps a syscall off each kernel call.
    if let Some((at, installed)) = LAST.with(Cell::get) {
        if at.elapsed() < Duration::from_millis(100) {
            return installed;
        }
    }
    let installed = install_handler();
    LAST.with(|c| c.set(Some((Instant::now(), installed))));
    installed
}

#[cfg(unix)]
fn install_handler() -> bool {
    // SAFETY: sigaction with valid pointers to zero-initialised structs.
    unsafe {
        let mut cur: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGINT, std::ptr::null(), &mut cur) != 0 {
            return false;
        }
        let ours = on_sigint as *const () as usize;
        if cur.sa_sigaction == ours {
            return true;
        }
        if cur.sa_sigaction == libc::SIG_DFL || cur.sa_sigaction == libc::SIG_IGN {
            return false;
        }
        PREVIOUS.store(cur.sa_sigaction, Ordering::Relaxed);
        PREVIOUS_FLAGS.store(cur.sa_flags as usize, Ordering::Relaxed);
        let mut new = cur;
        new.sa_sigaction = ours;
        new.sa_flags = cur.sa_flags | libc::SA_SIGINFO;
        libc::sigaction(libc::SIGINT, &new, std::ptr::null_mut()) == 0
    }
}

#[cfg(not(unix))]
fn handler_installed() -> bool {
    false
}
