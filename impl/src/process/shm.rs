//! Memory shared between processes, and a lock that lives in it.
//!
//! [`SharedMemory`] is a memfd mapped `MAP_SHARED`; its [`token`](SharedMemory::token)
//! lets any process of the same user map the same memory. [`RobustMutex`] is a
//! process-shared, robust `pthread_mutex_t` placed in such memory: a holder that dies
//! does not leave the others waiting forever, the next locker recovers the lock and
//! is told so.

use std::cell::UnsafeCell;
use std::ffi::CStr;
use std::fs::OpenOptions;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};

/// A region of memory that several processes map.
///
/// # The token
/// The token is `/proc/<pid>/fd/<fd>`: the path, in the process that holds the region,
/// of its memfd. Opening that path opens the same memfd, so a process started by
/// spawn (a fresh `exec`, which inherits no fd we did not hand over) can attach with
/// nothing but a string, as the [`ShmCounter`](racecourse_spec::shm_counter::ShmCounter)
/// contract asks. The alternatives were worse for a test harness:
/// - handing the fd itself over (`pre_exec` + clearing close-on-exec) ties the region
///   to the code that spawns, and a token string could no longer travel in the task's
///   arguments like any other value;
/// - a named POSIX region (`shm_open`) outlives a crashed or killed test in
///   `/dev/shm` unless someone unlinks it, whereas a memfd is freed with its last fd
///   and mapping.
///
/// The price: the process named in the token must be alive when another attaches (the
/// parent creates the region and waits for its workers, so it is), and the attacher
/// needs the right to read that process's fds (same user, not made non-dumpable).
/// Once attached, a mapping stays valid whatever happens to the creator.
#[derive(Debug)]
pub struct SharedMemory {
    /// The memfd; kept open so that the token stays valid while we live, unless
    /// [`close_fd`](Self::close_fd) closed it.
    fd: Option<OwnedFd>,
    /// The start of the `MAP_SHARED` mapping, page-aligned.
    ptr: NonNull<u8>,
    len: usize,
    token: String,
}

// SAFETY: the handle only owns an fd and a mapping; the memory is reached through the
// raw pointer, and whoever reads or writes it must synchronize (across processes
// anyway), so moving or sharing the handle between threads adds no new hazard.
unsafe impl Send for SharedMemory {}
// SAFETY: as above; `&SharedMemory` gives out only the raw pointer.
unsafe impl Sync for SharedMemory {}

impl SharedMemory {
    /// A new zero-filled region of `len` bytes (`len > 0`).
    pub fn create(len: usize) -> io::Result<Self> {
        if len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a shared region needs at least one byte",
            ));
        }
        let name: &CStr = c"racecourse-shm";
        let fd = memfd_create(name, MemFdCreateFlag::MFD_CLOEXEC)?;
        let size = libc::off_t::try_from(len)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "region too large"))?;
        nix::unistd::ftruncate(&fd, size)?;
        Self::map(fd, len)
    }

    /// Maps the region named by `token` (see [`token`](Self::token)).
    pub fn attach(token: &str) -> io::Result<Self> {
        let invalid = || {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("`{token}` is not a shared memory token (/proc/<pid>/fd/<fd>)"),
            )
        };
        let rest = token.strip_prefix("/proc/").ok_or_else(invalid)?;
        let (pid, fd) = rest.split_once("/fd/").ok_or_else(invalid)?;
        if pid.parse::<u32>().is_err() || fd.parse::<u32>().is_err() {
            return Err(invalid());
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(token)?;
        let len = usize::try_from(file.metadata()?.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "region too large"))?;
        if len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("`{token}` names an empty file, not a shared region"),
            ));
        }
        Self::map(OwnedFd::from(file), len)
    }

    /// Maps a memfd handed over to this process (an inherited fd, say): the region is
    /// the whole file. Its token names the fd in this process.
    pub fn adopt(fd: OwnedFd) -> io::Result<Self> {
        let len = usize::try_from(std::fs::File::from(fd.try_clone()?).metadata()?.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "region too large"))?;
        if len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the fd names an empty file, not a shared region",
            ));
        }
        Self::map(fd, len)
    }

    fn map(fd: OwnedFd, len: usize) -> io::Result<Self> {
        let length = std::num::NonZeroUsize::new(len).expect("len checked non-zero");
        // SAFETY: a fresh shared mapping of our own fd at an address the kernel picks;
        // it overlaps no Rust object. Its contents are only reached through raw
        // pointers.
        let ptr = unsafe {
            mmap(
                None,
                length,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
                fd.as_fd(),
                0,
            )?
        };
        let token = format!("/proc/{}/fd/{}", std::process::id(), fd.as_raw_fd());
        Ok(Self {
            fd: Some(fd),
            ptr: ptr.cast(),
            len,
            token,
        })
    }

    /// Names the region for [`attach`](Self::attach), valid while this handle lives.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a region has at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The start of the mapping: page-aligned, valid for `len()` bytes while `self`
    /// lives, and written by other processes at any time.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The memfd (to hand over explicitly instead of by token), unless
    /// [`close_fd`](Self::close_fd) closed it.
    pub fn fd(&self) -> Option<&OwnedFd> {
        self.fd.as_ref()
    }

    /// Closes the memfd and keeps the mapping: the region stays usable here, but this
    /// process no longer holds it open in its fd table, and the token names nothing
    /// (it becomes empty). For a region two processes share by mapping alone, when an
    /// fd left open would count as a leak (a pipe's peer must hold nothing of the
    /// other's end).
    pub fn close_fd(&mut self) {
        self.fd = None;
        self.token.clear();
    }
}

