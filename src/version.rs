//! The library version, as constants the C header exports as macros.
//! A test checks them against Cargo.toml, the single source of the version.

/// Major version: incompatible ABI changes.
pub const LOGSTASH_ASYNC_VERSION_MAJOR: u32 = 0;
/// Minor version: additions.
pub const LOGSTASH_ASYNC_VERSION_MINOR: u32 = 1;
/// Patch version: fixes.
pub const LOGSTASH_ASYNC_VERSION_PATCH: u32 = 0;
/// The version as text.
pub const LOGSTASH_ASYNC_VERSION_STRING: &str = "0.1.0";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_constants_match_cargo_toml() {
        assert_eq!(LOGSTASH_ASYNC_VERSION_STRING, env!("CARGO_PKG_VERSION"));
        assert_eq!(LOGSTASH_ASYNC_VERSION_MAJOR.to_string(), env!("CARGO_PKG_VERSION_MAJOR"));
        assert_eq!(LOGSTASH_ASYNC_VERSION_MINOR.to_string(), env!("CARGO_PKG_VERSION_MINOR"));
        assert_eq!(LOGSTASH_ASYNC_VERSION_PATCH.to_string(), env!("CARGO_PKG_VERSION_PATCH"));
    }
}
