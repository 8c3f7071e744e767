//! How people are reached outside the app.

/// A Korean mobile number as people write it: `010-1234-5678`, `01012345678`,
/// `+82 10-1234-5678`, `+821012345678` (010 numbers have eight digits after the prefix; the
/// older 011/016/017/018/019 ones seven or eight). The notification service enforces it and
/// the api's schema states it.
pub const KOREAN_MOBILE_PATTERN: &str =
    r"^(\+82[ -]?|0)(10[ -]?[0-9]{4}|1[16789][ -]?[0-9]{3,4})[ -]?[0-9]{4}$";