impl Drop for SharedMemory {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly the mapping made in `map`, and no reference
        // into it outlives `self` (users get raw pointers whose validity ends here).
        let _ = unsafe { munmap(self.ptr.cast(), self.len) };
    }
}

/// A `pthread_mutex_t` shared between processes: process-shared, robust and
/// error-checking.
///
/// It never moves: it is initialised in place, inside shared memory, by
/// [`init`](Self::init), and used through references to that place.
///
/// ## Blocking
/// [`lock`](Self::lock) waits while another thread, in any process, holds the lock.
/// If the holder dies (its thread or process ends without unlocking), the kernel
/// hands the lock to one waiter with `EOWNERDEAD`; `lock` then marks it consistent
/// and returns a guard whose [`recovered`](RobustGuard::recovered) is true. Whatever
/// the dead holder was protecting is as it left it. Locking again from the thread
/// that holds the lock fails with `EDEADLK` instead of hanging.
#[repr(C)]
pub struct RobustMutex {
    raw: UnsafeCell<libc::pthread_mutex_t>,
}

// SAFETY: a pthread mutex is made to be used from many threads (and, with
// PTHREAD_PROCESS_SHARED, many processes); all access goes through pthread calls.
unsafe impl Sync for RobustMutex {}
// SAFETY: as above; a process-shared mutex is not tied to the thread that made it.
unsafe impl Send for RobustMutex {}

impl std::fmt::Debug for RobustMutex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RobustMutex").finish_non_exhaustive()
    }
}

fn check(what: &str, rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        let e = io::Error::from_raw_os_error(rc);
        Err(io::Error::new(e.kind(), format!("{what}: {e}")))
    }
}

impl RobustMutex {
    /// Initialises a mutex in place, unlocked.
    ///
    /// # Safety
    /// `this` must be valid for writes of a `RobustMutex` and aligned for it, and stay
    /// mapped (at this or another address) for as long as any process uses the mutex;
    /// no process may use the mutex before `init` returns, and it must not be
    /// initialised again while any process may use it.
    pub unsafe fn init(this: *mut RobustMutex) -> io::Result<()> {
        // SAFETY: `this` is valid and aligned (caller), and UnsafeCell<T> has T's
        // layout, so this is a valid pointer to the pthread_mutex_t.
        let raw = unsafe { (*this).raw.get() };
        let mut attr = std::mem::MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
        // SAFETY: pthread_mutexattr_init initialises the attribute object it is given.
        check("pthread_mutexattr_init", unsafe {
            libc::pthread_mutexattr_init(attr.as_mut_ptr())
        })?;
        let attr = attr.as_mut_ptr();
        let result = (|| {
            // SAFETY: `attr` was initialised by pthread_mutexattr_init above.
            check("pthread_mutexattr_setpshared", unsafe {
                libc::pthread_mutexattr_setpshared(attr, libc::PTHREAD_PROCESS_SHARED)
            })?;
            // SAFETY: as above.
            check("pthread_mutexattr_setrobust", unsafe {
                libc::pthread_mutexattr_setrobust(attr, libc::PTHREAD_MUTEX_ROBUST)
            })?;
            // SAFETY: as above.
            check("pthread_mutexattr_settype", unsafe {
                libc::pthread_mutexattr_settype(attr, libc::PTHREAD_MUTEX_ERRORCHECK)
            })?;
            // SAFETY: `raw` points to memory we may write that no process uses yet
            // (caller), and `attr` is initialised.
            check("pthread_mutex_init", unsafe {
                libc::pthread_mutex_init(raw, attr)
            })
        })();
        // SAFETY: `attr` is initialised and no longer needed (the mutex copied it).
        unsafe { libc::pthread_mutexattr_destroy(attr) };
        result
    }

