//! Key material is zeroized before its memory goes back to the allocator: a global allocator
//! that inspects every freed block for the key bytes of the test. Covers the CAK and the keys
//! derived from it (ICK, KEK), a SAK and the dataplane's expanded AES-GCM key schedule. A control case (a plain array holding the same bytes) proves the detector
//! sees keys that are not zeroized, so these tests can fail.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use macsec_control::mka::kdf::{derive_ick, derive_kek};
use macsec_control::mka::keys::{Cak, Ckn};
use macsec_dataplane::secy::Sak;

/// The key bytes the allocator looks for in freed blocks (set by each test, under `SERIAL`).
static PATTERN: Mutex<Option<Vec<u8>>> = Mutex::new(None);
static ARMED: AtomicBool = AtomicBool::new(false);
static FOUND: AtomicUsize = AtomicUsize::new(0);
/// The tests share the allocator's state: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

struct Inspecting;

// SAFETY: every call forwards to `System` with the caller's pointer and layout; the inspection
// only reads the block before it is freed, within its `layout.size()` bytes.
unsafe impl GlobalAlloc for Inspecting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ARMED.load(Ordering::Relaxed) {
            // SAFETY: the caller hands back a live block of `layout.size()` bytes.
            let block = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
            // try_lock: the allocator may run while the pattern's own Vec is being replaced.
            if let Ok(p) = PATTERN.try_lock() {
                if let Some(p) = p.as_deref() {
                    if block.windows(p.len()).any(|w| w == p) {
                        FOUND.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Inspecting = Inspecting;

/// Runs `f` with the allocator looking for `key` in every block freed meanwhile; returns how
/// many freed blocks still held it.
fn freed_copies(key: &[u8], f: impl FnOnce()) -> usize {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    *PATTERN.lock().unwrap_or_else(|e| e.into_inner()) = Some(key.to_vec());
    FOUND.store(0, Ordering::Relaxed);
    ARMED.store(true, Ordering::Relaxed);
    f();
    ARMED.store(false, Ordering::Relaxed);
    *PATTERN.lock().unwrap_or_else(|e| e.into_inner()) = None;
    FOUND.load(Ordering::Relaxed)
}

const KEY: [u8; 32] = [
    0xa7, 0x3c, 0x51, 0x9e, 0x02, 0xd4, 0x77, 0x18, 0xc5, 0x6b, 0xe0, 0x39, 0x8f, 0x24, 0xba, 0x61, 0x0d, 0x93, 0x4e,
    0xf7, 0x2a, 0xc8, 0x15, 0x6e, 0xb3, 0x80, 0x59, 0xdc, 0x37, 0xa2, 0x4f, 0x96,
];

#[test]
fn the_detector_sees_a_key_that_is_not_zeroized() {
    let n = freed_copies(&KEY, || drop(std::hint::black_box(Box::new(KEY))));
    assert_eq!(n, 1, "a boxed plain array keeps its bytes when freed");
}

#[test]
fn cak_ick_kek_are_zeroized_on_drop() {
    let ckn = Ckn::from_hex(&"ab".repeat(32)).unwrap();
    let cak = Cak::from_slice(&KEY).unwrap();
    let ick: [u8; 32] = derive_ick(&cak, &ckn).expose().try_into().unwrap();
    let kek: [u8; 32] = derive_kek(&cak, &ckn).expose().try_into().unwrap();
    assert_eq!(freed_copies(&KEY, || drop(std::hint::black_box(Box::new(cak.duplicate())))), 0, "CAK");
    // Deriving and dropping leaves no copy of the derived key in any freed block either.
    let n = freed_copies(&ick, || drop(std::hint::black_box(Box::new(derive_ick(&cak, &ckn)))));
    assert_eq!(n, 0, "ICK");
    let n = freed_copies(&kek, || drop(std::hint::black_box(Box::new(derive_kek(&cak, &ckn)))));
    assert_eq!(n, 0, "KEK");
}

#[test]
fn sak_and_gcm_key_schedule_are_zeroized_on_drop() {
    assert_eq!(freed_copies(&KEY, || drop(std::hint::black_box(Box::new(Sak::from_slice(&KEY).unwrap())))), 0);
    // The expanded AES-256 key schedule starts with the key itself (round keys 0 and 1).
    let n = freed_copies(&KEY, || {
        let sched = macsec_dataplane::gcm::GcmKeySchedule::new(&KEY).unwrap();
        drop(std::hint::black_box(Box::new(sched)));
    });
    assert_eq!(n, 0, "GCM key schedule");
}
