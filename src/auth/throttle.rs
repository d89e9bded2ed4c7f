//! Failed logins, the rules (pure): wrong passwords are counted per account and client
//! address. From one address an account is held off with growing waits — none for the
//! first few typing errors, then 1 minute, doubling with each further failure, at most
//! the lock time — so a stranger guessing at `center` keeps only himself out, and the
//! clerk at her own desk logs in as usual. The account itself is locked only when
//! several addresses have reached the hold at once: a guess spread over many machines.

/// Addresses held off at once that lock the account itself.
pub const HELD_ADDRESSES_TO_LOCK: i64 = 3;

/// A count of failures from one address restarts after this long without one.
pub const FORGET_AFTER_HOURS: i64 = 24;

/// The wait (minutes) imposed on an address after its `failures`-th consecutive wrong
/// password for one account: none below `threshold`, then 1, 2, 4, … minutes, at most
/// `lock_minutes`.
pub fn hold_minutes(failures: i32, threshold: i32, lock_minutes: i64) -> Option<i64> {
    if failures < threshold {
        return None;
    }
    let doublings = (failures - threshold).clamp(0, 20) as u32;
    Some((1i64 << doublings).min(lock_minutes.max(1)))
}

/// Whether so many addresses held off at once lock the account.
pub fn locks_account(held_addresses: i64) -> bool {
    held_addresses >= HELD_ADDRESSES_TO_LOCK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_from_the_threshold_up_to_the_lock_time() {
        let waits: Vec<Option<i64>> = (1..=10).map(|n| hold_minutes(n, 5, 15)).collect();
        assert_eq!(
            waits,
            vec![
                None,
                None,
                None,
                None,
                Some(1),
                Some(2),
                Some(4),
                Some(8),
                Some(15),
                Some(15)
            ]
        );
        assert_eq!(hold_minutes(1000, 5, 15), Some(15));
        assert!(!locks_account(2) && locks_account(3));
    }
}