    /// Locks, waiting as long as another holder lives; recovers the lock from a holder
    /// that died (see the type's docs).
    pub fn lock(&self) -> io::Result<RobustGuard<'_>> {
        // SAFETY: `self` was initialised by `init` (the only way to have a
        // `&RobustMutex` to a valid mutex) and stays mapped while borrowed.
        let rc = unsafe { libc::pthread_mutex_lock(self.raw.get()) };
        let recovered = match rc {
            0 => false,
            libc::EOWNERDEAD => {
                // SAFETY: we hold the lock (EOWNERDEAD means it was acquired).
                let rc = unsafe { libc::pthread_mutex_consistent(self.raw.get()) };
                if rc != 0 {
                    // SAFETY: we hold the lock; give it back before failing.
                    unsafe { libc::pthread_mutex_unlock(self.raw.get()) };
                    check("pthread_mutex_consistent", rc)?;
                }
                true
            }
            rc => {
                check("pthread_mutex_lock", rc)?;
                unreachable!("check fails on a non-zero code")
            }
        };
        Ok(RobustGuard {
            mutex: self,
            recovered,
            _not_send: PhantomData,
        })
    }
}

/// Holds a [`RobustMutex`]; unlocks when dropped, on the thread that locked.
#[derive(Debug)]
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RobustGuard<'a> {
    mutex: &'a RobustMutex,
    /// The previous holder died holding the lock; we recovered it.
    recovered: bool,
    /// Only the locking thread may unlock.
    _not_send: PhantomData<*const ()>,
}

impl RobustGuard<'_> {
    /// Whether the previous holder died holding the lock (and this lock recovered it).
    pub fn recovered(&self) -> bool {
        self.recovered
    }
}

impl Drop for RobustGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: this thread holds the lock (the guard is !Send and made by `lock`).
        unsafe { libc::pthread_mutex_unlock(self.mutex.raw.get()) };
    }
}

/// A word type a [`LockedRegion`] may hold: eight bytes, every bit pattern (zero
/// included) a valid value, so fresh zero-filled memory and another process's writes
/// are always valid.
pub trait Word: Copy + sealed::Sealed {}

impl Word for u64 {}
impl Word for i64 {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for u64 {}
    impl Sealed for i64 {}
}

/// What a [`LockedRegion`] starts with; the words follow it.
#[repr(C)]
struct Header {
    /// Guards the words and `recoveries`.
    lock: RobustMutex,
    /// How often a locker recovered `lock` from a holder that died. Guarded by `lock`.
    recoveries: UnsafeCell<u64>,
    /// The number of words after the header; written before `magic`, never changed.
    words: AtomicU64,
    /// The kind's magic number once `lock` is initialised; zero before.
    magic: AtomicU64,
}

// The words follow the header, so its size must keep them 8-aligned.
const _: () = assert!(std::mem::size_of::<Header>().is_multiple_of(8));

/// `n` words and one [`RobustMutex`] guarding all of them, in one [`SharedMemory`]
/// region: the memory and the lock of the shared value
/// ([`RobustLocked`](super::shm_counter::RobustLocked), one word) and of the shared
/// array ([`RobustArray`](super::shm_array::RobustArray), `n` words).
///
/// A holder that dies inside [`with_lock`](Self::with_lock) leaves the words as it
/// left them; the next locker recovers the lock and counts the recovery
/// ([`recoveries`](Self::recoveries)).
///
/// # Layout
/// A [`Header`]-sized prefix (the mutex, the recovery count, the number of words and a
/// magic number naming the kind of region, written last by `create`), then the words.
/// `attach` checks the magic (so a token that names another memfd, or another kind of
/// region, is refused) and that the region holds the words the header announces.
pub struct LockedRegion<T: Word> {
    shm: SharedMemory,
    words: usize,
    _words: PhantomData<T>,
}

