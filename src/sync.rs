//! Lock helpers that never panic: a lock poisoned by a thread that panicked while holding it is taken
//! over as it is. Every lock in Accord guards data that stays consistent between statements (caches,
//! published pointers, queues), so going on is safe, and a panic in one request must not turn every later
//! request into a panic too.
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Lock a mutex, taking over a poisoned one.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Read-lock an RwLock, taking over a poisoned one.
pub fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

/// Write-lock an RwLock, taking over a poisoned one.
pub fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}