impl<T: Word> std::fmt::Debug for LockedRegion<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockedRegion")
            .field("token", &self.shm.token())
            .field("words", &self.words)
            .finish()
    }
}

impl<T: Word> LockedRegion<T> {
    /// The region's size for `words` words, or an error if it overflows.
    fn size(words: usize) -> io::Result<usize> {
        words
            .checked_mul(std::mem::size_of::<T>())
            .and_then(|n| n.checked_add(std::mem::size_of::<Header>()))
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{words} words do not fit in a shared region; ask for fewer"),
                )
            })
    }

    /// `words` zeroed words under an unlocked robust mutex, in a new region marked
    /// with `magic` (non-zero: it tells `attach` which kind of region this is).
    pub fn create(magic: u64, words: usize) -> io::Result<Self> {
        assert_ne!(magic, 0, "a region's magic number must not be zero");
        let shm = SharedMemory::create(Self::size(words)?)?;
        let header = shm.as_ptr().cast::<Header>();
        // SAFETY: the fresh region is zero-filled (valid recoveries, words, magic and
        // words after the header), page-aligned and large enough for the header and
        // the words; no one else can know its token yet, so initialising the mutex in
        // place races with nothing. `magic` is stored last, with Release, so an
        // attacher that reads it (Acquire) sees the mutex and `words` initialised.
        unsafe {
            RobustMutex::init(std::ptr::addr_of_mut!((*header).lock))?;
            (*header).words.store(words as u64, Ordering::Relaxed);
            (*header).magic.store(magic, Ordering::Release);
        }
        Ok(Self {
            shm,
            words,
            _words: PhantomData,
        })
    }

    /// Maps the region named by `token`, which `create(magic, _)` made; `what` names
    /// the kind in errors ("a shared counter").
    pub fn attach(token: &str, magic: u64, what: &str) -> io::Result<Self> {
        let shm = SharedMemory::attach(token)?;
        let invalid = |why: String| io::Error::new(io::ErrorKind::InvalidData, why);
        if shm.len() < std::mem::size_of::<Header>() {
            return Err(invalid(format!(
                "`{token}` names a region too small for {what}"
            )));
        }
        // SAFETY: the region is page-aligned and holds at least a header, whose fields
        // are atomics, the mutex and an UnsafeCell: reading the atomics is sound
        // whatever another process writes.
        let header = unsafe { &*shm.as_ptr().cast::<Header>() };
        if header.magic.load(Ordering::Acquire) != magic {
            return Err(invalid(format!("`{token}` does not name {what}")));
        }
        let words = usize::try_from(header.words.load(Ordering::Relaxed))
            .map_err(|_| invalid(format!("`{token}` announces more words than fit here")))?;
        if Self::size(words)? > shm.len() {
            return Err(invalid(format!(
                "`{token}` names a region too small for {what} of {words} slots"
            )));
        }
        Ok(Self {
            shm,
            words,
            _words: PhantomData,
        })
    }

    /// Names the region for [`attach`](Self::attach), valid while this handle lives.
    pub fn token(&self) -> &str {
        self.shm.token()
    }

    /// The number of words.
    pub fn len(&self) -> usize {
        self.words
    }

    /// Whether the region holds no word.
    pub fn is_empty(&self) -> bool {
        self.words == 0
    }

    fn header(&self) -> &Header {
        // SAFETY: `create` and `attach` made or checked a region of at least a header,
        // page-aligned, with the mutex initialised (magic checked); every field is an
        // UnsafeCell, an atomic or the mutex, so shared references are sound while
        // other processes write.
        unsafe { &*self.shm.as_ptr().cast::<Header>() }
    }

    fn lock(&self) -> io::Result<RobustGuard<'_>> {
        let header = self.header();
        let guard = header.lock.lock()?;
        if guard.recovered() {
            // SAFETY: `recoveries` is guarded by the lock we hold.
            unsafe { *header.recoveries.get() += 1 };
        }
        Ok(guard)
    }

    /// Runs `f` on every word under the lock (recovered first if its holder died).
    pub fn with_lock<R>(&self, f: impl FnOnce(&mut [T]) -> R) -> io::Result<R> {
        let _guard = self.lock()?;
        // SAFETY: the words start right after the header (8-aligned: the header's size
        // is a multiple of its 8-byte alignment) and `create`/`attach` checked that
        // the region holds `words` of them; every bit pattern is a valid `T`. The
        // cross-process lock is held until `_guard` drops (also when `f` unwinds), so
        // no other `with_lock`, in any process, touches them meanwhile.
        let words = unsafe {
            let start = self.shm.as_ptr().add(std::mem::size_of::<Header>());
            std::slice::from_raw_parts_mut(start.cast::<T>(), self.words)
        };
        Ok(f(words))
    }

    /// How many times a locker found that the previous holder had died.
    pub fn recoveries(&self) -> io::Result<u64> {
        let _guard = self.lock()?;
        // SAFETY: `recoveries` is guarded by the lock we hold.
        Ok(unsafe { *self.header().recoveries.get() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attach_sees_writes_of_the_creator() {
        let a = SharedMemory::create(4096).unwrap();
        let b = SharedMemory::attach(a.token()).unwrap();
        assert_eq!(b.len(), 4096);
        assert!(!b.is_empty());
        // SAFETY: both mappings are 4096 bytes and nobody else uses them.
        unsafe {
            a.as_ptr().add(100).write(7);
            assert_eq!(b.as_ptr().add(100).read(), 7);
        }
    }

    #[test]
    fn attach_rejects_what_is_not_a_token() {
        for bad in ["", "/dev/shm/x", "/proc/self/fd/3", "/proc/1/fd/x"] {
            let e = SharedMemory::attach(bad).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad}");
        }
    }

    /// Dropping a region unmaps it: a process that makes many (a pool, a long grading
    /// run) must not keep every one mapped. Found by cargo-mutants (an empty `drop`).
    #[test]
    fn dropping_a_region_unmaps_it() {
        use std::os::unix::fs::MetadataExt;
        let shm = SharedMemory::create(4096).unwrap();
        let inode = std::fs::File::from(shm.fd().unwrap().try_clone().unwrap())
            .metadata()
            .unwrap()
            .ino();
        let mapped = |inode: u64| {
            std::fs::read_to_string("/proc/self/maps")
                .unwrap()
                .lines()
                .any(|l| {
                    l.contains("racecourse-shm")
                        && l.split_whitespace().nth(4) == Some(&inode.to_string())
                })
        };
        assert!(mapped(inode), "the region is mapped while it lives");
        drop(shm);
        assert!(!mapped(inode), "the region is still mapped after drop");
    }

    /// `close_fd` leaves no fd of the region in this process, and the mapping usable.
    #[test]
    fn closing_the_fd_keeps_the_mapping() {
        use std::os::unix::fs::MetadataExt;
        let mut shm = SharedMemory::create(4096).unwrap();
        // A copy of our own keeps the memfd alive, so its inode names it throughout.
        let copy = shm.fd().unwrap().try_clone().unwrap();
        let file = std::fs::File::from(copy.try_clone().unwrap())
            .metadata()
            .unwrap();
        let id = (file.dev(), file.ino());
        let open_fds = || {
            std::fs::read_dir("/proc/self/fd")
                .unwrap()
                .filter_map(|e| std::fs::metadata(e.ok()?.path()).ok())
                .filter(|m| (m.dev(), m.ino()) == id)
                .count()
        };
        assert_eq!(open_fds(), 2, "the region's fd and our copy");
        shm.close_fd();
        assert_eq!(open_fds(), 1, "only our copy is left");
        assert!(shm.fd().is_none());
        assert!(
            shm.token().is_empty(),
            "the token names nothing once closed"
        );
        let other = SharedMemory::adopt(copy).unwrap();
        // SAFETY: both mappings are 4096 bytes and nobody else uses them.
        unsafe {
            shm.as_ptr().add(9).write(42);
            assert_eq!(other.as_ptr().add(9).read(), 42, "the mapping still works");
        }
    }

    #[test]
    fn relocking_from_the_holder_fails_instead_of_hanging() {
        let shm = SharedMemory::create(std::mem::size_of::<RobustMutex>()).unwrap();
        let m = shm.as_ptr().cast::<RobustMutex>();
        // SAFETY: the region is page-aligned, large enough and used by no one else.
        let m = unsafe {
            RobustMutex::init(m).unwrap();
            &*m
        };
        assert_eq!(format!("{m:?}"), "RobustMutex { .. }");
        let g = m.lock().unwrap();
        assert!(!g.recovered());
        let e = m.lock().unwrap_err();
        assert_eq!(e.raw_os_error(), None);
        assert!(e.to_string().contains("pthread_mutex_lock"), "{e}");
        drop(g);
        drop(m.lock().unwrap());
    }
}
